//! End-to-end tests of the local workflow: the real `gryt` binary in temporary
//! directories with a cleared environment and a fixed clock (`Workspace::local`, from the
//! shared layer in `tests/support/`; the local-workflow helpers are in `cli/harness.rs`).
//!
//! One integration test binary: every file under `tests/cli/` is a module listed here, and
//! `every_test_file_is_registered` fails when one is forgotten.

mod cli {
    pub mod harness;

    mod bad_input;
    mod check;
    mod config;
    mod contract_bytes;
    mod contract_files;
    mod demo;
    mod evolution;
    mod generation;
    mod init;
    mod output;
    mod promote;
    mod run;
    mod terminal;
}

mod support;

#[test]
fn every_test_file_is_registered() {
    support::registration::assert_every_file_registered(include_str!("cli.rs"), "cli");
}

/// One test-support layer: its files are registered, every binary declares it, and no
/// test file outside it runs the binary, builds an environment, binds a socket, starts a
/// server, parses HTTP or records a command on its own.
#[test]
fn every_test_binary_builds_on_the_one_support_layer() {
    support::registration::assert_one_support_layer();
}

#[test]
fn every_migration_is_embedded_in_order() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let store =
        std::fs::read_to_string(root.join("src/store/mod.rs")).expect("read src/store/mod.rs");
    let mut names: Vec<String> = std::fs::read_dir(root.join("migrations"))
        .expect("read migrations/")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut last = 0;
    for (i, name) in names.iter().enumerate() {
        assert!(
            name.ends_with(".sql"),
            "migrations/{name} is not a .sql file"
        );
        assert_eq!(
            name.get(..5),
            Some(format!("{:04}_", i + 1).as_str()),
            "migrations/ must be numbered 0001_, 0002_, ... without gaps: {names:?}"
        );
        let at = store
            .find(&format!("\"{name}\""))
            .unwrap_or_else(|| panic!("migrations/{name} is not listed in src/store/mod.rs"));
        assert!(
            at > last,
            "migrations/{name} is listed out of order in src/store/mod.rs"
        );
        last = at;
    }
}
