//! `gryt demo`: a guided, self-contained run of the main workflow in a temporary
//! directory, printing each command and what it answered. It needs nothing but the
//! gryt binary itself (it runs `current_exe`), so `cargo run --release -- demo` shows
//! gryt end to end on a fresh machine.

use crate::context::Context;
use crate::error::{GrytError, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's directory instead of deleting it at the end.
    #[arg(long)]
    pub keep: bool,
}

struct Demo<'a> {
    ctx: &'a Context,
    exe: PathBuf,
    root: PathBuf,
}

impl Demo<'_> {
    /// Runs one gryt command as a user would, prints it and its output, and checks
    /// the exit code is the one the scenario expects.
    fn step(&self, who: &str, dir: &Path, args: &[&str], expect: i32) -> Result<String> {
        self.ctx
            .ui
            .data(&format!("\n[{who}] $ gryt {}", shell_words(args)));
        let out = Command::new(&self.exe)
            .args(args)
            .current_dir(dir)
            .env("GRYT_CONFIG_DIR", self.root.join(format!("config-{who}")))
            .env("USER", who)
            .env("NO_COLOR", "1")
            .env("GRYT_EXECUTION_MODE", "local")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| GrytError::error(format!("cannot run {}: {e}", self.exe.display())))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in stdout.lines().chain(stderr.lines()) {
            self.ctx.ui.data(&format!("    {line}"));
        }
        let code = out.status.code().unwrap_or(-1);
        self.ctx.ui.data(&format!("    (exit {code})"));
        if code != expect {
            return Err(GrytError::error(format!(
                "demo step `gryt {}` exited {code}, expected {expect}",
                shell_words(args)
            )));
        }
        Ok(stdout)
    }

    fn write(&self, path: &Path, text: &str) -> Result<()> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| GrytError::io(format!("cannot create {}", d.display()), e))?;
        }
        std::fs::write(path, text)
            .map_err(|e| GrytError::io(format!("cannot write {}", path.display()), e))
    }
}

fn shell_words(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c))
            {
                a.to_string()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn cmd_demo(ctx: &Context, a: DemoArgs) -> Result<i32> {
    let exe = std::env::current_exe()
        .map_err(|e| GrytError::error(format!("cannot find the gryt binary: {e}")))?;
    let root = std::env::temp_dir().join(format!("gryt-demo-{}", std::process::id()));
    std::fs::create_dir_all(&root)
        .map_err(|e| GrytError::io(format!("cannot create {}", root.display()), e))?;
    let demo = Demo {
        ctx,
        exe,
        root: root.clone(),
    };
    let result = run_local(&demo);
    if a.keep {
        ctx.ui.data(&format!(
            "\nThe demo's files are kept in {}",
            root.display()
        ));
    } else {
        let _ = std::fs::remove_dir_all(&root);
    }
    result?;
    ctx.ui.data("\nDemo complete: a release contract was written, each change proven, and the generation promoted once.");
    Ok(0)
}

fn run_local(d: &Demo<'_>) -> Result<()> {
    d.ctx
        .ui
        .data("== Local release workflow: define a contract, prove every change, promote ==");
    let ws = d.root.join("app");
    std::fs::create_dir_all(&ws).map_err(|e| GrytError::io("cannot create the workspace", e))?;
    let lead = "lead";
    d.step(lead, &ws, &["init"], 0)?;
    d.step(
        lead,
        &ws,
        &["generation", "new", "2.0.0", "-d", "Q1 major release"],
        0,
    )?;
    d.step(
        lead,
        &ws,
        &[
            "generation",
            "add-change",
            "v2.0.0",
            "--id",
            "FEAT-101",
            "--type",
            "add",
            "--title",
            "OAuth2 login",
        ],
        0,
    )?;
    d.step(
        lead,
        &ws,
        &[
            "generation",
            "add-change",
            "v2.0.0",
            "--id",
            "BUG-50",
            "--type",
            "fix",
            "--title",
            "Session timeout",
        ],
        0,
    )?;
    d.step(
        lead,
        &ws,
        &[
            "generation",
            "add-change",
            "v2.0.0",
            "--id",
            "feat-7",
            "--type",
            "add",
            "--title",
            "a bad id is refused",
        ],
        1,
    )?;
    d.write(
        &ws.join(".gryt/pipelines/ci.yaml"),
        "description: the project's checks\nsteps:\n  - name: build\n    run: echo building $GRYT_CHANGE_ID\n  - name: test\n    run: test -n \"$GRYT_EVOLUTION_TAG\" && echo all tests pass for $GRYT_EVOLUTION_TAG\n",
    )?;
    d.step(lead, &ws, &["generation", "show", "v2.0.0"], 0)?;
    d.step(lead, &ws, &["promote", "v2.0.0", "--no-tag"], 1)?;
    d.step(
        lead,
        &ws,
        &["evolution", "start", "v2.0.0", "--change", "FEAT-101"],
        0,
    )?;
    d.step(lead, &ws, &["run", "ci"], 0)?;
    d.step(
        lead,
        &ws,
        &["evolution", "start", "v2.0.0", "--change", "BUG-50"],
        0,
    )?;
    d.step(
        lead,
        &ws,
        &["evolution", "complete", "v2.0.0-rc.2", "--status", "pass"],
        0,
    )?;
    d.step(lead, &ws, &["evolution", "list", "v2.0.0"], 0)?;
    d.step(lead, &ws, &["promote", "v2.0.0", "--no-tag"], 0)?;
    d.step(lead, &ws, &["promote", "v2.0.0", "--no-tag"], 1)?;
    d.step(
        lead,
        &ws,
        &[
            "generation",
            "add-change",
            "v2.0.0",
            "--id",
            "FEAT-102",
            "--type",
            "add",
            "--title",
            "too late",
        ],
        1,
    )?;
    d.step(lead, &ws, &["generation", "list"], 0)?;
    Ok(())
}
