//! Sync with the gryt server: pull (delta through the change feed, three-way merge),
//! push (batches with If-Match and stored Idempotency-Keys, pull-merge-retry on a stale
//! base) and cloud-first promotion. See docs/sync.md.

mod promote;
mod pull;
mod pull_steps;
mod push;
pub mod resolve;

pub use promote::*;
pub use pull::*;
pub use push::*;

use crate::client::cloud::Cloud;
use crate::client::{routes, RemoteError};
use crate::context::{new_uuid, Context, Workspace};
use crate::error::{CliError, Kind, Result};
use crate::store::sync::{self as ss, content_of};
use crate::store::{self, GenerationRecord};
use gryt_core::api::{
    self as wire, BatchOp, BatchRequest, BatchResponse, Data, FeedRecord, SyncChanges, SyncHead,
};
use gryt_core::merge::{Conflict, GenerationContent};
use gryt_core::GenerationStatus;
use serde::Serialize;
use std::collections::BTreeSet;

pub const PAGE: i64 = 1000;
pub const BATCH: usize = 500;
const CURSOR: &str = "cursor";
const RESYNC: &str = "resync";
const LAST_PULL: &str = "last_pull";
const LAST_PUSH: &str = "last_push";
const LAST_OK: &str = "last_successful_sync";

/// Which versions a pull applies (`--only` / `--exclude` globs).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub only: Vec<String>,
    pub exclude: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.only.is_empty() && self.exclude.is_empty()
    }
    pub fn allows(&self, version: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|g| glob(g, version)))
            && !self.exclude.iter().any(|g| glob(g, version))
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[derive(Debug, Default, Serialize)]
pub struct ConflictReport {
    pub version: String,
    pub conflicts: Vec<Conflict>,
    /// Why it is a conflict (not in the JSON report: `conflicts` says it in words).
    #[serde(skip)]
    pub cause: ss::ConflictCause,
}

#[derive(Debug, Default, Serialize)]
pub struct PullReport {
    pub inserted: u64,
    pub updated: u64,
    pub merged: u64,
    pub deleted: u64,
    pub evolutions: u64,
    pub conflicts: Vec<ConflictReport>,
    pub pages: u64,
    pub head: i64,
    pub cursor: i64,
    pub up_to_date_before: bool,
    /// Records left for the next full pull (their version is still held here).
    #[serde(skip)]
    pub postponed: u64,
    /// Contract files edited by hand that this pull took in as local edits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files_taken_in: Vec<String>,
}

impl PullReport {
    pub fn records(&self) -> u64 {
        self.inserted + self.updated + self.merged + self.deleted + self.evolutions
    }
}

/// Progress callback: (records done, records expected).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

fn garbage(e: &str) -> CliError {
    CliError::error(format!("Bad answer from the server: {e}"))
}

/// The mergeable content of a server record; a record breaking gryt's rules is garbage.
pub(crate) fn content_of_wire(g: &wire::Generation) -> Result<GenerationContent> {
    g.content().map_err(|e| {
        garbage(&format!(
            "generation {} has {}",
            g.version.chars().take(64).collect::<String>(),
            e.message
        ))
    })
}

/// The server copy of a conflict, as the local decisions (`gryt_core::sync::local`) see it.
/// `version` is the copy's version as read by `content_of_wire` when the caller needs it
/// checked; otherwise the wire's.
pub(crate) fn server_copy(
    g: &wire::Generation,
    local_generation_id: &str,
    version: Option<String>,
) -> gryt_core::sync::local::ServerCopy {
    gryt_core::sync::local::ServerCopy {
        id: g.id.to_string(),
        rev: g.rev,
        version: version.unwrap_or_else(|| g.version.clone()),
        same_record: g.generation_id == local_generation_id,
        deleted: g.deleted,
        promoted: g.status == "promoted",
    }
}

/// Reads the feed head of the workspace's scope.
pub fn head(cloud: &Cloud) -> std::result::Result<i64, RemoteError> {
    let route = routes::sync_head(&cloud.scope_query(true));
    let h: Data<SyncHead> = cloud.remote.call_route(&route, None, &[])?;
    Ok(h.data.head)
}

pub fn cursor(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(ss::get_meta(conn, CURSOR)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// The local side of `gryt sync status`.
pub struct LocalState {
    /// How far the feed has been pulled.
    pub cursor: i64,
    pub generations: Vec<ss::GenerationSyncState>,
    pub pending_evolutions: i64,
    /// The labels of deletions waiting to be pushed.
    pub pending_deletes: Vec<String>,
    pub conflicts: Vec<ss::ConflictRow>,
    pub refused: Vec<ss::Refused>,
    pub last_successful_sync: Option<String>,
}

/// Loads what `gryt sync status` shows of the local side.
pub fn local_state(ws: &Workspace) -> Result<LocalState> {
    let conn = &ws.store.conn;
    Ok(LocalState {
        cursor: cursor(conn)?,
        generations: ss::generation_sync_states(conn)?,
        pending_evolutions: ss::pending_evolution_count(conn)?,
        pending_deletes: ss::pending_delete_labels(conn)?,
        conflicts: ss::conflicts(conn)?,
        refused: ss::refused(conn)?,
        last_successful_sync: ss::get_meta(conn, LAST_OK)?,
    })
}

/// The newest `limit` lines of the sync log, newest first.
pub fn log(ws: &Workspace, limit: u32) -> Result<Vec<ss::LogRow>> {
    ss::log_entries(&ws.store.conn, limit)
}

/// Whether any work waits for the server.
pub fn has_pending(ws: &Workspace) -> Result<bool> {
    Ok(ss::pending_work_count(&ws.store.conn)? > 0)
}

/// Records a failed sync in the sync log, best effort (the failure itself is what the
/// user sees).
pub fn note_failure(ws: &mut Workspace, direction: &str, message: &str, now: &str) {
    if let Ok(tx) = ws.store.write() {
        let entry = ss::LogEntry {
            direction,
            records: 0,
            conflicts: 0,
            requests: 0,
            bytes: 0,
            error: Some(message),
            detail: None,
        };
        if ss::log(&tx, now, &entry).is_ok() {
            let _ = tx.commit();
        }
    }
}

/// Binds the workspace to the server `key` (`gryt cloud bind`); returns the server it was
/// bound to before.
pub fn bind_to(ws: &Workspace, key: &str, now: &str) -> Result<Option<String>> {
    let conn = &ws.store.conn;
    let before = ss::get_meta(conn, crate::client::cloud::SERVER_META)?;
    ss::set_meta(conn, crate::client::cloud::SERVER_META, key, now)?;
    Ok(before)
}
