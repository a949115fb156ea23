//! End-to-end tests of sync: a real gryt server (`gryt_server::TestServer` on 127.0.0.1:0,
//! SQLite in a temporary directory), users and a team made on it, and separate developer
//! workspaces each running the real `gryt` binary with a cleared environment (see
//! `sync/harness.rs`). The scenarios are the "Must show" list of issue 4.
//!
//! One integration test binary: every file under `tests/sync/` is a module listed here, and
//! `every_test_file_is_registered` fails when one is forgotten.

mod sync {
    pub mod harness;

    mod auth_and_config;
    mod contract_files;
    mod coordinated_release;
    mod deleted_draft;
    mod feed_order;
    mod offline;
    mod promotion_race;
    mod pull_keeps_local_work;
    mod same_version;
    mod watch_and_log;
}

#[test]
fn every_test_file_is_registered() {
    let this = include_str!("sync.rs");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sync");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read tests/sync") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            missing.push(format!("{} (not a .rs file)", path.display()));
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name");
        let registered = this.lines().any(|l| {
            let l = l.trim();
            l == format!("mod {stem};") || l == format!("pub mod {stem};")
        });
        if !registered {
            missing.push(path.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "files under tests/sync/ not registered as `mod NAME;` in tests/sync.rs: {missing:?}"
    );
}
