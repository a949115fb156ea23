//! Work the server refused (issue 10, item 3) and the exit codes of `gryt sync status`
//! (item 7). Bob signs his requests with his own API key but calls himself "alice" in his
//! repository, so the local ownership check lets him complete alice's evolution; the
//! server knows the key is bob's and refuses it (403). The refusal must not stay "pass"
//! and "synced": it is listed with the server's reason and the command that settles it,
//! push exits 3 while it exists, the gate does not count it, and
//! `gryt sync resolve --theirs` restores the server's copy.

use super::harness::{team_of, Cloud, Dev};

/// Bob's workspace in `team`: his API key, the local username "alice".
fn bob_calling_himself_alice(cloud: &Cloud, team: &str) -> Dev {
    let bob = Dev::bare("bob");
    bob.run(&["init"]).ok();
    bob.run(&["config", "--global", "gryt_url", &cloud.url()])
        .ok();
    let (id, secret) = cloud.api_key("bob");
    bob.run(&["config", "--global", "api_key_id", &id]).ok();
    bob.run(&["config", "--global", "api_key_secret", &secret])
        .ok();
    bob.run(&["config", "team", team]).ok();
    bob.run(&["config", "username", "alice"]).ok();
    bob
}

#[test]
fn an_evolution_the_server_refused_is_listed_not_counted_and_resolvable() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let alice = &devs[0];
    alice.run(&["generation", "new", "v1.0.0"]).ok();
    alice.add_change("v1.0.0", "FEAT-1", "add", "One");
    alice.run(&["sync", "push"]).ok();
    let ev = alice.json(&["evolution", "start", "v1.0.0", "--change", "FEAT-1"]);
    let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
    alice.run(&["sync", "push"]).ok();

    let bob = bob_calling_himself_alice(&cloud, &team);
    bob.run(&["sync", "pull"]).ok();
    // Recorded here, sent right away (hybrid mode), refused by the server: the command's
    // own work stands (exit 0) with a note giving the server's reason and the settling
    // command; with --strict-sync the sync's outcome, exit 3.
    bob.run(&["evolution", "complete", &tag, "--status", "pass"])
        .ok()
        .stderr_has("The server refused")
        .stderr_has("belongs to alice")
        .stderr_has("gryt sync resolve v1.0.0 --theirs");

    // Listed by `gryt sync status` (exit 3) with the reason and the command.
    let human = bob.run(&["sync", "status"]);
    assert_eq!(human.code, 3, "{human:?}");
    human
        .stdout_has("Refused by the server: 1")
        .stdout_has("belongs to alice")
        .stdout_has("gryt sync resolve v1.0.0 --theirs");
    let st = bob.sync_status();
    let refused = st["refused"].as_array().expect("refused");
    assert_eq!(refused.len(), 1, "{st:#}");
    assert_eq!(refused[0]["what"], "evolution", "{st:#}");
    assert_eq!(refused[0]["version"], "v1.0.0", "{st:#}");
    assert!(
        refused[0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("HTTP 403")),
        "{st:#}"
    );
    assert!(
        refused[0]["settle"]
            .as_str()
            .is_some_and(|s| s.contains("gryt sync resolve v1.0.0 --theirs")),
        "{st:#}"
    );
    assert_eq!(st["pending_evolutions"], 0, "{st:#}");

    // Every push says so (exit 3), not only the first one.
    for _ in 0..2 {
        bob.run(&["sync", "push"])
            .fails(3, &["refused", "belongs to alice"])
            .hint("gryt sync resolve v1.0.0 --theirs");
    }

    // The gate does not count it: not ready, and promotion names the real cause.
    let gate = bob.json(&["sync", "status", "v1.0.0"]);
    assert_eq!(gate["gate"]["ready"], false, "{gate:#}");
    bob.run(&["generation", "show", "v1.0.0"])
        .ok()
        .stdout_has("Ready for promotion: no");
    bob.run(&["promote", "v1.0.0"])
        .fails(1, &["FEAT-1"])
        .hint("the server refused it");

    // The server still holds alice's evolution as she left it.
    let g = cloud.generation("alice", &team, "v1.0.0");
    let evs = cloud.evolutions("alice", &g["id"]);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["status"], "pending", "{evs:#?}");

    // --theirs drops bob's change and restores the server's copy.
    bob.run(&["sync", "resolve", "v1.0.0", "--theirs"])
        .ok()
        .stdout_has("Resolved v1.0.0");
    let mine = bob.json(&["evolution", "show", &tag]);
    assert_eq!(mine["evolution"]["status"], "pending", "{mine:#}");
    assert_eq!(mine["evolution"]["sync_status"], "synced", "{mine:#}");
    let st = bob.run(&["sync", "status", "--json"]);
    assert_eq!(st.code, 0, "{st:?}");
    assert_eq!(st.json()["refused"], serde_json::json!([]));
    bob.run(&["sync", "push"]).ok();
    bob.run(&["sync", "resolve", "v1.0.0", "--theirs"])
        .fails(1, &["not in conflict"]);

    // Alice proves her own change; bob sees it proven.
    alice
        .run(&["evolution", "complete", &tag, "--status", "pass"])
        .ok();
    bob.run(&["sync", "pull"]).ok();
    let gate = bob.json(&["sync", "status", "v1.0.0"]);
    assert_eq!(gate["gate"]["ready"], true, "{gate:#}");
}

#[test]
fn ours_sends_refused_work_again() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let alice = &devs[0];
    alice.run(&["generation", "new", "v1.0.0"]).ok();
    alice.add_change("v1.0.0", "FEAT-1", "add", "One");
    alice.run(&["sync", "push"]).ok();
    let ev = alice.json(&["evolution", "start", "v1.0.0", "--change", "FEAT-1"]);
    let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
    alice.run(&["sync", "push"]).ok();
    let bob = bob_calling_himself_alice(&cloud, &team);
    bob.run(&["sync", "pull"]).ok();
    bob.run(&[
        "--strict-sync",
        "evolution",
        "complete",
        &tag,
        "--status",
        "fail",
    ])
    .fails(3, &["refused", "belongs to alice"])
    .hint("gryt sync resolve v1.0.0 --theirs");
    // --ours queues it again: pending, then refused again by the next push.
    bob.run(&["sync", "resolve", "v1.0.0", "--ours"]).ok();
    let st = bob.sync_status();
    assert_eq!(st["refused"], serde_json::json!([]), "{st:#}");
    assert_eq!(st["pending_evolutions"], 1, "{st:#}");
    bob.run(&["sync", "push"]).fails(3, &["belongs to alice"]);
    assert_eq!(
        bob.sync_status()["refused"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn sync_status_exits_3_for_decisions_not_for_being_behind() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (alice, bob) = (&devs[0], &devs[1]);
    alice.run(&["generation", "new", "v1.0.0"]).ok();
    alice.run(&["sync", "push"]).ok();
    // Bob is behind: not an error.
    let out = bob.run(&["sync", "status"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout_has("behind");
    let st = bob.run(&["sync", "status", "--json"]);
    assert_eq!(st.code, 0, "{st:?}");
    assert_eq!(st.json()["behind"], true);
    // --exit-code makes behind exit 3, like `git diff --exit-code`.
    let out = bob.run(&["sync", "status", "--exit-code"]);
    assert_eq!(out.code, 3, "{out:?}");
    bob.run(&["sync", "pull"]).ok();
    bob.run(&["sync", "status", "--exit-code"]).ok();
    // A conflict exits 3 with or without it.
    bob.run(&["generation", "new", "v2.0.0"]).ok();
    alice.run(&["generation", "new", "v2.0.0"]).ok();
    alice.run(&["sync", "push"]).ok();
    bob.run(&["sync", "pull"]).fails(3, &["conflict"]);
    let out = bob.run(&["sync", "status"]);
    assert_eq!(out.code, 3, "{out:?}");
    out.stdout_has("gryt sync resolve v2.0.0 --theirs");
}
