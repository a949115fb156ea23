//! Must show 3: a pull never loses local work. Unpushed changes, evolutions and edits
//! survive a pull bringing remote edits of the same generation; edits that do not overlap
//! merge (and push); overlapping edits become a conflict listed by `gryt sync status`
//! (exit 3) until `gryt sync resolve`.

use super::harness::team_of;

fn change_titles(v: &serde_json::Value) -> Vec<(String, String)> {
    v["generation"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().expect("id").to_string(),
                c["title"].as_str().expect("title").to_string(),
            )
        })
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn pull_merges_remote_edits_with_local_work_and_overlaps_conflict_until_resolved() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v3.0.0", "-d", "Spring"]).ok();
    a.add_change("v3.0.0", "FEAT-1", "add", "Login");
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok().stdout_has("1 new");

    // Bob works without automatic sync: everything below stays unpushed.
    b.run(&["config", "execution_mode", "local"]).ok();
    b.add_change("v3.0.0", "BUG-2", "fix", "Crash on start");
    let tag = b.prove("v3.0.0", "FEAT-1");
    b.run(&["evolution", "start", "v3.0.0", "--change", "BUG-2"])
        .ok();
    b.run(&["generation", "new", "v3.1.0", "-d", "Bob's next"])
        .ok();
    b.add_change("v3.1.0", "FEAT-9", "add", "Next thing");
    let before = b.sync_status();
    assert_eq!(before["pending_evolutions"], 2, "{before:#}");

    // Alice edits the same generation elsewhere: a new change.
    a.add_change("v3.0.0", "FEAT-3", "add", "Search");
    a.run(&["sync", "push"]).ok().stdout_has("1 updated");

    b.run(&["sync", "pull"]).ok().stdout_has("1 merged");
    let merged = b.show("v3.0.0");
    assert_eq!(
        change_titles(&merged),
        pairs(&[
            ("FEAT-1", "Login"),
            ("BUG-2", "Crash on start"),
            ("FEAT-3", "Search")
        ]),
        "{merged:#}"
    );
    assert_eq!(merged["generation"]["description"], "Spring");
    // The local evolutions and the unpushed generation survive.
    let evs = b.json(&["evolution", "list", "v3.0.0"]);
    let evs = evs["evolutions"].as_array().expect("evolutions").clone();
    assert_eq!(evs.len(), 2, "{evs:#?}");
    assert!(
        evs.iter()
            .any(|e| e["tag"] == tag.as_str() && e["status"] == "pass"),
        "{evs:#?}"
    );
    assert_eq!(b.show("v3.1.0")["generation"]["changes"][0]["id"], "FEAT-9");
    let st = b.sync_status();
    assert_eq!(st["local_only"], serde_json::json!(["v3.1.0"]), "{st:#}");
    assert_eq!(st["pending_evolutions"], 2, "{st:#}");
    assert_eq!(st["conflicts"].as_array().map(Vec::len), Some(0), "{st:#}");

    // The merge pushes: the server has both sides.
    b.run(&["sync", "push"]).ok();
    let g = cloud.generation("alice", &team, "v3.0.0");
    let ids: Vec<&str> = g["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, ["FEAT-1", "BUG-2", "FEAT-3"]);
    assert_eq!(cloud.evolutions("alice", &g["id"]).len(), 2);
    assert_eq!(
        cloud.generation("alice", &team, "v3.1.0")["created_by"],
        "bob"
    );
    a.run(&["sync", "pull"]).ok();
    assert_eq!(
        change_titles(&a.show("v3.0.0")),
        change_titles(&b.show("v3.0.0"))
    );

    // Overlapping edits: both retitle FEAT-1.
    let retitle =
        |text: &str, title: &str| text.replace("title: Login", &format!("title: {title}"));
    let base = a.read_contract("v3.0.0");
    assert!(base.contains("title: Login"), "{base}");
    a.rewrite_contract("v3.0.0", &retitle(&base, "Login with OAuth"))
        .ok();
    a.run(&["sync", "push"]).ok().stdout_has("1 updated");
    let mine = b.read_contract("v3.0.0");
    b.rewrite_contract("v3.0.0", &retitle(&mine, "Login with SSO"))
        .ok();

    let out = b.run(&["sync", "pull"]);
    out.fails(3, &["conflict"]).stdout_has("v3.0.0");
    // Both sides are kept: Bob's copy locally, Alice's on the server.
    assert_eq!(change_titles(&b.show("v3.0.0"))[0].1, "Login with SSO");
    let server = cloud.generation("alice", &team, "v3.0.0");
    assert_eq!(server["changes"][0]["title"], "Login with OAuth");
    let out = b.run(&["sync", "status"]);
    out.stdout_has("Conflicts: 1").stdout_has("v3.0.0");
    assert_eq!(out.code, 3, "{out:?}");
    let st = b.sync_status();
    assert_eq!(st["conflicts"][0]["version"], "v3.0.0", "{st:#}");
    // A push does not send a record in conflict; it stops with exit 3.
    b.run(&["sync", "push"]).fails(3, &["v3.0.0"]);
    assert_eq!(
        cloud.generation("alice", &team, "v3.0.0")["changes"][0]["title"],
        "Login with OAuth"
    );

    b.run(&["sync", "resolve", "v3.0.0", "--ours"]).ok();
    b.run(&["sync", "push"]).ok().stdout_has("1 updated");
    let out = b.run(&["sync", "status"]);
    out.ok().stdout_has("Conflicts: 0");
    assert_eq!(
        cloud.generation("alice", &team, "v3.0.0")["changes"][0]["title"],
        "Login with SSO"
    );
    a.run(&["sync", "pull"]).ok();
    assert_eq!(change_titles(&a.show("v3.0.0"))[0].1, "Login with SSO");
}

#[test]
fn resolve_theirs_takes_the_server_copy() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v3.2.0", "-d", "Base"]).ok();
    a.run(&["sync", "push"]).ok();
    b.run(&["sync", "pull"]).ok();
    let text = a.read_contract("v3.2.0");
    a.rewrite_contract("v3.2.0", &text.replace("Base", "Alice's"))
        .ok();
    a.run(&["sync", "push"]).ok();
    b.rewrite_contract("v3.2.0", &text.replace("Base", "Bob's"))
        .ok();
    b.run(&["sync", "pull"]).fails(3, &["conflict"]);
    b.run(&["sync", "resolve", "v3.2.0", "--theirs"]).ok();
    assert_eq!(b.show("v3.2.0")["generation"]["description"], "Alice's");
    assert!(b.read_contract("v3.2.0").contains("Alice's"));
    b.run(&["sync", "status"]).ok();
    b.run(&["sync", "resolve", "v3.2.0", "--theirs"])
        .fails(1, &["not in conflict"]);
    assert_eq!(
        cloud.generation("bob", &team, "v3.2.0")["description"],
        "Alice's"
    );
}
