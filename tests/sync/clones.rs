//! Clone and go: `.gryt/` committed without its database. A teammate's clone works without
//! `gryt init` (the database is built from the committed contracts), and a committed
//! contract links to the one server record it came from, from every clone.

use super::harness::{clone_of, team_of};

#[test]
fn a_teammate_clones_and_works_without_init() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let alice = &devs[0];
    alice
        .run(&["generation", "new", "v1.0.0", "-d", "First"])
        .ok();
    alice.add_change("v1.0.0", "FEAT-1", "add", "Login");
    alice.run(&["sync", "push"]).ok();
    let text = alice.read_contract("v1.0.0");
    let uuid = alice.show("v1.0.0")["generation"]["generation_id"]
        .as_str()
        .expect("uuid")
        .to_string();
    assert!(text.contains(&format!("generation_id: {uuid}")), "{text}");
    let origin_dir = tempfile::tempdir().expect("temp dir");
    let origin = alice.publish(&origin_dir);

    let bob = clone_of(&cloud, "bob", &origin);
    assert!(!bob.gryt_dir().join("gryt.db").exists());
    // `gryt init` in a clone: a friendly no-op.
    bob.run(&["init"])
        .ok()
        .stdout_has("already a gryt repository");
    assert!(!bob.gryt_dir().join("gryt.db").exists());
    // Any command builds the database from the committed contracts.
    let list = bob.json(&["generation", "list"]);
    assert_eq!(list["generations"][0]["version"], "v1.0.0", "{list:#}");
    assert!(bob.gryt_dir().join("gryt.db").is_file());
    bob.run(&["sync", "pull"]).ok();
    let shown = bob.show("v1.0.0");
    assert_eq!(shown["generation"]["generation_id"], uuid.as_str());
    assert_eq!(shown["generation"]["sync_status"], "synced", "{shown:#}");
    bob.prove("v1.0.0", "FEAT-1");
    bob.run(&["sync", "push"]).ok();
    let g = cloud.generation("alice", &team, "v1.0.0");
    assert_eq!(g["generation_id"], uuid.as_str());
    let evs = cloud.evolutions("alice", &g["id"]);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["created_by"], "bob");
    assert_eq!(evs[0]["status"], "pass");
    // The clone's database and credentials stay out of git.
    let status = bob.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(status.is_empty(), "{status}");
}

#[test]
fn a_committed_contract_links_to_one_record_from_three_clones() {
    let (cloud, team, devs) = team_of(&["alice", "bob", "carol", "dave"]);
    let alice = &devs[0];
    alice.run(&["generation", "new", "v3.0.0"]).ok();
    alice.add_change("v3.0.0", "FEAT-1", "add", "First");
    alice.run(&["sync", "push"]).ok();
    let origin_dir = tempfile::tempdir().expect("temp dir");
    let origin = alice.publish(&origin_dir);
    // After the commit the server moves on: the committed file is older than the server's
    // copy, which every clone takes (the server is authoritative for records it has).
    alice.add_change("v3.0.0", "BUG-2", "fix", "Second");
    alice.run(&["sync", "push"]).ok();

    for name in ["bob", "carol", "dave"] {
        let dev = clone_of(&cloud, name, &origin);
        dev.run(&["sync", "pull"]).ok();
        dev.run(&["sync", "push"]).ok();
        let st = dev.sync_status();
        assert_eq!(st["conflicts"].as_array().map(Vec::len), Some(0), "{st:#}");
        let shown = dev.show("v3.0.0");
        assert_eq!(shown["generation"]["sync_status"], "synced", "{shown:#}");
        let changes = shown["generation"]["changes"].as_array().expect("changes");
        assert_eq!(changes.len(), 2, "{shown:#}");
        assert!(dev.read_contract("v3.0.0").contains("BUG-2"));
    }
    // One record on the server, never re-created or edited by the clones.
    let g = cloud.generation("alice", &team, "v3.0.0");
    assert_eq!(g["changes"].as_array().map(Vec::len), Some(2), "{g:#}");
    assert_eq!(cloud.generations("alice", &team).len(), 1);
}
