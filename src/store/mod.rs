//! The local SQLite store (`.gryt/gryt.db`): opening with checks, migrations, and the
//! queries the ops use. Writes happen inside the caller's transaction.

pub mod push_state;
pub mod sync;

use crate::error::{CliError, Result};
use gryt_core::{Change, ChangeId, ChangeType, EvolutionStatus, GenerationSpec, GenerationStatus};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;
use std::path::Path;

/// The embedded migrations, in order. `PRAGMA user_version` holds how many are applied.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_initial.sql",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        "0002_sync.sql",
        include_str!("../../migrations/0002_sync.sql"),
    ),
    (
        "0003_lost_answers.sql",
        include_str!("../../migrations/0003_lost_answers.sql"),
    ),
    (
        "0004_contract_files.sql",
        include_str!("../../migrations/0004_contract_files.sql"),
    ),
    (
        "0005_cancelled.sql",
        include_str!("../../migrations/0005_cancelled.sql"),
    ),
    (
        "0006_refused_deletes.sql",
        include_str!("../../migrations/0006_refused_deletes.sql"),
    ),
    (
        "0007_proofs.sql",
        include_str!("../../migrations/0007_proofs.sql"),
    ),
    (
        "0008_version_taken.sql",
        include_str!("../../migrations/0008_version_taken.sql"),
    ),
];

impl Store {
    /// The generation stored under canonical `version`, if any.
    pub fn generation(&self, version: &str) -> Result<Option<GenerationRecord>> {
        get_generation(&self.conn, version)
    }
}

pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub struct Store {
    pub conn: Connection,
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::error(format!(
        "The database {} is corrupt or not a gryt database ({e})",
        path.display()
    ))
    .hint("restore it from a backup, or move it away and run `gryt sync pull` to refetch what the cloud holds")
}

impl Store {
    /// Opens an existing database, refusing a corrupt one or one from a newer gryt
    /// without changing it, then applies pending migrations in one transaction.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.is_file() {
            return Err(CliError::error(format!(
                "The database {} is missing",
                path.display()
            ))
            .hint("the repository looks damaged: run `gryt init` in a new directory, or restore .gryt/gryt.db"));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| corrupt(path, e))?;
        // Read-only checks first: nothing is written before we know we may.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| corrupt(path, e))?;
        if version > schema_version() {
            return Err(CliError::error(format!(
                "The database {} was written by a newer gryt (schema {version}; this gryt knows up to {})",
                path.display(),
                schema_version()
            ))
            .hint("upgrade gryt; the database was left untouched"));
        }
        if version == 0 {
            // Schema 0 with tables in it is some other program's database: migrating it
            // would write gryt's tables into it.
            let objects: i64 = conn
                .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| corrupt(path, e))?;
            if objects > 0 {
                return Err(corrupt(path, "it holds tables but no gryt schema version"));
            }
        }
        let mut store = Store { conn };
        store.configure().map_err(|e| corrupt(path, e))?;
        if version < schema_version() {
            store.migrate()?;
        }
        Ok(store)
    }

    /// Opens an existing gryt database for reading only, never writing or migrating it;
    /// `None` when there is none, or it is not one this gryt can read as it is.
    pub fn open_read_only(path: &Path) -> Option<Store> {
        if !path.is_file() {
            return None;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .ok()?;
        (version == schema_version()).then_some(Store { conn })
    }

    /// Creates a new database file (which must not exist) at the current schema.
    pub fn create(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| CliError::io(format!("cannot create {}", path.display()), e))?;
        let mut store = Store { conn };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Creates a database at the current schema and, in the same transaction, runs `load`
    /// (a fresh clone's committed contracts). Nothing is left behind when it fails. When
    /// another gryt created the database meanwhile, `load` is not run again.
    pub fn create_with(
        path: &Path,
        load: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
    ) -> Result<Store> {
        let existed = path.exists();
        let result = (|| -> Result<Store> {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| CliError::io(format!("cannot create {}", path.display()), e))?;
            let mut store = Store { conn };
            store.configure()?;
            let tx = store
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if current == 0 {
                for (name, sql) in MIGRATIONS {
                    tx.execute_batch(sql)
                        .map_err(|e| CliError::error(format!("migration {name} failed: {e}")))?;
                }
                tx.execute_batch(&format!("PRAGMA user_version = {}", schema_version()))?;
                load(&tx)?;
            }
            tx.commit()?;
            Ok(store)
        })();
        match result {
            Ok(store) if existed => {
                drop(store);
                Store::open(path)
            }
            Ok(store) => Ok(store),
            Err(e) => {
                if !existed {
                    for suffix in ["", "-wal", "-shm", "-journal"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                }
                Err(e)
            }
        }
    }

    fn configure(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(std::time::Duration::from_secs(10))?;
        self.conn
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current < schema_version() {
            for (name, sql) in &MIGRATIONS[current as usize..] {
                tx.execute_batch(sql)
                    .map_err(|e| CliError::error(format!("migration {name} failed: {e}")))?;
            }
            tx.execute_batch(&format!("PRAGMA user_version = {}", schema_version()))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Starts a write transaction (BEGIN IMMEDIATE: the write lock is taken up front,
    /// so two gryt processes never interleave a read-modify-write).
    pub fn write(&mut self) -> Result<rusqlite::Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

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

fn bad_row(what: &str) -> rusqlite::Error {
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
fn proven_counts(conn: &Connection) -> Result<std::collections::HashMap<String, i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ev.generation_id, ev.change_id, ch.type, ch.title, ev.rc, ev.status = 'pass', \
           ev.fingerprint \
         FROM evolutions ev JOIN changes ch \
           ON ch.generation_id = ev.generation_id AND ch.change_id = ev.change_id \
         WHERE ev.status IN ('pass', 'fail') \
         ORDER BY ev.generation_id, ev.change_id",
    )?;
    type Row = (String, String, String, String, i64, bool, Option<String>);
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<Row>>>()?;
    let mut counts = std::collections::HashMap::new();
    // Rows come grouped by (generation, change): one verdict per group.
    for group in rows.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        let (gen, change, change_type, title, ..) = &group[0];
        let fp = gryt_core::change::fingerprint(change, change_type, title);
        let completed = group
            .iter()
            .map(|(.., rc, passed, f)| (u32::try_from(*rc).unwrap_or(0), *passed, f.as_deref()));
        if gryt_core::gate::proven_without_commit(&fp, completed) {
            *counts.entry(gen.clone()).or_insert(0) += 1;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under migrations/ must be registered, in order (no forgotten files).
    #[test]
    fn every_migration_is_registered() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let registered: Vec<&str> = MIGRATIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(files, registered);
        for (i, name) in registered.iter().enumerate() {
            assert!(name.starts_with(&format!("{:04}_", i + 1)), "{name}");
        }
    }

    /// 0008_version_taken: a "version taken" conflict recorded before it (only in words)
    /// becomes the typed cause; other conflicts do not.
    #[test]
    fn the_version_taken_migration_types_recorded_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gryt.db");
        let before = MIGRATIONS
            .iter()
            .position(|(n, _)| *n == "0008_version_taken.sql")
            .unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            for (_, sql) in &MIGRATIONS[..before] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(&format!(
                r#"PRAGMA user_version = {before};
                 INSERT INTO generations (generation_id, version, created_at, updated_at,
                   sync_status, conflict_kinds)
                   VALUES ('g1', 'v1.0.0', 't', 't', 'conflict',
                     '[{{"kind":"add-add","item":"version exists in the cloud"}}]'),
                          ('g2', 'v2.0.0', 't', 't', 'conflict',
                     '[{{"kind":"modify-modify","item":"description"}}]');"#
            ))
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let causes: Vec<(String, sync::ConflictCause)> = sync::conflicts(&store.conn)
            .unwrap()
            .into_iter()
            .map(|c| (c.version, c.cause))
            .collect();
        assert_eq!(
            causes,
            vec![
                ("v1.0.0".to_string(), sync::ConflictCause::VersionTaken),
                ("v2.0.0".to_string(), sync::ConflictCause::Edits),
            ]
        );
    }

    /// Renaming a generation settles a "version taken" conflict by its cause, whatever the
    /// conflict's words; a conflict of edits stays.
    #[test]
    fn renaming_settles_a_taken_version_by_its_cause_not_its_words() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&dir.path().join("gryt.db")).unwrap();
        let c = &store.conn;
        c.execute_batch(
            "INSERT INTO generations (generation_id, version, created_at, updated_at)
               VALUES ('g1', 'v1.0.0', 't', 't'), ('g2', 'v2.0.0', 't', 't');",
        )
        .unwrap();
        let worded = |item: &str| {
            vec![gryt_core::merge::Conflict {
                kind: gryt_core::merge::ConflictKind::AddAdd,
                item: item.to_string(),
            }]
        };
        let taken = sync::ConflictCause::VersionTaken;
        sync::set_conflict(c, "g1", None, &worded("any wording at all"), taken).unwrap();
        let edits = sync::ConflictCause::Edits;
        sync::set_conflict(c, "g2", None, &worded("version exists in the cloud"), edits).unwrap();
        rename_generation(c, "g1", "v1.0.1", "t2").unwrap();
        rename_generation(c, "g2", "v2.0.1", "t2").unwrap();
        let status = |id: &str| -> String {
            c.query_row(
                "SELECT sync_status FROM generations WHERE generation_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(status("g1"), "not_synced");
        assert_eq!(status("g2"), "conflict");
        assert_eq!(sync::conflict_cause(c, "g1").unwrap(), edits);
    }

    /// 0005_cancelled rebuilds evolutions, pipeline_runs and step_outputs: a database written
    /// before it keeps every row and every link, and takes 'cancelled' afterwards.
    #[test]
    fn the_cancelled_migration_keeps_rows_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gryt.db");
        let schema3 = MIGRATIONS
            .iter()
            .position(|(n, _)| *n == "0005_cancelled.sql")
            .unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
            for (_, sql) in &MIGRATIONS[..schema3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(&format!(
                "PRAGMA user_version = {schema3};
                 INSERT INTO generations (generation_id, version, created_at, updated_at)
                   VALUES ('g1', 'v1.0.0', 't', 't');
                 INSERT INTO evolutions (evolution_id, generation_id, change_id, rc, code_name,
                   owner, status, started_at, push_key)
                   VALUES ('e1', 'g1', 'FEAT-1', 1, 'calm-keen-otter', 'alice', 'pass', 't', 'k1');
                 INSERT INTO pipeline_runs (run_id, pipeline, evolution_id, status, started_at,
                   finished_at, duration_ms) VALUES ('r1', 'ci', 'e1', 'pass', 't', 't', 5);
                 INSERT INTO step_outputs (run_id, position, name, command, status, exit_code,
                   stdout) VALUES ('r1', 0, 'build', 'make', 'pass', 0, 'built');"
            ))
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let c = &store.conn;
        let one = |sql: &str| -> String { c.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            one("SELECT status || push_key FROM evolutions WHERE evolution_id = 'e1'"),
            "passk1"
        );
        assert_eq!(
            one("SELECT evolution_id FROM pipeline_runs WHERE run_id = 'r1'"),
            "e1"
        );
        assert_eq!(
            one("SELECT stdout FROM step_outputs WHERE run_id = 'r1'"),
            "built"
        );
        c.execute_batch(
            "UPDATE evolutions SET status = 'cancelled';
             UPDATE pipeline_runs SET status = 'cancelled';
             UPDATE step_outputs SET status = 'cancelled';",
        )
        .unwrap();
        // The constraints and links still hold.
        assert!(c
            .execute("UPDATE evolutions SET status = 'aborted'", [])
            .is_err());
        assert!(c
            .execute(
                "INSERT INTO pipeline_runs (run_id, pipeline, evolution_id, status, started_at, \
                 finished_at, duration_ms) VALUES ('r2', 'ci', 'nope', 'pass', 't', 't', 1)",
                [],
            )
            .is_err());
        c.execute("DELETE FROM pipeline_runs", []).unwrap();
        assert_eq!(one("SELECT COUNT(*) || '' FROM step_outputs"), "0");
        let indexes = one(
            "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master \
             WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name)",
        );
        assert_eq!(
            indexes,
            "evolutions_by_code_name,evolutions_by_generation,pipeline_runs_by_evolution"
        );
        assert!(
            one("SELECT sql FROM sqlite_master WHERE name = 'pipeline_runs'")
                .contains("REFERENCES \"evolutions\"")
        );
    }
}
