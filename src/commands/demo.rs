//! `gryt demo`: a guided, self-contained run of the main workflow in a temporary
//! directory, printing each command and what it answered. It needs nothing but the
//! gryt binary itself (it runs `current_exe`), so `cargo run --release -- demo` shows
//! gryt end to end on a fresh machine.

use crate::context::Context;
use crate::error::{CliError, Result};
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
    /// The commands run so far (gryt and git).
    steps: std::cell::Cell<u32>,
}

impl Demo<'_> {
    /// Runs one gryt command as a user would, prints it and its output, and checks
    /// the exit code is the one the scenario expects.
    fn step(&self, who: &str, dir: &Path, args: &[&str], expect: i32) -> Result<String> {
        self.step_with(who, dir, args, expect, None)
    }

    /// `step` with `input` written to the command's standard input (a password, as a user
    /// would pipe it in; the demo shows `<<< ...` in its place, never the text).
    fn step_with(
        &self,
        who: &str,
        dir: &Path,
        args: &[&str],
        expect: i32,
        input: Option<&str>,
    ) -> Result<String> {
        let shown = match input {
            Some(_) => format!("{} <<< \"$PASSWORD\"", shell_words(args)),
            None => shell_words(args),
        };
        self.steps.set(self.steps.get() + 1);
        self.ctx.ui.info(&format!("\n[{who}] $ gryt {shown}"));
        let mut cmd = Command::new(&self.exe);
        cmd.args(args)
            .current_dir(dir)
            .env("GRYT_CONFIG_DIR", self.root.join(format!("config-{who}")))
            .env("USER", who)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let cannot_run =
            |e: std::io::Error| CliError::error(format!("cannot run {}: {e}", self.exe.display()));
        let mut child = cmd.spawn().map_err(cannot_run)?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            use std::io::Write;
            stdin.write_all(text.as_bytes()).map_err(cannot_run)?;
        }
        let out = child.wait_with_output().map_err(cannot_run)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in stdout.lines().chain(stderr.lines()) {
            self.ctx.ui.info(&format!("    {line}"));
        }
        let code = out.status.code().unwrap_or(-1);
        self.ctx.ui.info(&format!("    (exit {code})"));
        if code != expect {
            return Err(CliError::error(format!(
                "demo step `gryt {}` exited {code}, expected {expect}",
                shell_words(args)
            )));
        }
        Ok(stdout)
    }

    /// Runs git as `who` in `dir` (a fixed identity for commits), prints it like a step;
    /// it must succeed.
    fn git(&self, who: &str, dir: &Path, args: &[&str]) -> Result<()> {
        self.steps.set(self.steps.get() + 1);
        self.ctx
            .ui
            .data(&format!("\n[{who}] $ git {}", shell_words(args)));
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", who)
            .env("GIT_AUTHOR_EMAIL", format!("{who}@example.com"))
            .env("GIT_COMMITTER_NAME", who)
            .env("GIT_COMMITTER_EMAIL", format!("{who}@example.com"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| CliError::error(format!("cannot run git: {e}")))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in stdout.lines().chain(stderr.lines()) {
            self.ctx.ui.info(&format!("    {line}"));
        }
        if !out.status.success() {
            return Err(CliError::error(format!(
                "demo step `git {}` failed",
                shell_words(args)
            )));
        }
        Ok(())
    }

    fn write(&self, path: &Path, text: &str) -> Result<()> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)
                .map_err(|e| CliError::io(format!("cannot create {}", d.display()), e))?;
        }
        std::fs::write(path, text)
            .map_err(|e| CliError::io(format!("cannot write {}", path.display()), e))
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

pub fn cmd_demo(ctx: &Context, a: DemoArgs) -> Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::error(format!("cannot find the gryt binary: {e}")))?;
    let root = std::env::temp_dir().join(format!("gryt-demo-{}", std::process::id()));
    std::fs::create_dir_all(&root)
        .map_err(|e| CliError::io(format!("cannot create {}", root.display()), e))?;
    let demo = Demo {
        ctx,
        exe,
        root: root.clone(),
        steps: std::cell::Cell::new(0),
    };
    let result = run_local(&demo).and_then(|()| run_team(&demo));
    if a.keep {
        ctx.ui.info(&format!(
            "\nThe demo's files are kept in {}",
            root.display()
        ));
    } else {
        let _ = std::fs::remove_dir_all(&root);
    }
    result?;
    // -q leaves only this outcome; --json gives it as a document.
    if ctx.ui.json {
        ctx.ui.json(&serde_json::json!({
            "complete": true,
            "steps": demo.steps.get(),
            "kept": a.keep.then_some(&root),
        }));
    } else {
        ctx.ui.data(&format!(
            "{}Demo complete ({}): contracts written, changes proven, generations promoted once, work kept across conflicts and an outage.",
            if ctx.ui.quiet { "" } else { "\n" },
            crate::ui::plural(demo.steps.get(), "step", "steps")
        ));
    }
    Ok(())
}

fn run_local(d: &Demo<'_>) -> Result<()> {
    d.ctx
        .ui
        .data("== Local release workflow: define a contract, prove every change, promote ==");
    let ws = d.root.join("app");
    std::fs::create_dir_all(&ws).map_err(|e| CliError::io("cannot create the workspace", e))?;
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
            "--change",
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
            "--change",
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
            "--change",
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
            "--change",
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

fn run_team(d: &Demo<'_>) -> Result<()> {
    let ui = &d.ctx.ui;
    ui.info("\n== Team sync: an embedded gryt server (SQLite in a temporary file) and three developers ==");
    let dir = d.root.join("server");
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::io("cannot create the server directory", e))?;
    let database = format!("sqlite:{}", dir.join("server.db").display());
    let config = gryt_server::ServerConfig::new(database.clone());
    let people = ["lead", "alice", "bob"];
    let password = |p: &str| format!("{p}-demo-password\n");
    ui.info("\n-- Onboarding: the admin adds users, the lead logs in, makes a team and commits the repository; teammates clone it and log in --");
    for p in people {
        d.step_with(
            "admin",
            &dir,
            &[
                "server",
                "user",
                "add",
                p,
                "--database",
                &database,
                "--password-stdin",
            ],
            0,
            Some(&password(p)),
        )?;
    }
    let mut server = gryt_server::TestServer::start(config.clone())
        .map_err(|e| CliError::error(format!("cannot start the demo server: {e:#}")))?;
    ui.info(&format!("server listening on {}", server.url()));
    let ws = |p: &str| d.root.join(format!("ws-{p}"));
    let login = |p: &str, url: &str| -> Result<()> {
        d.step_with(
            p,
            &ws(p),
            &[
                "cloud",
                "login",
                "--url",
                url,
                "--username",
                p,
                "--password-stdin",
            ],
            0,
            Some(&password(p)),
        )
        .map(|_| ())
    };
    let lead_ws = ws("lead");
    std::fs::create_dir_all(&lead_ws).map_err(|e| CliError::io("cannot create a workspace", e))?;
    d.step("lead", &lead_ws, &["init", "-q"], 0)?;
    login("lead", &server.url())?;
    let created = d.step(
        "lead",
        &lead_ws,
        &["team", "create", "release-team", "--json"],
        0,
    )?;
    let team = serde_json::from_str::<serde_json::Value>(&created)
        .ok()
        .and_then(|v| v.get("team_id").and_then(|t| t.as_str()).map(String::from))
        .ok_or_else(|| CliError::error("the demo server did not return a team id"))?;
    for m in ["alice", "bob"] {
        d.step("lead", &lead_ws, &["team", "add-member", &team, m], 0)?;
    }
    d.step("lead", &lead_ws, &["config", "team", &team], 0)?;
    d.write(
        &lead_ws.join(".gryt/pipelines/ci.yaml"),
        "steps:\n  - name: test\n    run: echo proving $GRYT_CHANGE_ID as $GRYT_EVOLUTION_TAG\n",
    )?;
    if git_available() {
        d.git("lead", &lead_ws, &["init", "-q"])?;
        d.git("lead", &lead_ws, &["add", ".gryt"])?;
        d.git(
            "lead",
            &lead_ws,
            &["commit", "-q", "-m", "Release contracts with gryt"],
        )?;
        for p in ["alice", "bob"] {
            d.git(p, &d.root, &["clone", "-q", "ws-lead", &format!("ws-{p}")])?;
            login(p, &server.url())?;
        }
    } else {
        ui.info("\ngit is not on PATH: skipping the teammates' `git clone`; they copy the lead's .gryt/config and pipeline instead");
        for p in ["alice", "bob"] {
            copy_shared(&lead_ws.join(".gryt"), &ws(p).join(".gryt"))?;
            login(p, &server.url())?;
        }
    }
    let (lead, alice, bob) = (ws("lead"), ws("alice"), ws("bob"));

    ui.info(
        "\n-- Coordinated release: the lead writes the contract, each developer proves a change --",
    );
    d.write(
        &lead.join(".gryt/generations/v3.0.0.yaml"),
        "version: v3.0.0\ndescription: Coordinated release\nchanges:\n  - id: FEAT-201\n    type: add\n    title: SSO login\n    assignee: alice\n  - id: BUG-77\n    type: fix\n    title: Cache eviction\n    assignee: bob\n",
    )?;
    d.step("lead", &lead, &["generation", "update", "v3.0.0"], 0)?;
    d.step("lead", &lead, &["sync", "push"], 0)?;
    d.step("alice", &alice, &["sync", "pull"], 0)?;
    d.step(
        "alice",
        &alice,
        &["evolution", "start", "v3.0.0", "--change", "FEAT-201"],
        0,
    )?;
    d.step("alice", &alice, &["run", "ci"], 0)?;
    d.step("bob", &bob, &["sync", "pull"], 0)?;
    d.step(
        "bob",
        &bob,
        &["evolution", "start", "v3.0.0", "--change", "BUG-77"],
        0,
    )?;
    d.step("bob", &bob, &["run", "ci"], 0)?;
    d.step("lead", &lead, &["sync", "status", "v3.0.0"], 0)?;
    d.step("lead", &lead, &["promote", "v3.0.0", "--no-tag"], 0)?;
    d.step("bob", &bob, &["promote", "v3.0.0", "--no-tag"], 3)?;
    d.step("alice", &alice, &["sync", "pull"], 0)?;
    d.step(
        "alice",
        &alice,
        &[
            "generation",
            "add-change",
            "v3.0.0",
            "--change",
            "FEAT-202",
            "--type",
            "add",
            "--title",
            "too late",
        ],
        1,
    )?;

    ui.info("\n-- Same version twice: the first push wins, the second is told and renames --");
    d.step(
        "alice",
        &alice,
        &["generation", "new", "v3.1.0", "-d", "alice's idea"],
        0,
    )?;
    d.step(
        "bob",
        &bob,
        &["generation", "new", "v3.1.0", "-d", "bob's idea"],
        0,
    )?;
    d.step("alice", &alice, &["sync", "push"], 0)?;
    d.step("bob", &bob, &["sync", "push"], 3)?;
    d.step(
        "bob",
        &bob,
        &["generation", "rename", "v3.1.0", "v3.2.0"],
        0,
    )?;
    d.step("bob", &bob, &["sync", "push"], 0)?;

    ui.info("\n-- Pull never loses local work: both edit the same draft --");
    d.step("alice", &alice, &["sync", "pull"], 0)?;
    d.step(
        "alice",
        &alice,
        &[
            "generation",
            "add-change",
            "v3.2.0",
            "--change",
            "FEAT-301",
            "--type",
            "add",
            "--title",
            "Export to CSV",
        ],
        0,
    )?;
    d.step(
        "bob",
        &bob,
        &[
            "generation",
            "add-change",
            "v3.2.0",
            "--change",
            "BUG-88",
            "--type",
            "fix",
            "--title",
            "Date parsing",
        ],
        0,
    )?;
    d.step("bob", &bob, &["sync", "push"], 0)?;
    d.step("alice", &alice, &["sync", "pull"], 0)?;
    d.step("alice", &alice, &["generation", "show", "v3.2.0"], 0)?;
    d.step("alice", &alice, &["sync", "push"], 0)?;

    ui.info(
        "\n-- Offline: the server stops; cloud mode keeps work pending (a note; exit 4 with --strict-sync) and delivers it later --",
    );
    d.step("alice", &alice, &["config", "execution_mode", "cloud"], 0)?;
    server
        .stop()
        .map_err(|e| CliError::error(format!("cannot stop the demo server: {e:#}")))?;
    d.step(
        "alice",
        &alice,
        &["generation", "new", "v3.3.0", "-d", "written on a plane"],
        0,
    )?;
    d.step(
        "alice",
        &alice,
        &[
            "--strict-sync",
            "generation",
            "add-change",
            "v3.3.0",
            "--change",
            "FEAT-33",
            "--type",
            "add",
            "--title",
            "Offline edit",
        ],
        4,
    )?;
    d.step("alice", &alice, &["sync", "status"], 0)?;
    server = gryt_server::TestServer::start(config)
        .map_err(|e| CliError::error(format!("cannot restart the demo server: {e:#}")))?;
    ui.info(&format!("server restarted on {}", server.url()));
    for p in people {
        login(p, &server.url())?;
    }
    d.step("alice", &alice, &["sync", "push"], 0)?;
    d.step("lead", &lead, &["sync", "pull"], 0)?;
    d.step("lead", &lead, &["generation", "list"], 0)?;
    d.step("lead", &lead, &["sync", "log"], 0)?;
    drop(server);
    Ok(())
}

/// Whether `git` can be run (the demo's clone needs it; without it that part is skipped).
fn git_available() -> bool {
    Command::new("git")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Without git: a teammate's workspace gets what a clone would bring, every file of the
/// lead's `.gryt/` but the database (which is built on first use).
fn copy_shared(from: &Path, to: &Path) -> Result<()> {
    let io = |what: &str, p: &Path, e| CliError::io(format!("cannot {what} {}", p.display()), e);
    std::fs::create_dir_all(to).map_err(|e| io("create", to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io("read", from, e))? {
        let entry = entry.map_err(|e| io("read", from, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("gryt.db") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            copy_shared(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| io("copy", &src, e))?;
        }
    }
    Ok(())
}
