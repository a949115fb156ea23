//! gryt-server's integration suite: one binary, every module listed here (a test checks
//! that no file in tests/server/ is left out). Each story runs on SQLite and, when
//! `GRYT_TEST_POSTGRES` names a PostgreSQL server, on PostgreSQL in a fresh database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    clippy::print_stdout
)]

mod admin;
mod auth_refusals;
mod bad_requests;
mod cancelled;
mod common;
mod completion;
mod compression;
mod feed;
mod idempotency;
mod limits;
mod literals;
mod netlimits;
mod ops;
mod proofs;
mod race;
mod records;
mod scopes;
mod secrets;
mod security;
mod storage;
mod story;
mod tls;

#[test]
fn every_test_file_is_registered() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/server");
    let this = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/server/main.rs"),
    )
    .unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name == "main.rs" {
            continue;
        }
        let module = name.trim_end_matches(".rs");
        assert!(
            this.contains(&format!("mod {module};")),
            "tests/server/{name} is not registered"
        );
    }
}

#[test]
fn every_migration_is_embedded() {
    let embedded = gryt_server::db::migrate::embedded_names();
    for dialect in ["sqlite", "postgres"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        files.sort();
        assert_eq!(
            files, embedded,
            "{dialect} migrations on disk differ from the embedded list"
        );
    }
}
