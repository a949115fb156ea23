//! End-to-end tests of sync: a real gryt server (`gryt_server::TestServer` on 127.0.0.1:0,
//! SQLite in a temporary directory), users and a team made on it, and separate developer
//! workspaces each running the real `gryt` binary with a cleared environment (the shared
//! layer in `tests/support/`; the team helpers in `sync/harness.rs`). The scenarios are
//! the "Must show" list of issue 4.
//!
//! One integration test binary: every file under `tests/sync/` is a module listed here, and
//! `every_test_file_is_registered` fails when one is forgotten.

mod sync {
    pub mod harness;

    mod auth_and_config;
    mod cancel_and_provisional;
    mod ci_job;
    mod clones;
    mod compression;
    mod contract_files;
    mod coordinated_release;
    mod credentials;
    mod deleted_draft;
    mod feed_order;
    mod file_edits;
    mod offline;
    mod promotion_race;
    mod pull_keeps_local_work;
    mod refused_work;
    mod same_version;
    mod server_restored;
    mod watch_and_log;
}

mod support;

#[test]
fn every_test_file_is_registered() {
    support::registration::assert_every_file_registered(include_str!("sync.rs"), "sync");
}
