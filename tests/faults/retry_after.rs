//! Retries: 429, 502, 503 and 504 are retried (three attempts in a command) honouring
//! `Retry-After`; 400, 401, 403, 404, 409, 412 and 422 are never retried. Retries are
//! counted at the proxy, not timed — except that a wait the server asked for is checked as
//! a lower bound (a sleep never ends early, so the bound holds on any machine).

use super::harness::{join, Cloud, Workspace};
use super::harness::{Fault, Proxy};
use std::time::Duration;

const HEAD: &str = "GET /api/v1/sync/head";
const BATCH: &str = "POST /api/v1/sync/batch";

fn online() -> (Cloud, Proxy, Workspace) {
    let server = Cloud::with_users(&["alice"]);
    let proxy = Proxy::start(&server.url());
    let dev = join(&proxy.url(), "alice");
    dev.run(&["generation", "new", "v1.0.0"]).ok();
    dev.add_change("v1.0.0", "FEAT-1", "add", "One");
    (server, proxy, dev)
}

fn unavailable(secs: &str) -> Fault {
    Fault::Unavailable {
        retry_after: Some(secs.to_string()),
    }
}

#[test]
fn a_503_with_retry_after_is_waited_out_and_the_command_succeeds() {
    let (server, proxy, a) = online();
    proxy.inject(HEAD, unavailable("1"), 2);
    a.run(&["sync", "push"]).ok().stdout_has("1 created");
    let heads: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|s| s.route() == HEAD)
        .collect();
    assert_eq!(heads.len(), 3, "two 503s, then the answer: {heads:#?}");
    assert_eq!(
        heads.iter().map(|s| s.status).collect::<Vec<_>>(),
        vec![Some(503), Some(503), Some(200)]
    );
    // Waited as told: each retry came at least Retry-After after the 503.
    for w in heads.windows(2) {
        assert!(
            w[1].at.duration_since(w[0].at) >= Duration::from_secs(1),
            "retried before Retry-After: {heads:#?}"
        );
    }
    assert_eq!(server.count("alice", "default", "v1.0.0"), 1);
}

#[test]
fn a_503_that_outlasts_the_attempts_exits_4_and_keeps_the_work() {
    let (server, proxy, a) = online();
    let before = a.state();
    // With and without Retry-After, and with a Retry-After that is a date (not honoured
    // as seconds; the backoff applies).
    for fault in [
        unavailable("1"),
        Fault::Unavailable { retry_after: None },
        unavailable("Wed, 21 Oct 2015 07:28:00 GMT"),
    ] {
        proxy.reset_log();
        proxy.always("", fault.clone());
        a.run(&["sync", "push"]).fails(4, &["unreachable", "503"]);
        proxy.clear();
        let log = proxy.log();
        assert_eq!(
            log.len(),
            3,
            "{fault:?}: three attempts, then exit 4: {log:#?}"
        );
        assert!(log.iter().all(|s| s.route() == HEAD));
    }
    before.assert_same(&a.state(), "pushes refused by 503");
    assert_eq!(server.personal_generations("alice", "default").len(), 0);
    a.run(&["sync", "push"]).ok().stdout_has("1 created");
}

#[test]
fn transient_statuses_are_retried() {
    let (_server, proxy, a) = online();
    for status in [429, 502, 504] {
        proxy.reset_log();
        proxy.inject(HEAD, Fault::Status(status), 2);
        a.run(&["sync", "pull"]).ok();
        let statuses: Vec<Option<u16>> = proxy.log().iter().map(|s| s.status).collect();
        assert_eq!(
            statuses,
            vec![Some(status), Some(status), Some(200)],
            "{status}: retried until answered"
        );
    }
}

#[test]
fn refusals_are_never_retried() {
    let (server, proxy, a) = online();
    a.add_change("v1.0.0", "FEAT-2", "add", "Two");
    a.run(&["sync", "push"]).ok();
    a.prove_ending("v1.0.0", "FEAT-1", &[0, 4]);
    // Pending: an update of the generation and a started evolution.
    a.add_change("v1.0.0", "FEAT-3", "add", "Three");
    a.run(&["evolution", "start", "v1.0.0", "--change", "FEAT-2"])
        .ok();
    // The Idempotency-Keys of pending writes are stored before their first request (by
    // design): one refused push first, so the comparison sees only what refusals change.
    proxy.inject(BATCH, Fault::Status(500), 1);
    a.run(&["sync", "push"]).fails(1, &["500"]);
    let before = a.state();
    for status in [400, 401, 403, 404, 409, 412, 422] {
        // On the first request of a pull...
        proxy.reset_log();
        proxy.inject(HEAD, Fault::Status(status), 1);
        let out = a.run(&["sync", "pull"]);
        out.fails(1, &[&status.to_string()]);
        assert_eq!(
            proxy.log().len(),
            1,
            "{status} on head was retried: {:#?}",
            proxy.log()
        );
        // ...and on a batch of writes.
        proxy.reset_log();
        proxy.inject(BATCH, Fault::Status(status), 1);
        let out = a.run(&["sync", "push"]);
        out.fails(1, &[&status.to_string()]);
        assert_eq!(
            proxy.count(BATCH),
            1,
            "{status} on a batch was retried: {:#?}",
            proxy.log()
        );
        proxy.clear();
    }
    before.assert_same(&a.state(), "refused pulls and pushes");
    // The promotion itself, refused with 422 (a 409 is "lost the race": exit 3), once.
    a.run(&["generation", "remove-change", "v1.0.0", "FEAT-3"])
        .ok();
    let tag = a.json(&["evolution", "list"])["evolutions"]
        .as_array()
        .expect("evolutions")
        .iter()
        .find(|e| e["change_id"] == "FEAT-2")
        .and_then(|e| e["tag"].as_str())
        .expect("FEAT-2's evolution")
        .to_string();
    a.run(&["sync", "push"]).ok();
    a.run(&["evolution", "complete", &tag, "--status", "pass"])
        .ok();
    proxy.reset_log();
    proxy.inject("POST /api/v1/generations/", Fault::Status(422), 1);
    a.run(&["promote", "v1.0.0"]).fails(1, &["422"]);
    let promotes = proxy
        .log()
        .iter()
        .filter(|s| s.line.contains("/promote "))
        .count();
    assert_eq!(promotes, 1, "{:#?}", proxy.log());
    assert_eq!(a.generation("v1.0.0")["status"], "draft");
    let g = server
        .personal_generations("alice", "default")
        .into_iter()
        .find(|g| g["version"] == "v1.0.0")
        .expect("v1.0.0");
    assert_eq!(g["status"], "draft", "{g:#}");
}
