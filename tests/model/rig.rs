//! The model test environment: one real gryt server in-process (SQLite in a temporary
//! directory), users and one team on it, and client workspaces each running the real `gryt`
//! binary with a cleared environment, its own HOME and config dir, behind its own fault
//! proxy. Also the three views the model compares: the server's records (read over HTTP
//! through the change feed) and each client's records (read from its `.gryt/gryt.db`).

use super::proxy::Proxy;
use gryt_core::wire::{FeedRecord, SyncChanges};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub use crate::command::{finish, password_of, Out};

/// The server, a team of users on it, and an HTTP client to read it.
pub struct Cloud {
    pub server: gryt_server::TestServer,
    pub team: String,
    pub users: Vec<String>,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

impl Cloud {
    /// A server with `users` (the first owns the team, all are members).
    pub fn start(users: &[&str]) -> Cloud {
        let dir = tempfile::Builder::new()
            .prefix("gryt-model-server-")
            .tempdir()
            .expect("temp dir");
        let config = gryt_server::ServerConfig::new(format!(
            "sqlite:{}",
            dir.path().join("server.db").display()
        ));
        let server = gryt_server::TestServer::start(config).expect("start the test server");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("http client");
        for u in users {
            server.add_user(u, &password_of(u)).expect("add user");
        }
        let mut cloud = Cloud {
            server,
            team: String::new(),
            users: users.iter().map(|u| u.to_string()).collect(),
            http,
            _dir: dir,
        };
        let (s, v) = cloud.request(
            users[0],
            "POST",
            "/api/v1/teams",
            Some(json!({ "name": "model-team" })),
        );
        assert!((200..300).contains(&s), "create team: {s} {v}");
        cloud.team = v["data"]["team_id"].as_str().expect("team_id").to_string();
        for m in &users[1..] {
            let (s, v) = cloud.request(
                users[0],
                "POST",
                &format!("/api/v1/teams/{}/members", cloud.team),
                Some(json!({ "username": m })),
            );
            assert!((200..300).contains(&s), "add member {m}: {s} {v}");
        }
        cloud
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

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
            .request(m, format!("{}{path}", self.server.url()))
            .basic_auth(user, Some(password_of(user)));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().expect("request to the test server");
        let status = resp.status().as_u16();
        let text = resp.text().expect("response body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Everything the server holds for the team: the whole change feed (each record once,
    /// at its latest `seq`, tombstones included).
    pub fn view(&self) -> ServerView {
        let user = &self.users[0];
        let mut since = 0;
        let mut v = ServerView::default();
        loop {
            let (s, body) = self.request(
                user,
                "GET",
                &format!(
                    "/api/v1/sync/changes?since={since}&limit=1000&team_id={}",
                    self.team
                ),
                None,
            );
            assert_eq!(s, 200, "read the feed: {body}");
            let page: SyncChanges =
                serde_json::from_value(body["data"].clone()).expect("a feed page");
            v.head = page.head;
            for item in page.items {
                match item {
                    FeedRecord::Generation(g) => v.gens.push(g),
                    FeedRecord::Evolution(e) => v.evos.push(e),
                }
            }
            if page.next >= page.head {
                break;
            }
            assert!(page.next > since, "the feed did not move forward");
            since = page.next;
        }
        v
    }
}

/// The server's records.
#[derive(Default, Debug)]
pub struct ServerView {
    pub head: i64,
    pub gens: Vec<gryt_core::wire::Generation>,
    pub evos: Vec<gryt_core::wire::Evolution>,
}

impl ServerView {
    pub fn live_gen(&self, uuid: &str) -> Option<&gryt_core::wire::Generation> {
        self.gens
            .iter()
            .find(|g| g.generation_id == uuid && !g.deleted)
    }
    pub fn gen(&self, uuid: &str) -> Option<&gryt_core::wire::Generation> {
        self.gens.iter().find(|g| g.generation_id == uuid)
    }
    pub fn evo(&self, uuid: &str) -> Option<&gryt_core::wire::Evolution> {
        self.evos.iter().find(|e| e.evolution_id == uuid)
    }
}

/// A local generation as the client's database holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalGen {
    pub generation_id: String,
    pub version: String,
    pub description: Option<String>,
    pub status: String,
    pub changes: Vec<String>,
    pub sync_status: String,
    pub remote_id: Option<String>,
    pub rev: i64,
    pub conflict_json: Option<String>,
    pub conflict_kinds: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LocalEvo {
    pub evolution_id: String,
    pub generation_id: String,
    pub change_id: String,
    pub rc: i64,
    pub provisional: bool,
    pub owner: String,
    pub status: String,
    pub sync_status: String,
    pub remote_id: Option<String>,
}

/// A client's records.
#[derive(Debug, Default)]
pub struct LocalView {
    pub gens: BTreeMap<String, LocalGen>,
    pub evos: BTreeMap<String, LocalEvo>,
    pub cursor: i64,
    pub resync: bool,
    /// Remote ids of generations deleted here whose deletion waits for a push.
    pub pending_deletes: Vec<String>,
}

/// One developer: HOME with a config dir and a working directory, behind a fault proxy.
pub struct Dev {
    pub name: String,
    pub proxy: Proxy,
    dir: tempfile::TempDir,
}

impl Dev {
    /// A workspace synced with `cloud` (through a proxy) as `name` in the team.
    pub fn join(cloud: &Cloud, name: &str) -> Dev {
        let dir = tempfile::Builder::new()
            .prefix(&format!("gryt-model-{name}-"))
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("work")).expect("work dir");
        let d = Dev {
            name: name.to_string(),
            proxy: Proxy::start(&cloud.url()),
            dir,
        };
        d.run(&["init"]).ok();
        d.run(&["config", "--global", "gryt_url", &d.proxy.url()])
            .ok();
        d.run(&["config", "--global", "username", name]).ok();
        d.run(&["config", "--global", "password", &password_of(name)])
            .ok();
        d.run(&["config", "team", &cloud.team]).ok();
        d.run(&["config", "project", "default"]).ok();
        d
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub fn db_path(&self) -> PathBuf {
        self.root().join(".gryt").join("gryt.db")
    }

    pub fn contract_path(&self, version: &str) -> PathBuf {
        self.root()
            .join(".gryt")
            .join("generations")
            .join(format!("{version}.yaml"))
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = crate::command::hermetic(self.dir.path(), &self.name);
        // Retries keep their number and order; only the waits between them shrink (the
        // model checks outcomes, and the 503 storm test measures the real backoff).
        c.env("GRYT_HTTP_BACKOFF_MS", "5")
            .current_dir(self.root())
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        finish(
            &self.name,
            args,
            self.command(args).output().expect("run gryt"),
        )
    }

    /// Starts `gryt ARGS` without waiting (output discarded), to be killed.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gryt")
    }

    /// Reads the workspace's database (recovering what a killed process left, as the next
    /// gryt command would).
    pub fn db(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.db_path()).expect("open the client database");
        c.busy_timeout(std::time::Duration::from_secs(10))
            .expect("busy timeout");
        c
    }

    pub fn view(&self) -> LocalView {
        view_of(&self.db())
    }
}

pub fn view_of(c: &rusqlite::Connection) -> LocalView {
    let mut v = LocalView::default();
    let mut changes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    {
        let mut st = c
            .prepare(
                "SELECT generation_id, change_id FROM changes ORDER BY generation_id, position",
            )
            .expect("changes");
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .expect("changes");
        for r in rows {
            let (g, ch) = r.expect("change row");
            changes.entry(g).or_default().push(ch);
        }
    }
    let mut st = c
        .prepare(
            "SELECT generation_id, version, description, status, sync_status, remote_id, rev, \
             conflict_json, conflict_kinds FROM generations",
        )
        .expect("generations");
    let rows = st
        .query_map([], |r| {
            Ok(LocalGen {
                generation_id: r.get(0)?,
                version: r.get(1)?,
                description: r.get(2)?,
                status: r.get(3)?,
                changes: Vec::new(),
                sync_status: r.get(4)?,
                remote_id: r.get(5)?,
                rev: r.get(6)?,
                conflict_json: r.get(7)?,
                conflict_kinds: r.get(8)?,
            })
        })
        .expect("generations");
    for r in rows {
        let mut g = r.expect("generation row");
        let mut ch = changes.remove(&g.generation_id).unwrap_or_default();
        ch.sort();
        g.changes = ch;
        v.gens.insert(g.generation_id.clone(), g);
    }
    let mut st = c
        .prepare(
            "SELECT evolution_id, generation_id, change_id, rc, rc_provisional, owner, status, \
             sync_status, remote_id FROM evolutions",
        )
        .expect("evolutions");
    let rows = st
        .query_map([], |r| {
            Ok(LocalEvo {
                evolution_id: r.get(0)?,
                generation_id: r.get(1)?,
                change_id: r.get(2)?,
                rc: r.get(3)?,
                provisional: r.get::<_, i64>(4)? != 0,
                owner: r.get(5)?,
                status: r.get(6)?,
                sync_status: r.get(7)?,
                remote_id: r.get(8)?,
            })
        })
        .expect("evolutions");
    for r in rows {
        let e = r.expect("evolution row");
        v.evos.insert(e.evolution_id.clone(), e);
    }
    let meta = |k: &str| -> Option<String> {
        c.query_row("SELECT value FROM sync_metadata WHERE key = ?1", [k], |r| {
            r.get(0)
        })
        .ok()
    };
    v.cursor = meta("cursor").and_then(|s| s.parse().ok()).unwrap_or(0);
    v.resync = meta("resync").is_some();
    let mut st = c
        .prepare("SELECT remote_id FROM pending_deletes")
        .expect("pending_deletes");
    v.pending_deletes = st
        .query_map([], |r| r.get(0))
        .expect("pending_deletes")
        .collect::<rusqlite::Result<_>>()
        .expect("pending delete rows");
    v
}

/// `PRAGMA integrity_check` of a client database.
pub fn integrity(c: &rusqlite::Connection) -> String {
    let rows: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .expect("integrity_check")
        .query_map([], |r| r.get(0))
        .expect("integrity_check")
        .collect::<rusqlite::Result<_>>()
        .expect("integrity rows");
    rows.join("; ")
}

/// Kills a child with SIGKILL (std's `kill` on unix) and reaps it; returns whether it was
/// still running (a real crash) rather than already finished.
pub fn kill9(child: &mut Child) -> bool {
    let running = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let _ = child.wait();
    running
}
