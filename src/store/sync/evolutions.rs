//! Local evolutions as a pull applies them, and their provisional rc numbers.

use super::*;

/// Whether a local generation has evolutions the server has not seen in their current state.
pub fn has_unsynced_evolutions(conn: &Connection, local_gen: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM evolutions WHERE generation_id = ?1 AND sync_status != 'synced')",
        )?
        .query_row([local_gen], |r| r.get(0))?)
}

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
