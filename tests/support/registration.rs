//! "No forgotten files": each integration test binary (`tests/NAME.rs`) lists its modules
//! under `tests/NAME/` as `mod` lines; this fails the binary when a file there is not listed.
//! Included by every binary with `#[path = "support/registration.rs"] mod registration;`.

use std::path::Path;

/// Asserts that every file under `tests/<binary>/` is a `.rs` file registered as
/// `mod NAME;` (or `pub mod NAME;`) in `source`, the text of `tests/<binary>.rs`.
pub fn assert_every_file_registered(source: &str, binary: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(binary);
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("read the test directory") {
        let path = entry.expect("dir entry").path();
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
    assert!(
        missing.is_empty(),
        "files under tests/{binary}/ not registered as `mod NAME;` in tests/{binary}.rs: {missing:?}"
    );
}
