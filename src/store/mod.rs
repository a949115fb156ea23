//! The local SQLite store (`.gryt/gryt.db`): opening with checks, migrations, and the
//! queries the ops use. Writes happen inside the caller's transaction.

mod evolutions;
mod generations;
pub mod push_state;
pub mod sync;

pub use evolutions::*;
pub use generations::*;

use crate::error::{CliError, Result};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
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
    (
        "0009_proof_index.sql",
        include_str!("../../migrations/0009_proof_index.sql"),
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
