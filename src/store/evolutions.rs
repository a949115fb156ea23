//! Evolutions (proofs) as stored locally, and the pipeline runs that established them.

use super::generations::bad_row;
use crate::error::Result;
use gryt_core::EvolutionStatus;
use rusqlite::{params, Connection, Row};
use serde::Serialize;

/// An evolution as stored locally, with its generation's version.
#[derive(Debug, Clone, Serialize)]
pub struct EvolutionRecord {
    pub evolution_id: String,
    pub generation_id: String,
    pub version: String,
    pub change_id: String,
    pub rc: u32,
    pub rc_provisional: bool,
    pub tag: String,
    pub code_name: String,
    pub owner: String,
    pub status: EvolutionStatus,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub pipeline_run_id: Option<String>,
    pub remote_id: Option<String>,
    pub sync_status: String,
    /// The git commit its result was established on (`None` outside git).
    pub commit: Option<String>,
    pub dirty: bool,
    /// The fingerprint of the change it proves (`None`: recorded before fingerprints).
    pub fingerprint: Option<String>,
}

const EVO_SELECT: &str = "SELECT e.evolution_id, e.generation_id, g.version, e.change_id, e.rc, \
    e.rc_provisional, e.code_name, e.owner, e.status, e.started_at, e.completed_at, \
    e.pipeline_run_id, e.remote_id, e.sync_status, e.commit_sha, e.dirty, e.fingerprint \
    FROM evolutions e JOIN generations g ON g.generation_id = e.generation_id";

fn evo_from_row(r: &Row<'_>) -> rusqlite::Result<EvolutionRecord> {
    let version: String = r.get(2)?;
    let rc: u32 = r.get(4)?;
    let status: String = r.get(8)?;
    Ok(EvolutionRecord {
        evolution_id: r.get(0)?,
        generation_id: r.get(1)?,
        tag: format!("{version}-rc.{rc}"),
        version,
        change_id: r.get(3)?,
        rc,
        rc_provisional: r.get(5)?,
        code_name: r.get(6)?,
        owner: r.get(7)?,
        status: EvolutionStatus::parse(&status).map_err(|_| bad_row("status"))?,
        started_at: r.get(9)?,
        completed_at: r.get(10)?,
        pipeline_run_id: r.get(11)?,
        remote_id: r.get(12)?,
        sync_status: r.get(13)?,
        commit: r.get(14)?,
        dirty: r.get(15)?,
        fingerprint: r.get(16)?,
    })
}

pub fn list_evolutions(
    conn: &Connection,
    generation_id: Option<&str>,
) -> Result<Vec<EvolutionRecord>> {
    let mut out = Vec::new();
    match generation_id {
        Some(id) => {
            let mut stmt = conn.prepare_cached(&format!(
                "{EVO_SELECT} WHERE e.generation_id = ?1 ORDER BY e.rc, e.started_at"
            ))?;
            for r in stmt.query_map([id], evo_from_row)? {
                out.push(r?);
            }
        }
        None => {
            let mut stmt =
                conn.prepare_cached(&format!("{EVO_SELECT} ORDER BY e.started_at, e.rc"))?;
            for r in stmt.query_map([], evo_from_row)? {
                out.push(r?);
            }
        }
    }
    Ok(out)
}

/// Finds evolutions by UUID, code name, or rc tag (`v1.2.0-rc.2`).
pub fn find_evolutions(conn: &Connection, key: &str) -> Result<Vec<EvolutionRecord>> {
    let mut out = Vec::new();
    if let Some(tag) = gryt_core::RcTag::parse(key) {
        let mut stmt =
            conn.prepare_cached(&format!("{EVO_SELECT} WHERE g.version = ?1 AND e.rc = ?2"))?;
        for r in stmt.query_map(params![tag.version, tag.rc], evo_from_row)? {
            out.push(r?);
        }
        return Ok(out);
    }
    let mut stmt = conn.prepare_cached(&format!(
        "{EVO_SELECT} WHERE e.evolution_id = ?1 OR e.code_name = ?1 OR e.remote_id = ?1"
    ))?;
    for r in stmt.query_map([key], evo_from_row)? {
        out.push(r?);
    }
    Ok(out)
}

pub fn used_rcs(conn: &Connection, generation_id: &str) -> Result<Vec<u32>> {
    let mut stmt = conn.prepare_cached("SELECT rc FROM evolutions WHERE generation_id = ?1")?;
    let rows = stmt.query_map([generation_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<u32>>>()?)
}

pub struct NewEvolution<'a> {
    pub evolution_id: &'a str,
    pub generation_id: &'a str,
    pub change_id: &'a str,
    pub rc: u32,
    pub code_name: &'a str,
    pub owner: &'a str,
    pub started_at: &'a str,
    pub commit: Option<&'a str>,
    pub dirty: bool,
    pub fingerprint: &'a str,
}

pub fn insert_evolution(conn: &Connection, e: &NewEvolution<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO evolutions (evolution_id, generation_id, change_id, rc, code_name, owner, status, started_at, \
         commit_sha, dirty, fingerprint) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?9, ?10)",
        params![e.evolution_id, e.generation_id, e.change_id, e.rc, e.code_name, e.owner, e.started_at,
                e.commit, e.dirty, e.fingerprint],
    )?;
    Ok(())
}

/// Where a result was established: the commit (`None` outside git) and whether the tree was
/// dirty.
pub fn set_evolution_commit(
    conn: &Connection,
    evolution_id: &str,
    commit: Option<&str>,
    dirty: bool,
) -> Result<()> {
    conn.execute(
        "UPDATE evolutions SET commit_sha = ?2, dirty = ?3 WHERE evolution_id = ?1",
        params![evolution_id, commit, dirty],
    )?;
    Ok(())
}

pub fn set_evolution_status(
    conn: &Connection,
    evolution_id: &str,
    status: EvolutionStatus,
    completed_at: Option<&str>,
    pipeline_run_id: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE evolutions SET status = ?2, completed_at = ?3, push_key = NULL, \
         pipeline_run_id = COALESCE(?4, pipeline_run_id), \
         sync_status = CASE WHEN sync_status = 'conflict' THEN 'conflict' ELSE 'not_synced' END \
         WHERE evolution_id = ?1",
        params![evolution_id, status.as_str(), completed_at, pipeline_run_id],
    )?;
    Ok(())
}

/// A pipeline run to store, with its steps.
pub struct RunRecord<'a> {
    pub run_id: &'a str,
    pub pipeline: &'a str,
    pub evolution_id: Option<&'a str>,
    pub status: &'a str,
    pub started_at: &'a str,
    pub finished_at: &'a str,
    pub duration_ms: i64,
    pub config_json: &'a str,
    pub commit: Option<&'a str>,
    pub dirty: bool,
}

pub struct StepRecord<'a> {
    pub name: &'a str,
    pub command: &'a str,
    pub status: &'a str,
    pub exit_code: Option<i32>,
    pub stdout: &'a str,
    pub stderr: &'a str,
    pub duration_ms: i64,
    pub started_at: Option<String>,
}

pub fn insert_run(conn: &Connection, run: &RunRecord<'_>, steps: &[StepRecord<'_>]) -> Result<()> {
    conn.execute(
        "INSERT INTO pipeline_runs (run_id, pipeline, evolution_id, status, started_at, finished_at, duration_ms, config_json, \
         commit_sha, dirty) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![run.run_id, run.pipeline, run.evolution_id, run.status, run.started_at, run.finished_at, run.duration_ms, run.config_json,
                run.commit, run.dirty],
    )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO step_outputs (run_id, position, name, command, status, exit_code, stdout, stderr, duration_ms, started_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for (i, s) in steps.iter().enumerate() {
        stmt.execute(params![
            run.run_id,
            i as i64,
            s.name,
            s.command,
            s.status,
            s.exit_code,
            s.stdout,
            s.stderr,
            s.duration_ms,
            s.started_at
        ])?;
    }
    Ok(())
}

/// A stored pipeline run, for display.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub run_id: String,
    pub pipeline: String,
    pub evolution_id: Option<String>,
    pub status: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: i64,
    /// The git commit it ran on (`None` outside git) and whether the tree was dirty.
    pub commit: Option<String>,
    pub dirty: bool,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub name: String,
    pub command: String,
    pub status: String,
    pub exit_code: Option<i32>,
    pub duration_ms: i64,
}

pub fn runs_of_evolution(conn: &Connection, evolution_id: &str) -> Result<Vec<RunView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT run_id, pipeline, evolution_id, status, started_at, finished_at, duration_ms, \
         commit_sha, dirty FROM pipeline_runs WHERE evolution_id = ?1 ORDER BY started_at",
    )?;
    let mut runs = stmt
        .query_map([evolution_id], |r| {
            Ok(RunView {
                run_id: r.get(0)?,
                pipeline: r.get(1)?,
                evolution_id: r.get(2)?,
                status: r.get(3)?,
                started_at: r.get(4)?,
                finished_at: r.get(5)?,
                duration_ms: r.get(6)?,
                commit: r.get(7)?,
                dirty: r.get(8)?,
                steps: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut steps = conn.prepare_cached(
        "SELECT name, command, status, exit_code, duration_ms FROM step_outputs \
         WHERE run_id = ?1 ORDER BY position",
    )?;
    for run in &mut runs {
        run.steps = steps
            .query_map([&run.run_id], |r| {
                Ok(StepView {
                    name: r.get(0)?,
                    command: r.get(1)?,
                    status: r.get(2)?,
                    exit_code: r.get(3)?,
                    duration_ms: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
    }
    Ok(runs)
}
