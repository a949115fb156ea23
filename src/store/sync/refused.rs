//! Work the server refused for good: listed until `gryt sync resolve` settles it.

use super::*;

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
