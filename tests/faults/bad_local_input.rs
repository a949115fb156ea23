//! Bad input on the client's side that tests/cli/bad_input.rs does not cover: config and
//! credentials files (malformed, the wrong shape, unknown keys, secrets in the wrong file,
//! bad values, invalid UTF-8, a directory in a file's place), the environment, invalid
//! UTF-8 in arguments, hostile contract files (huge, deeply nested, alias bombs), and
//! database files that cannot be used. Each case: a clear `Error: ...`, its exit code, no
//! panic, and nothing changed — the database rows and `.gryt/` files right after the
//! command, and the CLI's views once the bad input is taken away again.

use super::harness::{bare, Workspace, DEAD_URL};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

type Step = Box<dyn Fn(&Workspace)>;

struct Case {
    name: &'static str,
    args: Vec<OsString>,
    env: &'static [(&'static str, &'static str)],
    /// Puts the bad input in place.
    setup: Step,
    /// Takes it away again.
    teardown: Step,
    code: i32,
    needles: Vec<String>,
}

fn args(a: &[&str]) -> Vec<OsString> {
    a.iter().map(OsString::from).collect()
}

fn nothing() -> Step {
    Box::new(|_| {})
}

/// A case whose bad input is the file `path(dev)` holding `bytes` (a directory when
/// `bytes` is `None`); the teardown removes it (or restores what was there).
fn file_case(
    name: &'static str,
    path: fn(&Workspace) -> PathBuf,
    bytes: Option<Vec<u8>>,
    cmd: &[&str],
    code: i32,
    needles: &[&str],
) -> Case {
    Case {
        name,
        args: args(cmd),
        env: &[],
        setup: Box::new(move |d| {
            let p = path(d);
            if p.exists() {
                let keep = p.with_extension("keep");
                std::fs::rename(&p, keep).expect("set aside");
            }
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).expect("mkdir");
            }
            match &bytes {
                Some(b) => std::fs::write(&p, b).expect("write"),
                None => std::fs::create_dir(&p).expect("mkdir"),
            }
        }),
        teardown: Box::new(move |d| {
            let p = path(d);
            if p.is_dir() {
                std::fs::remove_dir_all(&p).expect("rm dir");
            } else {
                std::fs::remove_file(&p).expect("rm");
            }
            let keep = p.with_extension("keep");
            if keep.exists() {
                std::fs::rename(keep, &p).expect("restore");
            }
        }),
        code,
        needles: needles.iter().map(|s| s.to_string()).collect(),
    }
}

fn env_case(
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
    cmd: &[&str],
    code: i32,
    needles: &[&str],
) -> Case {
    Case {
        name,
        args: args(cmd),
        env,
        setup: nothing(),
        teardown: nothing(),
        code,
        needles: needles.iter().map(|s| s.to_string()).collect(),
    }
}

fn global(d: &Workspace) -> PathBuf {
    d.config_dir().join("config")
}

fn credentials(d: &Workspace) -> PathBuf {
    d.config_dir().join("credentials")
}

fn repo_config(d: &Workspace) -> PathBuf {
    d.gryt_dir().join("config")
}

fn contract(d: &Workspace) -> PathBuf {
    d.contract("v1.0.0")
}

fn database(d: &Workspace) -> PathBuf {
    d.db()
}

fn wal(d: &Workspace) -> PathBuf {
    d.gryt_dir().join("gryt.db-wal")
}

const LIST: &[&str] = &["generation", "list"];
const UPDATE: &[&str] = &["generation", "update", "v1.0.0"];

fn with_bad_byte(prefix: &str, suffix: &str) -> OsString {
    let mut b = prefix.as_bytes().to_vec();
    b.extend_from_slice(&[0xff, 0xfe]);
    b.extend_from_slice(suffix.as_bytes());
    OsString::from_vec(b)
}

fn cases() -> Vec<Case> {
    let config_file = "config/config";
    // Nested inside a change's `pipeline`, which is read as free-form YAML.
    let mut nested =
        b"version: v1.0.0\nchanges:\n  - id: FEAT-1\n    type: add\n    title: One\n    pipeline: "
            .to_vec();
    nested.extend(std::iter::repeat_n(b'[', 5_000));
    let mut bomb = b"version: v1.0.0\nbase: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n".to_vec();
    let mut prev = 'a';
    for name in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
        bomb.extend_from_slice(
            format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n")
                .as_bytes(),
        );
        prev = name;
    }
    let mut huge = b"version: v1.0.0\ndescription: \"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 12 * 1024 * 1024));
    huge.extend_from_slice(b"\"\n");
    let mut many = b"version: v1.0.0\nchanges:\n".to_vec();
    for i in 0..20_000 {
        many.extend_from_slice(
            format!("  - id: FEAT-{i}\n    type: add\n    title: Change {i}\n").as_bytes(),
        );
    }
    vec![
        // Config files.
        file_case(
            "malformed YAML in the global config",
            global,
            Some(b"execution_mode: [\n".to_vec()),
            LIST,
            1,
            &[config_file],
        ),
        file_case(
            "a list instead of a mapping in the global config",
            global,
            Some(b"- gryt_url\n- https://example.com\n".to_vec()),
            LIST,
            1,
            &[config_file],
        ),
        file_case(
            "an unknown key in the global config",
            global,
            Some(b"colour: red\n".to_vec()),
            LIST,
            1,
            &["Unknown configuration key 'colour'", config_file],
        ),
        file_case(
            "a secret in the global config",
            global,
            Some(b"api_key_secret: leaked\n".to_vec()),
            LIST,
            1,
            &[config_file, "api_key_secret", "credentials file"],
        ),
        file_case(
            "a bad execution_mode in the global config",
            global,
            Some(b"execution_mode: turbo\n".to_vec()),
            LIST,
            1,
            &["Invalid execution_mode 'turbo'"],
        ),
        file_case(
            "a directory in place of the global config",
            global,
            None,
            LIST,
            1,
            &[config_file],
        ),
        file_case(
            "invalid UTF-8 in the global config",
            global,
            Some(b"project: \xff\xfe\n".to_vec()),
            LIST,
            1,
            &[config_file],
        ),
        file_case(
            "malformed credentials file",
            credentials,
            Some(b"password: [\n".to_vec()),
            LIST,
            1,
            &["config/credentials"],
        ),
        file_case(
            "invalid UTF-8 in the credentials file",
            credentials,
            Some(b"password: \xff\xfe\n".to_vec()),
            LIST,
            1,
            &["config/credentials"],
        ),
        file_case(
            "a password in .gryt/config",
            repo_config,
            Some(b"password: hunter22\n".to_vec()),
            LIST,
            1,
            &[".gryt/config", "password", "credentials file"],
        ),
        file_case(
            "a bad gryt_url in .gryt/config",
            repo_config,
            Some(b"gryt_url: ftp://files.example.com\n".to_vec()),
            &["sync", "pull"],
            1,
            &["Invalid gryt_url 'ftp://files.example.com'"],
        ),
        file_case(
            "invalid UTF-8 in .gryt/config",
            repo_config,
            Some(b"team: \xff\n".to_vec()),
            LIST,
            1,
            &[".gryt/config"],
        ),
        file_case(
            "a directory in place of .gryt/config",
            repo_config,
            None,
            LIST,
            1,
            &[".gryt/config"],
        ),
        // The environment.
        env_case(
            "a bad GRYT_EXECUTION_MODE",
            &[("GRYT_EXECUTION_MODE", "turbo")],
            LIST,
            1,
            &["Invalid execution_mode 'turbo'"],
        ),
        env_case(
            "a GRYT_URL that is not a URL",
            &[("GRYT_URL", "gryt.example.com")],
            &["sync", "pull"],
            1,
            &["Invalid gryt_url 'gryt.example.com'"],
        ),
        env_case(
            "a GRYT_HTTP_TIMEOUT_MS that is not a number",
            &[("GRYT_HTTP_TIMEOUT_MS", "soon")],
            LIST,
            1,
            &["Invalid GRYT_HTTP_TIMEOUT_MS 'soon'"],
        ),
        env_case(
            "GRYT_HTTP_ATTEMPTS of 0",
            &[("GRYT_HTTP_ATTEMPTS", "0")],
            LIST,
            1,
            &["Invalid GRYT_HTTP_ATTEMPTS '0'"],
        ),
        env_case(
            "GRYT_HTTP_BACKOFF_MS past its 5000 ms cap",
            &[("GRYT_HTTP_BACKOFF_MS", "60000")],
            LIST,
            1,
            &["Invalid GRYT_HTTP_BACKOFF_MS '60000'"],
        ),
        env_case(
            "GRYT_CONFIG_DIR naming a file",
            &[("GRYT_CONFIG_DIR", "/dev/null")],
            LIST,
            1,
            &["/dev/null/config"],
        ),
        // Arguments that are not UTF-8 (clap refuses them: usage, exit 2).
        Case {
            name: "a version that is not UTF-8",
            args: vec![
                "generation".into(),
                "new".into(),
                with_bad_byte("v9.", ".0"),
            ],
            env: &[],
            setup: nothing(),
            teardown: nothing(),
            code: 2,
            needles: vec!["UTF-8".into()],
        },
        Case {
            name: "a change title that is not UTF-8",
            args: vec![
                "generation".into(),
                "add-change".into(),
                "v1.0.0".into(),
                "--id".into(),
                "FEAT-9".into(),
                "--type".into(),
                "add".into(),
                "--title".into(),
                with_bad_byte("Fix ", " bug"),
            ],
            env: &[],
            setup: nothing(),
            teardown: nothing(),
            code: 2,
            needles: vec!["UTF-8".into()],
        },
        Case {
            name: "a config value that is not UTF-8",
            args: vec!["config".into(), "team".into(), with_bad_byte("t", "")],
            env: &[],
            setup: nothing(),
            teardown: nothing(),
            code: 2,
            needles: vec!["UTF-8".into()],
        },
        // Contract files.
        file_case(
            "a contract file that is not UTF-8",
            contract,
            Some(b"version: v1.0.0\ndescription: \"\xff\xfe\"\n".to_vec()),
            UPDATE,
            1,
            &["v1.0.0.yaml"],
        ),
        file_case(
            "a contract nested 5,000 deep",
            contract,
            Some(nested),
            UPDATE,
            1,
            &["v1.0.0.yaml", "nested more than 64 levels"],
        ),
        file_case(
            "a contract that is an alias bomb",
            contract,
            Some(bomb),
            UPDATE,
            1,
            &["v1.0.0.yaml"],
        ),
        file_case(
            "a huge contract file (a 12 MiB description)",
            contract,
            Some(huge),
            UPDATE,
            1,
            &["v1.0.0.yaml", "larger than 1 MiB"],
        ),
        file_case(
            "a contract with 20,000 changes",
            contract,
            Some(many),
            UPDATE,
            1,
            &["v1.0.0.yaml", "larger than 1 MiB"],
        ),
        file_case(
            "a directory in place of a contract file",
            contract,
            None,
            UPDATE,
            1,
            &["v1.0.0.yaml"],
        ),
        // Database files.
        file_case(
            "a directory in place of the database",
            database,
            None,
            LIST,
            1,
            &["gryt.db"],
        ),
        file_case(
            "a directory in place of the database's write-ahead log",
            wal,
            None,
            &["generation", "new", "v2.0.0"],
            1,
            &["gryt.db"],
        ),
    ]
}

/// Whether permissions bind this process (they do not for root).
fn permissions_bind(d: &Workspace) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let probe = d.home().join("probe");
    std::fs::create_dir(&probe).expect("mkdir probe");
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let binds = std::fs::write(probe.join("x"), b"x").is_err();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let _ = std::fs::remove_dir_all(&probe);
    binds
}

fn fixture() -> Workspace {
    let d = bare("alice");
    d.run(&["init"]).ok();
    d.run(&["config", "--global", "username", "alice"]).ok();
    d.run(&["config", "--global", "gryt_url", DEAD_URL]).ok();
    d.run(&["config", "execution_mode", "local"]).ok();
    d.run(&["generation", "new", "v1.0.0", "-d", "First"]).ok();
    d.add_change("v1.0.0", "FEAT-1", "add", "One");
    d.run(&["evolution", "start", "v1.0.0", "--change", "FEAT-1"])
        .ok();
    d.run(&["generation", "export", "v1.0.0"]).ok();
    assert!(d.contract("v1.0.0").is_file());
    d
}

#[test]
#[allow(clippy::print_stderr)]
fn bad_local_input_is_refused_and_changes_nothing() {
    let d = fixture();
    let reference = d.state();
    let mut cases = cases();
    if permissions_bind(&d) {
        use std::os::unix::fs::PermissionsExt;
        cases.push(Case {
            name: "a read-only .gryt directory",
            args: args(&["generation", "new", "v2.0.0"]),
            env: &[],
            setup: Box::new(|d| {
                std::fs::set_permissions(d.gryt_dir(), std::fs::Permissions::from_mode(0o555))
                    .expect("chmod")
            }),
            teardown: Box::new(|d| {
                std::fs::set_permissions(d.gryt_dir(), std::fs::Permissions::from_mode(0o755))
                    .expect("chmod")
            }),
            code: 1,
            needles: vec![".gryt".into()],
        });
    } else {
        eprintln!("bad_local_input: running as root, the read-only .gryt case is skipped");
    }
    let mut failures = Vec::new();
    for c in &cases {
        (c.setup)(&d);
        let before = d.raw_state();
        let out = d.command_env(&c.args, c.env).output().expect("run gryt");
        let shown: Vec<String> = c
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let out = super::harness::finish(&d.name, &shown, out);
        let needles: Vec<&str> = c.needles.iter().map(String::as_str).collect();
        if let Some(p) = out.problem(c.code, &needles) {
            failures.push(format!("[{}] {p}\n{out:?}", c.name));
        }
        if let Some(diff) = before.diff(&d.raw_state()) {
            failures.push(format!(
                "[{}] the database or .gryt/ changed:\n{diff}\n{out:?}",
                c.name
            ));
        }
        (c.teardown)(&d);
        if let Some(diff) = reference.diff(&d.state()) {
            failures.push(format!(
                "[{}] the workspace changed:\n{diff}\n{out:?}",
                c.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad local inputs were mishandled:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
