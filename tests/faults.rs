//! Faults between the CLI and the server, and bad input on the client's side (issue 5):
//! a fault-injecting TCP proxy between the real `gryt` binary and a real
//! `gryt_server::TestServer` (lost answers after commit, resets mid-body, stalls past the
//! client's timeout, 503 storms with and without `Retry-After`), a scripted fake server
//! for garbage answers, and a table of bad local inputs (config files, arguments, contract
//! files, database files). Each bad input must end with a clear `Error: ...`, its documented
//! exit code, no panic, and nothing changed.
//!
//! One integration test binary: every file under `tests/faults/` is a module listed here,
//! and `every_test_file_is_registered` fails when one is forgotten.

mod faults {
    pub mod fake;
    pub mod harness;
    pub mod proxy;

    mod bad_answers;
    mod bad_local_input;
    mod dropped_response;
    mod reset_and_stall;
    mod retry_after;
    mod storm;
}

#[test]
fn every_test_file_is_registered() {
    let this = include_str!("faults.rs");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faults");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read tests/faults") {
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
        "files under tests/faults/ not registered as `mod NAME;` in tests/faults.rs: {missing:?}"
    );
}
