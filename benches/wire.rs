//! Benchmark (not a test) of compression on the wire: the release `gryt` binary against a
//! real gryt server (SQLite, in-process on loopback) through the shared counting proxy
//! (`tests/support/proxy.rs`), with and without compression side by side in one run
//! (`GRYT_COMPRESSION=off` for the plain side). It reports figures and never passes or
//! fails on a clock.
//!
//! Run: `cargo bench --bench wire` (`GRYT_BENCH_ROUNDS=N` first pulls per side, default 3).
//! Measured:
//! - a first pull of 10,000 generations (5 changes each) and 20,000 evolutions into a fresh
//!   workspace: bytes the client received (answers' heads and bodies as framed on the
//!   wire) and wall time, per side;
//! - a push of 1,000 new generations (5 changes each): bytes the client sent, per side.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::proxy::Proxy;
use support::server::Cloud;
use support::Workspace;

const USER: &str = "bench";
const PASSWORD: &str = "bench-password-1";
const BATCH: &str = "POST /api/v1/sync/batch";

/// A workspace logged in to `url` as `bench` (password), project `default`, with
/// `GRYT_COMPRESSION` set to `compression`.
fn workspace(name: &str, url: &str, compression: &str) -> Workspace {
    // gryt stores no password (`gryt config password` is refused): HTTP Basic as before,
    // with the password in the environment.
    let dev = Workspace::bare(name)
        .with_env("GRYT_COMPRESSION", compression)
        .with_env("GRYT_PASSWORD", PASSWORD);
    dev.run(&["init", "-q"]).ok();
    dev.run(&["config", "--global", "gryt_url", url]).ok();
    dev.run(&["config", "--global", "username", USER]).ok();
    dev.run(&["config", "project", "default"]).ok();
    dev
}

/// Runs a `--json` command that must succeed: (wall time, its JSON).
fn timed_json(dev: &Workspace, args: &[&str]) -> (Duration, Value) {
    let t = Instant::now();
    let out = dev.run(args);
    let wall = t.elapsed();
    out.ok();
    (wall, out.json())
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The server's batch route, straight (not through the proxy), Basic auth.
fn batch(http: &reqwest::blocking::Client, url: &str, ops: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for chunk in ops.chunks(500) {
        let r = http
            .post(format!("{url}/api/v1/sync/batch"))
            .basic_auth(USER, Some(PASSWORD))
            .json(&json!({ "operations": chunk }))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "batch: {}", r.status());
        let v: Value = r.json().unwrap();
        for res in v["data"]["results"].as_array().unwrap() {
            assert!(res["status"].as_u64().unwrap() < 300, "{res}");
            out.push(res["body"]["data"].clone());
        }
    }
    out
}

/// 10,000 generations of 5 changes and 2 passing evolutions each, in batches of 500.
fn seed(http: &reqwest::blocking::Client, url: &str) {
    let ops: Vec<Value> = (0..10_000)
        .map(|i| {
            let changes: Vec<Value> = (1..=5)
                .map(|c| json!({ "id": format!("FEAT-{c}"), "type": "add", "title": format!("change {c} of release {i}") }))
                .collect();
            json!({ "op": "create_generation", "body": {
                "generation_id": uuid(), "version": format!("v1.{}.{}", i / 100, i % 100),
                "description": format!("Release {i}"), "changes": changes } })
        })
        .collect();
    let created = batch(http, url, ops);
    let mut evos = Vec::new();
    for g in &created {
        for k in 0..2 {
            evos.push(json!({ "op": "create_evolution", "body": {
                "evolution_id": uuid(), "generation_id": g["id"].to_string(),
                "change_id": format!("FEAT-{}", k % 5 + 1), "status": "pass" } }));
        }
    }
    batch(http, url, evos);
}

/// Writes 1,000 new draft generations of 5 changes each (versions `v{major}.x.y`) straight
/// into a workspace's database, as the sync bench does: creating them one command at a
/// time would measure process start-up, not the wire.
fn thousand_drafts(dev: &Workspace, major: u32) {
    let conn = rusqlite::Connection::open(dev.db()).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..1000 {
        let id = uuid();
        conn.execute(
            "INSERT INTO generations (generation_id, version, description, status, created_at, created_by, updated_at) \
             VALUES (?1, ?2, ?3, 'draft', '2026-01-01T00:00:00Z', 'bench', '2026-01-01T00:00:00Z')",
            rusqlite::params![id, format!("v{major}.{}.{}", i / 100, i % 100), format!("Pushed release {i}")],
        )
        .unwrap();
        for c in 1..=5 {
            conn.execute(
                "INSERT INTO changes (generation_id, position, change_id, type, title) VALUES (?1, ?2, ?3, 'add', ?4)",
                rusqlite::params![id, c, format!("FEAT-{c}"), format!("change {c} of pushed release {i}")],
            )
            .unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn kb(bytes: usize) -> String {
    format!("{:.1} KB", bytes as f64 / 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Side {
    name: &'static str,
    setting: &'static str,
}

const SIDES: [Side; 2] = [
    Side {
        name: "compressed",
        setting: "on",
    },
    Side {
        name: "uncompressed",
        setting: "off",
    },
];

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rounds: usize = std::env::var("GRYT_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3);
    let server = Cloud::start();
    server.add_user_with(USER, PASSWORD);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let proxy = Proxy::start(&server.url());
    println!(
        "server {} (SQLite, in-process), counting proxy {}, binary {}",
        server.url(),
        proxy.url(),
        support::gryt_bin()
    );
    let t = Instant::now();
    seed(&http, &server.url());
    println!(
        "seeded 10,000 generations (5 changes each) and 20,000 evolutions in {}",
        ms(t.elapsed())
    );

    // First pulls into fresh workspaces, the two sides taking turns (round 0 warms the
    // server's caches for both); which side goes first alternates from round to round, so
    // that neither always runs right after the other.
    let mut walls: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut down = [0usize; 2];
    let mut reported = [0u64; 2];
    let mut requests = [0u64; 2];
    for round in 0..=rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let side = &SIDES[i];
            let dev = workspace(
                &format!("pull-{}-{round}", side.name),
                &proxy.url(),
                side.setting,
            );
            proxy.reset_log();
            let (wall, v) = timed_json(&dev, &["sync", "pull", "--json"]);
            let records =
                v["pull"]["inserted"].as_u64().unwrap() + v["pull"]["evolutions"].as_u64().unwrap();
            assert_eq!(records, 30_000, "{}: {v}", side.name);
            if round == 0 {
                continue;
            }
            walls[i].push(wall);
            down[i] = proxy.bytes_down();
            reported[i] = v["bytes"].as_u64().unwrap();
            requests[i] = v["requests"].as_u64().unwrap();
        }
    }
    println!("\nfirst pull of 30,000 records (10,000 generations, 20,000 evolutions), {rounds} round(s) per side after one warm-up:");
    for (i, side) in SIDES.iter().enumerate() {
        let w = &walls[i];
        println!(
            "  {:<12} {:>10} received ({} answer-body bytes per --json), {} requests; wall median {} (min {}, max {})",
            side.name,
            kb(down[i]),
            reported[i],
            requests[i],
            ms(median(w.clone())),
            ms(*w.iter().min().unwrap()),
            ms(*w.iter().max().unwrap()),
        );
    }
    println!(
        "  compressed / uncompressed: {:.3} of the bytes   [target <= 0.25]; wall {:.3}x   [target <= 1.00 on loopback]",
        down[0] as f64 / down[1] as f64,
        median(walls[0].clone()).as_secs_f64() / median(walls[1].clone()).as_secs_f64(),
    );
    // Each round's two pulls ran back to back: their ratio is free of the drift between
    // rounds. Its median, and in how many rounds the compressed pull was the faster.
    let mut ratios: Vec<f64> = walls[0]
        .iter()
        .zip(&walls[1])
        .map(|(c, u)| c.as_secs_f64() / u.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let faster = ratios.iter().filter(|r| **r < 1.0).count();
    let n = ratios.len();
    let mid = if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    };
    println!(
        "  round by round: median ratio {:.3}x (min {:.3}, max {:.3}); compressed faster in {faster} of {} rounds",
        mid,
        ratios[0],
        ratios[n - 1],
        n,
    );

    // Pushes of 1,000 new generations, one per side (different versions: the same project).
    println!("\npush of 1,000 new generations (5 changes each):");
    let mut up = [0usize; 2];
    for (i, side) in SIDES.iter().enumerate() {
        let dev = workspace(&format!("push-{}", side.name), &proxy.url(), side.setting);
        // Up to date first, so the push's own pull is the one-request kind.
        dev.run(&["sync", "pull", "-q"]).ok();
        thousand_drafts(&dev, 8 + i as u32);
        proxy.reset_log();
        let (wall, v) = timed_json(&dev, &["sync", "push", "--json"]);
        assert_eq!(v["push"]["created"], 1000, "{}: {v}", side.name);
        let log = proxy.log();
        let batches: Vec<_> = log.iter().filter(|s| s.route() == BATCH).collect();
        let batch_bytes: usize = batches.iter().map(|s| s.sent()).sum();
        up[i] = proxy.bytes_up();
        let coding = batches
            .first()
            .and_then(|s| s.header("content-encoding"))
            .unwrap_or_else(|| "none".into());
        println!(
            "  {:<12} {:>10} sent in all, of which {} batches {} (Content-Encoding: {coding}); {} requests, wall {}",
            side.name,
            kb(up[i]),
            batches.len(),
            kb(batch_bytes),
            log.len(),
            ms(wall),
        );
    }
    println!(
        "  compressed / uncompressed: {:.3} of the bytes sent",
        up[0] as f64 / up[1] as f64
    );
    drop(proxy);
    drop(server);
}
