//! Local generations: finding them by their client or server id or their version, and
//! applying the server's copies (take, insert, rebase, revert, park, delete).

use super::*;

/// The mergeable content of a local record.
pub fn content_of(rec: &GenerationRecord) -> GenerationContent {
    GenerationContent {
        version: rec.version.clone(),
        description: rec.description.clone(),
        pipeline_template: rec.pipeline_template.clone(),
        status: rec.status,
        changes: rec.changes.clone(),
    }
}

/// A local generation with its sync columns.
pub struct Local {
    pub rec: GenerationRecord,
    pub base: Option<GenerationContent>,
    /// The content of an operation sent under its key whose answer never came.
    pub sent: Option<(String, GenerationContent)>,
}

fn local_by(conn: &Connection, column: &str, value: &str) -> Result<Option<Local>> {
    type Row = (String, Option<String>, Option<String>, Option<String>);
    let row: Option<Row> = conn
        .prepare_cached(&format!(
            "SELECT version, base_json, push_key, sent_json FROM generations WHERE {column} = ?1"
        ))?
        .query_row([value], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((version, base_json, push_key, sent_json)) = row else {
        return Ok(None);
    };
    let Some(rec) = store::get_generation(conn, &version)? else {
        return Ok(None);
    };
    let base = base_json.and_then(|j| serde_json::from_str(&j).ok());
    let sent = match (push_key, sent_json) {
        (Some(k), Some(j)) => serde_json::from_str(&j).ok().map(|c| (k, c)),
        _ => None,
    };
    Ok(Some(Local { rec, base, sent }))
}

pub fn local_by_uuid(conn: &Connection, uuid: &str) -> Result<Option<Local>> {
    local_by(conn, "generation_id", uuid)
}

pub fn local_by_remote_id(conn: &Connection, id: i64) -> Result<Option<Local>> {
    local_by(conn, "remote_id", &id.to_string())
}

/// The local copy of a server record: by its client UUID, else by its server id.
pub fn local_of_wire(conn: &Connection, g: &wire::Generation) -> Result<Option<Local>> {
    match local_by_uuid(conn, &g.generation_id)? {
        Some(l) => Ok(Some(l)),
        None => local_by_remote_id(conn, g.id),
    }
}

pub fn local_by_version(conn: &Connection, version: &str) -> Result<Option<Local>> {
    local_by(conn, "version", version)
}

/// Makes the local record equal to the server's copy, which becomes the new base.
pub fn take_remote(
    conn: &Connection,
    local_id: &str,
    g: &wire::Generation,
    c: &GenerationContent,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE generations SET version = ?2, description = ?3, pipeline_template = ?4, \
         status = CASE WHEN status = 'promoted' THEN 'promoted' ELSE ?5 END, \
         promoted_at = COALESCE(?6, promoted_at), promoted_by = COALESCE(?7, promoted_by), remote_id = ?8, rev = ?9, base_json = ?10, \
         sync_status = 'synced', last_synced_at = ?11, sync_error = NULL, push_key = NULL, sent_json = NULL, \
         conflict_json = NULL, conflict_kinds = NULL, version_taken = 0, team_id = ?12, project = ?13 \
         WHERE generation_id = ?1",
        params![
            local_id,
            c.version,
            c.description,
            c.pipeline_template,
            c.status.as_str(),
            g.promoted_at,
            g.promoted_by,
            g.id.to_string(),
            g.rev,
            json(c),
            now,
            g.team_id,
            g.project
        ],
    )?;
    store::replace_changes(conn, local_id, &c.changes)
}

/// Inserts a generation first seen on the server.
pub fn insert_remote(
    conn: &Connection,
    g: &wire::Generation,
    c: &GenerationContent,
    now: &str,
) -> Result<()> {
    let rec = GenerationRecord {
        generation_id: g.generation_id.clone(),
        version: c.version.clone(),
        description: c.description.clone(),
        status: c.status,
        changes: c.changes.clone(),
        pipeline_template: c.pipeline_template.clone(),
        created_at: g.created_at.clone(),
        created_by: Some(g.created_by.clone()),
        promoted_at: g.promoted_at.clone(),
        promoted_by: g.promoted_by.clone(),
        updated_at: now.to_string(),
        remote_id: Some(g.id.to_string()),
        sync_status: "synced".into(),
        last_synced_at: Some(now.to_string()),
        sync_error: None,
        rev: g.rev,
    };
    store::insert_generation(conn, &rec)?;
    conn.prepare_cached(
        "UPDATE generations SET base_json = ?2, team_id = ?3, project = ?4 WHERE generation_id = ?1",
    )?
    .execute(params![g.generation_id, json(c), g.team_id, g.project])?;
    Ok(())
}

/// Records the server's copy as the new base while keeping local edits pending (as a new
/// operation: the next push sends them under a new key, against the new revision).
pub fn rebase(
    conn: &Connection,
    local_id: &str,
    g: &wire::Generation,
    base: &GenerationContent,
    merged: Option<&GenerationContent>,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE generations SET remote_id = ?2, rev = ?3, base_json = ?4, last_synced_at = ?5, \
         sync_status = 'not_synced', conflict_json = NULL, conflict_kinds = NULL, version_taken = 0, \
         push_key = NULL, sent_json = NULL WHERE generation_id = ?1",
        params![local_id, g.id.to_string(), g.rev, json(base), now],
    )?;
    if let Some(m) = merged {
        conn.execute(
            "UPDATE generations SET version = ?2, description = ?3, pipeline_template = ?4, \
             push_key = NULL, updated_at = ?5 WHERE generation_id = ?1",
            params![local_id, m.version, m.description, m.pipeline_template, now],
        )?;
        store::replace_changes(conn, local_id, &m.changes)?;
    }
    Ok(())
}

/// The content of a local generation now (by its UUID).
pub fn current_content(conn: &Connection, local_id: &str) -> Result<Option<GenerationContent>> {
    Ok(local_by_uuid(conn, local_id)?.map(|l| content_of(&l.rec)))
}

/// Puts a record the server has back to its last synced copy (its base), keeping its
/// evolutions: local edits to it are dropped, and the next pull (a full resync) brings the
/// server's newer changes on top.
pub fn revert_to_base(
    conn: &Connection,
    local_id: &str,
    base: &GenerationContent,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE generations SET version = ?2, description = ?3, pipeline_template = ?4, \
         status = CASE WHEN status = 'promoted' THEN 'promoted' ELSE ?5 END, updated_at = ?6, \
         sync_status = 'synced', sync_error = NULL, push_key = NULL, sent_json = NULL, \
         conflict_json = NULL, conflict_kinds = NULL, version_taken = 0 \
         WHERE generation_id = ?1",
        params![
            local_id,
            base.version,
            base.description,
            base.pipeline_template,
            base.status.as_str(),
            now
        ],
    )?;
    store::replace_changes(conn, local_id, &base.changes)
}

/// Moves a synced record off its version for the rest of the transaction (a placeholder no
/// version can equal), so that records which swapped versions can each take their new one.
pub fn park_generation(conn: &Connection, local_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE generations SET version = '~moving~' || generation_id WHERE generation_id = ?1",
        [local_id],
    )?;
    Ok(())
}

/// Whether a record is still parked (see [`park_generation`]).
pub fn parked_left(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM generations WHERE version LIKE '~moving~%')")?
        .query_row([], |r| r.get(0))?)
}

pub fn delete_local_generation(conn: &Connection, local_id: &str) -> Result<()> {
    store::delete_generation(conn, local_id)
}
