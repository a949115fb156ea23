//! Fifty clients during a 503 storm: the request rate stays bounded by the clients'
//! attempt limit and backoff. Each client syncs its own project (the proxy tells them apart
//! by `project=` in the query or the batch body), so every request is attributed; the
//! assertions are on outcomes and counts, never on timings.

use super::harness::{join, Cloud, Out, Workspace};
use super::harness::{Fault, Proxy, Seen};
use std::collections::BTreeMap;

const CLIENTS: usize = 50;
/// The client's attempts per request (src/remote.rs; `GRYT_HTTP_ATTEMPTS` is not set).
const ATTEMPTS: usize = 3;
const HEAD: &str = "GET /api/v1/sync/head";
const BATCH: &str = "POST /api/v1/sync/batch";

fn project(i: usize) -> String {
    format!("storm{i:02}")
}

/// `CLIENTS` workspaces of alice behind the proxy, each in its own project with one new
/// generation pending.
fn clients(proxy: &Proxy) -> Vec<Workspace> {
    let template = join(&proxy.url(), "alice");
    let devs: Vec<Workspace> = (0..CLIENTS)
        .map(|i| {
            let mut d = template.duplicate(&project(i));
            d.set_env("GRYT_PROJECT", &project(i));
            d
        })
        .collect();
    let all: Vec<&Workspace> = devs.iter().collect();
    for out in run_all(&all, &["generation", "new", "v1.0.0", "-d", "storm"]) {
        out.ok();
    }
    devs
}

/// Runs the same command in every workspace at once; the outputs in order.
fn run_all(devs: &[&Workspace], args: &[&str]) -> Vec<Out> {
    let children: Vec<_> = devs
        .iter()
        .map(|d| {
            d.command_env(args, &[])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn gryt")
        })
        .collect();
    let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    children
        .into_iter()
        .zip(devs)
        .map(|(c, d)| super::harness::finish(&d.name, &argv, c.wait_with_output().expect("wait")))
        .collect()
}

/// Each client's requests, in order.
fn by_client(log: &[Seen]) -> BTreeMap<String, Vec<Seen>> {
    let mut m: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
    for s in log {
        let p = s
            .project()
            .unwrap_or_else(|| panic!("a request without a project: {s:?}"));
        m.entry(p).or_default().push(s.clone());
    }
    m
}

/// No client sent any request more often than its attempt limit.
#[track_caller]
fn assert_bounded(log: &[Seen]) {
    for (client, seen) in by_client(log) {
        let mut per_route: BTreeMap<String, usize> = BTreeMap::new();
        for s in &seen {
            *per_route.entry(s.route()).or_default() += 1;
        }
        for (route, n) in per_route {
            assert!(
                n <= ATTEMPTS,
                "{client} sent {route} {n} times (limit {ATTEMPTS}): {seen:#?}"
            );
        }
    }
}

#[test]
#[allow(clippy::print_stderr)]
fn fifty_clients_in_a_503_storm_stay_within_their_attempts_and_deliver_once() {
    let server = Cloud::with_users(&["alice"]);
    let proxy = Proxy::start(&server.url());
    let devs = clients(&proxy);
    let all: Vec<&Workspace> = devs.iter().collect();

    // 1. A storm through the whole run, with Retry-After: everyone gives up after exactly
    //    its attempts, exits 4 and keeps the work; nothing reaches the server.
    proxy.reset_log();
    proxy.always(
        "",
        Fault::Unavailable {
            retry_after: Some("1".into()),
        },
    );
    for out in run_all(&all, &["sync", "push"]) {
        out.fails(4, &["unreachable", "503"]);
    }
    proxy.clear();
    let log = proxy.log();
    let storm1 = log.len();
    assert_eq!(storm1, CLIENTS * ATTEMPTS, "total requests in the storm");
    assert!(log
        .iter()
        .all(|s| s.route() == HEAD && s.status == Some(503)));
    let clients1 = by_client(&log);
    assert_eq!(clients1.len(), CLIENTS);
    assert!(
        clients1.values().all(|v| v.len() == ATTEMPTS),
        "{clients1:#?}"
    );
    let peak1 = proxy.peak_in(std::time::Duration::from_secs(1));
    for i in [0, CLIENTS - 1] {
        assert!(server.personal_generations("alice", &project(i)).is_empty());
    }

    // 2. A storm without Retry-After for the next 60 requests, then the server is back:
    //    some clients get through, the others give up after their attempts.
    proxy.reset_log();
    let storm_len = 60;
    proxy.inject("", Fault::Unavailable { retry_after: None }, storm_len);
    let outs = run_all(&all, &["sync", "push"]);
    let log = proxy.log();
    assert_bounded(&log);
    let refused = log.iter().filter(|s| s.status == Some(503)).count();
    assert_eq!(refused, storm_len, "the storm answered exactly its 503s");
    assert!(
        log.len() <= CLIENTS * ATTEMPTS * 2,
        "{} requests",
        log.len()
    );
    let clients2 = by_client(&log);
    let mut gave_up = Vec::new();
    for (i, out) in outs.iter().enumerate() {
        let seen = &clients2[&project(i)];
        match out.code {
            0 => {
                out.stdout_has("1 created");
                assert_eq!(seen.last().and_then(|s| s.status), Some(200), "{out:?}");
            }
            4 => {
                // It stopped after exactly its attempts on the request that kept failing.
                let last = seen.last().expect("a request");
                let same: Vec<_> = seen.iter().filter(|s| s.route() == last.route()).collect();
                assert_eq!(same.len(), ATTEMPTS, "{out:?}\n{seen:#?}");
                assert!(same.iter().all(|s| s.status == Some(503)), "{seen:#?}");
                gave_up.push(i);
            }
            _ => panic!("unexpected outcome\n{out:?}"),
        }
    }
    let storm2 = log.len();
    let peak2 = proxy.peak_in(std::time::Duration::from_secs(1));

    // 3. After the storm every client that gave up delivers, and the server holds each
    //    client's generation exactly once.
    let late: Vec<&Workspace> = gave_up.iter().map(|i| &devs[*i]).collect();
    for out in run_all(&late, &["sync", "push"]) {
        out.ok().stdout_has("1 created");
    }
    for i in 0..CLIENTS {
        let gens = server.personal_generations("alice", &project(i));
        assert_eq!(gens.len(), 1, "{}: {gens:#?}", project(i));
    }
    let batches = log.iter().filter(|s| s.route() == BATCH).count();
    eprintln!(
        "storm figures: phase 1 (Retry-After: 1, all requests): {storm1} requests from {CLIENTS} clients, \
         peak {peak1}/s; phase 2 (no Retry-After, first {storm_len} requests): {storm2} requests \
         ({refused} answered 503, {batches} batches), {} clients gave up (exit 4) and delivered later, \
         peak {peak2}/s",
        gave_up.len()
    );
}
