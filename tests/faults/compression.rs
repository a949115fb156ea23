//! Compressed answers from a hostile or broken server (issue 12): the client's limit on an
//! answer holds on the *decoded* bytes, so a small compressed answer that expands to 1 GiB
//! (a decompression bomb, zstd or gzip) is refused as too large — named so, not retried,
//! nothing changed — without the client holding it in memory; damaged compressed data is a
//! bad answer (exit 1, not retried as if the connection broke); a coding gryt did not ask
//! for is refused by name. And a server that advertised zstd request bodies but refuses
//! one (415) gets the batch again, uncompressed.

use super::harness::{join_fake, problem, Fake, Reply};
use crate::support::http;
use crate::support::{gryt_bin, note};
use serde_json::json as j;
use std::io::Write;
use std::path::Path;

const PULL: &[&str] = &["sync", "pull"];

/// One MiB of JSON-looking padding, as one zstd frame (or gzip member).
fn one_mib(coding: &str) -> Vec<u8> {
    let text = vec![b'x'; 1 << 20];
    match coding {
        "zstd" => zstd::bulk::compress(&text, 3).expect("zstd"),
        _ => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&text).expect("gzip");
            e.finish().expect("gzip")
        }
    }
}

/// A 200 answer whose body decodes to `mib` MiB: `{"data":{"pad":"` and padding, as
/// concatenated frames (a decoder reads them one after the other). A few hundred KiB on
/// the wire.
fn bomb(coding: &str, mib: usize) -> Reply {
    let head = match coding {
        "zstd" => zstd::bulk::compress(b"{\"data\":{\"head\":1,\"pad\":\"", 3).expect("zstd"),
        _ => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(b"{\"data\":{\"head\":1,\"pad\":\"")
                .expect("gzip");
            e.finish().expect("gzip")
        }
    };
    let frame = one_mib(coding);
    let mut body = head;
    for _ in 0..mib {
        body.extend_from_slice(&frame);
    }
    assert!(body.len() < 4 << 20, "{coding}: {} bytes", body.len());
    Reply::Bytes(http::answer(
        200,
        "OK",
        "application/json",
        &format!("Content-Encoding: {coding}\r\n"),
        &body,
    ))
}

/// The peak memory (KiB) of `gryt ARGS` in `dev`'s working directory, as GNU time reports
/// it; `None` without /usr/bin/time.
fn peak_kib(dev: &crate::support::Workspace, args: &[&str]) -> Option<(u64, String)> {
    if !Path::new("/usr/bin/time").exists() {
        return None;
    }
    let mut c = dev.program_in("/usr/bin/time", &dev.root());
    c.arg("-f").arg("MAXRSS %M").arg(gryt_bin()).args(args);
    let out = dev.run_command(c, args, None);
    let kib = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("MAXRSS "))
        .and_then(|v| v.trim().parse().ok())?;
    Some((kib, out.stderr.clone()))
}

#[test]
fn a_compressed_bomb_is_refused_as_too_large_without_holding_it() {
    for coding in ["zstd", "gzip"] {
        let reply = bomb(coding, 1024);
        let fake = Fake::start(move |_, _| reply.clone());
        let dev = join_fake(&fake.url(), "alice");
        let before = dev.state();
        dev.run(PULL)
            .err(1, &["Bad answer from the server", "larger than 64 MiB"])
            .hint("gryt_url");
        assert_eq!(fake.requests().len(), 1, "{coding}: not retried");
        let head = &fake.raw_requests()[0];
        assert!(
            head.to_ascii_lowercase()
                .contains("accept-encoding: zstd, gzip"),
            "{head}"
        );
        before.assert_same(&dev.state(), "a pull refused a compressed bomb");
        // 1 GiB decoded would need at least that much memory; the client stops at its
        // limit (64 MiB) and never holds more than about that.
        match peak_kib(&dev, PULL) {
            Some((kib, stderr)) => {
                assert!(stderr.contains("larger than 64 MiB"), "{stderr}");
                assert!(kib < 256 * 1024, "{coding}: peak {kib} KiB\n{stderr}");
                note(&format!(
                    "{coding} bomb of 1 GiB: peak memory {} MiB",
                    kib / 1024
                ));
            }
            None => note("/usr/bin/time is missing: the bomb's peak memory was not measured"),
        }
    }
}

#[test]
fn damaged_compressed_data_is_a_bad_answer_not_a_broken_connection() {
    for coding in ["zstd", "gzip"] {
        let fake = Fake::start(move |_, _| {
            Reply::Bytes(http::answer(
                200,
                "OK",
                "application/json",
                &format!("Content-Encoding: {coding}\r\n"),
                b"{\"data\":{\"head\":1}} is not compressed",
            ))
        });
        let dev = join_fake(&fake.url(), "alice");
        let before = dev.state();
        dev.run(PULL).err(
            1,
            &[
                "Bad answer from the server",
                &format!("{coding} answer cannot be decoded"),
            ],
        );
        assert_eq!(fake.requests().len(), 1, "{coding}: {:?}", fake.requests());
        before.assert_same(&dev.state(), "a pull given damaged compressed data");
    }
}

#[test]
fn a_coding_gryt_did_not_ask_for_is_refused_by_name() {
    let fake = Fake::start(|_, _| {
        Reply::Bytes(http::answer(
            200,
            "OK",
            "application/json",
            "Content-Encoding: br\r\n",
            b"\x1b\x00\x00",
        ))
    });
    let dev = join_fake(&fake.url(), "alice");
    dev.run(PULL)
        .err(1, &["Content-Encoding 'br'", "did not ask for"]);
    assert_eq!(fake.requests().len(), 1);
}

/// An answer carrying `Accept-Encoding: zstd, gzip` (the server says it takes zstd bodies).
fn advertising(status: u16, body: &str) -> Reply {
    Reply::Bytes(http::answer(
        status,
        "Scripted",
        "application/json",
        "Accept-Encoding: zstd, gzip\r\n",
        body.as_bytes(),
    ))
}

#[test]
fn a_compressed_batch_refused_with_415_is_sent_again_uncompressed() {
    const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    let fake = Fake::start(|line, body| {
        if line.starts_with("GET /api/v1/sync/head") {
            return advertising(200, &j!({ "data": { "head": 0 } }).to_string());
        }
        if line.starts_with("POST /api/v1/sync/batch") {
            if body.starts_with(&ZSTD_MAGIC) {
                return advertising(
                    415,
                    &problem(415, "Content-Encoding 'zstd' is not supported"),
                );
            }
            // Understood, but not taken now: the work stays pending (exit 4).
            let ops = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["operations"].as_array().map(Vec::len))
                .unwrap_or(0);
            let busy = j!({ "status": 503, "body": serde_json::from_str::<serde_json::Value>(&problem(503, "The database is busy; retry shortly")).unwrap_or_default() });
            let results: Vec<_> = (0..ops).map(|_| busy.clone()).collect();
            return advertising(200, &j!({ "data": { "results": results } }).to_string());
        }
        advertising(404, &problem(404, "no such route in the fake"))
    });
    let dev = join_fake(&fake.url(), "alice");
    for i in 0..10 {
        let v = format!("v1.{i}.0");
        dev.run(&[
            "generation",
            "new",
            &v,
            "-d",
            "a release with a long enough description",
        ])
        .ok();
        dev.add_change(&v, "FEAT-1", "add", "OAuth2 login with refresh tokens");
    }
    dev.run(&["sync", "push"]).err(4, &["could not take"]);
    let sent: Vec<String> = fake
        .raw_requests()
        .into_iter()
        .filter(|r| r.starts_with("POST /api/v1/sync/batch"))
        .collect();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let coding = |r: &str| {
        r.lines().take_while(|l| !l.is_empty()).find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-encoding:")
                .map(|v| v.trim().to_string())
        })
    };
    assert_eq!(coding(&sent[0]).as_deref(), Some("zstd"), "{}", sent[0]);
    assert_eq!(coding(&sent[1]), None, "{}", sent[1]);
    assert!(sent[1].contains("\"operations\""), "{}", sent[1]);
}
