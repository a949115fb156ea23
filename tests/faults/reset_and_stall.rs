//! Connections that break mid-answer (reset after half the body) and servers that stop
//! answering (a stall past the client's timeout). A page is applied together with its
//! cursor or not at all, so a broken pull changes nothing and a later pull converges; a
//! stall ends in exit 4 with the work kept pending, never a hang.

use super::harness::{join, Cloud, Workspace};
use super::harness::{Fault, Proxy};

const CHANGES: &str = "GET /api/v1/sync/changes";
const BATCH: &str = "POST /api/v1/sync/batch";

/// A server holding three generations written by `writer` (straight to the server), and
/// `reader`, a second workspace of the same user behind the proxy.
fn published() -> (Cloud, Proxy, Workspace, Workspace) {
    let server = Cloud::with_users(&["alice"]);
    let proxy = Proxy::start(&server.url());
    let writer = join(&server.url(), "alice");
    for (v, c) in [
        ("v1.0.0", "FEAT-1"),
        ("v1.1.0", "FEAT-2"),
        ("v1.2.0", "FIX-3"),
    ] {
        writer
            .run(&["generation", "new", v, "-d", "published"])
            .ok();
        writer.add_change(v, c, "add", "A change");
    }
    writer.run(&["sync", "push"]).ok();
    let reader = join(&proxy.url(), "alice");
    (server, proxy, writer, reader)
}

/// The versions and change ids a workspace holds.
fn holdings(d: &Workspace) -> Vec<(String, Vec<String>)> {
    let list = d.json(&["generation", "list"]);
    let mut out: Vec<(String, Vec<String>)> = list["generations"]
        .as_array()
        .expect("generations")
        .iter()
        .map(|g| {
            let v = g["version"].as_str().expect("version").to_string();
            let changes = d.generation(&v)["changes"]
                .as_array()
                .expect("changes")
                .iter()
                .map(|c| c["id"].as_str().unwrap_or("").to_string())
                .collect();
            (v, changes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_reset_mid_body_of_a_feed_page_is_retried_and_the_page_applied_once() {
    let (_server, proxy, writer, reader) = published();
    proxy.inject(CHANGES, Fault::ResetMidBody, 1);
    reader.run(&["sync", "pull"]).ok();
    assert_eq!(proxy.count(CHANGES), 2, "{:#?}", proxy.log());
    assert_eq!(holdings(&reader), holdings(&writer));
    assert_eq!(reader.cursor(), writer.cursor());
}

#[test]
fn a_pull_reset_on_every_attempt_changes_nothing_and_a_later_pull_converges() {
    let (_server, proxy, writer, reader) = published();
    let before = reader.state();
    proxy.always(CHANGES, Fault::ResetMidBody);
    reader.run(&["sync", "pull"]).fails(4, &["unreachable"]);
    assert_eq!(
        proxy.count(CHANGES),
        3,
        "three attempts: {:#?}",
        proxy.log()
    );
    before.assert_same(&reader.state(), "a pull whose pages all broke mid-body");
    assert_eq!(reader.cursor(), 0);

    proxy.clear();
    reader.run(&["sync", "pull"]).ok();
    assert_eq!(holdings(&reader), holdings(&writer));
    assert_eq!(reader.cursor(), writer.cursor());
    assert_eq!(reader.sync_status()["behind"], false);
}

#[test]
fn a_push_reset_mid_body_is_retried_without_duplicates() {
    let (server, proxy, _writer, reader) = published();
    reader.run(&["sync", "pull"]).ok();
    reader.run(&["generation", "new", "v2.0.0"]).ok();
    reader.add_change("v1.0.0", "FEAT-9", "add", "Edited by the reader");
    proxy.reset_log();
    proxy.inject(BATCH, Fault::ResetMidBody, 1);
    reader
        .run(&["sync", "push"])
        .ok()
        .stdout_has("1 created, 1 updated");
    assert_eq!(proxy.count(BATCH), 2, "{:#?}", proxy.log());
    let gens = server.personal_generations("alice", "default");
    assert_eq!(gens.len(), 4, "{gens:#?}");
    assert_eq!(server.count("alice", "default", "v2.0.0"), 1);
    let g = gens
        .iter()
        .find(|g| g["version"] == "v1.0.0")
        .expect("v1.0.0");
    assert_eq!(g["changes"].as_array().map(Vec::len), Some(2), "{g:#}");
    assert_eq!(g["rev"], 2, "the update was applied once: {g:#}");
}

#[test]
fn a_stalled_server_ends_in_exit_4_with_the_work_kept_pending() {
    let (server, proxy, _writer, mut reader) = published();
    reader.run(&["sync", "pull"]).ok();
    reader.run(&["generation", "new", "v3.0.0"]).ok();
    let before = reader.state();
    // Nothing is ever answered; the client gives up after its timeout on each attempt.
    reader.set_env("GRYT_HTTP_TIMEOUT_MS", "300");
    proxy.reset_log();
    proxy.always("", Fault::Stall);
    reader.run(&["sync", "push"]).fails(4, &["unreachable"]);
    reader.run(&["sync", "pull"]).fails(4, &["unreachable"]);
    let log = proxy.log();
    assert_eq!(log.len(), 6, "three attempts per command: {log:#?}");
    assert!(log
        .iter()
        .all(|s| s.fault == Fault::Stall && s.status.is_none()));
    // Kept pending, nothing else changed, nothing reached the server.
    before.assert_same(&reader.state(), "commands against a stalled server");
    assert_eq!(
        reader.sync_status()["local_only"],
        serde_json::json!(["v3.0.0"])
    );
    assert_eq!(server.count("alice", "default", "v3.0.0"), 0);

    // In cloud mode a change made during the stall is saved and reported as not synced
    // (a note; exit 4 with --strict-sync).
    reader.run(&["config", "execution_mode", "cloud"]).ok();
    reader
        .run(&["generation", "new", "v3.1.0"])
        .ok()
        .stderr_has("not synced");
    proxy.clear();
    reader.run(&["sync", "push"]).ok().stdout_has("2 created");
    assert_eq!(server.count("alice", "default", "v3.0.0"), 1);
    assert_eq!(server.count("alice", "default", "v3.1.0"), 1);
}

#[test]
fn a_batch_committed_but_stalled_past_the_timeout_is_retried_without_duplicates() {
    let (server, proxy, _writer, mut reader) = published();
    reader.run(&["sync", "pull"]).ok();
    reader.run(&["generation", "new", "v4.0.0"]).ok();
    reader.set_env("GRYT_HTTP_TIMEOUT_MS", "1500");
    proxy.reset_log();
    proxy.inject(BATCH, Fault::StallAfterCommit, 1);
    reader.run(&["sync", "push"]).ok().stdout_has("1 created");
    let batches: Vec<_> = proxy
        .log()
        .into_iter()
        .filter(|s| s.route() == BATCH)
        .collect();
    assert!(batches.len() >= 2, "{batches:#?}");
    assert_eq!(batches[0].fault, Fault::StallAfterCommit);
    assert_eq!(server.count("alice", "default", "v4.0.0"), 1);
    assert_eq!(reader.generation("v4.0.0")["sync_status"], "synced");
}
