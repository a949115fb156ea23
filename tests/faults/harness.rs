//! The fault-test environment: a real gryt server (`gryt_server::TestServer` on 127.0.0.1:0,
//! SQLite in a temporary directory) with users made on it, and developer workspaces each
//! running the real `gryt` binary with a cleared environment, its own HOME and config dir,
//! and a fixed clock. `State` is what "nothing changed" compares: the CLI's views and the
//! database's rows.

use gryt_server::{ServerConfig, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixed instant every command sees (`GRYT_NOW`), so that repeated failures write
/// identical times and a state comparison sees only real changes.
pub const NOW: &str = "2026-03-04T05:06:07Z";

/// A URL nobody listens on (port 1 of the loopback refuses connections at once).
pub const DEAD_URL: &str = "http://127.0.0.1:1";

pub use crate::command::{finish, password_of, Out};

/// A running gryt server with its users.
pub struct Server {
    server: TestServer,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A server with the users `names` (password `password_of(name)`).
    pub fn start(names: &[&str]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("gryt-faults-server-")
            .tempdir()
            .expect("temp dir");
        let config =
            ServerConfig::new(format!("sqlite:{}", dir.path().join("server.db").display()));
        let server = TestServer::start(config).expect("start the test server");
        for n in names {
            server.add_user(n, &password_of(n)).expect("add user");
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("http client");
        Server {
            server,
            http,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// An HTTP request as `user` straight to the server; (status, JSON body).
    pub fn request(&self, user: &str, method: &str, path: &str) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = self
            .http
            .request(m, format!("{}{path}", self.url()))
            .basic_auth(user, Some(password_of(user)))
            .send()
            .expect("request to the test server");
        let status = resp.status().as_u16();
        let text = resp.text().expect("response body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    #[track_caller]
    pub fn get(&self, user: &str, path: &str) -> Value {
        let (status, v) = self.request(user, "GET", path);
        assert!((200..300).contains(&status), "GET {path}: {status} {v}");
        v["data"].clone()
    }

    /// The live generations of `user`'s personal scope, project `project`.
    pub fn generations(&self, user: &str, project: &str) -> Vec<Value> {
        self.get(user, &format!("/api/v1/generations?project={project}"))["generations"]
            .as_array()
            .expect("generations")
            .clone()
    }

    /// How many live server generations of the scope carry `version`.
    pub fn count(&self, user: &str, project: &str, version: &str) -> usize {
        self.generations(user, project)
            .iter()
            .filter(|g| g["version"] == version)
            .count()
    }

    /// The live evolutions of a server generation (by server id).
    pub fn evolutions(&self, user: &str, generation_id: &Value) -> Vec<Value> {
        self.get(
            user,
            &format!("/api/v1/evolutions?generation_id={generation_id}"),
        )["evolutions"]
            .as_array()
            .expect("evolutions")
            .clone()
    }

    /// The whole change feed of the scope (one page).
    pub fn feed(&self, user: &str, project: &str) -> Value {
        self.get(
            user,
            &format!("/api/v1/sync/changes?since=0&limit=1000&project={project}"),
        )
    }
}

/// One developer: HOME (with the config dir) and a working directory.
pub struct Dev {
    pub name: String,
    dir: tempfile::TempDir,
    /// Variables every command of this developer gets.
    env: Vec<(String, String)>,
}

impl Dev {
    /// An empty workspace directory (no repository, no config).
    pub fn bare(name: &str) -> Dev {
        let dir = tempfile::Builder::new()
            .prefix(&format!("gryt-faults-{name}-"))
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("work")).expect("work dir");
        Dev {
            name: name.to_string(),
            dir,
            env: Vec::new(),
        }
    }

    /// A repository in the user's personal scope on the server at `url` (password auth).
    pub fn join(url: &str, name: &str) -> Dev {
        let d = Dev::bare(name);
        d.run(&["init"]).ok();
        d.run(&["config", "--global", "gryt_url", url]).ok();
        d.run(&["config", "--global", "username", name]).ok();
        d.run(&["config", "--global", "password", &password_of(name)])
            .ok();
        d.run(&["config", "project", "default"]).ok();
        d
    }

    /// A copy of this developer's files (config, credentials, repository) as `name`.
    pub fn duplicate(&self, name: &str) -> Dev {
        let d = Dev::bare(name);
        copy_tree(self.home(), d.home());
        Dev {
            env: self.env.clone(),
            ..d
        }
    }

    /// Every later command gets `key=value`.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.home().join("config")
    }

    pub fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.home().join("work")).expect("canonical work dir")
    }

    pub fn gryt_dir(&self) -> PathBuf {
        self.root().join(".gryt")
    }

    pub fn db(&self) -> PathBuf {
        self.gryt_dir().join("gryt.db")
    }

    pub fn contract(&self, version: &str) -> PathBuf {
        self.gryt_dir()
            .join("generations")
            .join(format!("{version}.yaml"))
    }

    /// The hermetic command in the working directory, with `extra` variables.
    pub fn command<S: AsRef<std::ffi::OsStr>>(
        &self,
        args: &[S],
        extra: &[(&str, &str)],
    ) -> Command {
        let mut c = crate::command::hermetic(self.home(), &self.name);
        c.env("GRYT_NOW", NOW).current_dir(self.home().join("work"));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        for (k, v) in extra {
            c.env(k, v);
        }
        c.args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Out {
        let out = self.command(args, extra).output().expect("run gryt");
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        finish(&self.name, &args, out)
    }

    /// `gryt ARGS --json`, which must succeed.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(&a);
        out.ok();
        out.json()
    }

    /// `gryt sync status --json` (exit 0, or 3 when behind or in conflict).
    #[track_caller]
    pub fn sync_status(&self) -> Value {
        let out = self.run(&["sync", "status", "--json"]);
        assert!(out.code == 0 || out.code == 3, "sync status\n{out:?}");
        out.json()
    }

    pub fn add_change(&self, version: &str, id: &str, title: &str) {
        self.run(&[
            "generation",
            "add-change",
            version,
            "--id",
            id,
            "--type",
            "add",
            "--title",
            title,
        ])
        .ok();
    }

    /// Starts and passes an evolution of `change`; returns its tag.
    pub fn prove(&self, version: &str, change: &str) -> String {
        let ev = self.json(&["evolution", "start", version, "--change", change]);
        let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
        let out = self.run(&["evolution", "complete", &tag, "--status", "pass"]);
        assert!(out.code == 0 || out.code == 4, "{out:?}");
        tag
    }

    /// The change-feed cursor stored in the database.
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

    /// The local generation of `version` (`generation show --json`).
    pub fn show(&self, version: &str) -> Value {
        self.json(&["generation", "show", version])["generation"].clone()
    }

    /// What the user can see and what sync keeps: `generation list`, `evolution list` and
    /// `sync status` (minus what depends on the clock or the server), read with the cloud
    /// out of reach; plus the database rows (every table but the sync history) and the
    /// files under `.gryt/` (but the database files).
    pub fn state(&self) -> State {
        let quiet = [("GRYT_URL", DEAD_URL), ("GRYT_HTTP_ATTEMPTS", "1")];
        let mut views = BTreeMap::new();
        for args in [
            &["generation", "list", "--json"][..],
            &["evolution", "list", "--json"],
        ] {
            let out = self.run_env(args, &quiet);
            out.ok();
            views.insert(args.join(" "), out.stdout.clone());
        }
        let out = self.run_env(&["sync", "status", "--json"], &quiet);
        assert!(out.code == 0 || out.code == 3, "sync status\n{out:?}");
        let mut st = out.json();
        if let Some(m) = st.as_object_mut() {
            for k in ["cloud", "head", "offline", "behind", "freshness"] {
                m.remove(k);
            }
        }
        views.insert("sync status".into(), format!("{st:#}"));
        State {
            views,
            rows: self.rows(),
            files: files_of(&self.gryt_dir()),
        }
    }

    /// The database rows only (for cases where the CLI itself refuses to start).
    pub fn raw_state(&self) -> State {
        State {
            views: BTreeMap::new(),
            rows: self.rows(),
            files: files_of(&self.gryt_dir()),
        }
    }

    /// Every row of every table but the sync history; an unreadable database is recorded
    /// as its error (so a case that breaks the database file still compares).
    fn rows(&self) -> BTreeMap<String, Vec<String>> {
        match self.try_rows() {
            Ok(rows) => rows,
            Err(e) => BTreeMap::from([("(unreadable)".to_string(), vec![e.to_string()])]),
        }
    }

    fn try_rows(&self) -> rusqlite::Result<BTreeMap<String, Vec<String>>> {
        let conn = rusqlite::Connection::open_with_flags(
            self.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT IN ('sync_log', 'sqlite_sequence') ORDER BY name",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = BTreeMap::new();
        for t in tables {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\""))?;
            let n = stmt.column_count();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    let mut cells = Vec::with_capacity(n);
                    for i in 0..n {
                        let v: rusqlite::types::Value = r.get(i)?;
                        cells.push(format!("{v:?}"));
                    }
                    Ok(cells.join(" | "))
                })?
                .collect::<rusqlite::Result<_>>()?;
            rows.sort();
            out.insert(t, rows);
        }
        Ok(out)
    }
}

/// Files under `dir` with their bytes, but SQLite's (`gryt.db*`).
pub fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(base)
                .expect("under base")
                .display()
                .to_string();
            if rel.starts_with("gryt.db") {
                continue;
            }
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(base, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Copies a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// What "nothing changed" compares.
#[derive(PartialEq, Eq)]
pub struct State {
    views: BTreeMap<String, String>,
    rows: BTreeMap<String, Vec<String>>,
    files: BTreeMap<String, Vec<u8>>,
}

impl State {
    /// A readable account of the differences, or `None`.
    pub fn diff(&self, after: &State) -> Option<String> {
        let mut d = Vec::new();
        for (k, v) in &self.views {
            if after.views.get(k) != Some(v) {
                d.push(format!(
                    "view `{k}`:\n  before: {v}\n  after: {}",
                    after.views.get(k).map(String::as_str).unwrap_or("(none)")
                ));
            }
        }
        for (t, rows) in &self.rows {
            let empty = Vec::new();
            let new = after.rows.get(t).unwrap_or(&empty);
            for r in rows.iter().filter(|r| !new.contains(r)) {
                d.push(format!("table {t}: row gone or changed: {r}"));
            }
            for r in new.iter().filter(|r| !rows.contains(r)) {
                d.push(format!("table {t}: row new or changed: {r}"));
            }
        }
        let keys: std::collections::BTreeSet<&String> =
            self.files.keys().chain(after.files.keys()).collect();
        for k in keys {
            if self.files.get(k) != after.files.get(k) {
                d.push(format!("file .gryt/{k} changed"));
            }
        }
        (!d.is_empty()).then(|| d.join("\n"))
    }

    #[track_caller]
    pub fn assert_same(&self, after: &State, what: &str) {
        if let Some(d) = self.diff(after) {
            panic!("{what} changed the workspace:\n{d}");
        }
    }
}

/// A problem+json body as the server writes it.
pub fn problem(status: u16, detail: &str) -> String {
    json!({ "type": "about:blank", "title": "injected", "status": status, "detail": detail, "code": "injected" })
        .to_string()
}
