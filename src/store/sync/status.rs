//! The sync metadata (cursor, resync mark, last sync), the sync log, and what
//! `gryt sync status` counts.

use super::*;

pub fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM sync_metadata WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub fn set_meta(conn: &Connection, key: &str, value: &str, now: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_metadata (key, value, updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )?
    .execute(params![key, value, now])?;
    Ok(())
}

pub fn del_meta(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM sync_metadata WHERE key = ?1", [key])?;
    Ok(())
}

pub struct LogEntry<'a> {
    pub direction: &'a str,
    pub records: i64,
    pub conflicts: i64,
    pub requests: i64,
    pub bytes: i64,
    pub error: Option<&'a str>,
    pub detail: Option<&'a str>,
}

pub fn log(conn: &Connection, at: &str, e: &LogEntry<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO sync_log (at, direction, records, conflicts, requests, bytes, error, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            at,
            e.direction,
            e.records,
            e.conflicts,
            e.requests,
            e.bytes,
            e.error,
            e.detail
        ],
    )?;
    Ok(())
}

/// One generation's sync state, as `gryt sync status` lists it.
pub struct GenerationSyncState {
    pub version: String,
    pub sync_status: String,
    pub remote_id: Option<String>,
    pub sync_error: Option<String>,
}

pub fn generation_sync_states(conn: &Connection) -> Result<Vec<GenerationSyncState>> {
    Ok(conn
        .prepare("SELECT version, sync_status, remote_id, sync_error FROM generations")?
        .query_map([], |r| {
            Ok(GenerationSyncState {
                version: r.get(0)?,
                sync_status: r.get(1)?,
                remote_id: r.get(2)?,
                sync_error: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// How many evolutions wait to be pushed (not synced, or refused).
pub fn pending_evolution_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM evolutions WHERE sync_status IN ('not_synced', 'failed')",
        [],
        |r| r.get(0),
    )?)
}

/// The labels of the deletions waiting to be pushed (not refused).
pub fn pending_delete_labels(conn: &Connection) -> Result<Vec<String>> {
    Ok(conn
        .prepare("SELECT label FROM pending_deletes WHERE refused IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// How many pieces of work wait for the server: generations to push or promote,
/// evolutions to push, deletions to send.
pub fn pending_work_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT (SELECT COUNT(*) FROM generations WHERE sync_status = 'not_synced' OR promote_key IS NOT NULL) \
         + (SELECT COUNT(*) FROM evolutions WHERE sync_status IN ('not_synced', 'failed')) \
         + (SELECT COUNT(*) FROM pending_deletes WHERE refused IS NULL)",
        [],
        |r| r.get(0),
    )?)
}

/// One line of the sync log.
pub struct LogRow {
    pub at: String,
    pub direction: String,
    pub records: i64,
    pub conflicts: i64,
    pub requests: i64,
    pub error: Option<String>,
    pub detail: Option<String>,
}

/// The newest `limit` lines of the sync log, newest first.
pub fn log_entries(conn: &Connection, limit: u32) -> Result<Vec<LogRow>> {
    Ok(conn
        .prepare(
            "SELECT at, direction, records, conflicts, requests, error, detail FROM sync_log \
             ORDER BY id DESC LIMIT ?1",
        )?
        .query_map([limit], |r| {
            Ok(LogRow {
                at: r.get(0)?,
                direction: r.get(1)?,
                records: r.get(2)?,
                conflicts: r.get(3)?,
                requests: r.get(4)?,
                error: r.get(5)?,
                detail: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}
