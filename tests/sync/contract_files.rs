//! Contract files and pull: a file that exists is kept current (so `gryt generation update`
//! never re-imports a stale copy over a teammate's edit); a pull creates no new files.

use super::harness::team_of;

#[test]
fn pull_rewrites_existing_contract_files_and_creates_none() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v8.0.0"]).ok();
    a.add_change("v8.0.0", "FEAT-1", "add", "First");
    a.run(&["sync", "push"]).ok();
    assert!(a.contract("v8.0.0").exists());

    b.run(&["sync", "pull"]).ok();
    assert!(!b.contract("v8.0.0").exists());
    b.add_change("v8.0.0", "BUG-2", "fix", "Second");
    b.run(&["sync", "push"]).ok();

    a.run(&["sync", "pull"]).ok();
    let text = std::fs::read_to_string(a.contract("v8.0.0")).expect("alice's contract");
    assert!(text.contains("BUG-2"), "{text}");
    // Updating from the (current) file keeps Bob's change.
    a.run(&["generation", "update", "v8.0.0"]).ok();
    let shown = a.show("v8.0.0");
    assert_eq!(
        shown["generation"]["changes"].as_array().map(Vec::len),
        Some(2),
        "{shown:#}"
    );
}
