//! A cancelled evolution syncs as `cancelled` (the server accepts the status, teammates pull
//! it); a provisional rc is marked as such in human output until the server numbers it; a
//! teammate's escape sequences arrive exact but are shown visibly.

use super::harness::team_of;

#[test]
fn a_cancelled_evolution_reaches_the_server_and_teammates() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v7.0.0"]).ok();
    a.add_change("v7.0.0", "FEAT-1", "add", "Cancel me");
    a.run(&["sync", "push"]).ok();
    // Before the push the rc is provisional, and human output says so.
    a.run(&["evolution", "start", "v7.0.0", "--change", "FEAT-1"])
        .ok()
        .stdout_has("v7.0.0-rc.1 (rc.1, provisional until pushed)");
    a.run(&["evolution", "list"])
        .ok()
        .stdout_has("provisional until pushed");
    a.run(&["sync", "push"]).ok();
    a.run(&["evolution", "show", "v7.0.0-rc.1"])
        .ok()
        .stdout_has("Evolution v7.0.0-rc.1 (");
    let shown = a.run(&["evolution", "show", "v7.0.0-rc.1"]);
    assert!(!shown.stdout.contains("provisional"), "{shown:?}");

    // Hybrid mode sends the cancellation as it is recorded.
    a.run(&["evolution", "cancel", "v7.0.0-rc.1"])
        .clean()
        .stdout_has("cancelled");
    let g = cloud.generation("bob", &team, "v7.0.0");
    let evs = cloud.evolutions("bob", &g["id"]);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["status"], "cancelled", "{evs:#?}");
    assert_eq!(a.sync_status()["pending_evolutions"], 0);
    // A teammate pulls it as cancelled; it proves nothing.
    b.run(&["sync", "pull"]).ok();
    let show = b.show("v7.0.0");
    assert_eq!(show["evolutions"][0]["status"], "cancelled", "{show:#}");
    assert_eq!(show["gate"]["ready"], false, "{show:#}");
    // Only its owner may cancel an evolution, on the server too: bob's copy is final anyway.
    b.run(&["evolution", "cancel", "v7.0.0-rc.1"])
        .err(1, &["belongs to alice"]);
}

#[test]
fn a_teammates_escape_sequences_are_shown_visibly_never_raw() {
    let (_cloud, _team, devs) = team_of(&["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    let title = "Fix \u{1b}]52;c;cGF5bG9hZA==\u{7}login\u{1b}[2J";
    b.run(&["generation", "new", "v8.0.0", "-d", "desc \u{1b}[8mhidden"])
        .ok();
    b.add_change("v8.0.0", "BUG-1", "fix", title);
    b.run(&["sync", "push"]).ok();
    a.run(&["sync", "pull"]).ok();
    for args in [
        &["generation", "show", "v8.0.0"][..],
        &["generation", "list"],
        &["sync", "status", "v8.0.0"],
        &["sync", "status"],
    ] {
        let out = a.run(args);
        assert!(
            !out.stdout.contains('\u{1b}') && !out.stderr.contains('\u{1b}'),
            "{args:?} printed an escape raw\n{out:?}"
        );
        assert!(!out.stdout.contains('\u{7}'), "{out:?}");
    }
    a.run(&["generation", "show", "v8.0.0"])
        .ok()
        .stdout_has("Fix ^[]52;c;cGF5bG9hZA==^Glogin^[[2J")
        .stdout_has("desc ^[[8mhidden");
    // JSON keeps the exact text.
    assert_eq!(a.show("v8.0.0")["generation"]["changes"][0]["title"], title);
}
