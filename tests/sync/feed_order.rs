//! The change feed lists each record once, at its latest write, so an evolution can arrive
//! before its generation (the generation was edited after the evolution was made). A fresh
//! pull must still apply it, and leave nothing that forces the next pull to start over.

use super::harness::team_of;

#[test]
fn an_evolution_older_than_its_generations_last_edit_is_applied() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob", "carol"]);
    let (a, b, c) = (&devs[0], &devs[1], &devs[2]);
    a.run(&["generation", "new", "v7.0.0"]).ok();
    a.add_change("v7.0.0", "FEAT-1", "add", "Work");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    b.run(&["evolution", "start", "v7.0.0", "--change", "FEAT-1"])
        .ok();
    b.run(&["evolution", "complete", "v7.0.0-rc.1", "--status", "pass"])
        .ok();
    b.run(&["sync", "push-evolutions", "v7.0.0"]).ok();
    // The generation's latest write now comes after the evolution in the feed.
    a.run(&["sync", "pull"]).ok();
    a.add_change("v7.0.0", "FEAT-2", "add", "More work");
    a.run(&["sync", "push"]).ok();

    let pulled = c.json(&["sync", "pull"]);
    assert_eq!(pulled["pull"]["inserted"], 1, "{pulled:#}");
    assert_eq!(pulled["pull"]["evolutions"], 1, "{pulled:#}");
    let evs = c.json(&["evolution", "list", "v7.0.0"]);
    assert_eq!(evs["evolutions"][0]["owner"], "bob", "{evs:#}");
    assert_eq!(evs["evolutions"][0]["status"], "pass", "{evs:#}");
    // Nothing was left waiting: the next pull is the one-request kind.
    let again = c.json(&["sync", "pull"]);
    assert_eq!(again["requests"], 1, "{again:#}");
    assert_eq!(again["pull"]["up_to_date_before"], true, "{again:#}");
}

/// Found by the model test (seed 7027). A generation renamed on the server, whose old
/// version was then taken by a new generation, and which was edited again after that: the
/// feed brings the new generation first. The pull used to delete the local record still
/// holding the version ("replaced on the server") and re-create it from its later entry,
/// losing its evolutions, which lay behind the cursor. The new record now waits for the
/// rename in the same pull.
#[test]
fn a_version_taken_by_a_new_generation_before_the_old_ones_rename_arrives_loses_nothing() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v7.5.0"]).ok();
    a.add_change("v7.5.0", "FEAT-1", "add", "Work");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    b.prove("v7.5.0", "FEAT-1");
    b.run(&["sync", "push"]).ok();

    a.run(&["sync", "pull"]).ok();
    a.run(&["generation", "rename", "v7.5.0", "v7.6.0"]).ok();
    a.run(&["sync", "push"]).ok();
    a.run(&["generation", "new", "v7.5.0", "-d", "The new one"])
        .ok();
    a.run(&["sync", "push"]).ok();
    a.add_change("v7.6.0", "FEAT-2", "add", "More work");
    a.run(&["sync", "push"]).ok();

    b.run(&["sync", "pull"]).ok();
    let renamed = b.show("v7.6.0");
    let changes = renamed["generation"]["changes"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    assert_eq!(changes, 2, "{renamed:#}");
    let evs = b.json(&["evolution", "list", "v7.6.0"]);
    assert_eq!(
        evs["evolutions"].as_array().map(Vec::len),
        Some(1),
        "{evs:#}"
    );
    assert_eq!(evs["evolutions"][0]["owner"], "bob", "{evs:#}");
    assert_eq!(evs["evolutions"][0]["status"], "pass", "{evs:#}");
    let new_one = b.show("v7.5.0");
    assert_eq!(
        new_one["generation"]["description"], "The new one",
        "{new_one:#}"
    );
    // Nothing left that forces the next pull to start over.
    let st = b.sync_status();
    assert_eq!(st["conflicts"], serde_json::json!([]), "{st:#}");
    let again = b.json(&["sync", "pull"]);
    assert_eq!(again["pull"]["pages"], 0, "{again:#}");
}

/// Found by the model test (seed 39746). A teammate renamed a record onto a version a new
/// local draft holds here, and made a new generation under its old version. The pull could
/// not move the record (its new version is taken here: a conflict on the draft), so the new
/// generation could not land either, and the pull dropped the local record to make room,
/// and with it a proof of it that was made here.
#[test]
fn a_record_that_cannot_move_is_not_dropped_to_make_room_and_keeps_its_proofs() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    b.run(&["config", "execution_mode", "local"]).ok();
    a.run(&["generation", "new", "v1.2.0", "-d", "Shared"]).ok();
    a.add_change("v1.2.0", "FEAT-3", "add", "Work");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();

    a.run(&["generation", "rename", "v1.2.0", "v1.0.0"]).ok();
    a.run(&["sync", "push"]).ok();
    a.run(&["generation", "new", "v1.2.0", "-d", "Newer"]).ok();
    a.run(&["sync", "push"]).ok();

    b.run(&["generation", "new", "v1.0.0", "-d", "Mine"]).ok();
    b.prove("v1.2.0", "FEAT-3");
    b.run(&["sync", "pull"]).fails(3, &["conflict"]);
    // Nothing of Bob's is gone: the shared record keeps its proof, his draft its version.
    let evs = b.json(&["evolution", "list", "v1.2.0"]);
    assert_eq!(
        evs["evolutions"].as_array().map(Vec::len),
        Some(1),
        "{evs:#}"
    );
    assert_eq!(b.show("v1.0.0")["generation"]["description"], "Mine");

    // Once his draft moves aside, everything lands, and the proof reaches the server.
    b.run(&["generation", "rename", "v1.0.0", "v9.12.0"]).ok();
    b.run(&["sync", "pull"]).ok();
    b.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    assert_eq!(b.show("v1.0.0")["generation"]["description"], "Shared");
    assert_eq!(b.show("v1.2.0")["generation"]["description"], "Newer");
    let evs = b.json(&["evolution", "list", "v1.0.0"]);
    let evs = evs["evolutions"].as_array().expect("evolutions").clone();
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["status"], "pass");
    let shared = cloud.generation("alice", &team, "v1.0.0");
    assert_eq!(cloud.evolutions("alice", &shared["id"]).len(), 1);
    let st = b.sync_status();
    assert_eq!(st["conflicts"].as_array().map(Vec::len), Some(0), "{st:#}");
}

/// Two records swap versions on the server (through a third, free version). Each one's move
/// needs the version the other still holds here; the pull must still land both.
///
/// Found in session 3 by reading the pull: each move was postponed for the other, and the
/// pull exited 0 with both records at their old versions. Moves that wait on each other are
/// now applied together.
#[test]
fn two_records_that_swapped_versions_both_land() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v1.0.0", "-d", "First"]).ok();
    a.run(&["generation", "new", "v2.0.0", "-d", "Second"]).ok();
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    for (from, to) in [
        ("v1.0.0", "v9.0.0"),
        ("v2.0.0", "v1.0.0"),
        ("v9.0.0", "v2.0.0"),
    ] {
        a.run(&["generation", "rename", from, to]).ok();
        a.run(&["sync", "push"]).ok();
    }
    b.run(&["generation", "export"]).ok();
    b.run(&["sync", "pull"]).ok();
    assert_eq!(b.show("v1.0.0")["generation"]["description"], "Second");
    assert_eq!(b.show("v2.0.0")["generation"]["description"], "First");
    // Each contract file follows its record.
    let file = |v: &str| std::fs::read_to_string(b.contract(v)).unwrap_or_default();
    assert!(file("v1.0.0").contains("Second"), "{}", file("v1.0.0"));
    assert!(file("v2.0.0").contains("First"), "{}", file("v2.0.0"));
    let st = b.sync_status();
    assert_eq!(st["conflicts"].as_array().map(Vec::len), Some(0), "{st:#}");
}
