//! Per-dialect migrations embedded in the binary, applied in order, append-only. A database
//! whose schema is newer than this server knows is refused.

use super::{transaction, Conn, Dialect, TxMode, Val};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sqlite: include_str!("../../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "evolution_uuid_per_scope",
        sqlite: include_str!("../../migrations/sqlite/0002_evolution_uuid_per_scope.sql"),
        postgres: include_str!("../../migrations/postgres/0002_evolution_uuid_per_scope.sql"),
    },
    Migration {
        version: 3,
        name: "team_names_per_owner",
        sqlite: include_str!("../../migrations/sqlite/0003_team_names_per_owner.sql"),
        postgres: include_str!("../../migrations/postgres/0003_team_names_per_owner.sql"),
    },
    Migration {
        version: 4,
        name: "proofs",
        sqlite: include_str!("../../migrations/sqlite/0004_proofs.sql"),
        postgres: include_str!("../../migrations/postgres/0004_proofs.sql"),
    },
    Migration {
        version: 5,
        name: "user_admin",
        sqlite: include_str!("../../migrations/sqlite/0005_user_admin.sql"),
        postgres: include_str!("../../migrations/postgres/0005_user_admin.sql"),
    },
];

/// The schema version this build of the server expects.
pub fn latest_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The file names of every embedded migration (for the "no forgotten files" test).
pub fn embedded_names() -> Vec<String> {
    MIGRATIONS
        .iter()
        .map(|m| format!("{:04}_{}.sql", m.version, m.name))
        .collect()
}

pub fn migrate(conn: &mut dyn Conn, dialect: Dialect) -> anyhow::Result<()> {
    conn.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    )
    .map_err(|e| anyhow::anyhow!("cannot prepare the schema table: {e}"))?;
    transaction(conn, TxMode::Write, |c| -> anyhow::Result<()> {
        if dialect == Dialect::Postgres {
            // Several servers may start at once against one PostgreSQL.
            c.exec("SELECT pg_advisory_xact_lock(7469727401)", &[])?;
        }
        let current = c
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )?
            .int(0)?;
        let latest = latest_version();
        if current > latest {
            anyhow::bail!(
                "the database schema is version {current}, newer than this server understands \
                 ({latest}); upgrade gryt before serving this database"
            );
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            let sql = match dialect {
                Dialect::Sqlite => m.sqlite,
                Dialect::Postgres => m.postgres,
            };
            c.batch(sql).map_err(|e| {
                anyhow::anyhow!("migration {:04}_{} failed: {e}", m.version, m.name)
            })?;
            c.exec(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                &[
                    Val::Int(m.version),
                    Val::from(m.name),
                    Val::Text(crate::util::now_rfc3339()),
                ],
            )?;
        }
        Ok(())
    })
}
