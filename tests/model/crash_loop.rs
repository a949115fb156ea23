//! The crash loop: `kill -9` of `gryt sync push` (alice, hundreds of pending generations)
//! and `gryt sync pull` (bob, often a full re-pull of everything) at random moments, with a
//! server that keeps running. Half the kills land at a random time, half while the proxy
//! holds a request (before the server saw it, or after it committed and before the answer).
//! After each kill: `PRAGMA integrity_check` is ok, the cursor never points past applied
//! data, pending work is still pending or delivered, and the server holds no duplicate. At
//! the end a plain push and pull converge.

use super::rig::{env_u64, integrity, kill9, start_cloud, view_of, Dev, LocalView, ServerView};
use super::rng::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone, Copy)]
pub struct CrashStats {
    pub kills: u64,
    pub mid_way: u64,
    pub stalled: u64,
    pub partial_push: u64,
    pub partial_pull: u64,
    pub generations: u64,
}

/// Adds `n` pending generations to alice's database directly (as benches/sync.rs does).
fn seed_generations(dev: &Dev, first: u64, n: u64) {
    let c = dev.open_db();
    c.execute_batch("BEGIN").expect("begin");
    for i in first..first + n {
        let id = uuid::Uuid::new_v4().to_string();
        c.execute(
            "INSERT INTO generations (generation_id, version, description, status, created_at, created_by, updated_at) \
             VALUES (?1, ?2, ?3, 'draft', '2026-01-01T00:00:00Z', 'alice', '2026-01-01T00:00:00Z')",
            rusqlite::params![id, format!("v2.{}.{}", i / 100, i % 100), format!("crash loop {i}")],
        )
        .expect("insert generation");
        for k in 1..=3 {
            c.execute(
                "INSERT INTO changes (generation_id, position, change_id, type, title) VALUES (?1, ?2, ?3, 'add', 'x')",
                rusqlite::params![id, k, format!("FEAT-{k}")],
            )
            .expect("insert change");
        }
    }
    c.execute_batch("COMMIT").expect("commit");
}

fn changes(g: &gryt_core::api::Generation) -> Vec<String> {
    let mut v: Vec<String> = g.changes.iter().map(|c| c.id.clone()).collect();
    v.sort();
    v
}

/// No duplicate on the server: one record per client UUID, one live record per version.
fn no_duplicates(s: &ServerView) -> Result<(), String> {
    let mut uuids = BTreeSet::new();
    let mut versions = BTreeSet::new();
    for g in &s.gens {
        if !uuids.insert(&g.generation_id) {
            return Err(format!("the server holds {} twice", g.generation_id));
        }
        if !g.deleted && !versions.insert(&g.version) {
            return Err(format!("the server holds version {} twice", g.version));
        }
    }
    Ok(())
}

/// Alice's pending work is still pending or delivered, and nothing she made is lost.
fn pusher_ok(s: &ServerView, l: &LocalView, created: u64) -> Result<(), String> {
    if l.gens.len() as u64 != created {
        return Err(format!(
            "alice made {created} generations but holds {}",
            l.gens.len()
        ));
    }
    for g in l.gens.values() {
        match g.sync_status.as_str() {
            "synced" => {
                let r = s.live_gen(&g.generation_id).ok_or_else(|| {
                    format!("{} is synced at alice but not on the server", g.version)
                })?;
                if r.rev != g.rev || r.version != g.version || changes(r) != g.changes {
                    return Err(format!(
                        "{} is synced at alice as rev {} but the server holds rev {}",
                        g.version, g.rev, r.rev
                    ));
                }
            }
            "not_synced" | "failed" => {
                if let Some(r) = s.live_gen(&g.generation_id) {
                    // Delivered, the answer not applied yet: what the server holds is what she sent.
                    if r.version != g.version || changes(r) != g.changes {
                        return Err(format!(
                            "the server's {} differs from alice's pending copy",
                            g.version
                        ));
                    }
                }
            }
            other => return Err(format!("{} is {other} at alice", g.version)),
        }
    }
    for r in &s.gens {
        if !l.gens.contains_key(&r.generation_id) {
            return Err(format!(
                "the server holds {} that alice never made",
                r.version
            ));
        }
    }
    Ok(())
}

/// The cursor never points past applied data: every record at or below it is at bob's as
/// the server holds it (bob never edits).
fn puller_ok(s: &ServerView, l: &LocalView) -> Result<(), String> {
    for g in &s.gens {
        let local = l.gens.get(&g.generation_id);
        if g.seq <= l.cursor && !l.resync {
            let x = local.ok_or_else(|| {
                format!(
                    "bob's cursor {} is past {} (seq {}) which he does not hold",
                    l.cursor, g.version, g.seq
                )
            })?;
            if x.rev != g.rev
                || x.version != g.version
                || changes(g) != x.changes
                || x.sync_status != "synced"
            {
                return Err(format!(
                    "bob's cursor {} is past {} rev {} but he holds {x:?}",
                    l.cursor, g.version, g.rev
                ));
            }
        }
    }
    for (id, g) in &l.gens {
        if s.live_gen(id).is_none() {
            return Err(format!("bob holds {} that the server does not", g.version));
        }
    }
    Ok(())
}

/// Starts `gryt sync WHAT` and kills it at a random moment; returns (still running when
/// killed, whether a stall was used).
fn kill_at_random(dev: &Dev, what: &str, rng: &mut Rng, est: &mut Duration) -> (bool, bool) {
    let stall = rng.chance(1, 2);
    let stalls = dev.proxy.stalls();
    if stall {
        dev.proxy.stall_after(rng.below(4) as i64, rng.chance(1, 2));
    }
    let delay = Duration::from_micros(rng.below(est.as_micros().max(1) as u64));
    let t = Instant::now();
    let mut child = dev.spawn(&["sync", what]);
    let stalled = if stall {
        dev.proxy
            .wait_stalled(stalls, Duration::from_secs(30), &mut || {
                matches!(child.try_wait(), Ok(Some(_)))
            })
    } else {
        std::thread::sleep(delay);
        false
    };
    let running = kill9(&mut child);
    dev.proxy.heal();
    if !stall {
        // Aim the random moments at the command's real duration.
        *est = if running {
            est.mul_f64(1.1)
        } else {
            t.elapsed().mul_f64(0.9)
        }
        .clamp(Duration::from_millis(5), Duration::from_secs(3));
    }
    (running, stalled)
}

pub fn crash_loop(rounds: u64, seed: u64) -> CrashStats {
    let mut rng = Rng::new(seed);
    let cloud = start_cloud(&["alice", "bob"]);
    let alice = Dev::join(&cloud, "alice");
    let bob = Dev::join(&cloud, "bob");
    let mut st = CrashStats::default();
    let mut created = 300;
    seed_generations(&alice, 0, created);
    let (mut est_push, mut est_pull) = (Duration::from_millis(300), Duration::from_millis(300));
    let check = |what: &str, i: u64, r: Result<(), String>| {
        if let Err(e) = r {
            panic!("crash loop seed {seed}, round {i}, after killing {what}: {e}");
        }
    };
    for i in 0..rounds {
        // Push.
        if alice
            .view()
            .gens
            .values()
            .all(|g| g.sync_status == "synced")
        {
            let n = rng.range(50, 150);
            seed_generations(&alice, created, n);
            created += n;
        }
        let synced_before = alice
            .view()
            .gens
            .values()
            .filter(|g| g.sync_status == "synced")
            .count();
        let (running, stalled) = kill_at_random(&alice, "push", &mut rng, &mut est_push);
        st.kills += 1;
        st.mid_way += running as u64;
        st.stalled += stalled as u64;
        let db = alice.open_db();
        check(
            "push",
            i,
            (integrity(&db) == "ok")
                .then_some(())
                .ok_or_else(|| integrity(&db)),
        );
        let l = view_of(&db);
        drop(db);
        let s = cloud.view();
        check("push", i, no_duplicates(&s));
        check("push", i, pusher_ok(&s, &l, created));
        let synced_after = l
            .gens
            .values()
            .filter(|g| g.sync_status == "synced")
            .count();
        if synced_after > synced_before && synced_after < l.gens.len() {
            st.partial_push += 1;
        }

        // Pull, often of everything again.
        if rng.chance(1, 3) {
            let c = bob.open_db();
            c.execute(
                "UPDATE sync_metadata SET value = '0' WHERE key = 'cursor'",
                [],
            )
            .expect("reset cursor");
        }
        let cursor_before = bob.view().cursor;
        let (running, stalled) = kill_at_random(&bob, "pull", &mut rng, &mut est_pull);
        st.kills += 1;
        st.mid_way += running as u64;
        st.stalled += stalled as u64;
        let db = bob.open_db();
        check(
            "pull",
            i,
            (integrity(&db) == "ok")
                .then_some(())
                .ok_or_else(|| integrity(&db)),
        );
        let l = view_of(&db);
        drop(db);
        let s = cloud.view();
        check("pull", i, puller_ok(&s, &l));
        if l.cursor > cursor_before && l.cursor < s.head {
            st.partial_pull += 1;
        }
    }
    // Converge: a plain push and pull.
    let mut pushed = false;
    for _ in 0..3 {
        if alice.run(&["sync", "push"]).code == 0 {
            pushed = true;
            break;
        }
    }
    assert!(
        pushed,
        "alice's final push did not succeed: {:?}",
        alice.run(&["sync", "status", "--json"])
    );
    bob.run(&["sync", "pull"]).ok();
    let s = cloud.view();
    let (a, b) = (alice.view(), bob.view());
    no_duplicates(&s).expect("no duplicates at the end");
    let server: BTreeMap<String, (String, i64, Vec<String>)> = s
        .gens
        .iter()
        .map(|g| {
            (
                g.generation_id.clone(),
                (g.version.clone(), g.rev, changes(g)),
            )
        })
        .collect();
    for (who, l) in [("alice", &a), ("bob", &b)] {
        let local: BTreeMap<String, (String, i64, Vec<String>)> = l
            .gens
            .values()
            .map(|g| {
                (
                    g.generation_id.clone(),
                    (g.version.clone(), g.rev, g.changes.clone()),
                )
            })
            .collect();
        assert_eq!(
            local, server,
            "after the crash loop {who} and the server differ"
        );
        assert!(
            l.gens.values().all(|g| g.sync_status == "synced"),
            "{who} still has pending work"
        );
    }
    assert_eq!(
        server.len() as u64,
        created,
        "the server holds every generation once"
    );
    assert_eq!(b.cursor, s.head, "bob's cursor is at the head");
    st.generations = created;
    st
}

/// CI: 20 rounds = 40 kills (20 of push, 20 of pull).
#[test]
#[allow(clippy::print_stderr)]
fn crash_loop_short() {
    let st = crash_loop(20, 7);
    eprintln!("crash loop (CI): {st:?}");
}

/// On demand: `GRYT_MODEL_KILLS` rounds (default 200), each killing one push and one pull.
#[test]
#[ignore = "long profile: GRYT_MODEL_KILLS=200 cargo test --release --test model -- --ignored crash_loop_long"]
#[allow(clippy::print_stderr)]
fn crash_loop_long() {
    let t = Instant::now();
    let st = crash_loop(
        env_u64("GRYT_MODEL_KILLS", 200),
        env_u64("GRYT_MODEL_SEED", 11),
    );
    eprintln!("crash loop (long): {st:?} in {:?}", t.elapsed());
}
