//! The store side of push: SQL for pending operations and their answers (journal,
//! refusals, stored keys) that the push planner's outcomes need.

use crate::error::Result;
use rusqlite::Connection;

/// An evolution with work waiting for the server, with what the push planner needs to know
/// of its generation to decide whether it may be sent now
/// (`gryt_core::sync::push::evolution_send`).
pub struct PendingEvolution {
    pub evolution_id: String,
    /// The server id of its generation (`None`: the server does not have it yet).
    pub generation_remote_id: Option<String>,
    /// Whether its generation has no local work waiting (`sync_status` is `synced`).
    pub generation_synced: bool,
    /// The version of its generation.
    pub version: String,
    /// The evolution's server id (`None`: the server does not have it yet).
    pub remote_id: Option<String>,
    pub rev: i64,
    /// The stored Idempotency-Key of its pending create or update, if one was sent.
    pub push_key: Option<String>,
    pub change_id: String,
    pub code_name: String,
    pub status: String,
    pub rc: i64,
    pub pipeline_run_id: Option<String>,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub owner: String,
    pub commit: Option<String>,
    pub dirty: bool,
    pub fingerprint: Option<String>,
}

/// Evolutions waiting to be pushed (not synced, or failed to send) of all generations or of
/// one version, oldest first, whatever their generation's state: the planner holds back
/// those whose generation is not on the server or not synced.
pub fn pending_evolutions(
    conn: &Connection,
    version: Option<&str>,
) -> Result<Vec<PendingEvolution>> {
    let rows = conn
        .prepare_cached(
            "SELECT e.evolution_id, g.remote_id, g.sync_status = 'synced', g.version, e.remote_id, \
                    e.rev, e.push_key, e.change_id, e.code_name, e.status, e.rc, e.pipeline_run_id, \
                    e.started_at, e.completed_at, e.owner, e.commit_sha, e.dirty, e.fingerprint \
             FROM evolutions e JOIN generations g ON g.generation_id = e.generation_id \
             WHERE e.sync_status IN ('not_synced', 'failed') AND (?1 IS NULL OR g.version = ?1) \
             ORDER BY e.started_at",
        )?
        .query_map([version], |r| {
            Ok(PendingEvolution {
                evolution_id: r.get(0)?,
                generation_remote_id: r.get(1)?,
                generation_synced: r.get(2)?,
                version: r.get(3)?,
                remote_id: r.get(4)?,
                rev: r.get(5)?,
                push_key: r.get(6)?,
                change_id: r.get(7)?,
                code_name: r.get(8)?,
                status: r.get(9)?,
                rc: r.get(10)?,
                pipeline_run_id: r.get(11)?,
                started_at: r.get(12)?,
                completed_at: r.get(13)?,
                owner: r.get(14)?,
                commit: r.get(15)?,
                dirty: r.get(16)?,
                fingerprint: r.get(17)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Whether local generation `local_id` is in conflict (`false` when it is gone).
pub fn in_conflict(conn: &Connection, local_id: &str) -> Result<bool> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(
            "SELECT sync_status = 'conflict' FROM generations WHERE generation_id = ?1",
        )?
        .query_row([local_id], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}
