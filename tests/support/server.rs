//! Real gryt servers for tests.
//!
//! - [`Cloud`]: `gryt_server::TestServer` in-process on 127.0.0.1:0, over SQLite in a
//!   temporary directory (restartable on the same database, with backups) or over a fresh
//!   PostgreSQL database; users, API keys and teams made on it; an HTTP client to read it.
//! - [`ServerProcess`]: the real `gryt server` binary as a child process on 127.0.0.1:0,
//!   with its output collected.

use super::command::password_of;
use super::workspace::Workspace;
use gryt_server::{ServerConfig, TestServer};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where a [`Cloud`] keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// A fresh database on the PostgreSQL server named by `GRYT_TEST_POSTGRES`.
    Postgres,
}

impl Backend {
    /// The backends to run a story on: SQLite, and PostgreSQL when `GRYT_TEST_POSTGRES`
    /// names a server.
    pub fn all() -> Vec<Backend> {
        let mut v = vec![Backend::Sqlite];
        if std::env::var_os("GRYT_TEST_POSTGRES").is_some() {
            v.push(Backend::Postgres);
        } else {
            super::note("GRYT_TEST_POSTGRES is not set; the PostgreSQL run is skipped");
        }
        v
    }
}

/// A fresh PostgreSQL database for one test, dropped afterwards.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

/// Runs `f` on its own thread (the postgres client runs a runtime of its own, which must
/// not nest in a caller's).
fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f)
        .join()
        .expect("a postgres admin thread")
}

impl PgDatabase {
    fn create() -> PgDatabase {
        let admin_url = std::env::var("GRYT_TEST_POSTGRES").expect("GRYT_TEST_POSTGRES");
        let name = format!("gryt_test_{}", uuid::Uuid::new_v4().simple());
        let (admin, n) = (admin_url.clone(), name.clone());
        on_thread(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls)
                .expect("connect to GRYT_TEST_POSTGRES");
            c.batch_execute(&format!("CREATE DATABASE {n}"))
                .expect("create a test database");
        });
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or_else(|| admin_url.clone());
        PgDatabase {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, n) = (self.admin_url.clone(), self.name.clone());
        on_thread(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"));
            }
        });
    }
}

/// A running gryt server (or a stopped one whose database outlives it, to be restarted).
pub struct Cloud {
    server: Option<TestServer>,
    config: ServerConfig,
    url: String,
    http: reqwest::blocking::Client,
    /// The team made by [`Cloud::with_team`] (empty otherwise) and its owner.
    pub team: String,
    pub owner: String,
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

impl Cloud {
    /// A server over SQLite in a temporary directory.
    pub fn start() -> Cloud {
        Cloud::start_on(Backend::Sqlite)
    }

    /// A server on `backend`.
    pub fn start_on(backend: Backend) -> Cloud {
        Cloud::start_with(backend, |_| {})
    }

    /// A server on `backend` with `tweak` applied to its configuration.
    pub fn start_with(backend: Backend, tweak: impl FnOnce(&mut ServerConfig)) -> Cloud {
        let dir = tempfile::Builder::new()
            .prefix("gryt-server-")
            .tempdir()
            .expect("temp dir");
        let pg = (backend == Backend::Postgres).then(PgDatabase::create);
        let database = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite:{}", dir.path().join("server.db").display()),
        };
        let mut config = ServerConfig::new(database);
        tweak(&mut config);
        let server = TestServer::start(config.clone()).expect("start the test server");
        // The root package builds reqwest without a default TLS crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Cloud {
            url: server.url(),
            server: Some(server),
            config,
            http,
            team: String::new(),
            owner: String::new(),
            dir,
            pg,
        }
    }

    /// A server (SQLite) that lets anyone sign up (`gryt cloud signup`).
    pub fn with_signup() -> Cloud {
        Cloud::start_with(Backend::Sqlite, |c| c.allow_signup = true)
    }

    /// A server (SQLite) with the users `names` (password `password_of(name)`).
    pub fn with_users(names: &[&str]) -> Cloud {
        Cloud::with_users_on(Backend::Sqlite, names)
    }

    /// A server on `backend` with the users `names` (password `password_of(name)`).
    pub fn with_users_on(backend: Backend, names: &[&str]) -> Cloud {
        let cloud = Cloud::start_on(backend);
        for n in names {
            cloud.add_user(n);
        }
        cloud
    }

    /// A server (SQLite) with `users` and a team `team` that the first owns and all are
    /// members of (see [`Cloud::team`]).
    pub fn with_team(users: &[&str], team: &str) -> Cloud {
        Cloud::with_team_on(Backend::Sqlite, users, team)
    }

    /// As [`Cloud::with_team`], on `backend`.
    pub fn with_team_on(backend: Backend, users: &[&str], team: &str) -> Cloud {
        let mut cloud = Cloud::with_users_on(backend, users);
        cloud.team = cloud.make_team(users[0], team, &users[1..]);
        cloud.owner = users[0].to_string();
        cloud
    }

    /// `http://127.0.0.1:PORT` of the running server (the last one, when stopped).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Stops the server, waiting for in-flight requests; the database stays.
    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().expect("stop the test server");
        }
    }

    /// Starts a server on the same database (on a new port: see `url`).
    pub fn restart(&mut self) {
        self.stop();
        let s = TestServer::start(self.config.clone()).expect("restart the test server");
        self.url = s.url();
        self.server = Some(s);
    }

    /// The server's database URL (`sqlite:PATH` or `postgres://...`), for `gryt server
    /// --database` run against it.
    pub fn database_url(&self) -> String {
        self.config.database.clone()
    }

    /// The server's SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        assert!(
            self.pg.is_none(),
            "a PostgreSQL server has no database file"
        );
        self.dir.path().join("server.db")
    }

    /// Stops the server, keeps a copy of its database (a backup), and starts it again.
    pub fn backup(&mut self) -> PathBuf {
        self.stop();
        let copy = self.dir.path().join("backup.db");
        std::fs::copy(self.db_path(), &copy).expect("back up the server database");
        let wal = PathBuf::from(format!("{}-wal", self.db_path().display()));
        if wal.exists() {
            std::fs::copy(&wal, format!("{}-wal", copy.display())).expect("back up the WAL");
        }
        self.restart();
        copy
    }

    /// Stops the server, puts `backup` in place of its database, and starts it again.
    pub fn restore(&mut self, backup: &Path) {
        self.stop();
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db_path().display()));
        }
        std::fs::copy(backup, self.db_path()).expect("restore the server database");
        let wal = PathBuf::from(format!("{}-wal", backup.display()));
        if wal.exists() {
            std::fs::copy(&wal, format!("{}-wal", self.db_path().display()))
                .expect("restore the WAL");
        }
        self.restart();
    }

    /// The running `TestServer` (its administration calls).
    pub fn test_server(&self) -> &TestServer {
        self.server.as_ref().expect("the server is running")
    }

    /// Adds a user whose password is `password_of(name)`.
    pub fn add_user(&self, name: &str) {
        self.add_user_with(name, &password_of(name));
    }

    pub fn add_user_with(&self, name: &str, password: &str) {
        self.test_server()
            .add_user(name, password)
            .expect("add user");
    }

    /// A new API key of `user`: (key id, secret).
    pub fn api_key(&self, user: &str) -> (String, String) {
        let k = self
            .test_server()
            .create_api_key(user, "tests", None)
            .expect("create api key");
        (k.key_id, k.secret)
    }

    /// An HTTP request as `user` (Basic auth, `password_of(user)`); (status, JSON body, or
    /// the body as a JSON string when it is not JSON).
    pub fn request(
        &self,
        user: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.url))
            .basic_auth(user, Some(password_of(user)));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().expect("request to the test server");
        let status = resp.status().as_u16();
        let text = resp.text().expect("response body");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    /// A 2xx answer's `data`.
    #[track_caller]
    pub fn get(&self, user: &str, path: &str) -> Value {
        let (status, v) = self.request(user, "GET", path, None);
        assert!((200..300).contains(&status), "GET {path}: {status} {v}");
        v["data"].clone()
    }

    /// Creates a team owned by `owner` with `members`; returns its id.
    pub fn make_team(&self, owner: &str, name: &str, members: &[&str]) -> String {
        let (status, v) = self.request(
            owner,
            "POST",
            "/api/v1/teams",
            Some(json!({ "name": name })),
        );
        assert!((200..300).contains(&status), "create team: {status} {v}");
        let id = v["data"]["team_id"].as_str().expect("team_id").to_string();
        for m in members {
            let (status, v) = self.request(
                owner,
                "POST",
                &format!("/api/v1/teams/{id}/members"),
                Some(json!({ "username": m })),
            );
            assert!((200..300).contains(&status), "add member {m}: {status} {v}");
        }
        id
    }

    /// The live generations of the team's default project, as the server holds them.
    pub fn generations(&self, user: &str, team: &str) -> Vec<Value> {
        self.get(
            user,
            &format!("/api/v1/generations?team_id={team}&project=default"),
        )["generations"]
            .as_array()
            .expect("generations")
            .clone()
    }

    /// The live generations of `user`'s personal scope, project `project`.
    pub fn personal_generations(&self, user: &str, project: &str) -> Vec<Value> {
        self.get(user, &format!("/api/v1/generations?project={project}"))["generations"]
            .as_array()
            .expect("generations")
            .clone()
    }

    /// How many live generations of `user`'s personal scope, project `project`, carry
    /// `version`.
    pub fn count(&self, user: &str, project: &str, version: &str) -> usize {
        self.personal_generations(user, project)
            .iter()
            .filter(|g| g["version"] == version)
            .count()
    }

    /// The server's generation of `version` in the team (panics when absent).
    #[track_caller]
    pub fn generation(&self, user: &str, team: &str, version: &str) -> Value {
        let all = self.generations(user, team);
        let found: Vec<&Value> = all.iter().filter(|g| g["version"] == version).collect();
        assert_eq!(found.len(), 1, "the server holds {version} once: {all:#?}");
        found[0].clone()
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

    /// The whole change feed of `user`'s personal scope, project `project` (one page).
    pub fn feed(&self, user: &str, project: &str) -> Value {
        self.get(
            user,
            &format!("/api/v1/sync/changes?since=0&limit=1000&project={project}"),
        )
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The real `gryt server` as a child process on 127.0.0.1:0, started by a workspace (its
/// HOME, its variables); stdout and stderr are collected, stderr line by line as it comes.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
    lines: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// `gryt server --listen 127.0.0.1:0 ARGS` run by `ws` in its HOME; returns once the
    /// server printed where it listens.
    pub fn start(ws: &Workspace, args: &[&str]) -> ServerProcess {
        let mut c = ws.command_in(ws.home());
        c.args(["server", "--listen", "127.0.0.1:0"]).args(args);
        ServerProcess::spawn(c)
    }

    /// Starts `c`, a command made by a workspace that runs `gryt server --listen
    /// 127.0.0.1:0 ...` (through a shell, as another user, ...); returns once the server
    /// printed where it listens.
    pub fn spawn(mut c: Command) -> ServerProcess {
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("start gryt server");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("read the listening line");
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        let stdout = std::thread::spawn(move || {
            let mut s = first;
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        ServerProcess {
            child,
            url,
            stdout: Some(stdout),
            stderr: Some(stderr),
            lines,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the server logs a line containing `needle` (a safety net of `timeout`
    /// against a hang: a failure, not a measurement); panics with what it logged.
    #[track_caller]
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let mut seen = Vec::new();
        loop {
            let line = self.lines.recv_timeout(timeout).unwrap_or_else(|_| {
                panic!(
                    "the server never logged {needle:?}; it logged:\n{}",
                    seen.join("\n")
                )
            });
            if line.contains(needle) {
                return;
            }
            seen.push(line);
        }
    }

    /// Sends SIGTERM (a graceful shutdown).
    pub fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -TERM failed");
    }

    /// Waits for the server to exit; its status and everything it printed (stdout, then
    /// stderr).
    pub fn wait(mut self) -> (ExitStatus, String) {
        let status = self.child.wait().expect("wait for the server");
        let out = self
            .stdout
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        let err = self
            .stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        (status, format!("{out}\n{err}"))
    }

    /// Stops the server (SIGTERM) and returns everything it printed.
    pub fn stop(self) -> String {
        self.terminate();
        self.wait().1
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
