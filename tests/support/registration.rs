//! "No forgotten files" and "no second harness": each integration test binary
//! (`tests/NAME.rs`) lists its modules under `tests/NAME/` as `mod` lines; the shared layer
//! lists its own in `tests/support/mod.rs`; every binary (and bench) builds on the shared
//! layer, and only the shared layer starts the binary, binds a socket or starts a server.

use std::path::{Path, PathBuf};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Asserts that every file under `tests/<binary>/` is a `.rs` file registered as
/// `mod NAME;` (or `pub mod NAME;`) in `source`, the text of `tests/<binary>.rs`.
pub fn assert_every_file_registered(source: &str, binary: &str) {
    let missing = unregistered(&tests_dir().join(binary), source);
    assert!(
        missing.is_empty(),
        "files under tests/{binary}/ not registered as `mod NAME;` in tests/{binary}.rs: {missing:?}"
    );
}

/// The files of `dir` (but `mod.rs`) not listed as `mod NAME;` in `source`.
fn unregistered(dir: &Path, source: &str) -> Vec<String> {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the test directory") {
        let path = entry.expect("dir entry").path();
        if path.file_name().and_then(|n| n.to_str()) == Some("mod.rs") {
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            missing.push(format!("{} (not a .rs file)", path.display()));
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name");
        let registered = source.lines().any(|l| {
            let l = l.trim();
            l == format!("mod {stem};") || l == format!("pub mod {stem};")
        });
        if !registered {
            missing.push(path.display().to_string());
        }
    }
    missing
}

/// What only the shared layer may do, by the text that does it.
const SHARED_ONLY: &[(&str, &str)] = &[
    ("CARGO_BIN_EXE_gryt", "runs the gryt binary itself"),
    ("env_clear()", "builds its own hermetic environment"),
    ("TcpListener::bind", "binds its own test server or proxy"),
    ("TestServer::start", "starts its own test server"),
    ("fn read_message", "parses HTTP itself"),
    ("struct Out", "has its own command record"),
];

/// Every file of `tests/support/` is listed in its `mod.rs`; every test binary and bench
/// declares `mod support;`; and no test or bench file outside `tests/support/` does what
/// only the shared layer may (see `SHARED_ONLY`).
pub fn assert_one_support_layer() {
    let support = tests_dir().join("support");
    let listing = std::fs::read_to_string(support.join("mod.rs")).expect("read support/mod.rs");
    let missing = unregistered(&support, &listing);
    assert!(
        missing.is_empty(),
        "files under tests/support/ not registered in tests/support/mod.rs: {missing:?}"
    );
    let benches = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let mut problems = Vec::new();
    for dir in [tests_dir(), benches.clone()] {
        for entry in std::fs::read_dir(&dir).expect("read a target directory") {
            let path = entry.expect("dir entry").path();
            if path.extension().and_then(|e| e.to_str()) == Some("rs") {
                let text = std::fs::read_to_string(&path).expect("read a test binary");
                if !text.lines().any(|l| l.trim() == "mod support;") {
                    problems.push(format!(
                        "{} does not declare `mod support;`",
                        path.display()
                    ));
                }
            }
        }
    }
    let mut files = Vec::new();
    collect_rs(&tests_dir(), &mut files);
    collect_rs(&benches, &mut files);
    for path in files.iter().filter(|p| !p.starts_with(&support)) {
        let text = std::fs::read_to_string(path).expect("read a test file");
        for (needle, what) in SHARED_ONLY {
            if text.contains(needle) {
                problems.push(format!(
                    "{} {what} ({needle:?}): use tests/support/",
                    path.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            out.push(path);
        }
    }
}
