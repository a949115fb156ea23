//! `gryt check` as a git pre-commit hook: a real git repository whose hook runs the real
//! binary rejects a contract that breaks the rules and any edit of a promoted contract,
//! and never touches the database (its bytes and mtime), which it does not even need.

use super::harness::{add_change, prove_all, write_script, Workspace};
use crate::support::gryt_bin;
use std::path::Path;

/// The database file's bytes and modification time.
fn db_state(path: &Path) -> (Vec<u8>, std::time::SystemTime) {
    let bytes = std::fs::read(path).expect("read db");
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("db mtime");
    (bytes, mtime)
}

/// `git commit` of everything; returns (success, stdout + stderr).
fn commit(t: &Workspace, message: &str) -> (bool, String) {
    t.git(&["add", "-A"]);
    let out = t
        .git_command(&["commit", "-q", "-m", message])
        .output()
        .expect("run git commit");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_pre_commit_hook_rejects_bad_and_promoted_edits_without_touching_the_database() {
    let t = Workspace::local_git_repo();
    write_script(
        &t.root().join(".git/hooks/pre-commit"),
        &format!("#!/bin/sh\nexec '{}' check\n", gryt_bin()),
    );
    t.run(&["generation", "new", "v1.0.0"]).clean();
    add_change(&t, "v1.0.0", "FEAT-1", "add", "Login");
    t.write_pipeline("ci", "steps:\n  - name: t\n    run: \"true\"\n");
    let (ok, out) = commit(&t, "contract");
    assert!(ok, "{out}");

    // A contract whose version is not its file name, and a broken pipeline.
    t.run(&["generation", "new", "v1.1.0"]).clean();
    let db = t.db();
    let before = db_state(&db);
    let text = t.read_contract("v1.1.0").replace("v1.1.0", "v1.2.0");
    t.write_contract("v1.1.0", &text);
    t.write_pipeline("bad", "steps:\n  - name: t\n    runn: x\n");
    let (ok, out) = commit(&t, "bad contract");
    assert!(!ok, "the hook must reject the commit\n{out}");
    assert!(
        out.contains(".gryt/generations/v1.1.0.yaml:1:1:")
            && out.contains("declares version v1.2.0"),
        "{out}"
    );
    assert!(out.contains(".gryt/pipelines/bad.yaml:"), "{out}");
    assert!(db_state(&db) == before, "gryt check changed the database");
    std::fs::remove_file(t.root().join(".gryt/pipelines/bad.yaml")).expect("rm");
    t.run(&["generation", "delete", "v1.1.0"]).clean();

    // Promote, commit the promoted contract, then edit it.
    prove_all(&t, "v1.0.0");
    t.run(&["promote", "v1.0.0"]).clean();
    let promoted = t.read_contract("v1.0.0");
    assert!(promoted.contains("status: promoted"), "{promoted}");
    let (ok, out) = commit(&t, "release");
    assert!(ok, "{out}");
    let before = db_state(&db);
    t.write_contract(
        "v1.0.0",
        &format!("{promoted}- id: BUG-9\n  type: fix\n  title: Sneaked in\n"),
    );
    let (ok, out) = commit(&t, "edit a release");
    assert!(!ok, "the hook must reject the commit\n{out}");
    assert!(
        out.contains(".gryt/generations/v1.0.0.yaml:1:1: v1.0.0 is promoted"),
        "{out}"
    );
    assert!(db_state(&db) == before, "gryt check changed the database");

    // Without any database (a fresh clone), git HEAD's promoted copy still protects it.
    std::fs::rename(&db, t.root().join("gryt.db.away")).expect("move db");
    let out = t.run(&["check"]);
    out.err(1, &["1 of 2 files failed the check"]);
    out.stdout_has("v1.0.0 is promoted (in git HEAD)");
    assert!(!db.exists(), "gryt check must not create a database");
    // Removing the status line does not get around it.
    t.write_contract("v1.0.0", &promoted.replace("status: promoted\n", ""));
    t.run(&["check", ".gryt/generations/v1.0.0.yaml"])
        .err(1, &["failed the check"]);
    t.write_contract("v1.0.0", &promoted);
    t.run(&["check"]).clean();
    assert!(!db.exists());
}
