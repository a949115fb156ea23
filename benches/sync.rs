//! Benchmark (not a test) of `gryt sync` against a real `gryt server` (SQLite) on
//! loopback. It reports figures and never passes or fails on a clock.
//!
//! Run: `cargo bench --bench sync` (set `GRYT_BENCH_BIG=0` to skip the 100,000-record
//! memory run; `GRYT_COMPRESSION=off` to pull without compression). Measured:
//! - first pull of 10,000 generations (5 changes each) and 20,000 evolutions;
//! - a pull when nothing changed (requests and wall time);
//! - a pull after 10 of the 10,000 generations changed (bytes versus the full pull);
//! - a push of 1,000 new generations (wall time and requests);
//! - peak memory (max RSS, via /usr/bin/time) of a 100,000-record pull.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::server::Cloud;
use support::Workspace;

/// A workspace (the tests' hermetic command) logged in to `url` as `bench`, in project
/// `default`.
fn logged_in(name: &str, url: &str, password: &str) -> Workspace {
    // gryt stores no password (`gryt config password` is refused): HTTP Basic as before,
    // with the password in the environment.
    let dev = Workspace::bare(name).with_env("GRYT_PASSWORD", password);
    // `GRYT_COMPRESSION=off cargo bench --bench sync` measures the pull without compression,
    // to compare with a gryt that had none (the workspaces' environment is hermetic).
    let dev = match std::env::var("GRYT_COMPRESSION") {
        Ok(value) => dev.with_env("GRYT_COMPRESSION", &value),
        Err(_) => dev,
    };
    dev.run(&["init", "-q"]).ok();
    dev.run(&["config", "--global", "gryt_url", url]).ok();
    dev.run(&["config", "--global", "username", "bench"]).ok();
    // The seeded records are in project `default`; the repository's own project would be
    // named after its folder, and its pulls would bring nothing.
    dev.run(&["config", "project", "default"]).ok();
    dev
}

/// Runs a `--json` sync command, which must succeed: (wall time, its JSON).
fn timed_json(dev: &Workspace, args: &[&str]) -> (Duration, Value) {
    let t = Instant::now();
    let out = dev.run(args);
    let wall = t.elapsed();
    out.ok();
    (wall, out.json())
}

struct Api {
    url: String,
    http: reqwest::blocking::Client,
    user: String,
    password: String,
}

impl Api {
    fn post(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .basic_auth(&self.user, Some(&self.password))
            .json(body)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().unwrap()
    }
    fn batch(&self, ops: Vec<Value>) -> Vec<Value> {
        let mut out = Vec::new();
        for chunk in ops.chunks(500) {
            let v = self.post("/api/v1/sync/batch", &json!({ "operations": chunk }));
            for r in v["data"]["results"].as_array().unwrap() {
                assert!(r["status"].as_u64().unwrap() < 300, "{r}");
                out.push(r["body"]["data"].clone());
            }
        }
        out
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Creates `gens` generations of 5 changes and `evos_per_gen` passing evolutions each.
fn seed(api: &Api, first: usize, gens: usize, evos_per_gen: usize) {
    let ops: Vec<Value> = (first..first + gens)
        .map(|i| {
            let changes: Vec<Value> = (1..=5)
                .map(|c| json!({ "id": format!("FEAT-{c}"), "type": "add", "title": format!("change {c} of release {i}") }))
                .collect();
            json!({ "op": "create_generation", "body": {
                "generation_id": uuid(), "version": format!("v{}.{}.{}", i / 10000, (i / 100) % 100, i % 100),
                "description": format!("Release {i}"), "changes": changes } })
        })
        .collect();
    let created = api.batch(ops);
    let mut evos = Vec::new();
    for g in &created {
        for k in 0..evos_per_gen {
            evos.push(json!({ "op": "create_evolution", "body": {
                "evolution_id": uuid(), "generation_id": g["id"].to_string(),
                "change_id": format!("FEAT-{}", k % 5 + 1), "status": "pass" } }));
        }
    }
    api.batch(evos);
}

fn max_rss_kib(dev: &Workspace, args: &[&str]) -> Option<u64> {
    if !Path::new("/usr/bin/time").exists() {
        return None;
    }
    let mut c = dev.program_in("/usr/bin/time", &dev.root());
    c.arg("-f")
        .arg("MAXRSS %M")
        .arg(support::gryt_bin())
        .args(args);
    c.stdout(Stdio::null());
    let out = c.output().ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| l.strip_prefix("MAXRSS "))
        .and_then(|v| v.trim().parse().ok())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = Cloud::start();
    server.add_user_with("bench", "bench-password-1");
    let api = Api {
        url: server.url(),
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap(),
        user: "bench".into(),
        password: "bench-password-1".into(),
    };
    println!(
        "server {} (SQLite), binary {}",
        server.url(),
        support::gryt_bin()
    );

    let t = Instant::now();
    seed(&api, 0, 10_000, 2);
    println!(
        "seeded 10,000 generations (5 changes each) and 20,000 evolutions in {}",
        ms(t.elapsed())
    );

    // The server's share of a first pull: fetching every page, applying nothing.
    let t = Instant::now();
    let mut since = 0;
    loop {
        let page: Value = api
            .http
            .get(format!(
                "{}/api/v1/sync/changes?since={since}&limit=1000",
                api.url
            ))
            .basic_auth(&api.user, Some(&api.password))
            .send()
            .unwrap()
            .json()
            .unwrap();
        since = page["data"]["next"].as_i64().unwrap();
        if since >= page["data"]["head"].as_i64().unwrap() {
            break;
        }
    }
    println!(
        "fetching the whole feed without applying it: {}",
        ms(t.elapsed())
    );

    let dev = logged_in("bench", &server.url(), "bench-password-1");
    let (wall, v) = timed_json(&dev, &["sync", "pull", "--json"]);
    let full_bytes = v["bytes"].as_u64().unwrap();
    println!(
        "first pull: {} records in {} ({} requests, {} bytes)   [target <= 2 s]",
        v["pull"]["inserted"].as_u64().unwrap() + v["pull"]["evolutions"].as_u64().unwrap(),
        ms(wall),
        v["requests"],
        full_bytes
    );

    let mut times = Vec::new();
    let mut requests = 0;
    for _ in 0..20 {
        let (wall, v) = timed_json(&dev, &["sync", "pull", "--json"]);
        requests = v["requests"].as_u64().unwrap();
        times.push(wall);
    }
    times.sort();
    println!(
        "pull with nothing new: median {} min {} over 20 runs, {requests} request(s) each   [target: 1 request, <= 20 ms]",
        ms(times[10]),
        ms(times[0])
    );

    // Change 10 generations on the server (another developer's edits).
    let list: Value = api
        .http
        .get(format!("{}/api/v1/generations", api.url))
        .basic_auth(&api.user, Some(&api.password))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let gens = list["data"]["generations"].as_array().unwrap();
    let ops: Vec<Value> = gens
        .iter()
        .take(10)
        .map(|g| json!({ "op": "update_generation", "id": g["id"], "if_match": g["rev"], "body": { "description": "edited elsewhere" } }))
        .collect();
    api.batch(ops);
    let (wall, v) = timed_json(&dev, &["sync", "pull", "--json"]);
    let delta = v["bytes"].as_u64().unwrap();
    println!(
        "pull after 10 of 10,000 changed: {} bytes = {:.3}% of the full pull, {}   [target <= 1%]",
        delta,
        delta as f64 * 100.0 / full_bytes as f64,
        ms(wall)
    );

    // Push 1,000 new generations from a second workspace.
    let pusher = logged_in("pusher", &server.url(), "bench-password-1");
    // An up-to-date workspace, so the push's own pull-first is the one-request kind.
    pusher.run(&["sync", "pull", "-q"]).ok();
    let db = pusher.db();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..1000 {
            let id = uuid();
            conn.execute(
                "INSERT INTO generations (generation_id, version, description, status, created_at, created_by, updated_at) \
                 VALUES (?1, ?2, 'pushed', 'draft', '2026-01-01T00:00:00Z', 'bench', '2026-01-01T00:00:00Z')",
                rusqlite::params![id, format!("v9.{}.{}", i / 100, i % 100)],
            )
            .unwrap();
            for c in 1..=5 {
                conn.execute(
                    "INSERT INTO changes (generation_id, position, change_id, type, title) VALUES (?1, ?2, ?3, 'add', 'x')",
                    rusqlite::params![id, c, format!("FEAT-{c}")],
                )
                .unwrap();
            }
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    let (wall, v) = timed_json(&pusher, &["sync", "push", "--json"]);
    println!(
        "push of 1,000 new generations: {} created in {}, {} requests in all (including its pull first)   [target <= 2 s]",
        v["push"]["created"],
        ms(wall),
        v["requests"]
    );

    if std::env::var("GRYT_BENCH_BIG").as_deref() != Ok("0") {
        // 100,000 records: 30,000 more generations with 1 evolution each, on top of the 40,000 so far.
        let t = Instant::now();
        seed(&api, 20_000, 30_000, 1);
        println!("seeded to 101,000 feed records in {}", ms(t.elapsed()));
        let fresh = logged_in("fresh", &server.url(), "bench-password-1");
        let t = Instant::now();
        match max_rss_kib(&fresh, &["sync", "pull", "-q"]) {
            Some(kib) => println!(
                "first pull of ~100,000 records: peak memory {:.1} MB, {}   [target <= 100 MB]",
                kib as f64 / 1024.0,
                ms(t.elapsed())
            ),
            None => println!("first pull of ~100,000 records: /usr/bin/time is missing, peak memory not measured"),
        }
    }
    drop(server);
}
