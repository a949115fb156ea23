//! The model test environment on the shared layer (`tests/support/`): one real gryt server
//! in-process (SQLite in a temporary directory), users and one team on it, and client
//! workspaces each running the real `gryt` binary behind its own fault proxy. Also the
//! three views the model compares: the server's records (read over HTTP through the change
//! feed) and each client's records (read from its `.gryt/gryt.db`).

use gryt_core::api::{FeedRecord, SyncChanges};
use std::collections::BTreeMap;
use std::process::Child;

pub use crate::support::proxy::Proxy;
pub use crate::support::server::Cloud;
pub use crate::support::{Out, Workspace};

/// A server with `users`, the first owning the team all are members of.
pub fn start_cloud(users: &[&str]) -> Cloud {
    Cloud::with_team(users, "model-team")
}

impl Cloud {
    /// Everything the server holds for the team: the whole change feed (each record once,
    /// at its latest `seq`, tombstones included).
    pub fn view(&self) -> ServerView {
        let user = &self.owner;
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
    pub gens: Vec<gryt_core::api::Generation>,
    pub evos: Vec<gryt_core::api::Evolution>,
}

impl ServerView {
    pub fn live_gen(&self, uuid: &str) -> Option<&gryt_core::api::Generation> {
        self.gens
            .iter()
            .find(|g| g.generation_id == uuid && !g.deleted)
    }
    pub fn gen(&self, uuid: &str) -> Option<&gryt_core::api::Generation> {
        self.gens.iter().find(|g| g.generation_id == uuid)
    }
    pub fn evo(&self, uuid: &str) -> Option<&gryt_core::api::Evolution> {
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
    /// Each change's current fingerprint (id, type, title), by change id.
    pub fingerprints: BTreeMap<String, String>,
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
    /// The fingerprint of the change it proves (`None`: from before fingerprints).
    pub fingerprint: Option<String>,
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

/// One developer's workspace, behind its own fault proxy.
pub struct Dev {
    pub ws: Workspace,
    pub proxy: Proxy,
}

impl std::ops::Deref for Dev {
    type Target = Workspace;
    fn deref(&self) -> &Workspace {
        &self.ws
    }
}

impl Dev {
    /// A workspace synced with `cloud` (through a proxy) as `name` in the team. Retries
    /// keep their number and order; only the waits between them shrink (the model checks
    /// outcomes, and the 503 storm test measures the real backoff).
    pub fn join(cloud: &Cloud, name: &str) -> Dev {
        let proxy = Proxy::start(&cloud.url());
        let ws = Workspace::bare(name)
            .with_env("GRYT_HTTP_BACKOFF_MS", "5")
            .join(&proxy.url(), Some(&cloud.team));
        Dev { ws, proxy }
    }

    pub fn view(&self) -> LocalView {
        view_of(&self.open_db())
    }
}

pub fn view_of(c: &rusqlite::Connection) -> LocalView {
    let mut v = LocalView::default();
    let mut changes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut fingerprints: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    {
        let mut st = c
            .prepare(
                "SELECT generation_id, change_id, type, title FROM changes \
                 ORDER BY generation_id, position",
            )
            .expect("changes");
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .expect("changes");
        for r in rows {
            let (g, ch, kind, title) = r.expect("change row");
            fingerprints.entry(g.clone()).or_default().insert(
                ch.clone(),
                gryt_core::change::fingerprint(&ch, &kind, &title),
            );
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
                fingerprints: BTreeMap::new(),
            })
        })
        .expect("generations");
    for r in rows {
        let mut g = r.expect("generation row");
        let mut ch = changes.remove(&g.generation_id).unwrap_or_default();
        ch.sort();
        g.changes = ch;
        g.fingerprints = fingerprints.remove(&g.generation_id).unwrap_or_default();
        v.gens.insert(g.generation_id.clone(), g);
    }
    let mut st = c
        .prepare(
            "SELECT evolution_id, generation_id, change_id, rc, rc_provisional, owner, status, \
             sync_status, remote_id, fingerprint FROM evolutions",
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
                fingerprint: r.get(9)?,
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

/// A number from the environment (a profile's knob), or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
