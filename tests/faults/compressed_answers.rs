//! Compressed answers from a hostile or broken server (issue 12): the client's limit on an
//! answer holds on the *decoded* bytes, so a small compressed answer that expands to 1 GiB
//! (a decompression bomb, zstd or gzip) is refused as too large — named so, not retried,
//! nothing changed — without the client holding it in memory; damaged compressed data is a
//! bad answer (exit 1, not retried as if the connection broke); a coding gryt did not ask
//! for is refused by name.

use super::harness::{join, Fake, Reply};
use crate::support::http;
use crate::support::{gryt_bin, note};
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
        let dev = join(&fake.url(), "alice");
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
        let dev = join(&fake.url(), "alice");
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
    let dev = join(&fake.url(), "alice");
    dev.run(PULL)
        .err(1, &["Content-Encoding 'br'", "did not ask for"]);
    assert_eq!(fake.requests().len(), 1);
}
