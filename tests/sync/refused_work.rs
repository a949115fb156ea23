//! Work the server refused (issue 10, item 3) and the exit codes of `gryt sync status`
//! (item 7). Bob proves his change while alice has taken him out of the team for a moment:
//! the server refuses his result (he may no longer write there). The refusal must not stay
//! "pass" and "synced": it is listed with the server's reason and the command that settles
//! it, push exits 3 while it exists (also once bob is back in the team: refused work is not
//! re-sent behind his back), the gate does not count it, `gryt sync resolve --theirs`
//! restores the server's copy and `--ours` sends it again.

use super::harness::{team_of, Cloud, Workspace};

/// Alice and bob in a team; alice's draft v1.0.0 (FEAT-1) and bob's evolution of FEAT-1,
/// both on the server; then alice takes bob out of the team and bob completes his
/// evolution (`status`), which the server refuses; then alice takes bob back.
fn refused_proof(status: &str) -> (Cloud, String, Vec<Workspace>, String) {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (alice, bob) = (&devs[0], &devs[1]);
    alice.run(&["generation", "new", "v1.0.0"]).ok();
    alice.add_change("v1.0.0", "FEAT-1", "add", "One");
    alice.run(&["sync", "push"]).ok();
    bob.run(&["sync", "pull"]).ok();
    let ev = bob.json(&["evolution", "start", "v1.0.0", "--change", "FEAT-1"]);
    let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
    bob.run(&["sync", "push"]).ok();
    let (code, body) = cloud.request(
        "alice",
        "DELETE",
        &format!("/api/v1/teams/{team}/members/bob"),
        None,
    );
    assert!((200..300).contains(&code), "remove bob: {code} {body}");
    // Recorded here, sent right away (hybrid mode), refused by the server: the command's
    // own work stands (exit 0) with a note giving the server's reason and the settling
    // command.
    bob.run(&["evolution", "complete", &tag, "--status", status])
        .ok()
        .stderr_has("The server refused")
        .stderr_has("gryt sync resolve v1.0.0 --theirs");
    let (code, body) = cloud.request(
        "alice",
        "POST",
        &format!("/api/v1/teams/{team}/members"),
        Some(serde_json::json!({ "username": "bob" })),
    );
    assert!((200..300).contains(&code), "add bob back: {code} {body}");
    (cloud, team, devs, tag)
}

#[test]
fn a_proof_the_server_refused_is_listed_not_counted_and_resolvable() {
    let (cloud, team, devs, tag) = refused_proof("pass");
    let bob = &devs[1];

    // Listed by `gryt sync status` (exit 3) with the reason and the command.
    let human = bob.run(&["sync", "status"]);
    assert_eq!(human.code, 3, "{human:?}");
    human
        .stdout_has("Refused by the server: 1")
        .stdout_has("gryt sync resolve v1.0.0 --theirs");
    let st = bob.sync_status();
    let refused = st["refused"].as_array().expect("refused");
    assert_eq!(refused.len(), 1, "{st:#}");
    assert_eq!(refused[0]["what"], "evolution", "{st:#}");
    assert_eq!(refused[0]["version"], "v1.0.0", "{st:#}");
    assert!(
        refused[0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("HTTP 40")),
        "{st:#}"
    );
    assert!(
        refused[0]["settle"]
            .as_str()
            .is_some_and(|s| s.contains("gryt sync resolve v1.0.0 --theirs")),
        "{st:#}"
    );
    assert_eq!(st["pending_evolutions"], 0, "{st:#}");

    // Every push says so (exit 3), not only the first one; nothing is re-sent.
    for _ in 0..2 {
        bob.run(&["sync", "push"])
            .fails(3, &["refused", "v1.0.0-rc.1 FEAT-1"])
            .hint("gryt sync resolve v1.0.0 --theirs");
    }
    let g = cloud.generation("alice", &team, "v1.0.0");
    let evs = cloud.evolutions("alice", &g["id"]);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["status"], "pending", "{evs:#?}");

    // The gate does not count it: not ready, and promotion names the real cause.
    let gate = bob.json(&["sync", "status", "v1.0.0"]);
    assert_eq!(gate["gate"]["ready"], false, "{gate:#}");
    bob.run(&["generation", "show", "v1.0.0"])
        .ok()
        .stdout_has("Ready for promotion: no");
    bob.run(&["promote", "v1.0.0"])
        .fails(1, &["FEAT-1"])
        .hint("the server refused it");

    // --theirs drops bob's result and restores the server's copy.
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

    // Proven again, now that bob may write: delivered, and the gate counts it.
    bob.run(&["evolution", "complete", &tag, "--status", "pass"])
        .ok();
    let gate = bob.json(&["sync", "status", "v1.0.0"]);
    assert_eq!(gate["gate"]["ready"], true, "{gate:#}");
    let evs = cloud.evolutions("alice", &g["id"]);
    assert_eq!(evs[0]["status"], "pass", "{evs:#?}");
}

#[test]
fn ours_sends_refused_work_again() {
    let (cloud, team, devs, _tag) = refused_proof("pass");
    let bob = &devs[1];
    // --ours queues it again; bob is back in the team, so the next push delivers it.
    bob.run(&["sync", "resolve", "v1.0.0", "--ours"]).ok();
    let st = bob.sync_status();
    assert_eq!(st["refused"], serde_json::json!([]), "{st:#}");
    assert_eq!(st["pending_evolutions"], 1, "{st:#}");
    bob.run(&["sync", "push"]).ok();
    let g = cloud.generation("alice", &team, "v1.0.0");
    let evs = cloud.evolutions("alice", &g["id"]);
    assert_eq!(evs[0]["status"], "pass", "{evs:#?}");
    assert_eq!(
        bob.json(&["sync", "status", "v1.0.0"])["gate"]["ready"],
        true
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
