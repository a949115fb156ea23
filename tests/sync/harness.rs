//! The sync test environment: a real gryt server on 127.0.0.1:0 over SQLite in a temporary
//! directory (restartable on the same database), users, API keys and a team made on it, and
//! one workspace per developer, each running the real `gryt` binary with a cleared
//! environment and its own HOME and config dir.

use gryt_server::{ServerConfig, TestServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

pub use crate::command::{finish, password_of, Out};

/// A gryt server whose SQLite database outlives it, so it can be stopped and restarted.
pub struct Cloud {
    server: Option<TestServer>,
    config: ServerConfig,
    url: String,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

impl Cloud {
    pub fn start() -> Cloud {
        let dir = tempfile::Builder::new()
            .prefix("gryt-sync-server-")
            .tempdir()
            .expect("temp dir");
        let config =
            ServerConfig::new(format!("sqlite:{}", dir.path().join("server.db").display()));
        let server = TestServer::start(config.clone()).expect("start the test server");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("http client");
        Cloud {
            url: server.url(),
            server: Some(server),
            config,
            http,
            _dir: dir,
        }
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

    /// The server's SQLite database file.
    pub fn db_path(&self) -> PathBuf {
        self._dir.path().join("server.db")
    }

    /// Stops the server, keeps a copy of its database (a backup), and starts it again.
    pub fn backup(&mut self) -> PathBuf {
        self.stop();
        let copy = self._dir.path().join("backup.db");
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

    fn running(&self) -> &TestServer {
        self.server.as_ref().expect("the server is running")
    }

    /// Adds a user whose password is `password_of(name)`.
    pub fn add_user(&self, name: &str) {
        self.running()
            .add_user(name, &password_of(name))
            .expect("add user");
    }

    /// A new API key of `user`: (key id, secret).
    pub fn api_key(&self, user: &str) -> (String, String) {
        let k = self
            .running()
            .create_api_key(user, "tests", None)
            .expect("create api key");
        (k.key_id, k.secret)
    }

    /// An HTTP request as `user` (Basic auth); returns (status, JSON body).
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
    pub fn team(&self, owner: &str, name: &str, members: &[&str]) -> String {
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
}

impl Drop for Cloud {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One developer: a HOME with a config dir and a working directory, and who they are.
pub struct Dev {
    pub name: String,
    dir: tempfile::TempDir,
}

impl Dev {
    /// An empty workspace directory (no repository, no config).
    pub fn bare(name: &str) -> Dev {
        let dir = tempfile::Builder::new()
            .prefix(&format!("gryt-sync-{name}-"))
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("work")).expect("work dir");
        Dev {
            name: name.to_string(),
            dir,
        }
    }

    /// A repository synced with `cloud` as `name` (password auth) in `team`.
    pub fn join(cloud: &Cloud, name: &str, team: &str) -> Dev {
        let d = Dev::bare(name);
        d.run(&["init"]).ok();
        d.run(&["config", "--global", "gryt_url", &cloud.url()])
            .ok();
        d.run(&["config", "--global", "username", name]).ok();
        d.run(&["config", "--global", "password", &password_of(name)])
            .ok();
        d.run(&["config", "team", team]).ok();
        d.run(&["config", "project", "default"]).ok();
        d
    }

    /// A teammate's clone of `origin` (a git URL or path) in the working directory, with
    /// their credentials for `cloud` in the global config and no `gryt init`.
    pub fn clone_of(cloud: &Cloud, name: &str, origin: &Path) -> Dev {
        let d = Dev::bare(name);
        d.git(&["clone", "-q", &origin.display().to_string(), "."]);
        d.run(&["config", "--global", "gryt_url", &cloud.url()])
            .ok();
        d.run(&["config", "--global", "username", name]).ok();
        d.run(&["config", "--global", "password", &password_of(name)])
            .ok();
        d
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

    /// Runs git in the working directory (its own HOME, a fixed identity); must succeed.
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

    pub fn git_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", &self.name)
            .env("GIT_AUTHOR_EMAIL", format!("{}@example.com", self.name))
            .env("GIT_COMMITTER_NAME", &self.name)
            .env("GIT_COMMITTER_EMAIL", format!("{}@example.com", self.name))
            .current_dir(self.home().join("work"))
            .args(args);
        c
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

    /// The hermetic command, in the working directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = crate::command::hermetic(self.home(), &self.name);
        c.current_dir(self.home().join("work")).args(args);
        c
    }

    /// Runs `gryt ARGS`; it must not crash.
    pub fn run(&self, args: &[&str]) -> Out {
        finish(
            &self.name,
            args,
            self.command(args).output().expect("run gryt"),
        )
    }

    /// Runs `gryt ARGS` with extra environment variables and, when given, `input` on stdin.
    pub fn run_with(&self, args: &[&str], vars: &[(&str, &str)], input: Option<&str>) -> Out {
        use std::io::Write;
        let mut c = self.command(args);
        c.envs(vars.iter().copied());
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if input.is_some() {
            c.stdin(std::process::Stdio::piped());
        }
        let mut child = c.spawn().expect("run gryt");
        if let Some(text) = input {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(text.as_bytes()).expect("write stdin");
        }
        finish(
            &self.name,
            args,
            child.wait_with_output().expect("wait for gryt"),
        )
    }

    /// `gryt cloud login --url URL` as this developer (password read from stdin).
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
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(&a);
        out.ok();
        out.json()
    }

    /// `gryt ARGS --json` with extra environment variables (a CI job's), which must
    /// succeed; its JSON.
    #[track_caller]
    pub fn json_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run_with(&a, vars, None);
        out.ok();
        out.json()
    }

    /// The local generation (`generation show V --json`).
    #[track_caller]
    pub fn show(&self, version: &str) -> Value {
        self.json(&["generation", "show", version])
    }

    /// `gryt sync status --json` (exit 0 or 3).
    #[track_caller]
    pub fn sync_status(&self) -> Value {
        let out = self.run(&["sync", "status", "--json"]);
        assert!(
            out.code == 0 || out.code == 3,
            "sync status failed\n{out:?}"
        );
        out.json()
    }

    pub fn add_change(&self, version: &str, id: &str, kind: &str, title: &str) {
        self.run(&[
            "generation",
            "add-change",
            version,
            "--id",
            id,
            "--type",
            kind,
            "--title",
            title,
        ])
        .ok();
    }

    pub fn contract_path(&self, version: &str) -> PathBuf {
        self.gryt_dir()
            .join("generations")
            .join(format!("{version}.yaml"))
    }

    pub fn read_contract(&self, version: &str) -> String {
        std::fs::read_to_string(self.contract_path(version)).expect("read contract")
    }

    /// Replaces the contract file and re-reads it (`gryt generation update`).
    pub fn rewrite_contract(&self, version: &str, text: &str) -> Out {
        std::fs::write(self.contract_path(version), text).expect("write contract");
        self.run(&["generation", "update", version])
    }

    pub fn write_pipeline(&self, name: &str, text: &str) {
        let dir = self.gryt_dir().join("pipelines");
        std::fs::create_dir_all(&dir).expect("pipelines dir");
        std::fs::write(dir.join(format!("{name}.yaml")), text).expect("write pipeline");
    }

    /// Starts proving `change` and proves it with `gryt evolution complete`; returns the tag.
    pub fn prove(&self, version: &str, change: &str) -> String {
        let ev = self.json(&["evolution", "start", version, "--change", change]);
        let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
        self.run(&["evolution", "complete", &tag, "--status", "pass"])
            .ok();
        tag
    }
}

/// A listener on 127.0.0.1:0 that records the head of every request it receives and
/// answers 401: a server the user never logged in to.
pub struct Recorder {
    addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Recorder {
    pub fn start() -> Recorder {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind recorder");
        let addr = listener.local_addr().expect("recorder addr");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let Ok(read) = conn.try_clone() else { continue };
                let mut r = std::io::BufReader::new(read);
                while let Ok(Some(msg)) = read_message(&mut r) {
                    let text = String::from_utf8_lossy(&msg).into_owned();
                    s.lock().expect("recorder lock").push(text);
                    let body = r#"{"detail":"Authentication required"}"#;
                    let reply = format!(
                        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if conn.write_all(reply.as_bytes()).is_err() {
                        break;
                    }
                }
            }
        });
        Recorder { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far (head and body).
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("recorder lock").clone()
    }
}

/// A server with users `names` (the first owns the team) and one workspace each.
pub fn team_of(names: &[&str]) -> (Cloud, String, Vec<Dev>) {
    let cloud = Cloud::start();
    for n in names {
        cloud.add_user(n);
    }
    let team = cloud.team(names[0], "release-team", &names[1..]);
    let devs = names.iter().map(|n| Dev::join(&cloud, n, &team)).collect();
    (cloud, team, devs)
}

/// A TCP proxy in front of the server that can lose the server's answers to sync batches:
/// the request reaches the server and is applied, but the client's connection is closed
/// before it reads the answer (a lost response).
pub struct Proxy {
    addr: std::net::SocketAddr,
    lose: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    lost: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Proxy {
    /// Proxies to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Proxy {
        use std::sync::atomic::AtomicUsize;
        use std::sync::Arc;
        let upstream = upstream
            .strip_prefix("http://")
            .expect("http url")
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let lose = Arc::new(AtomicUsize::new(0));
        let lost = Arc::new(AtomicUsize::new(0));
        let (l2, d2) = (lose.clone(), lost.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let (up, l3, d3) = (upstream.clone(), l2.clone(), d2.clone());
                std::thread::spawn(move || {
                    let _ = proxy_connection(client, &up, &l3, &d3);
                });
            }
        });
        Proxy { addr, lose, lost }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Loses the answers to the next `n` `POST /api/v1/sync/batch` requests.
    pub fn lose_batch_answers(&self, n: usize) {
        self.lose.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many answers were lost so far.
    pub fn lost(&self) -> usize {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Reads one HTTP/1.1 message (head and a Content-Length body); `None` at end of stream.
fn read_message(r: &mut impl std::io::BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut msg = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if let Some(v) = text.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        assert!(
            !text.starts_with("transfer-encoding:"),
            "the test proxy handles Content-Length bodies only"
        );
        msg.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body)?;
    msg.extend_from_slice(&body);
    Ok(Some(msg))
}

fn proxy_connection(
    client: std::net::TcpStream,
    upstream: &str,
    lose: &std::sync::atomic::AtomicUsize,
    lost: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    let server = std::net::TcpStream::connect(upstream)?;
    let mut from_client = std::io::BufReader::new(client.try_clone()?);
    let mut from_server = std::io::BufReader::new(server.try_clone()?);
    let (mut to_client, mut to_server) = (client, server);
    while let Some(req) = read_message(&mut from_client)? {
        to_server.write_all(&req)?;
        let Some(resp) = read_message(&mut from_server)? else {
            return Ok(());
        };
        let is_batch = req.starts_with(b"POST /api/v1/sync/batch ");
        if is_batch
            && lose
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            lost.fetch_add(1, Ordering::SeqCst);
            to_client.shutdown(std::net::Shutdown::Both)?;
            return Ok(());
        }
        to_client.write_all(&resp)?;
    }
    Ok(())
}
