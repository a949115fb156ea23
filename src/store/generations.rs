//! Generations as stored locally: their rows and changes, edits, renames, deletions and
//! promotions, and the contract files written for them.

use crate::error::Result;
use gryt_core::{Change, ChangeId, ChangeType, GenerationSpec, GenerationStatus};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

/// A generation as stored locally.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationRecord {
    pub generation_id: String,
    pub version: String,
    pub description: Option<String>,
    pub status: GenerationStatus,
    pub changes: Vec<Change>,
    pub pipeline_template: Option<String>,
    pub created_at: String,
    pub created_by: Option<String>,
    pub promoted_at: Option<String>,
    pub promoted_by: Option<String>,
    pub updated_at: String,
    pub remote_id: Option<String>,
    pub sync_status: String,
    pub last_synced_at: Option<String>,
    pub sync_error: Option<String>,
    pub rev: i64,
}

impl GenerationRecord {
    /// What the contract file says about the record besides its contract.
    pub fn identity(&self) -> crate::yaml::Identity {
        crate::yaml::Identity {
            generation_id: Some(self.generation_id.clone()),
            status: self.status,
            promoted_at: self.promoted_at.clone(),
            promoted_by: self.promoted_by.clone(),
        }
    }

    pub fn spec(&self) -> GenerationSpec {
        GenerationSpec {
            version: self.version.clone(),
            description: self.description.clone(),
            changes: self.changes.clone(),
            pipeline_template: self.pipeline_template.clone(),
        }
    }
}

const GEN_COLS: &str =
    "generation_id, version, description, status, pipeline_template, created_at, \
    created_by, promoted_at, promoted_by, updated_at, remote_id, sync_status, last_synced_at, \
    sync_error, rev";

pub(super) fn bad_row(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, what.to_string(), rusqlite::types::Type::Text)
}

fn gen_from_row(r: &Row<'_>) -> rusqlite::Result<GenerationRecord> {
    let status: String = r.get(3)?;
    Ok(GenerationRecord {
        generation_id: r.get(0)?,
        version: r.get(1)?,
        description: r.get(2)?,
        status: GenerationStatus::parse(&status).map_err(|_| bad_row("status"))?,
        changes: Vec::new(),
        pipeline_template: r.get(4)?,
        created_at: r.get(5)?,
        created_by: r.get(6)?,
        promoted_at: r.get(7)?,
        promoted_by: r.get(8)?,
        updated_at: r.get(9)?,
        remote_id: r.get(10)?,
        sync_status: r.get(11)?,
        last_synced_at: r.get(12)?,
        sync_error: r.get(13)?,
        rev: r.get(14)?,
    })
}

pub fn load_changes(conn: &Connection, generation_id: &str) -> Result<Vec<Change>> {
    let mut stmt = conn.prepare_cached(
        "SELECT change_id, type, title, description, assignee FROM changes \
         WHERE generation_id = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map([generation_id], |r| {
        let id: String = r.get(0)?;
        let t: String = r.get(1)?;
        Ok(Change {
            id: ChangeId::parse(&id).map_err(|_| bad_row("change_id"))?,
            change_type: ChangeType::parse(&t).map_err(|_| bad_row("type"))?,
            title: r.get(2)?,
            description: r.get(3)?,
            assignee: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn get_generation(conn: &Connection, version: &str) -> Result<Option<GenerationRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GEN_COLS} FROM generations WHERE version = ?1"
    ))?;
    let rec = stmt.query_row([version], gen_from_row).optional()?;
    match rec {
        Some(mut g) => {
            g.changes = load_changes(conn, &g.generation_id)?;
            Ok(Some(g))
        }
        None => Ok(None),
    }
}

/// One line of `gryt generation list`.
#[derive(Debug, Clone, Serialize)]
pub struct GenerationSummary {
    pub generation_id: String,
    pub version: String,
    pub description: Option<String>,
    pub status: String,
    pub changes: i64,
    pub proven: i64,
    pub evolutions: i64,
    pub created_at: String,
    pub promoted_at: Option<String>,
    pub sync_status: String,
}

pub fn list_generations(conn: &Connection) -> Result<Vec<GenerationSummary>> {
    // Aggregates by GROUP BY once per table rather than correlated subqueries per row.
    let mut stmt = conn.prepare_cached(
        "SELECT g.generation_id, g.version, g.description, g.status, \
           COALESCE(c.n, 0), COALESCE(e.n, 0), \
           g.created_at, g.promoted_at, g.sync_status \
         FROM generations g \
         LEFT JOIN (SELECT generation_id, COUNT(*) AS n FROM changes GROUP BY generation_id) c \
           ON c.generation_id = g.generation_id \
         LEFT JOIN (SELECT generation_id, COUNT(*) AS n FROM evolutions GROUP BY generation_id) e \
           ON e.generation_id = g.generation_id",
    )?;
    let proven = proven_counts(conn)?;
    let rows = stmt.query_map([], |r| {
        Ok(GenerationSummary {
            generation_id: r.get(0)?,
            version: r.get(1)?,
            description: r.get(2)?,
            status: r.get(3)?,
            changes: r.get(4)?,
            proven: 0,
            evolutions: r.get(5)?,
            created_at: r.get(6)?,
            promoted_at: r.get(7)?,
            sync_status: r.get(8)?,
        })
    })?;
    let mut list = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    for g in &mut list {
        g.proven = proven.get(&g.generation_id).copied().unwrap_or(0);
    }
    // Semver order; a version that somehow fails to parse sorts last by text.
    list.sort_by_cached_key(|g| match gryt_core::Version::parse(&g.version) {
        Ok(v) => (0, Some(v), String::new()),
        Err(_) => (1, None, g.version.clone()),
    });
    Ok(list)
}

/// Per generation, how many of its changes the gate counts as proven when no commit is named
/// (`gryt generation show` and `promote` name HEAD's): the newest completed proof of each
/// change's current definition decides ([`gryt_core::gate::proven_without_commit`]), so a
/// later failure or a change redefined since its pass is not counted.
///
/// The rows come in the order of the `evolutions_by_generation` index (no sort), are read
/// without copying their text, and a change's fingerprint is computed only when one of its
/// proofs names a definition.
fn proven_counts(conn: &Connection) -> Result<std::collections::HashMap<String, i64>> {
    // Covered by the `evolutions_by_generation` index (migration 0009) and the changes'
    // primary key: no table row is read unless a proof names a definition.
    let mut stmt = conn.prepare_cached(
        "SELECT ev.generation_id, ev.change_id, ev.fingerprint, ev.rc, ev.status = 'pass' \
         FROM evolutions ev \
         WHERE ev.status IN ('pass', 'fail') AND EXISTS (SELECT 1 FROM changes ch \
           WHERE ch.generation_id = ev.generation_id AND ch.change_id = ev.change_id) \
         ORDER BY ev.generation_id, ev.change_id",
    )?;
    /// The completed proofs of one (generation, change).
    #[derive(Default)]
    struct Group {
        generation: String,
        change: String,
        completed: Vec<(u32, bool, Option<String>)>,
    }
    let verdict = |g: &Group, counts: &mut std::collections::HashMap<String, i64>| -> Result<()> {
        if g.completed.is_empty() {
            return Ok(());
        }
        let fp = if g.completed.iter().any(|(_, _, f)| f.is_some()) {
            let (change_type, title): (String, String) = conn
                .prepare_cached(
                    "SELECT type, title FROM changes WHERE generation_id = ?1 AND change_id = ?2",
                )?
                .query_row(params![g.generation, g.change], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            gryt_core::change::fingerprint(&g.change, &change_type, &title)
        } else {
            String::new()
        };
        let completed = g
            .completed
            .iter()
            .map(|(rc, passed, f)| (*rc, *passed, f.as_deref()));
        if gryt_core::gate::proven_without_commit(&fp, completed) {
            *counts.entry(g.generation.clone()).or_insert(0) += 1;
        }
        Ok(())
    };
    let mut counts = std::collections::HashMap::new();
    let mut group = Group::default();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let generation = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let change = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        if generation != group.generation || change != group.change {
            verdict(&group, &mut counts)?;
            group.generation.clear();
            group.generation.push_str(generation);
            group.change.clear();
            group.change.push_str(change);
            group.completed.clear();
        }
        let rc: i64 = r.get(3)?;
        group
            .completed
            .push((u32::try_from(rc).unwrap_or(0), r.get(4)?, r.get(2)?));
    }
    verdict(&group, &mut counts)?;
    Ok(counts)
}

pub fn insert_generation(conn: &Connection, g: &GenerationRecord) -> Result<()> {
    conn.prepare_cached(&format!("INSERT INTO generations ({GEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"))?
        .execute(params![
            g.generation_id,
            g.version,
            g.description,
            g.status.as_str(),
            g.pipeline_template,
            g.created_at,
            g.created_by,
            g.promoted_at,
            g.promoted_by,
            g.updated_at,
            g.remote_id,
            g.sync_status,
            g.last_synced_at,
            g.sync_error,
            g.rev
        ])?;
    insert_changes(conn, &g.generation_id, &g.changes)
}

pub fn replace_changes(conn: &Connection, generation_id: &str, changes: &[Change]) -> Result<()> {
    conn.prepare_cached("DELETE FROM changes WHERE generation_id = ?1")?
        .execute([generation_id])?;
    insert_changes(conn, generation_id, changes)
}

fn insert_changes(conn: &Connection, generation_id: &str, changes: &[Change]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO changes (generation_id, position, change_id, type, title, description, assignee) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (i, c) in changes.iter().enumerate() {
        stmt.execute(params![
            generation_id,
            i as i64,
            c.id.as_str(),
            c.change_type.as_str(),
            c.title,
            c.description,
            c.assignee
        ])?;
    }
    Ok(())
}

/// Saves an edited contract (description, changes, template) and marks it pending sync.
/// An operation already sent keeps its key: it is re-sent as it was until answered, and the
/// edit follows in a new operation (see `sync::plan_generations`).
pub fn update_generation_spec(
    conn: &Connection,
    generation_id: &str,
    spec: &GenerationSpec,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE generations SET description = ?2, pipeline_template = ?3, updated_at = ?4, \
         sync_status = CASE WHEN sync_status = 'conflict' THEN 'conflict' ELSE 'not_synced' END \
         WHERE generation_id = ?1",
        params![generation_id, spec.description, spec.pipeline_template, now],
    )?;
    replace_changes(conn, generation_id, &spec.changes)
}

pub fn rename_generation(
    conn: &Connection,
    generation_id: &str,
    new_version: &str,
    now: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE generations SET version = ?2, updated_at = ?3, \
         sync_status = CASE WHEN sync_status = 'conflict' AND version_taken = 0 \
           THEN 'conflict' ELSE 'not_synced' END, \
         conflict_json = CASE WHEN version_taken = 1 THEN NULL ELSE conflict_json END, \
         conflict_kinds = CASE WHEN version_taken = 1 THEN NULL ELSE conflict_kinds END, \
         version_taken = 0 \
         WHERE generation_id = ?1",
        params![generation_id, new_version, now],
    )?;
    Ok(())
}

/// Whether a generation with this identity (UUID) exists.
pub fn generation_id_taken(conn: &Connection, generation_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) > 0 FROM generations WHERE generation_id = ?1")?
        .query_row([generation_id], |r| r.get(0))?)
}

/// Sets the base (last synced copy, as JSON) a contract file carried in.
pub fn set_base_json(conn: &Connection, generation_id: &str, base_json: &str) -> Result<()> {
    conn.execute(
        "UPDATE generations SET base_json = ?2 WHERE generation_id = ?1",
        params![generation_id, base_json],
    )?;
    Ok(())
}

/// Whether a create of this generation was sent (its push key is kept until an answer).
pub fn create_sent(conn: &Connection, generation_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT push_key IS NOT NULL FROM generations WHERE generation_id = ?1")?
        .query_row([generation_id], |r| r.get(0))?)
}

/// Journals the deletion of a generation the server holds (`remote_id`, at `rev`) for the
/// next push, with its idempotency key.
pub fn journal_generation_delete(
    conn: &Connection,
    remote_id: &str,
    label: &str,
    rev: i64,
    push_key: &str,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO pending_deletes (remote_id, kind, label, rev, push_key, created_at) \
         VALUES (?1, 'generation', ?2, ?3, ?4, ?5)",
        params![remote_id, label, rev, push_key, now],
    )?;
    Ok(())
}

/// Keeps the deletion of a never-acknowledged generation by its UUID until a pull shows
/// whether the server holds it.
pub fn journal_uuid_delete(
    conn: &Connection,
    generation_id: &str,
    label: &str,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO pending_uuid_deletes (generation_id, label, created_at) \
         VALUES (?1, ?2, ?3)",
        params![generation_id, label, now],
    )?;
    Ok(())
}

pub fn delete_generation(conn: &Connection, generation_id: &str) -> Result<()> {
    conn.execute(
        "DELETE FROM pipeline_runs WHERE evolution_id IN \
         (SELECT evolution_id FROM evolutions WHERE generation_id = ?1)",
        [generation_id],
    )?;
    conn.execute(
        "DELETE FROM generations WHERE generation_id = ?1",
        [generation_id],
    )?;
    Ok(())
}

/// The single conditional update of a promotion: it only succeeds on a draft.
pub fn promote_generation(
    conn: &Connection,
    generation_id: &str,
    by: &str,
    now: &str,
) -> Result<bool> {
    let n = conn.execute(
        "UPDATE generations SET status = 'promoted', promoted_at = ?2, promoted_by = ?3, \
         updated_at = ?2, promote_key = ?4 WHERE generation_id = ?1 AND status = 'draft'",
        params![generation_id, now, by, uuid::Uuid::new_v4().to_string()],
    )?;
    Ok(n == 1)
}

/// What this workspace knows of its own promotion of a generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromotionState {
    /// The commit the promotion checked (set only by a promotion made here).
    pub commit: Option<String>,
    /// The body of a promotion waiting for the server under `promote_key`.
    pub body: Option<String>,
    pub key: Option<String>,
    /// The release tag is still to be created once the server confirms.
    pub tag_pending: bool,
}

pub fn promotion_state(conn: &Connection, generation_id: &str) -> Result<PromotionState> {
    Ok(conn
        .query_row(
            "SELECT promoted_commit, promote_json, promote_key, tag_pending FROM generations \
             WHERE generation_id = ?1",
            [generation_id],
            |r| {
                Ok(PromotionState {
                    commit: r.get(0)?,
                    body: r.get(1)?,
                    key: r.get(2)?,
                    tag_pending: r.get(3)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

/// Records what a promotion made here checked and sends (the key is set separately).
pub fn set_promotion(
    conn: &Connection,
    generation_id: &str,
    commit: Option<&str>,
    body: &str,
    tag_pending: bool,
) -> Result<()> {
    conn.execute(
        "UPDATE generations SET promoted_commit = ?2, promote_json = ?3, tag_pending = ?4 \
         WHERE generation_id = ?1",
        params![generation_id, commit, body, tag_pending],
    )?;
    Ok(())
}

/// The release tag was created (or is no longer wanted).
pub fn clear_tag_pending(conn: &Connection, generation_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE generations SET tag_pending = 0 WHERE generation_id = ?1",
        [generation_id],
    )?;
    Ok(())
}

/// When the local generation `generation_id` was promoted (`None` for a draft).
pub fn promoted_at(conn: &Connection, generation_id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT promoted_at FROM generations WHERE generation_id = ?1 AND status = 'promoted'",
        )?
        .query_row([generation_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// The hex SHA-256 of a contract file's bytes.
pub fn file_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Records what gryt wrote to (or loaded from) the contract file of `version`.
pub fn note_contract_file(conn: &Connection, version: &str, bytes: &[u8], now: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO contract_files (version, sha256, written_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (version) DO UPDATE SET sha256 = excluded.sha256, written_at = excluded.written_at",
    )?
    .execute(params![version, file_hash(bytes), now])?;
    Ok(())
}

/// Forgets the contract file of `version` (removed).
pub fn forget_contract_file(conn: &Connection, version: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM contract_files WHERE version = ?1")?
        .execute([version])?;
    Ok(())
}

/// The hash of what gryt last wrote to the contract file of `version`, if it wrote one.
pub fn contract_file_hash(conn: &Connection, version: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT sha256 FROM contract_files WHERE version = ?1")?
        .query_row([version], |r| r.get(0))
        .optional()?)
}
