//! Must show 1: the same version made twice in two workspaces; the second push is refused
//! as "version exists" (exit 3), the rename goes through, and both histories are intact.

use super::harness::team_of;

#[test]
fn same_version_twice_second_push_exits_3_and_rename_keeps_both_histories() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);

    for (d, change) in [(a, "FEAT-1"), (b, "FEAT-2")] {
        d.run(&[
            "generation",
            "new",
            "v1.0.0",
            "-d",
            &format!("{}'s release", d.name),
        ])
        .ok();
        d.add_change("v1.0.0", change, "add", "Work");
    }
    // Bob proves his change before anyone pushed (his evolution is local work too).
    let bob_tag = b.prove("v1.0.0", "FEAT-2");

    a.run(&["sync", "push"]).ok().stdout_has("1 created");
    a.prove("v1.0.0", "FEAT-1");
    a.run(&["promote", "v1.0.0"])
        .ok()
        .stdout_has("Promoted v1.0.0");

    let out = b.run(&["sync", "push"]);
    out.fails(3, &["v1.0.0", "exists in the cloud"])
        .stderr_has("gryt generation rename v1.0.0");
    // Nothing of Bob's reached the server, and his copy is untouched.
    let g = cloud.generation("alice", &team, "v1.0.0");
    assert_eq!(g["status"], "promoted");
    assert_eq!(g["created_by"], "alice");
    assert_eq!(g["changes"][0]["id"], "FEAT-1");
    assert_eq!(cloud.generations("alice", &team).len(), 1);
    let mine = b.show("v1.0.0");
    assert_eq!(mine["generation"]["changes"][0]["id"], "FEAT-2");
    assert_eq!(mine["generation"]["status"], "draft");
    let st = b.sync_status();
    assert_eq!(st["conflicts"][0]["version"], "v1.0.0", "{st:#}");

    b.run(&["generation", "rename", "v1.0.0", "v1.0.1"]).ok();
    b.run(&["sync", "push"]).ok().stdout_has("1 created");

    // The server holds both: Alice's promoted v1.0.0 and Bob's draft v1.0.1 with his proof.
    assert_eq!(cloud.generations("alice", &team).len(), 2);
    let mine = cloud.generation("bob", &team, "v1.0.1");
    assert_eq!(mine["status"], "draft");
    assert_eq!(mine["created_by"], "bob");
    assert_eq!(mine["changes"][0]["id"], "FEAT-2");
    let evs = cloud.evolutions("bob", &mine["id"]);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(
        (evs[0]["status"].as_str(), evs[0]["created_by"].as_str()),
        (Some("pass"), Some("bob"))
    );
    let theirs = cloud.generation("bob", &team, "v1.0.0");
    assert_eq!(theirs["status"], "promoted");
    assert_eq!(cloud.evolutions("alice", &theirs["id"]).len(), 1);

    // Bob's workspace keeps his evolution (under the new version) and now also has Alice's
    // promoted v1.0.0.
    b.run(&["sync", "pull"]).ok();
    let st = b.sync_status();
    assert_eq!(st["conflicts"].as_array().map(Vec::len), Some(0), "{st:#}");
    let evs = b.json(&["evolution", "list", "v1.0.1"]);
    let evs = evs["evolutions"].as_array().expect("evolutions").clone();
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["status"], "pass");
    assert_eq!(evs[0]["change_id"], "FEAT-2");
    assert!(bob_tag.starts_with("v1.0.0-rc."), "{bob_tag}");
    let theirs = b.show("v1.0.0");
    assert_eq!(theirs["generation"]["status"], "promoted");
    assert_eq!(theirs["generation"]["changes"][0]["id"], "FEAT-1");
    // And Alice's, after a pull, Bob's draft.
    a.run(&["sync", "pull"]).ok();
    assert_eq!(a.show("v1.0.1")["generation"]["status"], "draft");
    assert_eq!(a.show("v1.0.0")["generation"]["status"], "promoted");

    // The sync log lists what happened.
    let log = b.json(&["sync", "log"]);
    let dirs: Vec<&str> = log["log"]
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|e| e["direction"].as_str())
        .collect();
    assert!(dirs.contains(&"push") && dirs.contains(&"pull"), "{log:#}");
    b.run(&["sync", "log"]).ok().stdout_has("push");
}

/// Found by the model test (seed 9032). Taking the server's copy of a conflicting record
/// whose server version another local draft holds failed with a database error (UNIQUE
/// constraint). It is refused with a way out, and works once that draft is renamed.
#[test]
fn resolving_theirs_onto_a_version_another_local_draft_holds_is_refused_with_a_way_out() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["config", "execution_mode", "local"]).ok();
    a.run(&["generation", "new", "v6.8.0"]).ok();
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    b.run(&["generation", "rename", "v6.8.0", "v6.9.0"]).ok();
    b.run(&["sync", "push"]).ok();

    // Here: the same record renamed otherwise, and a new draft under Bob's version.
    a.run(&["generation", "rename", "v6.8.0", "v6.10.0"]).ok();
    a.run(&["generation", "new", "v6.9.0", "-d", "Mine"]).ok();
    a.run(&["sync", "pull"]).fails(3, &["conflict"]);
    let before = a.json(&["generation", "list"]);
    a.run(&["sync", "resolve", "v6.10.0", "--theirs"])
        .fails(1, &["v6.9.0", "another generation"])
        .stderr_has("gryt generation rename v6.9.0");
    assert_eq!(a.json(&["generation", "list"]), before, "nothing changed");

    a.run(&["generation", "rename", "v6.9.0", "v7.0.0"]).ok();
    a.run(&["sync", "resolve", "v6.10.0", "--theirs"]).ok();
    a.show("v6.9.0");
    assert_eq!(a.show("v7.0.0")["generation"]["description"], "Mine");
}

/// Found by the model test (seed 27034). A record the server has, renamed here onto a
/// version a teammate took meanwhile: `resolve --theirs` dropped the local record to refetch
/// the server's copy, and with it the proofs not yet pushed. It now goes back to its last
/// synced copy with its evolutions, which reach the server at the next push.
#[test]
fn resolving_theirs_of_a_record_renamed_onto_a_taken_version_keeps_its_unpushed_proofs() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    b.run(&["config", "execution_mode", "local"]).ok();
    a.run(&["generation", "new", "v3.0.0", "-d", "Shared"]).ok();
    a.add_change("v3.0.0", "FEAT-7", "add", "Export");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();

    // Alice takes v3.1.0 and adds a change to the shared record; Bob, not having pulled, renames
    // the shared record onto v3.1.0 and proves its change locally.
    a.run(&["generation", "new", "v3.1.0", "-d", "Alice's"])
        .ok();
    a.add_change("v3.0.0", "FEAT-8", "add", "Import");
    a.run(&["sync", "push"]).ok();
    b.run(&["generation", "rename", "v3.0.0", "v3.1.0"]).ok();
    b.prove("v3.1.0", "FEAT-7");
    b.run(&["sync", "pull"]).fails(3, &["conflict"]);
    let st = b.sync_status();
    assert_eq!(st["conflicts"][0]["version"], "v3.1.0", "{st:#}");

    b.run(&["sync", "resolve", "v3.1.0", "--theirs"]).ok();
    // The record is back under its synced version, its proof with it.
    let back = b.json(&["evolution", "list", "v3.0.0"]);
    let evs = back["evolutions"].as_array().expect("evolutions");
    assert_eq!(evs.len(), 1, "{back:#}");
    assert_eq!(evs[0]["change_id"], "FEAT-7");
    assert_eq!(evs[0]["status"], "pass");

    // The next pull brings Alice's v3.1.0 and her new change; the push delivers the proof.
    b.run(&["sync", "pull"]).ok();
    assert_eq!(b.show("v3.1.0")["generation"]["description"], "Alice's");
    let shared = b.show("v3.0.0");
    let ids: Vec<&str> = shared["generation"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, ["FEAT-7", "FEAT-8"], "{shared:#}");
    b.run(&["sync", "push"]).ok();
    let shared = cloud.generation("alice", &team, "v3.0.0");
    let evs = cloud.evolutions("alice", &shared["id"]);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["status"], "pass");
    assert_eq!(cloud.generations("alice", &team).len(), 2);
    let st = b.sync_status();
    assert_eq!(st["conflicts"].as_array().map(Vec::len), Some(0), "{st:#}");
}
