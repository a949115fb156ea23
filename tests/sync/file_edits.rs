//! A contract file edited by hand is never lost to a pull: the pull takes it in as a local
//! edit before merging the server's copy, so a teammate's edit and this one both survive;
//! a file it cannot read stops the pull and stays as it is.

use super::harness::{change_ids, team_of, Workspace};

/// Adds a change to the contract file by hand (no gryt command).
fn edit_file_by_hand(dev: &Workspace, version: &str, id: &str, title: &str) {
    let text = dev.read_contract(version);
    assert!(text.trim_end().ends_with(|c: char| c != ']'), "{text}");
    let edited = format!("{text}- id: {id}\n  type: fix\n  title: {title}\n");
    std::fs::write(dev.contract(version), edited).expect("edit the contract");
}

#[test]
fn update_in_cloud_mode_keeps_the_file_edit_and_the_teammates() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    for d in [a, b] {
        d.run(&["config", "execution_mode", "cloud"]).ok();
    }
    a.run(&["generation", "new", "v2.0.0"]).ok();
    a.add_change("v2.0.0", "FEAT-1", "add", "First");
    b.run(&["generation", "export", "v2.0.0"]).ok();
    // Bob edits his contract file; meanwhile Alice's unrelated edit reaches the server.
    edit_file_by_hand(b, "v2.0.0", "BUG-2", "Bob's fix");
    a.add_change("v2.0.0", "FEAT-3", "add", "Alice's feature");
    // The automatic pull before `update` must not overwrite Bob's file.
    b.run(&["generation", "update", "v2.0.0"]).ok();
    let text = b.read_contract("v2.0.0");
    assert!(text.contains("BUG-2") && text.contains("FEAT-3"), "{text}");
    let mine = change_ids(&b.show("v2.0.0")["generation"]);
    assert_eq!(mine, ["BUG-2", "FEAT-1", "FEAT-3"], "{text}");
    let server = change_ids(&cloud.generation("alice", &team, "v2.0.0"));
    assert_eq!(server, mine);
}

#[test]
fn pull_and_push_in_hybrid_mode_keep_the_file_edit() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v2.1.0"]).ok();
    a.add_change("v2.1.0", "FEAT-1", "add", "First");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    b.run(&["generation", "export", "v2.1.0"]).ok();

    edit_file_by_hand(b, "v2.1.0", "BUG-2", "Bob's fix");
    a.add_change("v2.1.0", "FEAT-3", "add", "Alice's feature");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    let text = b.read_contract("v2.1.0");
    assert!(text.contains("BUG-2") && text.contains("FEAT-3"), "{text}");
    b.run(&["generation", "update", "v2.1.0"]).ok();
    assert_eq!(
        change_ids(&b.show("v2.1.0")["generation"]),
        ["BUG-2", "FEAT-1", "FEAT-3"]
    );

    // `sync push` pulls first: a second edit made by hand survives it too.
    edit_file_by_hand(b, "v2.1.0", "BUG-4", "Another fix");
    a.run(&["sync", "pull"]).ok();
    a.add_change("v2.1.0", "FEAT-5", "add", "More");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "push"]).ok();
    let want = ["BUG-2", "BUG-4", "FEAT-1", "FEAT-3", "FEAT-5"];
    assert_eq!(change_ids(&b.show("v2.1.0")["generation"]), want);
    assert_eq!(
        change_ids(&cloud.generation("alice", &team, "v2.1.0")),
        want
    );
    let text = b.read_contract("v2.1.0");
    assert!(text.contains("BUG-4") && text.contains("FEAT-5"), "{text}");
}

#[test]
fn a_file_the_pull_cannot_read_stops_it_untouched() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v2.2.0"]).ok();
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    b.run(&["generation", "export", "v2.2.0"]).ok();
    a.add_change("v2.2.0", "FEAT-1", "add", "First");
    a.run(&["sync", "push"]).ok();
    let broken = b.read_contract("v2.2.0") + "changes: [\n";
    std::fs::write(b.contract("v2.2.0"), &broken).expect("break the file");
    let out = b.run(&["sync", "pull"]);
    out.err(3, &["v2.2.0.yaml", "left the file as it is"]);
    assert_eq!(b.read_contract("v2.2.0"), broken);
    assert_eq!(
        b.show("v2.2.0")["generation"]["changes"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}
