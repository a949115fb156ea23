//! Use cases: each opens one write transaction, loads, applies a core rule, saves and
//! commits. Commands (commands/) parse arguments and render; they never touch SQL.

pub mod account;
pub mod autosync;
mod evolution;
mod gate;
mod generation;
mod promote;
mod query;
pub mod sync;
pub mod team;

pub use evolution::*;
pub use gate::*;
pub use generation::*;
pub use promote::*;

use crate::context::{new_uuid, random_bits, Context, Workspace};
use crate::error::{CliError, Result};
use crate::fsutil::write_atomic;
use crate::repo::Repo;
use crate::store::{self, EvolutionRecord, GenerationRecord};
use gryt_core::generation::ensure_draft;
use gryt_core::{
    evolution as core_evolution, gate as core_gate, ChangeId, ChangeType, EvolutionStatus,
    GateReport, GenerationSpec, GenerationStatus, Proof, Target, Version,
};
use rusqlite::Connection;

pub fn parse_version(input: &str) -> Result<Version> {
    Ok(Version::parse(input)?)
}

pub fn not_found(version: &str) -> CliError {
    CliError::error(format!("Generation {version} not found"))
        .hint("list the generations with `gryt generation list`")
}

/// Loads a generation by (normalised) version or fails with "not found".
pub fn load_generation(conn: &Connection, input: &str) -> Result<GenerationRecord> {
    let v = parse_version(input)?.to_string();
    store::get_generation(conn, &v)?.ok_or_else(|| not_found(&v))
}

/// Writes the YAML contract of `rec` into `.gryt/generations/` and records what was
/// written (inside the caller's transaction), so a later pull can tell a hand edit.
pub fn write_contract(conn: &Connection, repo: &Repo, rec: &GenerationRecord) -> Result<()> {
    let text = crate::yaml::render_contract(&rec.spec(), &rec.identity())?;
    let path = repo.contract_file_for_write(&rec.version)?;
    write_atomic(&path, text.as_bytes(), 0o644)?;
    store::note_contract_file(conn, &rec.version, text.as_bytes(), &now_stamp())
}

fn now_stamp() -> String {
    crate::config::wall_clock().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A new local draft holding `spec`, not yet synced.
fn new_draft(spec: GenerationSpec, now: String, user: String) -> GenerationRecord {
    GenerationRecord {
        generation_id: new_uuid(),
        version: spec.version,
        description: spec.description,
        status: GenerationStatus::Draft,
        changes: spec.changes,
        pipeline_template: spec.pipeline_template,
        created_at: now.clone(),
        created_by: Some(user),
        promoted_at: None,
        promoted_by: None,
        updated_at: now,
        remote_id: None,
        sync_status: "not_synced".into(),
        last_synced_at: None,
        sync_error: None,
        rev: 0,
    }
}

/// Like [`write_contract`] without forcing the file to disk: for contracts rewritten from
/// the database by a pull (the database is the source of truth), where thousands of
/// fsyncs would dominate.
pub fn write_contract_fast(conn: &Connection, repo: &Repo, rec: &GenerationRecord) -> Result<()> {
    let text = crate::yaml::render_contract(&rec.spec(), &rec.identity())?;
    let path = repo.contract_file_for_write(&rec.version)?;
    let tmp = repo
        .generations_dir()
        .join(format!(".{}.tmp{}", rec.version, std::process::id()));
    std::fs::write(&tmp, text.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| CliError::io(format!("cannot write {}", path.display()), e))?;
    store::note_contract_file(conn, &rec.version, text.as_bytes(), &now_stamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_tag_shows_gits_hint_before_gryts() {
        let dir = tempfile::tempdir().unwrap();
        let init = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(init.success());
        let repo = Repo {
            root: dir.path().to_path_buf(),
        };
        let spec = GenerationSpec {
            version: "v1.0.0".into(),
            description: None,
            changes: Vec::new(),
            pipeline_template: None,
        };
        let rec = new_draft(spec, "2026-01-01T00:00:00Z".into(), "dev".into());
        // A repository without commits cannot be tagged; git.rs says what to do first.
        let e = tag_release(&repo, &rec, None).unwrap_err();
        assert!(
            e.message.starts_with("Tagging v1.0.0 failed"),
            "{}",
            e.message
        );
        assert_eq!(e.hints.len(), 2, "{:?}", e.hints);
        assert!(
            e.hints[0].contains("commit your work first"),
            "{:?}",
            e.hints
        );
        assert!(e.hints[1].contains("--no-tag"), "{:?}", e.hints);
        assert!(std::error::Error::source(&e).is_some());
    }
}
