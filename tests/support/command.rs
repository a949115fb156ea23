//! Running the real `gryt`: the hermetic command (a cleared environment), the record of a
//! finished command (`Out`) with the assertions on it, and the check that no command ever
//! crashed.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn gryt_bin() -> &'static str {
    env!("CARGO_BIN_EXE_gryt")
}

/// A developer's password on a test server.
pub fn password_of(user: &str) -> String {
    format!("{user}-secret-pw")
}

/// `gryt` with a cleared environment: only PATH, `home` as HOME, `home/config` as the config
/// dir, `user` as USER, no colour, the C locale, and git kept from the machine's settings.
/// Stdin is closed. The caller adds its own variables, the directory and the arguments.
pub fn hermetic(home: &Path, user: &str) -> Command {
    hermetic_program(gryt_bin(), home, user)
}

/// `program` with the environment of [`hermetic`] (a shell that runs gryt, say).
pub fn hermetic_program(program: &str, home: &Path, user: &str) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GRYT_CONFIG_DIR", home.join("config"))
        .env("USER", user)
        .env("NO_COLOR", "1")
        .env("LANG", "C")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null());
    c
}

/// One finished command.
pub struct Out {
    /// Whose workspace ran it (empty when there is only one).
    pub who: String,
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.who.is_empty() {
            write!(f, "{}$ ", self.who)?;
        }
        write!(
            f,
            "gryt {:?}\n--- exit code: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

impl Out {
    /// Exit code 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success\n{self:?}");
        self
    }

    /// Exit code 0 and nothing on stderr.
    #[track_caller]
    pub fn clean(&self) -> &Self {
        self.ok();
        assert!(self.stderr.is_empty(), "expected empty stderr\n{self:?}");
        self
    }

    /// A gryt error, strictly: the exit code, stderr starting with "Error: ..." (clap's
    /// "error: ..." for usage errors, code 2), and every needle on stderr.
    #[track_caller]
    pub fn err(&self, code: i32, needles: &[&str]) -> &Self {
        if let Some(problem) = self.error_problem(code, needles) {
            panic!("{problem}\n{self:?}");
        }
        self
    }

    /// What is wrong with this output as the expected error (`err`), if anything.
    pub fn error_problem(&self, code: i32, needles: &[&str]) -> Option<String> {
        if self.code != code {
            return Some(format!("expected exit code {code}, got {}", self.code));
        }
        let first = self.stderr.lines().next().unwrap_or("");
        let prefix = if code == 2 && first.starts_with("error:") {
            "error: "
        } else {
            "Error: "
        };
        if !first.starts_with(prefix) {
            return Some(format!("stderr does not start with {prefix:?}"));
        }
        self.missing(needles)
    }

    /// A failure among other output: the exit code, an "Error: ..." line anywhere on stderr
    /// (clap's "error: ..." for code 2), and every needle on stderr.
    #[track_caller]
    pub fn fails(&self, code: i32, needles: &[&str]) -> &Self {
        if let Some(p) = self.problem(code, needles) {
            panic!("{p}\n{self:?}");
        }
        self
    }

    /// What is wrong with this output as the expected failure (`fails`), if anything.
    pub fn problem(&self, code: i32, needles: &[&str]) -> Option<String> {
        if self.code != code {
            return Some(format!("expected exit code {code}, got {}", self.code));
        }
        let has_error_line = self
            .stderr
            .lines()
            .any(|l| l.starts_with("Error: ") || (code == 2 && l.starts_with("error: ")));
        if !has_error_line {
            return Some("stderr has no \"Error: \" line".into());
        }
        self.missing(needles)
    }

    fn missing(&self, needles: &[&str]) -> Option<String> {
        needles
            .iter()
            .find(|n| !self.stderr.contains(*n))
            .map(|n| format!("stderr does not mention {n:?}"))
    }

    /// The stderr carries a "Hint: ..." line mentioning `needle`.
    #[track_caller]
    pub fn hint(&self, needle: &str) -> &Self {
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with("Hint: ") && l.contains(needle)),
            "expected a hint mentioning {needle:?}\n{self:?}"
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout does not mention {needle:?}\n{self:?}"
        );
        self
    }

    /// Stdout mentions every needle.
    #[track_caller]
    pub fn stdout_has_all(&self, needles: &[&str]) -> &Self {
        for n in needles {
            self.stdout_has(n);
        }
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr does not mention {needle:?}\n{self:?}"
        );
        self
    }

    /// Stdout as JSON; it must be JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self:?}"))
    }

    /// Stdout as JSON, if it is.
    pub fn try_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.stdout).ok()
    }
}

/// Runs `c` to the end with `input` on its stdin (closed at once when `None`) and stdout
/// and stderr captured. A command that exits before reading its input (a usage error) is
/// fine: the closed pipe is ignored.
pub fn output(mut c: Command, input: Option<&str>) -> Output {
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    match input {
        None => {
            c.stdin(Stdio::null());
            c.output().expect("run gryt")
        }
        Some(text) => {
            c.stdin(Stdio::piped());
            let mut child = c.spawn().expect("run gryt");
            let mut pipe = child.stdin.take().expect("stdin");
            match pipe.write_all(text.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
                _ => {}
            }
            drop(pipe);
            child.wait_with_output().expect("wait for gryt")
        }
    }
}

/// Records a finished command and checks that it did not crash: no panic, no death by a
/// signal, whatever its input. With `GRYT_TEST_TRACE` set, prints it (to debug a test).
#[allow(clippy::print_stderr)]
pub fn finish<S: AsRef<str>>(who: &str, args: &[S], out: Output) -> Out {
    let out = Out {
        who: who.to_string(),
        args: args.iter().map(|s| s.as_ref().to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !out.stderr.contains("panicked") && !out.stdout.contains("panicked at"),
        "gryt panicked\n{out:?}"
    );
    assert!(
        out.code >= 0 && out.code != 101,
        "gryt crashed (exit {})\n{out:?}",
        out.code
    );
    if std::env::var_os("GRYT_TEST_TRACE").is_some() {
        eprintln!("{out:?}");
    }
    out
}
