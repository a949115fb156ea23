//! Must show 5: a promotion race between two workspaces. Exactly one wins; the other exits
//! 3 naming the winner; the server has the generation promoted once. On SQLite, and on
//! PostgreSQL when `GRYT_TEST_POSTGRES` names a server.

use super::harness::{finish, team_on, Backend};

#[test]
fn concurrent_promotions_exactly_one_wins_the_other_exits_3_naming_the_winner() {
    for backend in Backend::all() {
        promotion_race(backend);
    }
}

fn promotion_race(backend: Backend) {
    let (cloud, team, devs) = team_on(backend, &["alice", "bob"]);
    let (a, b) = (&devs[0], &devs[1]);
    a.run(&["generation", "new", "v5.0.0"]).ok();
    a.add_change("v5.0.0", "FEAT-1", "add", "Race");
    a.run(&["sync", "push"]).ok();
    // Hybrid mode sends the evolution result as it is recorded.
    a.prove("v5.0.0", "FEAT-1");
    b.run(&["sync", "pull"]).ok();
    let st = b.json(&["sync", "status", "v5.0.0"]);
    assert_eq!(st["gate"]["ready"], true, "{st:#}");

    let mut ca = a.command(&["promote", "v5.0.0"]);
    let mut cb = b.command(&["promote", "v5.0.0"]);
    let (oa, ob) = std::thread::scope(|s| {
        let ta = s.spawn(move || ca.output().expect("run gryt"));
        let tb = s.spawn(move || cb.output().expect("run gryt"));
        (ta.join().expect("thread"), tb.join().expect("thread"))
    });
    let oa = finish("alice", &["promote", "v5.0.0"], oa);
    let ob = finish("bob", &["promote", "v5.0.0"], ob);
    let (winner, loser) = match (oa.code, ob.code) {
        (0, 3) => (("alice", &oa), &ob),
        (3, 0) => (("bob", &ob), &oa),
        _ => panic!("expected exactly one winner (0) and one loser (3)\n{oa:?}\n{ob:?}"),
    };
    winner.1.stdout_has("Promoted v5.0.0");
    loser.fails(3, &["v5.0.0", "promoted", winner.0]);

    let g = cloud.generation("alice", &team, "v5.0.0");
    assert_eq!(g["status"], "promoted");
    assert_eq!(g["promoted_by"], winner.0);
    // Both workspaces agree on who promoted it.
    for d in [a, b] {
        d.run(&["sync", "pull"]).ok();
        let mine = d.show("v5.0.0");
        assert_eq!(mine["generation"]["status"], "promoted", "{mine:#}");
        assert_eq!(mine["generation"]["promoted_by"], winner.0, "{mine:#}");
    }
    // A later promotion of the same version is refused the same way.
    let again = if winner.0 == "alice" { b } else { a };
    again
        .run(&["promote", "v5.0.0"])
        .fails(3, &["already promoted", winner.0]);
    assert_eq!(cloud.generation("alice", &team, "v5.0.0"), g);
}
