//! The journal of work waiting for the server: what was sent under which key, pending
//! deletions, promotions, and what a push picks up.

use super::*;

/// Forgets a promotion waiting for the server (it was answered, one way or the other).
pub fn clear_promote_key(conn: &Connection, local_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE generations SET promote_key = NULL WHERE generation_id = ?1",
        [local_id],
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

/// The server id of a local evolution's generation, if the server has it.
pub fn generation_remote_id_of_evolution(
    conn: &Connection,
    local_id: &str,
) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT g.remote_id FROM evolutions e JOIN generations g ON g.generation_id = e.generation_id \
             WHERE e.evolution_id = ?1",
            [local_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Forgets the key an evolution's create was sent under: the create was answered without
/// being applied, and what follows is a new operation.
pub fn forget_evolution_key(conn: &Connection, local_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE evolutions SET push_key = NULL WHERE evolution_id = ?1",
        [local_id],
    )?;
    Ok(())
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
