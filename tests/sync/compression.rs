//! Compression on the wire, seen through the shared proxy between the real binary and a
//! real server (issue 12): a pull asks for `zstd, gzip`, receives zstd and takes in the
//! same records as a pull without compression; a push sends its batch as zstd once the
//! server said it takes it (`Accept-Encoding` on its answers), signed over the bytes as
//! sent, and a batch altered on the way is refused; `GRYT_COMPRESSION=off` compresses
//! nothing either way.

use super::harness::{Cloud, Proxy, Workspace};
use crate::support::proxy::{Fault, Seen};
use serde_json::Value;

const BATCH: &str = "POST /api/v1/sync/batch";

/// Generations `v{major}.{i}.0` for i in 0..n, each with three changes, written by `dev`.
fn write_generations(dev: &Workspace, major: u32, n: u32) {
    for i in 0..n {
        let v = format!("v{major}.{i}.0");
        dev.run(&[
            "generation",
            "new",
            &v,
            "-d",
            &format!("Release {v}: a description long enough to be worth compressing"),
        ])
        .ok();
        for (id, title) in [
            ("FEAT-101", "OAuth2 login with refresh tokens"),
            ("FEAT-102", "Export the audit log as CSV"),
            ("BUG-50", "Session timeout after an idle hour"),
        ] {
            dev.add_change(&v, id, "add", title).ok();
        }
    }
}

/// A repository of alice's, project `default`, on the server at `url` with an API key of
/// hers in the environment (every request is HMAC-signed).
fn signed_in(cloud: &Cloud, url: &str, extra: &[(&str, &str)]) -> Workspace {
    let (key_id, secret) = cloud.api_key("alice");
    let mut dev = Workspace::bare("alice");
    dev.set_env("GRYT_API_KEY_ID", &key_id);
    dev.set_env("GRYT_API_KEY_SECRET", &secret);
    for (k, v) in extra {
        dev.set_env(k, v);
    }
    dev.run(&["init"]).ok();
    dev.run(&["config", "--global", "gryt_url", url]).ok();
    dev.run(&["config", "project", "default"]).ok();
    dev
}

/// A repository of alice's on the server at `url` (logged in with `gryt cloud login`),
/// project `default`.
fn joined(url: &str, extra: &[(&str, &str)]) -> Workspace {
    let mut dev = Workspace::bare("alice");
    for (k, v) in extra {
        dev.set_env(k, v);
    }
    dev.join(url, None)
}

/// What a workspace holds, without the fields that differ between two pulls of the same
/// records (local ids, sync times).
fn holdings(dev: &Workspace) -> Vec<Value> {
    let list = dev.json(&["generation", "list"]);
    let mut out = Vec::new();
    for g in list["generations"].as_array().expect("generations") {
        let v = g["version"].as_str().expect("version");
        let shown = dev.show(v);
        let changes = shown["generation"]["changes"].clone();
        let evolutions = shown["evolutions"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|e| {
                        (
                            e["tag"].clone(),
                            e["status"].clone(),
                            e["change_id"].clone(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        out.push(serde_json::json!({
            "version": v,
            "description": shown["generation"]["description"],
            "changes": changes,
            "evolutions": evolutions,
        }));
    }
    out
}

fn answers_to<'a>(log: &'a [Seen], route: &str) -> Vec<&'a Seen> {
    log.iter().filter(|s| s.route() == route).collect()
}

#[test]
fn a_pull_receives_zstd_and_takes_in_the_same_records_as_one_without_compression() {
    let cloud = Cloud::with_users(&["alice"]);
    let writer = joined(&cloud.url(), &[]);
    write_generations(&writer, 1, 12);
    writer.prove("v1.0.0", "FEAT-101");
    writer.run(&["sync", "push"]).ok();

    let proxy = Proxy::start(&cloud.url());
    let zipped = joined(&proxy.url(), &[]);
    let plain = joined(&proxy.url(), &[("GRYT_COMPRESSION", "off")]);
    // Both logged in through the proxy; the pulls are what is compared.
    proxy.reset_log();
    let z = zipped.json(&["sync", "pull"]);
    let log = proxy.log();
    assert!(!log.is_empty());
    for s in &log {
        assert_eq!(
            s.header("accept-encoding").as_deref(),
            Some("zstd, gzip"),
            "{}",
            s.head
        );
    }
    let pages = answers_to(&log, "GET /api/v1/sync/changes");
    assert!(!pages.is_empty(), "{log:#?}");
    for p in &pages {
        assert_eq!(p.status, Some(200), "{}", p.answer_head);
        assert_eq!(
            p.answer_header("content-encoding").as_deref(),
            Some("zstd"),
            "{}",
            p.answer_head
        );
    }
    let zipped_down = proxy.bytes_down();

    proxy.reset_log();
    let p = plain.json(&["sync", "pull"]);
    let log = proxy.log();
    for s in &log {
        assert_eq!(s.header("accept-encoding"), None, "{}", s.head);
        assert_eq!(
            s.answer_header("content-encoding"),
            None,
            "{}",
            s.answer_head
        );
    }
    let plain_down = proxy.bytes_down();

    assert_eq!(z["pull"]["inserted"], 12, "{z:#}");
    assert_eq!(z["pull"]["inserted"], p["pull"]["inserted"]);
    assert_eq!(z["pull"]["evolutions"], p["pull"]["evolutions"]);
    assert_eq!(holdings(&zipped), holdings(&plain));
    assert_eq!(holdings(&zipped).len(), 12);
    // `bytes` counts the answers as they came over the wire.
    let (zb, pb) = (
        z["bytes"].as_u64().unwrap_or(0),
        p["bytes"].as_u64().unwrap_or(0),
    );
    assert!(zb > 0 && zb < pb, "compressed {zb} bytes, plain {pb}");
    assert!(zipped_down < plain_down, "{zipped_down} vs {plain_down}");
}

#[test]
fn a_push_sends_a_signed_zstd_batch_the_server_takes_and_an_altered_one_is_refused() {
    let cloud = Cloud::with_users(&["alice"]);
    let proxy = Proxy::start(&cloud.url());
    let dev = signed_in(&cloud, &proxy.url(), &[]);
    write_generations(&dev, 2, 8);
    proxy.reset_log();
    dev.run(&["sync", "push"]).ok();
    let log = proxy.log();
    // The push's first request (its pull) learns that the server takes zstd bodies.
    assert_ne!(log[0].route(), BATCH, "{log:#?}");
    assert_eq!(
        log[0].answer_header("accept-encoding").as_deref(),
        Some("zstd, gzip")
    );
    let batches = answers_to(&log, BATCH);
    assert_eq!(batches.len(), 1, "{log:#?}");
    let b = batches[0];
    assert_eq!(b.status, Some(200), "{}", b.answer_head);
    assert_eq!(
        b.header("content-encoding").as_deref(),
        Some("zstd"),
        "{}",
        b.head
    );
    assert!(
        b.header("authorization")
            .is_some_and(|a| a.starts_with("HMAC ")),
        "{}",
        b.head
    );
    let decoded = zstd::decode_all(&b.raw_body[..]).expect("a zstd body");
    assert!(
        b.raw_body.len() * 2 < decoded.len(),
        "{} of {}",
        b.raw_body.len(),
        decoded.len()
    );
    let req: Value = serde_json::from_slice(&decoded).expect("JSON inside");
    assert_eq!(req["operations"].as_array().map(Vec::len), Some(8));
    assert_eq!(cloud.personal_generations("alice", "default").len(), 8);

    // The same, altered on the way: the signature covers the bytes as sent, so the server
    // refuses it and the work stays pending.
    write_generations(&dev, 3, 8);
    proxy.reset_log();
    proxy.inject(BATCH, Fault::Tamper, 1);
    dev.run(&["sync", "push"])
        .err(1, &["refused the credentials"]);
    let tampered = proxy.log();
    let b = answers_to(&tampered, BATCH)[0].clone();
    assert_eq!((b.fault.clone(), b.status), (Fault::Tamper, Some(401)));
    assert_eq!(b.header("content-encoding").as_deref(), Some("zstd"));
    assert_eq!(cloud.personal_generations("alice", "default").len(), 8);
    let st = dev.sync_status();
    assert_eq!(st["local_only"].as_array().map(Vec::len), Some(8), "{st:#}");
    dev.run(&["sync", "push"]).ok();
    assert_eq!(cloud.personal_generations("alice", "default").len(), 16);
}

#[test]
fn with_compression_off_nothing_is_compressed_either_way() {
    let cloud = Cloud::with_users(&["alice"]);
    let proxy = Proxy::start(&cloud.url());
    let dev = signed_in(&cloud, &proxy.url(), &[("GRYT_COMPRESSION", "off")]);
    write_generations(&dev, 4, 8);
    proxy.reset_log();
    dev.run(&["sync", "push"]).ok();
    dev.run(&["sync", "pull"]).ok();
    let log = proxy.log();
    assert_eq!(answers_to(&log, BATCH).len(), 1, "{log:#?}");
    for s in &log {
        assert_eq!(s.header("content-encoding"), None, "{}", s.head);
        assert_eq!(s.header("accept-encoding"), None, "{}", s.head);
        assert_eq!(
            s.answer_header("content-encoding"),
            None,
            "{}",
            s.answer_head
        );
    }
    let b = answers_to(&log, BATCH)[0];
    let req: Value = serde_json::from_slice(&b.raw_body).expect("plain JSON");
    assert_eq!(req["operations"].as_array().map(Vec::len), Some(8));
    assert_eq!(cloud.personal_generations("alice", "default").len(), 8);
    // A value that is neither on nor off is refused before anything is sent.
    proxy.reset_log();
    dev.run_env(&["sync", "pull"], &[("GRYT_COMPRESSION", "maybe")])
        .err(1, &["Invalid GRYT_COMPRESSION 'maybe'"])
        .hint("on");
    assert!(proxy.log().is_empty());
}
