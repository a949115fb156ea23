//! Conflicts: marking them with their cause and items, reading them back.

use super::*;

pub use gryt_core::sync::ConflictCause;

/// Marks a conflict, keeping the local copy and the server's copy side by side.
pub fn set_conflict(
    conn: &Connection,
    local_id: &str,
    remote: Option<&wire::Generation>,
    conflicts: &[Conflict],
    cause: ConflictCause,
) -> Result<()> {
    conn.execute(
        "UPDATE generations SET sync_status = 'conflict', conflict_json = ?2, conflict_kinds = ?3, \
         version_taken = ?4 WHERE generation_id = ?1",
        params![
            local_id,
            remote.map(json),
            json(&conflicts),
            cause == ConflictCause::VersionTaken
        ],
    )?;
    Ok(())
}

fn cause_of(version_taken: bool) -> ConflictCause {
    if version_taken {
        ConflictCause::VersionTaken
    } else {
        ConflictCause::Edits
    }
}

/// The cause of the conflict recorded on a local generation.
pub fn conflict_cause(conn: &Connection, local_id: &str) -> Result<ConflictCause> {
    let taken: Option<bool> = conn
        .prepare_cached("SELECT version_taken FROM generations WHERE generation_id = ?1")?
        .query_row([local_id], |r| r.get(0))
        .optional()?;
    Ok(cause_of(taken.unwrap_or(false)))
}

/// The conflicts recorded on a local generation.
pub fn conflict_items(conn: &Connection, local_id: &str) -> Result<Vec<Conflict>> {
    let kinds: Option<String> = conn
        .prepare_cached("SELECT conflict_kinds FROM generations WHERE generation_id = ?1")?
        .query_row([local_id], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(kinds
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default())
}

pub struct ConflictRow {
    pub version: String,
    pub generation_id: String,
    pub remote: Option<wire::Generation>,
    pub kinds: Vec<Conflict>,
    pub cause: ConflictCause,
}

pub fn conflicts(conn: &Connection) -> Result<Vec<ConflictRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, generation_id, conflict_json, conflict_kinds, version_taken FROM generations \
         WHERE sync_status = 'conflict' ORDER BY version",
    )?;
    let rows = stmt.query_map([], |r| {
        let remote: Option<String> = r.get(2)?;
        let kinds: Option<String> = r.get(3)?;
        Ok(ConflictRow {
            version: r.get(0)?,
            generation_id: r.get(1)?,
            remote: remote.and_then(|j| serde_json::from_str(&j).ok()),
            kinds: kinds
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default(),
            cause: cause_of(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
