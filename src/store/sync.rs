//! The SQL of sync: finding records by their client or server ids, applying the server's
//! copies, the base (last synced copy), conflicts, the journal of pending work and the log.
//! Every function runs inside the caller's transaction.

use crate::error::Result;
use crate::store::{self, GenerationRecord};
use gryt_core::merge::{Conflict, GenerationContent};
use gryt_core::wire;
use gryt_core::GenerationStatus;
use rusqlite::{params, Connection, OptionalExtension};

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

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
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

/// Forgets a promotion waiting for the server (it was answered, one way or the other).
pub fn clear_promote_key(conn: &Connection, local_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE generations SET promote_key = NULL WHERE generation_id = ?1",
        [local_id],
    )?;
    Ok(())
}

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

/// Whether a local generation has evolutions the server has not seen in their current state.
pub fn has_unsynced_evolutions(conn: &Connection, local_gen: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM evolutions WHERE generation_id = ?1 AND sync_status != 'synced')",
        )?
        .query_row([local_gen], |r| r.get(0))?)
}

/// The `rev` a pending (unpushed) deletion of server record `remote_id` was based on.
pub fn pending_delete_rev(conn: &Connection, remote_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT rev FROM pending_deletes WHERE remote_id = ?1")?
        .query_row([remote_id.to_string()], |r| r.get(0))
        .optional()?)
}

pub fn drop_pending_delete(conn: &Connection, remote_id: i64) -> Result<()> {
    conn.execute(
        "DELETE FROM pending_deletes WHERE remote_id = ?1",
        [remote_id.to_string()],
    )?;
    Ok(())
}

/// Records what an operation sends under its new key: until the server answers, every retry
/// sends exactly this (a different body under the same key is refused), and a pull that
/// finds it applied merges against it.
pub fn set_sent(
    conn: &Connection,
    local_id: &str,
    key: &str,
    sent: &GenerationContent,
) -> Result<()> {
    conn.execute(
        "UPDATE generations SET push_key = ?2, sent_json = ?3 WHERE generation_id = ?1",
        params![local_id, key, json(sent)],
    )?;
    Ok(())
}

/// Forgets an operation that was answered without being applied: the next push is a new
/// operation with a new key.
pub fn clear_sent(conn: &Connection, local_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE generations SET sent_json = NULL, push_key = NULL WHERE generation_id = ?1",
        [local_id],
    )?;
    Ok(())
}

/// The content of a local generation now (by its UUID).
pub fn current_content(conn: &Connection, local_id: &str) -> Result<Option<GenerationContent>> {
    Ok(local_by_uuid(conn, local_id)?.map(|l| content_of(&l.rec)))
}

/// Whether a deletion of never-acknowledged draft `uuid` waits for the server to show it.
pub fn pending_uuid_delete(conn: &Connection, uuid: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM pending_uuid_deletes WHERE generation_id = ?1")?
        .query_row([uuid], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn drop_pending_uuid_delete(conn: &Connection, uuid: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM pending_uuid_deletes WHERE generation_id = ?1",
        [uuid],
    )?;
    Ok(())
}

/// Journals the deletion of server record `g` (our own lost create, deleted here) for the
/// next push, as made at revision `rev`.
pub fn journal_delete(conn: &Connection, g: &wire::Generation, rev: i64, now: &str) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO pending_deletes (remote_id, kind, label, rev, push_key, created_at) \
         VALUES (?1, 'generation', ?2, ?3, ?4, ?5)",
        params![g.id.to_string(), g.version, rev, crate::context::new_uuid(), now],
    )?;
    Ok(())
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

// ---- evolutions ----

pub struct LocalEvolution {
    pub evolution_id: String,
    pub dirty: bool,
}

pub fn local_evolution(conn: &Connection, e: &wire::Evolution) -> Result<Option<LocalEvolution>> {
    Ok(conn
        .prepare_cached(
            "SELECT evolution_id, sync_status FROM evolutions WHERE evolution_id = ?1 OR remote_id = ?2",
        )?
        .query_row(params![e.evolution_id, e.id.to_string()], |r| {
            let s: String = r.get(1)?;
            Ok(LocalEvolution {
                evolution_id: r.get(0)?,
                dirty: s != "synced",
            })
        })
        .optional()?)
}

/// The local generation id an evolution from the server belongs to.
pub fn generation_of_evolution(conn: &Connection, e: &wire::Evolution) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT generation_id FROM generations WHERE generation_id = ?1 OR remote_id = ?2",
        )?
        .query_row(params![e.generation_uuid, e.generation_id], |r| r.get(0))
        .optional()?)
}

pub fn insert_remote_evolution(
    conn: &Connection,
    local_gen: &str,
    e: &wire::Evolution,
    now: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO evolutions (evolution_id, generation_id, change_id, rc, rc_provisional, code_name, \
         owner, status, started_at, completed_at, pipeline_run_id, remote_id, sync_status, \
         last_synced_at, rev, commit_sha, dirty, fingerprint, base_json) \
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'synced', ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
            e.evolution_id,
            local_gen,
            e.change_id,
            e.rc,
            e.code_name,
            e.created_by,
            evo_status(&e.status),
            e.started_at.clone().unwrap_or_else(|| e.created_at.clone()),
            e.completed_at,
            e.pipeline_run_id,
            e.id.to_string(),
            now,
            e.rev,
            e.commit,
            e.dirty,
            e.fingerprint,
            json(e)
        ])?;
    Ok(())
}

fn evo_status(s: &str) -> &'static str {
    gryt_core::EvolutionStatus::parse(s)
        .map(|s| s.as_str())
        .unwrap_or("pending")
}

/// Takes the server's copy of an evolution (not edited locally).
pub fn take_remote_evolution(
    conn: &Connection,
    local_id: &str,
    e: &wire::Evolution,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE evolutions SET rc = ?2, rc_provisional = 0, status = ?3, completed_at = ?4, \
         pipeline_run_id = ?5, remote_id = ?6, rev = ?7, sync_status = 'synced', last_synced_at = ?8, \
         sync_error = NULL, push_key = NULL, code_name = ?9, owner = ?10, \
         commit_sha = COALESCE(?11, commit_sha), dirty = ?12, fingerprint = COALESCE(?13, fingerprint), \
         base_json = ?14 \
         WHERE evolution_id = ?1",
        params![
            local_id,
            e.rc,
            evo_status(&e.status),
            e.completed_at,
            e.pipeline_run_id,
            e.id.to_string(),
            e.rev,
            now,
            e.code_name,
            e.created_by,
            e.commit,
            e.dirty,
            e.fingerprint,
            json(e)
        ],
    )?;
    Ok(())
}

/// Adopts the server's id, rc and rev for a locally edited evolution; it stays pending.
/// Takes the server's ids and revision for a local evolution with newer local changes. The
/// operation that created or last updated it is answered: the next push sends the local
/// changes as a new operation (a new key; the old key names another request).
pub fn adopt_evolution_ids(conn: &Connection, local_id: &str, e: &wire::Evolution) -> Result<()> {
    conn.execute(
        "UPDATE evolutions SET rc = ?2, rc_provisional = 0, remote_id = ?3, rev = ?4, push_key = NULL, \
         base_json = ?5 WHERE evolution_id = ?1",
        params![local_id, e.rc, e.id.to_string(), e.rev, json(e)],
    )?;
    Ok(())
}

/// The server's copy of a local evolution, as last seen (`None`: never seen, or stored by
/// a gryt that did not keep it).
pub fn evolution_base(conn: &Connection, local_id: &str) -> Result<Option<wire::Evolution>> {
    let j: Option<String> = conn
        .prepare_cached("SELECT base_json FROM evolutions WHERE evolution_id = ?1")?
        .query_row([local_id], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(j.and_then(|j| serde_json::from_str(&j).ok()))
}

pub fn delete_local_evolution(conn: &Connection, local_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE pipeline_runs SET evolution_id = NULL WHERE evolution_id = ?1",
        [local_id],
    )?;
    conn.execute("DELETE FROM evolutions WHERE evolution_id = ?1", [local_id])?;
    Ok(())
}

/// Provisional local rc numbers that collide with numbers the server gave move up past them.
pub fn renumber_provisional(conn: &Connection, local_gen: &str) -> Result<()> {
    let clashing: Vec<String> = conn
        .prepare_cached(
            "SELECT p.evolution_id FROM evolutions p WHERE p.generation_id = ?1 AND p.rc_provisional = 1 \
             AND EXISTS (SELECT 1 FROM evolutions f WHERE f.generation_id = p.generation_id \
               AND f.rc_provisional = 0 AND f.rc = p.rc) ORDER BY p.rc",
        )?
        .query_map([local_gen], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for id in clashing {
        let next: i64 = conn.query_row(
            "SELECT COALESCE(MAX(rc), 0) + 1 FROM evolutions WHERE generation_id = ?1",
            [local_gen],
            |r| r.get(0),
        )?;
        conn.execute(
            "UPDATE evolutions SET rc = ?2 WHERE evolution_id = ?1",
            params![id, next],
        )?;
    }
    Ok(())
}

// ---- work the server refused ----

/// A pending record the server refused for good (403, 404, 409, 422...): not re-sent by
/// every push, listed by `gryt sync status` until `gryt sync resolve` settles it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refused {
    /// `generation`, `evolution` or `deletion`.
    pub what: &'static str,
    /// The generation it belongs to (what `gryt sync resolve` takes).
    pub version: String,
    /// What was refused, for people: `v2.0.0`, `v2.0.0-rc.1 FEAT-1 (keen-jolly-breeze)`.
    pub label: String,
    /// The server's answer: `HTTP 403: ...`.
    pub reason: String,
    /// The local id (generation or evolution UUID, or the server id of a deletion).
    #[serde(skip)]
    pub id: String,
    /// The server id, when the server has the record.
    #[serde(skip)]
    pub remote_id: Option<String>,
}

/// Everything refused, generations first, by version.
pub fn refused(conn: &Connection) -> Result<Vec<Refused>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT version, generation_id, remote_id, COALESCE(sync_error, 'refused') FROM generations \
         WHERE sync_status = 'failed' ORDER BY version",
    )?;
    for r in stmt.query_map([], |r| {
        Ok(Refused {
            what: "generation",
            version: r.get(0)?,
            label: r.get(0)?,
            id: r.get(1)?,
            remote_id: r.get(2)?,
            reason: r.get(3)?,
        })
    })? {
        out.push(r?);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT g.version, e.rc, e.change_id, e.code_name, e.evolution_id, e.remote_id, \
                COALESCE(e.sync_error, 'refused') \
         FROM evolutions e JOIN generations g ON g.generation_id = e.generation_id \
         WHERE e.sync_status = 'conflict' ORDER BY g.version, e.rc",
    )?;
    for r in stmt.query_map([], |r| {
        let version: String = r.get(0)?;
        let rc: i64 = r.get(1)?;
        let change: String = r.get(2)?;
        let code: String = r.get(3)?;
        Ok(Refused {
            what: "evolution",
            label: format!("{version}-rc.{rc} {change} ({code})"),
            version,
            id: r.get(4)?,
            remote_id: r.get(5)?,
            reason: r.get(6)?,
        })
    })? {
        out.push(r?);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT label, remote_id, refused FROM pending_deletes WHERE refused IS NOT NULL ORDER BY label",
    )?;
    for r in stmt.query_map([], |r| {
        Ok(Refused {
            what: "deletion",
            version: r.get(0)?,
            label: r.get(0)?,
            id: r.get(1)?,
            remote_id: r.get(1)?,
            reason: r.get(2)?,
        })
    })? {
        out.push(r?);
    }
    Ok(out)
}

/// Marks a generation or evolution as refused by the server, with its reason. The
/// operation is answered: its key goes (the next attempt is a new operation).
pub fn set_refused(conn: &Connection, table: &str, local_id: &str, reason: &str) -> Result<()> {
    let (status, id_col, extra) = match table {
        "generations" => (
            "failed",
            "generation_id",
            ", sent_json = NULL, promote_key = NULL",
        ),
        _ => ("conflict", "evolution_id", ""),
    };
    conn.execute(
        &format!(
            "UPDATE {table} SET sync_error = ?2, push_key = NULL{extra}, sync_status = \
             CASE WHEN sync_status = 'conflict' THEN 'conflict' ELSE '{status}' END \
             WHERE {id_col} = ?1"
        ),
        params![local_id, reason],
    )?;
    Ok(())
}

/// Marks a journaled deletion as refused by the server.
pub fn set_delete_refused(conn: &Connection, remote_id: &str, reason: &str) -> Result<()> {
    conn.execute(
        "UPDATE pending_deletes SET refused = ?2 WHERE remote_id = ?1",
        params![remote_id, reason],
    )?;
    Ok(())
}

/// `--ours` on refused work: it becomes pending again and the next push sends it afresh.
pub fn requeue_refused(conn: &Connection, r: &Refused) -> Result<()> {
    match r.what {
        "generation" => conn.execute(
            "UPDATE generations SET sync_status = 'not_synced', sync_error = NULL WHERE generation_id = ?1",
            [&r.id],
        )?,
        "evolution" => conn.execute(
            "UPDATE evolutions SET sync_status = 'not_synced', sync_error = NULL WHERE evolution_id = ?1",
            [&r.id],
        )?,
        _ => conn.execute(
            "UPDATE pending_deletes SET refused = NULL, push_key = ?2 WHERE remote_id = ?1",
            params![r.id, crate::context::new_uuid()],
        )?,
    };
    Ok(())
}

/// Puts a refused generation back to the server's copy (its base) in full, a promotion
/// the server refused included.
pub fn restore_generation(
    conn: &Connection,
    local_id: &str,
    base: &GenerationContent,
    now: &str,
) -> Result<()> {
    revert_to_base(conn, local_id, base, now)?;
    if base.status != GenerationStatus::Promoted {
        conn.execute(
            "UPDATE generations SET status = ?2, promoted_at = NULL, promoted_by = NULL, \
             promote_key = NULL WHERE generation_id = ?1",
            params![local_id, base.status.as_str()],
        )?;
    }
    Ok(())
}

// ---- metadata and log ----

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

/// Versions whose evolution results wait for their generation to reach the server first
/// (an automatic evolution send cannot deliver them yet).
pub fn evolutions_waiting_for_generation(conn: &Connection) -> Result<Vec<String>> {
    let rows = conn
        .prepare(
            "SELECT DISTINCT g.version FROM evolutions e \
             JOIN generations g ON g.generation_id = e.generation_id \
             WHERE e.sync_status != 'synced' \
               AND (g.remote_id IS NULL OR g.sync_status != 'synced') \
             ORDER BY g.version",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Where an Idempotency-Key is stored.
#[derive(Debug, Clone, Copy)]
pub enum KeySlot {
    /// The key of an evolution's pending create or update.
    EvolutionPush,
    /// The key of a generation's pending promotion.
    GenerationPromote,
}

/// Stores the Idempotency-Key of a piece of work.
pub fn store_key(conn: &Connection, slot: KeySlot, id: &str, key: &str) -> Result<()> {
    let sql = match slot {
        KeySlot::EvolutionPush => "UPDATE evolutions SET push_key = ?2 WHERE evolution_id = ?1",
        KeySlot::GenerationPromote => {
            "UPDATE generations SET promote_key = ?2 WHERE generation_id = ?1"
        }
    };
    conn.execute(sql, params![id, key])?;
    Ok(())
}

/// A deletion of a server record waiting to be pushed.
pub struct PendingDelete {
    pub remote_id: String,
    pub kind: String,
    pub label: String,
    pub rev: i64,
    pub push_key: String,
}

/// The deletions waiting to be pushed (not refused), oldest first.
pub fn pending_deletes(conn: &Connection) -> Result<Vec<PendingDelete>> {
    Ok(conn
        .prepare(
            "SELECT remote_id, kind, label, rev, push_key FROM pending_deletes \
             WHERE refused IS NULL ORDER BY created_at",
        )?
        .query_map([], |r| {
            Ok(PendingDelete {
                remote_id: r.get(0)?,
                kind: r.get(1)?,
                label: r.get(2)?,
                rev: r.get(3)?,
                push_key: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Drops the journalled deletion of server record `remote_id` (as stored, a string).
pub fn drop_pending_delete_of(conn: &Connection, remote_id: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM pending_deletes WHERE remote_id = ?1",
        [remote_id],
    )?;
    Ok(())
}

/// Whether any update was sent and is still unanswered.
pub fn updates_outstanding(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM generations \
         WHERE push_key IS NOT NULL AND sent_json IS NOT NULL AND remote_id IS NOT NULL)",
        [],
        |r| r.get(0),
    )?)
}

/// The version of a local generation, if it exists.
pub fn version_of(conn: &Connection, local_id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT version FROM generations WHERE generation_id = ?1",
            [local_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The status of a local evolution, if it exists.
pub fn evolution_status_of(conn: &Connection, local_id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT status FROM evolutions WHERE evolution_id = ?1",
            [local_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The local generation of a local evolution, if it exists.
pub fn generation_id_of_evolution(conn: &Connection, local_id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT generation_id FROM evolutions WHERE evolution_id = ?1",
            [local_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Forgets a promotion attempt that got a final answer: the next attempt is a new
/// promotion with a new key and body.
pub fn forget_promotion_attempt(conn: &Connection, generation_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE generations SET promote_key = NULL, promote_json = NULL, tag_pending = 0, \
         promoted_commit = CASE WHEN status = 'promoted' THEN promoted_commit END \
         WHERE generation_id = ?1",
        [generation_id],
    )?;
    Ok(())
}

/// A generation with work waiting for the server, and the keys of that work.
pub struct PendingGen {
    pub rec: GenerationRecord,
    pub push_key: Option<String>,
    pub promote_key: Option<String>,
}

/// Which pending generations to push (all, or one version).
pub fn pending_generations(conn: &Connection, version: Option<&str>) -> Result<Vec<PendingGen>> {
    let mut stmt = conn.prepare(
        "SELECT version, push_key, promote_key FROM generations \
         WHERE (sync_status = 'not_synced' OR promote_key IS NOT NULL) \
           AND (?1 IS NULL OR version = ?1)",
    )?;
    let rows: Vec<(String, Option<String>, Option<String>)> = stmt
        .query_map([version], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (v, push_key, promote_key) in rows {
        if let Some(rec) = store::get_generation(conn, &v)? {
            out.push(PendingGen {
                rec,
                push_key,
                promote_key,
            });
        }
    }
    Ok(out)
}

/// The sync status of a local generation.
pub fn sync_status_of(conn: &Connection, local_id: &str) -> Result<String> {
    Ok(conn.query_row(
        "SELECT sync_status FROM generations WHERE generation_id = ?1",
        [local_id],
        |r| r.get(0),
    )?)
}

/// A pending evolution as push needs it.
pub struct EvoRow {
    pub eid: String,
    pub gen_rid: Option<String>,
    pub evo_rid: Option<String>,
    pub change: String,
    pub code: String,
    pub status: String,
    pub run: Option<String>,
    pub completed: Option<String>,
    pub key: Option<String>,
    pub started: String,
    pub gversion: String,
    pub rev: i64,
    pub owner: String,
    pub commit: Option<String>,
    pub dirty: bool,
    pub fingerprint: Option<String>,
    pub rc: i64,
}

/// Evolutions waiting to be pushed (not synced, or refused), of synced generations (all, or
/// one version), oldest first.
pub fn pending_evolutions(conn: &Connection, version: Option<&str>) -> Result<Vec<EvoRow>> {
    let rows: Vec<EvoRow> = conn
        .prepare(
            "SELECT e.evolution_id, g.remote_id, e.remote_id, e.change_id, e.code_name, e.status, \
                    e.pipeline_run_id, e.completed_at, e.push_key, e.started_at, g.version, e.rev, e.owner, \
                    e.commit_sha, e.dirty, e.fingerprint, e.rc \
             FROM evolutions e JOIN generations g ON g.generation_id = e.generation_id \
             WHERE e.sync_status IN ('not_synced', 'failed') AND g.remote_id IS NOT NULL \
               AND g.sync_status = 'synced' AND (?1 IS NULL OR g.version = ?1) \
             ORDER BY e.started_at",
        )?
        .query_map([version], |r| {
            Ok(EvoRow {
                eid: r.get(0)?,
                gen_rid: r.get(1)?,
                evo_rid: r.get(2)?,
                change: r.get(3)?,
                code: r.get(4)?,
                status: r.get(5)?,
                run: r.get(6)?,
                completed: r.get(7)?,
                key: r.get(8)?,
                started: r.get(9)?,
                gversion: r.get(10)?,
                rev: r.get(11)?,
                owner: r.get(12)?,
                commit: r.get(13)?,
                dirty: r.get(14)?,
                fingerprint: r.get(15)?,
                rc: r.get(16)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
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
