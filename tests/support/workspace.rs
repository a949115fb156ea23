//! One developer's machine: a temporary HOME holding the config dir (`config/`) and a
//! working directory (`work/`), who they are, and the variables every command of theirs
//! gets. Every `gryt` it runs is the real binary with a cleared environment
//! ([`super::command::hermetic`]); every output is kept, so a test can check that no
//! secret was ever shown.

use super::command::{self, finish, password_of, Out};
use super::files;
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The API key [`Workspace::join_with_env_key`] gives a fake server (which checks nothing).
pub const FAKE_KEY_ID: &str = "gk_fake0000";
pub const FAKE_KEY_SECRET: &str = "fake-key-secret-0000";

pub struct Workspace {
    /// Who runs the commands (`USER`, and the name in failure messages).
    pub name: String,
    dir: tempfile::TempDir,
    /// Variables every `gryt` command gets, on top of the hermetic ones.
    env: Vec<(String, String)>,
    /// git's identity (name, e-mail) and, when fixed, its dates.
    git_name: String,
    git_email: String,
    git_date: Option<String>,
    /// Every output so far (its `Debug` text), and whether it may show a secret.
    log: Mutex<Vec<(String, bool)>>,
}

impl Workspace {
    /// An empty workspace of `name`: no repository, no config, no extra variables.
    pub fn bare(name: &str) -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix(&format!("gryt-{name}-"))
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("work")).expect("work dir");
        Workspace {
            name: name.to_string(),
            dir,
            env: Vec::new(),
            git_name: name.to_string(),
            git_email: format!("{name}@example.com"),
            git_date: None,
            log: Mutex::new(Vec::new()),
        }
    }

    /// The local-workflow environment: user `alice`, the fixed clock [`super::NOW`] for gryt
    /// and git, and git's identity given to gryt too (should a command call git). No
    /// repository yet.
    pub fn local() -> Workspace {
        let mut w = Workspace::bare("alice").with_clock();
        w.git_name = "Alice".into();
        w.git_date = Some(super::NOW.into());
        for k in ["GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"] {
            w.set_env(k, "Alice");
        }
        for k in ["GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"] {
            w.set_env(k, "alice@example.com");
        }
        w
    }

    /// [`Workspace::local`] with a fresh repository (`gryt init`, no git).
    pub fn local_repo() -> Workspace {
        let w = Workspace::local();
        w.run(&["init"]).clean();
        w
    }

    /// [`Workspace::local`] with a fresh repository inside a git repository with one commit.
    pub fn local_git_repo() -> Workspace {
        let w = Workspace::local();
        w.git(&["init", "-q", "-b", "main"]);
        files::write(&w.root().join("README"), "hello\n");
        w.git(&["add", "README"]);
        w.git(&["commit", "-q", "-m", "first"]);
        w.run(&["init"]).clean();
        w
    }

    /// Every later command sees the fixed clock [`super::NOW`].
    pub fn with_clock(self) -> Workspace {
        self.with_env("GRYT_NOW", super::NOW)
    }

    /// Every later command gets `key=value`.
    pub fn with_env(mut self, key: &str, value: &str) -> Workspace {
        self.set_env(key, value);
        self
    }

    /// Every later command gets `key=value`.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Makes a repository synced with the server at `url` as this user, as users arrive:
    /// `gryt init`, then `gryt cloud login --url URL` with the password (which stores an
    /// API key the server creates, bound to `url`, and makes `url` the global `gryt_url`),
    /// then `team` (the personal scope when `None`) and project `default` in the
    /// repository's config. The server must answer at `url` now (through a proxy: before
    /// any fault is armed); the login is sent to no other URL.
    pub fn join(self, url: &str, team: Option<&str>) -> Workspace {
        self.run(&["init"]).ok();
        self.configure_login(url);
        self.configure_scope(team);
        self
    }

    /// As [`Workspace::join`] for a server that cannot log anyone in (a scripted fake
    /// server): `url` as the global `gryt_url` and an API key in the environment
    /// (`GRYT_API_KEY_ID`/`GRYT_API_KEY_SECRET`, as a CI job has it), so every request is
    /// signed and nothing secret is stored.
    pub fn join_with_env_key(mut self, url: &str, team: Option<&str>) -> Workspace {
        self.set_env("GRYT_API_KEY_ID", FAKE_KEY_ID);
        self.set_env("GRYT_API_KEY_SECRET", FAKE_KEY_SECRET);
        self.run(&["init"]).ok();
        self.run(&["config", "--global", "gryt_url", url]).ok();
        self.configure_scope(team);
        self
    }

    fn configure_scope(&self, team: Option<&str>) {
        if let Some(team) = team {
            self.run(&["config", "team", team]).ok();
        }
        self.run(&["config", "project", "default"]).ok();
    }

    /// A teammate's clone of `origin` (a git URL or path) in the working directory, logged
    /// in to `url` as [`Workspace::join`] does, and no `gryt init`.
    pub fn clone_of(self, url: &str, origin: &Path) -> Workspace {
        self.git(&["clone", "-q", &origin.display().to_string(), "."]);
        self.configure_login(url);
        self
    }

    /// `gryt cloud login --url URL --username NAME --password-stdin`, which must succeed:
    /// the credentials file then holds an API key bound to `url`, never the password.
    #[track_caller]
    fn configure_login(&self, url: &str) {
        self.login(url).ok();
    }

    /// A copy of this workspace's files (config, credentials, repository) and settings, as
    /// `name`.
    pub fn duplicate(&self, name: &str) -> Workspace {
        let d = Workspace::bare(name);
        files::copy_tree(self.home(), d.home());
        Workspace {
            env: self.env.clone(),
            git_name: self.git_name.clone(),
            git_email: self.git_email.clone(),
            git_date: self.git_date.clone(),
            ..d
        }
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.home().join("config")
    }

    /// The working directory, where `gryt init` makes the repository (canonical: error
    /// messages name canonical paths).
    pub fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.home().join("work")).expect("canonical work dir")
    }

    /// The credentials file in the config dir.
    pub fn credentials(&self) -> PathBuf {
        self.config_dir().join("credentials")
    }

    /// The global config file in the config dir.
    pub fn global_config(&self) -> PathBuf {
        self.config_dir().join("config")
    }

    pub fn gryt_dir(&self) -> PathBuf {
        self.root().join(".gryt")
    }

    /// The repository's database file.
    pub fn db(&self) -> PathBuf {
        self.gryt_dir().join("gryt.db")
    }

    pub fn contract(&self, version: &str) -> PathBuf {
        self.gryt_dir()
            .join("generations")
            .join(format!("{version}.yaml"))
    }

    pub fn read_contract(&self, version: &str) -> String {
        files::read(&self.contract(version))
    }

    pub fn write_contract(&self, version: &str, text: &str) {
        files::write(&self.contract(version), text);
    }

    /// Replaces the contract file and re-reads it (`gryt generation update`).
    pub fn rewrite_contract(&self, version: &str, text: &str) -> Out {
        self.write_contract(version, text);
        self.run(&["generation", "update", version])
    }

    pub fn write_pipeline(&self, name: &str, text: &str) {
        files::write(
            &self
                .gryt_dir()
                .join("pipelines")
                .join(format!("{name}.yaml")),
            text,
        );
    }

    /// A `gryt` command with the hermetic environment and this workspace's variables, run
    /// in `dir`; the caller adds the arguments.
    pub fn command_in(&self, dir: &Path) -> Command {
        let mut c = command::hermetic(self.home(), &self.name);
        c.envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir);
        c
    }

    /// `program` (a shell that runs gryt, say) in `dir` with the same environment as
    /// [`Workspace::command_in`]; the caller adds the arguments.
    pub fn program_in(&self, program: &str, dir: &Path) -> Command {
        let mut c = command::hermetic_program(program, self.home(), &self.name);
        c.envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir);
        c
    }

    /// Runs a command made by [`Workspace::program_in`] or [`Workspace::command_in`], shown
    /// as `gryt ARGS`, with `input` on stdin when given.
    pub fn run_command(&self, c: Command, args: &[&str], input: Option<&str>) -> Out {
        self.finish(args, command::output(c, input))
    }

    /// `gryt ARGS` in the working directory, not yet run.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = self.command_in(&self.home().join("work"));
        c.args(args);
        c
    }

    /// `gryt ARGS` in the working directory with `extra` variables, not yet run.
    pub fn command_env<S: AsRef<OsStr>>(&self, args: &[S], extra: &[(&str, &str)]) -> Command {
        let mut c = self.command(args);
        c.envs(extra.iter().copied());
        c
    }

    /// Records a finished command of this workspace (see [`command::finish`]).
    pub fn finish<S: AsRef<str>>(&self, args: &[S], out: std::process::Output) -> Out {
        self.keep(finish(&self.name, args, out), false)
    }

    fn keep(&self, out: Out, secret_ok: bool) -> Out {
        self.log
            .lock()
            .expect("output log")
            .push((format!("{out:?}"), secret_ok));
        out
    }

    /// Runs `gryt ARGS` in the working directory; it must not crash.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[], None)
    }

    /// Runs `gryt ARGS` in `dir`.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Out {
        let mut c = self.command_in(dir);
        c.args(args);
        self.finish(args, command::output(c, None))
    }

    /// Runs `gryt ARGS` with extra environment variables.
    pub fn run_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Out {
        self.run_with(args, vars, None)
    }

    /// The `--database` URL of a `gryt server` SQLite database in this workspace's home.
    pub fn server_database(&self) -> String {
        format!("sqlite:{}", self.home().join("server.db").display())
    }

    /// `gryt server --database DB user add USER --password-stdin`, the password on stdin.
    pub fn add_server_user(&self, db: &str, user: &str, password: &str) -> Out {
        self.run_with(
            &[
                "server",
                "--database",
                db,
                "user",
                "add",
                user,
                "--password-stdin",
            ],
            &[],
            Some(&format!("{password}\n")),
        )
    }

    /// Runs `gryt ARGS` with extra environment variables and, when given, `input` on stdin.
    pub fn run_with(&self, args: &[&str], vars: &[(&str, &str)], input: Option<&str>) -> Out {
        self.finish(args, command::output(self.command_env(args, vars), input))
    }

    /// Runs `gryt ARGS`, whose output is meant to show a secret once (a new API key's):
    /// [`Workspace::assert_no_secret`] does not look at it.
    pub fn run_showing_secret(&self, args: &[&str]) -> Out {
        self.run_showing_secret_with(args, None)
    }

    /// As [`Workspace::run_showing_secret`], with `input` on stdin when given.
    pub fn run_showing_secret_with(&self, args: &[&str], input: Option<&str>) -> Out {
        let out = finish(&self.name, args, command::output(self.command(args), input));
        self.keep(out, true)
    }

    /// Starts `gryt ARGS` without waiting (output discarded), to be killed.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gryt")
    }

    /// No output of this workspace so far (but those of `run_showing_secret`) shows any of
    /// `secrets`.
    #[track_caller]
    pub fn assert_no_secret(&self, secrets: &[&str]) {
        for (out, secret_ok) in self.log.lock().expect("output log").iter() {
            if *secret_ok {
                continue;
            }
            for s in secrets {
                assert!(!s.is_empty(), "an empty secret");
                assert!(!out.contains(s), "a secret appears in output:\n{out}");
            }
        }
    }

    /// `gryt cloud login --url URL` as this user (password read from stdin).
    pub fn login(&self, url: &str) -> Out {
        let pw = format!("{}\n", password_of(&self.name));
        self.run_with(
            &[
                "cloud",
                "login",
                "--url",
                url,
                "--username",
                &self.name,
                "--password-stdin",
            ],
            &[],
            Some(&pw),
        )
    }

    /// `gryt ARGS --json`, which must succeed; its JSON.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        self.json_with(args, &[])
    }

    /// `gryt ARGS --json` with extra environment variables (a CI job's), which must
    /// succeed; its JSON.
    #[track_caller]
    pub fn json_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run_env(&a, vars);
        out.ok();
        out.json()
    }

    /// `generation show V --json`.
    #[track_caller]
    pub fn show(&self, version: &str) -> Value {
        self.json(&["generation", "show", version])
    }

    /// The local generation of `version` (`generation show --json`'s `generation`).
    #[track_caller]
    pub fn generation(&self, version: &str) -> Value {
        self.show(version)["generation"].clone()
    }

    /// `gryt sync status --json` (exit 0, or 3 when behind or in conflict).
    #[track_caller]
    pub fn sync_status(&self) -> Value {
        let out = self.run(&["sync", "status", "--json"]);
        assert!(
            out.code == 0 || out.code == 3,
            "sync status failed\n{out:?}"
        );
        out.json()
    }

    /// `gryt generation add-change`, which must succeed; its output.
    #[track_caller]
    pub fn add_change(&self, version: &str, id: &str, kind: &str, title: &str) -> Out {
        let out = self.run(&[
            "generation",
            "add-change",
            version,
            "--id",
            id,
            "--type",
            kind,
            "--title",
            title,
        ]);
        out.ok();
        out
    }

    /// Starts proving `change` and proves it with `gryt evolution complete` (exit 0);
    /// returns the tag.
    #[track_caller]
    pub fn prove(&self, version: &str, change: &str) -> String {
        self.prove_ending(version, change, &[0])
    }

    /// As [`Workspace::prove`], with `evolution complete` ending with one of `codes` (4: the
    /// cloud out of reach).
    #[track_caller]
    pub fn prove_ending(&self, version: &str, change: &str, codes: &[i32]) -> String {
        let ev = self.json(&["evolution", "start", version, "--change", change]);
        let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
        let out = self.run(&["evolution", "complete", &tag, "--status", "pass"]);
        assert!(codes.contains(&out.code), "{out:?}");
        tag
    }

    /// The change-feed cursor stored in the database (0 when none).
    pub fn cursor(&self) -> i64 {
        let conn = rusqlite::Connection::open_with_flags(
            self.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open db");
        conn.query_row(
            "SELECT value FROM sync_metadata WHERE key = 'cursor'",
            [],
            |r| r.get::<_, Option<String>>(0),
        )
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
    }

    /// Opens the repository's database read-write (recovering what a killed process left,
    /// as the next gryt command would).
    pub fn open_db(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.db()).expect("open the client database");
        c.busy_timeout(std::time::Duration::from_secs(10))
            .expect("busy timeout");
        c
    }

    /// Puts the workspace under git, commits everything (the database stays out: `.gryt/`
    /// ignores it) and pushes `main` to a new bare origin in `origin_dir`; returns the origin.
    pub fn publish(&self, origin_dir: &tempfile::TempDir) -> PathBuf {
        let origin = origin_dir.path().join("origin.git");
        self.git(&["init", "-q", "-b", "main"]);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "contracts"]);
        let status = self.git(&["status", "--porcelain", "--untracked-files=all"]);
        assert!(status.is_empty(), "the database stays out of git: {status}");
        self.git(&[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            &origin.display().to_string(),
        ]);
        self.git(&["push", "-q", &origin.display().to_string(), "main"]);
        origin
    }

    /// Runs git in the working directory; it must succeed. Returns its stdout.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_command(args).output().expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// git in the working directory with a cleared environment, this workspace's HOME, its
    /// identity and (when fixed) its dates.
    pub fn git_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", &self.git_name)
            .env("GIT_AUTHOR_EMAIL", &self.git_email)
            .env("GIT_COMMITTER_NAME", &self.git_name)
            .env("GIT_COMMITTER_EMAIL", &self.git_email);
        if let Some(date) = &self.git_date {
            c.env("GIT_AUTHOR_DATE", date)
                .env("GIT_COMMITTER_DATE", date);
        }
        c.current_dir(self.home().join("work")).args(args);
        c
    }
}
