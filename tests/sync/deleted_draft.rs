//! Must show 6: a draft deleted in one workspace disappears from another at its next pull;
//! if that workspace had edited it, it gets a delete-modify conflict instead.

use super::harness::{change_ids, team_of};

#[test]
fn a_deleted_draft_disappears_on_pull_or_conflicts_when_edited() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    for v in ["v6.0.0", "v6.1.0"] {
        a.run(&["generation", "new", v]).ok();
        a.add_change(v, "FEAT-1", "add", "Work");
    }
    a.run(&["sync", "push"]).ok().stdout_has("2 created");
    b.run(&["sync", "pull"]).ok().stdout_has("2 new");
    // A pull creates no contract files; Bob writes the one he wants to look at.
    assert!(!b.contract("v6.0.0").exists());
    b.run(&["generation", "export", "v6.0.0"]).ok();
    assert!(b.contract("v6.0.0").exists());

    // Untouched by Bob: deleted on Alice's push, gone from Bob after his pull.
    a.run(&["generation", "delete", "v6.0.0"]).ok();
    let st = a.sync_status();
    assert_eq!(
        st["pending_deletes"],
        serde_json::json!(["v6.0.0"]),
        "{st:#}"
    );
    a.run(&["sync", "push"]).ok().stdout_has("1 deleted");
    assert_eq!(cloud.generations("alice", &team).len(), 1);
    b.run(&["sync", "pull"]).ok().stdout_has("1 deleted");
    b.run(&["generation", "show", "v6.0.0"])
        .fails(1, &["v6.0.0"]);
    assert!(!b.contract("v6.0.0").exists());

    // Edited by Bob: a delete-modify conflict, his copy kept.
    b.add_change("v6.1.0", "BUG-2", "fix", "Bob's fix");
    a.run(&["generation", "delete", "v6.1.0"]).ok();
    a.run(&["sync", "push"]).ok().stdout_has("1 deleted");
    assert_eq!(cloud.generations("alice", &team).len(), 0);
    let out = b.run(&["sync", "pull"]);
    out.fails(3, &["conflict"]).stdout_has("delete-modify");
    let mine = b.show("v6.1.0");
    assert_eq!(
        mine["generation"]["changes"].as_array().map(Vec::len),
        Some(2),
        "{mine:#}"
    );
    let st = b.sync_status();
    assert_eq!(st["conflicts"][0]["version"], "v6.1.0", "{st:#}");
    assert_eq!(
        st["conflicts"][0]["conflicts"][0]["kind"], "delete-modify",
        "{st:#}"
    );
    let out = b.run(&["sync", "status"]);
    assert_eq!(out.code, 3, "{out:?}");
    // The deletion is not silently undone by a push.
    b.run(&["sync", "push"]).fails(3, &["v6.1.0"]);
    assert_eq!(cloud.generations("alice", &team).len(), 0);
    // Keeping ours onto a deleted record is refused with a way out; theirs deletes it.
    b.run(&["sync", "resolve", "v6.1.0", "--ours"])
        .fails(1, &["deleted"]);
    b.run(&["sync", "resolve", "v6.1.0", "--theirs"]).ok();
    b.run(&["generation", "show", "v6.1.0"])
        .fails(1, &["v6.1.0"]);
    assert!(!b.contract("v6.1.0").exists());
    b.run(&["sync", "status"]).ok().stdout_has("Conflicts: 0");
}

#[test]
fn a_deleted_draft_with_unpushed_local_evolutions_is_a_conflict_not_a_loss() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v6.2.0"]).ok();
    a.add_change("v6.2.0", "FEAT-1", "add", "Work");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    // Bob proves the change without syncing it: the generation itself is untouched.
    b.run(&["config", "execution_mode", "local"]).ok();
    let tag = b.prove("v6.2.0", "FEAT-1");
    a.run(&["generation", "delete", "v6.2.0"]).ok();
    a.run(&["sync", "push"]).ok().stdout_has("1 deleted");
    assert_eq!(cloud.generations("alice", &team).len(), 0);

    let out = b.run(&["sync", "pull"]);
    out.fails(3, &["conflict"]).stdout_has("delete-modify");
    let ev = b.json(&["evolution", "show", &tag]);
    assert_eq!(ev["evolution"]["status"], "pass", "{ev:#}");
    b.run(&["generation", "show", "v6.2.0"]).ok();
    let st = b.sync_status();
    assert_eq!(
        st["conflicts"][0]["conflicts"][0]["kind"], "delete-modify",
        "{st:#}"
    );
    // Taking the deletion drops the proofs, by the user's choice.
    b.run(&["sync", "resolve", "v6.2.0", "--theirs"]).ok();
    b.run(&["evolution", "show", &tag]).fails(1, &[&tag]);
    b.run(&["sync", "status"]).ok().stdout_has("Conflicts: 0");
}

/// Found by the model test (seeds 6062 and 7286). A draft deleted here, the deletion not
/// pushed yet, while a teammate proved one change and added another: the pull brings the
/// teammate's copy back as a delete-modify conflict. It must come back with its evolutions
/// (they lie behind the cursor: the local deletion took them), and the conflict must stay
/// until the user decides, even across the full pull that fetches them.
#[test]
fn a_draft_deleted_here_and_changed_there_comes_back_whole_and_stays_in_conflict() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v6.3.0"]).ok();
    a.add_change("v6.3.0", "FEAT-1", "add", "Work");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    b.prove("v6.3.0", "FEAT-1");
    b.run(&["sync", "push"]).ok();
    a.run(&["sync", "pull"]).ok();
    assert_eq!(
        a.json(&["evolution", "list", "v6.3.0"])["evolutions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    a.run(&["config", "execution_mode", "local"]).ok();
    a.run(&["generation", "delete", "v6.3.0"]).ok();
    b.add_change("v6.3.0", "FEAT-2", "add", "More work");
    b.run(&["sync", "push"]).ok();

    a.run(&["sync", "pull"])
        .fails(3, &["conflict"])
        .stdout_has("delete-modify");
    // The next pull starts over to fetch the evolutions; the decision is still pending.
    a.run(&["sync", "pull"]).ok().stdout_has("1 evolution (");
    let evs = a.json(&["evolution", "list", "v6.3.0"]);
    assert_eq!(
        evs["evolutions"].as_array().map(Vec::len),
        Some(1),
        "{evs:#}"
    );
    assert_eq!(evs["evolutions"][0]["owner"], "bob", "{evs:#}");
    let st = a.sync_status();
    assert_eq!(st["conflicts"][0]["version"], "v6.3.0", "{st:#}");
    a.run(&["sync", "push"]).fails(3, &["v6.3.0"]);

    // Changed there once more (model seed 8063): the copy here follows, the decision stays.
    b.add_change("v6.3.0", "FEAT-3", "add", "Even more work");
    b.run(&["sync", "push"]).ok();
    a.run(&["sync", "pull"]).fails(3, &["conflict"]);
    let st = a.sync_status();
    assert_eq!(st["conflicts"][0]["version"], "v6.3.0", "{st:#}");
    assert_eq!(
        st["conflicts"][0]["conflicts"][0]["kind"], "delete-modify",
        "{st:#}"
    );

    // Keeping the teammate's copy settles it, with everything in it.
    a.run(&["sync", "resolve", "v6.3.0", "--theirs"]).ok();
    let g = a.show("v6.3.0");
    assert_eq!(
        g["generation"]["changes"].as_array().map(Vec::len),
        Some(3),
        "{g:#}"
    );
    a.run(&["sync", "status"]).ok().stdout_has("Conflicts: 0");
}

/// Found by the model test (seeds 7448 and 7495). A draft deleted here and its version
/// reused here by a new draft, while a teammate changed the deleted one: the pull dropped
/// the pending deletion (the version was held locally) and later brought the teammate's copy
/// back as if never deleted. The deletion now waits, and becomes a delete-modify conflict
/// once the version is free.
#[test]
fn a_deletion_whose_version_was_reused_here_is_not_dropped_when_changed_there() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["config", "execution_mode", "local"]).ok();
    a.run(&["generation", "new", "v6.4.0"]).ok();
    a.add_change("v6.4.0", "FEAT-1", "add", "Work");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();

    a.run(&["generation", "delete", "v6.4.0"]).ok();
    a.run(&["generation", "new", "v6.4.0", "-d", "Another"])
        .ok();
    b.add_change("v6.4.0", "FEAT-2", "add", "More work");
    b.run(&["sync", "push"]).ok();

    // The new draft cannot take the version: renamed, the deletion meets Bob's change.
    a.run(&["sync", "push"]).fails(3, &["v6.4.0"]);
    let st = a.sync_status();
    assert_eq!(
        st["pending_deletes"],
        serde_json::json!(["v6.4.0"]),
        "{st:#}"
    );
    a.run(&["generation", "rename", "v6.4.0", "v6.5.0"]).ok();
    a.run(&["sync", "push"]).fails(3, &["v6.4.0"]);
    let st = a.sync_status();
    let conflict = st["conflicts"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["version"] == "v6.4.0"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(conflict["conflicts"][0]["kind"], "delete-modify", "{st:#}");
    let back = a.show("v6.4.0");
    assert_eq!(
        back["generation"]["changes"].as_array().map(Vec::len),
        Some(2),
        "{back:#}"
    );
    assert_eq!(a.show("v6.5.0")["generation"]["description"], "Another");
}

/// Found by the model test (seed 9124). A draft in conflict with its promotion on the
/// server, deleted here: the server refuses the deletion (409, a promoted generation is
/// final) and the journal kept it, so every push failed again. The refusal is now an
/// answer: reported once, the deletion dropped, the promoted record back.
#[test]
fn deleting_a_draft_promoted_meanwhile_is_refused_once_and_the_release_comes_back() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["config", "execution_mode", "local"]).ok();
    a.run(&["generation", "new", "v6.7.0"]).ok();
    a.add_change("v6.7.0", "FEAT-1", "add", "Work");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    a.add_change("v6.7.0", "FEAT-2", "add", "Late work");
    b.prove("v6.7.0", "FEAT-1");
    b.run(&["promote", "v6.7.0", "--no-tag"]).ok();
    a.run(&["sync", "pull"]).fails(3, &["conflict"]);

    a.run(&["generation", "delete", "v6.7.0"]).ok();
    a.run(&["sync", "push"]).fails(1, &["promoted"]);
    let st = a.sync_status();
    assert_eq!(st["pending_deletes"], serde_json::json!([]), "{st:#}");
    let back = a.show("v6.7.0");
    assert_eq!(back["generation"]["status"], "promoted", "{back:#}");
    a.run(&["sync", "push"]).ok();
}

/// Found by the long model run (seeds 21612, 20930, 20346). A record deleted here came back
/// as a delete-modify conflict and was then edited here: when the server changed it again,
/// the copy here was replaced by the server's (or deleted with it), and the edit was lost.
/// Now the edit merges with the server's change, and the decision stays pending.
#[test]
fn an_edit_made_to_a_record_in_delete_modify_conflict_survives_later_server_changes() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    deleted_here_changed_there(a, b, "v6.11.0");

    // Edited here while the decision is pending; changed there again.
    a.add_change("v6.11.0", "FEAT-3", "add", "Alice's late work");
    b.add_change("v6.11.0", "FEAT-4", "add", "Bob's late work");
    b.run(&["sync", "push"]).ok();
    a.run(&["sync", "pull"]).fails(3, &["conflict"]);
    let ids = |d: &super::harness::Workspace| change_ids(&d.show("v6.11.0")["generation"]);
    assert_eq!(ids(a), ["FEAT-1", "FEAT-2", "FEAT-3", "FEAT-4"]);
    let st = a.sync_status();
    assert_eq!(st["conflicts"][0]["version"], "v6.11.0", "{st:#}");

    // Deleted there: the edit here is still not dropped.
    b.run(&["generation", "delete", "v6.11.0"]).ok();
    b.run(&["sync", "push"]).ok().stdout_has("1 deleted");
    a.run(&["sync", "pull"]).fails(3, &["conflict"]);
    assert!(ids(a).contains(&"FEAT-3".to_string()));
}

/// Found by the long model run (seed 23030). A record in conflict deleted here: the
/// deletion names the revision of the last synced copy, the server is past it (412), and
/// the change that moved it lies behind the cursor, so every pull saw nothing and every
/// push was refused again. A refused deletion now starts a full pull, which meets the
/// change: a delete-modify conflict, the server's copy back for the decision.
#[test]
fn a_deletion_refused_as_stale_becomes_a_conflict_instead_of_failing_forever() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["config", "execution_mode", "local"]).ok();
    a.run(&["generation", "new", "v6.12.0"]).ok();
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    a.run(&["generation", "rename", "v6.12.0", "v6.13.0"]).ok();
    b.run(&["generation", "rename", "v6.12.0", "v6.14.0"]).ok();
    b.run(&["sync", "push"]).ok();
    a.run(&["sync", "pull"]).fails(3, &["conflict"]);

    a.run(&["generation", "delete", "v6.13.0"]).ok();
    a.run(&["sync", "push"]).fails(3, &["v6.14.0"]);
    let st = a.sync_status();
    assert_eq!(st["pending_deletes"], serde_json::json!([]), "{st:#}");
    assert_eq!(st["conflicts"][0]["version"], "v6.14.0", "{st:#}");
    assert_eq!(
        st["conflicts"][0]["conflicts"][0]["kind"], "delete-modify",
        "{st:#}"
    );
    a.run(&["sync", "resolve", "v6.14.0", "--theirs"]).ok();
    a.run(&["sync", "push"]).ok();
}

/// Found by the long model run (seed 90011). A record in delete-modify conflict, renamed
/// here onto a version a teammate then took on the server: the pull marked it version-taken,
/// which replaced its delete-modify conflict, and the rename that settles a taken version
/// then cleared every conflict and pushed the local copy, so the deletion was dropped without
/// the user deciding it. The conflict waiting for the user now stays; the teammate's record
/// waits for a full pull after the decision.
#[test]
fn a_delete_modify_conflict_is_not_replaced_by_a_version_taken_one() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    deleted_here_changed_there(a, b, "v6.20.0");

    // Renamed here while the decision is pending; Bob takes the new version on the server.
    a.run(&["generation", "rename", "v6.20.0", "v6.21.0"]).ok();
    b.run(&["generation", "new", "v6.21.0"]).ok();
    b.run(&["sync", "push"]).ok();
    a.run(&["sync", "pull"])
        .ok()
        .stdout_has("1 record left for a later pull");
    let kind = |d: &super::harness::Workspace| {
        let st = d.sync_status();
        assert_eq!(st["conflicts"].as_array().map(Vec::len), Some(1), "{st:#}");
        st["conflicts"][0]["conflicts"][0]["kind"].clone()
    };
    assert_eq!(kind(a), "delete-modify");

    // Another rename does not settle the deletion, and nothing is pushed for it.
    a.run(&["generation", "rename", "v6.21.0", "v6.22.0"]).ok();
    assert_eq!(kind(a), "delete-modify");
    a.run(&["sync", "push"]).fails(3, &["v6.22.0"]);
    let versions = |gens: Vec<serde_json::Value>| {
        let mut v: Vec<String> = gens
            .iter()
            .map(|g| g["version"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        versions(cloud.generations("alice", &team)),
        ["v6.20.0", "v6.21.0"]
    );

    // Taking the teammate's copy settles it; then Bob's new record arrives.
    a.run(&["sync", "resolve", "v6.22.0", "--theirs"]).ok();
    a.run(&["sync", "pull"]).ok();
    let ids = change_ids(&a.show("v6.20.0")["generation"]);
    assert_eq!(ids, ["FEAT-1", "FEAT-2"]);
    assert!(a.show("v6.21.0")["generation"].is_object());
    a.run(&["sync", "status"]).ok().stdout_has("Conflicts: 0");
}

/// Alice (local mode) deletes `v`, a draft both have, while Bob adds a change to it; her
/// next pull makes it a delete-modify conflict.
fn deleted_here_changed_there(
    a: &super::harness::Workspace,
    b: &super::harness::Workspace,
    v: &str,
) {
    a.run(&["config", "execution_mode", "local"]).ok();
    a.run(&["generation", "new", v]).ok();
    a.add_change(v, "FEAT-1", "add", "Work");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    a.run(&["generation", "delete", v]).ok();
    b.add_change(v, "FEAT-2", "add", "Bob's work");
    b.run(&["sync", "push"]).ok();
    a.run(&["sync", "pull"])
        .fails(3, &["conflict"])
        .stdout_has("delete-modify");
}
