//! A promoted record is never rewritten by a pull. The server's SQLite database is swapped
//! for an older copy (a restore from backup): the feed going back below the workspace's
//! cursor is reported (exit 3) with nothing applied; once the restored server has moved on
//! and someone promotes other content under the same version, that is reported too, and
//! the workspace keeps the release it promoted.

use super::harness::{team_of, Workspace};

/// Every developer logs in to the server at its new address (the restarted test server
/// listens on a new port; a login is bound to its URL, and the restore took away the API
/// keys made since the backup).
fn point_at(devs: &[Workspace], url: &str) {
    for d in devs {
        d.login(url).ok();
    }
}

#[test]
fn a_restored_server_never_rewrites_a_promoted_release() {
    let (mut cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v4.0.0"]).ok();
    a.add_change("v4.0.0", "FEAT-1", "add", "Login");
    a.run(&["sync", "push"]).ok();
    let backup = cloud.backup();
    point_at(&devs, &cloud.url());

    a.prove("v4.0.0", "FEAT-1");
    a.run(&["promote", "v4.0.0"]).ok();
    let promoted = a.show("v4.0.0");
    assert_eq!(promoted["generation"]["status"], "promoted");
    let file = a.read_contract("v4.0.0");
    assert!(file.contains("status: promoted"), "{file}");

    cloud.restore(&backup);
    point_at(&devs, &cloud.url());
    // The feed is now behind what Alice has seen.
    a.run(&["sync", "pull"])
        .fails(3, &["went backwards", "Nothing was applied"]);
    assert_eq!(a.show("v4.0.0"), promoted);

    // Bob works on the restored server: other content under v4.0.0, promoted, after
    // enough writes that the feed passes Alice's cursor again.
    b.run(&["sync", "pull"]).ok();
    for i in 1..=8 {
        b.run(&["generation", "new", &format!("v0.{i}.0")]).ok();
    }
    b.add_change("v4.0.0", "BUG-2", "fix", "Other content");
    b.run(&["sync", "push"]).ok();
    b.prove("v4.0.0", "FEAT-1");
    b.prove("v4.0.0", "BUG-2");
    b.run(&["promote", "v4.0.0"]).ok();
    assert_eq!(
        cloud.generation("bob", &team, "v4.0.0")["changes"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let out = a.run(&["sync", "pull"]);
    out.fails(3, &["in conflict"]);
    out.stdout_has("v4.0.0: promoted here, never rewritten");
    assert_eq!(a.show("v4.0.0"), promoted);
    assert_eq!(a.read_contract("v4.0.0"), file);
}
