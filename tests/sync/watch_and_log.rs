//! `gryt sync watch` delivers pending work and pulls what others wrote; `gryt sync log`
//! records every sync, including the ones that failed because the server was unreachable.

use super::harness::team_of;

#[test]
fn watch_delivers_pending_work_and_pulls_others_work() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v9.0.0"]).ok();
    b.run(&["generation", "new", "v9.1.0"]).ok();
    b.run(&["sync", "push"]).ok();
    // One round: pull Bob's generation, push Alice's pending one.
    a.run(&["sync", "watch", "--max-rounds", "1", "--interval", "0"])
        .ok();
    assert_eq!(cloud.generations("alice", &team).len(), 2);
    let list = a.json(&["generation", "list"]);
    let versions: Vec<&str> = list["generations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|g| g["version"].as_str())
        .collect();
    assert_eq!(versions, ["v9.0.0", "v9.1.0"], "{list:#}");
    let st = a.sync_status();
    assert_eq!(st["pending"].as_array().map(Vec::len), Some(0), "{st:#}");
}

#[test]
fn sync_log_records_successes_and_failures() {
    let (mut cloud, _team, devs) = team_of(&["alice"]);
    let a = &devs[0];
    a.run(&["generation", "new", "v9.2.0"]).ok();
    a.run(&["sync", "push"]).ok();
    cloud.stop();
    a.run(&["sync", "pull"]).fails(4, &["unreachable"]);
    let log = a.json(&["sync", "log"]);
    let entries = log["log"].as_array().expect("log entries");
    assert!(
        entries
            .iter()
            .any(|e| e["direction"] == "push" && e["records"] == 1 && e["error"].is_null()),
        "{log:#}"
    );
    let newest = &entries[0];
    assert_eq!(newest["direction"], "pull", "{log:#}");
    assert!(
        newest["error"]
            .as_str()
            .is_some_and(|e| e.contains("unreachable")),
        "{log:#}"
    );
}
