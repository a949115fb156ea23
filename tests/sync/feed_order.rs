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
