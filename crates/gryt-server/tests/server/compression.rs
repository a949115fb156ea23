//! Compression both ways: answers in zstd (preferred) or gzip (the reference client's),
//! request bodies sent as zstd or gzip, signed over the bytes as sent, and the body limit
//! applied to the decoded bytes (a decompression bomb is 413 and the server stays healthy).
//!
//! Answers are read over a plain TCP exchange here, not through reqwest: a build with
//! reqwest's decompression features would decode and drop `Content-Encoding` before the
//! test could see what the server sent.

use crate::common::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Status, headers (names lowercase) and body (de-chunked, still content-encoded).
struct RawAnswer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// One `GET` on its own connection (`Connection: close`), read to the end.
async fn raw_get(env: &Env, path: &str, headers: &[(&str, String)]) -> RawAnswer {
    let mut s = tokio::net::TcpStream::connect(env.server().addr())
        .await
        .unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).await.unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8(all[..split].to_vec()).unwrap();
    let mut rest = &all[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        let mut out = Vec::new();
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size_line = std::str::from_utf8(&rest[..eol]).unwrap();
            let size =
                usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16).unwrap();
            rest = &rest[eol + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        out
    } else {
        rest.to_vec()
    };
    RawAnswer {
        status,
        headers,
        body,
    }
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn signed(api: &Api, method: &str, path: &str) -> (&'static str, String) {
    let Auth::Hmac { key_id, secret } = &api.auth else {
        unreachable!()
    };
    let ts = timestamp_now();
    let sig = sign(secret, method, path, &ts, "");
    ("Authorization", format!("HMAC {key_id}:{ts}:{sig}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_zstd_when_asked_gzip_for_the_reference_client_else_plain() {
    let env = Env::start("sqlite", 1);
    let api = env.user_with_key("zip");
    for i in 0..20 {
        let g = api
            .post(
                "/api/v1/generations",
                &generation_body(
                    &new_uuid(),
                    &format!("v1.{i}.0"),
                    &[("F-1", "Login")],
                    "draft",
                ),
            )
            .await;
        assert_eq!(g.status, 201, "{g:?}");
    }
    let path = "/api/v1/sync/changes?since=0&limit=100";
    let plain = raw_get(&env, path, &[signed(&api, "GET", path)]).await;
    assert_eq!(plain.status, 200);
    assert!(
        !plain.headers.contains_key("content-encoding"),
        "{:?}",
        plain.headers
    );
    let v: serde_json::Value = serde_json::from_slice(&plain.body).unwrap();
    assert_eq!(v["data"]["items"].as_array().unwrap().len(), 20);
    // Every answer names the codings the server takes in request bodies (RFC 7694), so a
    // client knows it may compress them; an unauthenticated refusal too.
    assert_eq!(plain.headers["accept-encoding"], "zstd, gzip");
    let refused = raw_get(&env, path, &[]).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.headers["accept-encoding"], "zstd, gzip");

    // Both offered (no preference): zstd.
    let accept = ("Accept-Encoding", "gzip, zstd".to_string());
    let z = raw_get(&env, path, &[signed(&api, "GET", path), accept]).await;
    assert_eq!(z.status, 200);
    assert_eq!(z.headers["content-encoding"], "zstd");
    assert!(z.headers["vary"]
        .to_ascii_lowercase()
        .contains("accept-encoding"));
    assert_eq!(zstd::decode_all(&z.body[..]).unwrap(), plain.body);
    // Compressed whole: sent with its length, not in chunks.
    assert_eq!(z.headers["content-length"], z.body.len().to_string());
    assert!(
        !z.headers.contains_key("transfer-encoding"),
        "{:?}",
        z.headers
    );
    assert!(
        z.body.len() * 4 < plain.body.len(),
        "{} vs {}",
        z.body.len(),
        plain.body.len()
    );

    // The reference client asks for gzip only (Python requests: "gzip, deflate").
    let accept = ("Accept-Encoding", "gzip, deflate".to_string());
    let g = raw_get(&env, path, &[signed(&api, "GET", path), accept]).await;
    assert_eq!(g.headers["content-encoding"], "gzip");
    assert_eq!(gunzip(&g.body), plain.body);

    // Problem bodies are compressed too, and keep their request id.
    let accept = ("Accept-Encoding", "zstd".to_string());
    let id = ("X-Request-Id", "zip-404".to_string());
    let missing = "/api/v1/generations/424242";
    let p = raw_get(&env, missing, &[signed(&api, "GET", missing), accept, id]).await;
    assert_eq!(p.status, 404);
    let body: serde_json::Value = match p.headers.get("content-encoding").map(String::as_str) {
        Some("zstd") => serde_json::from_slice(&zstd::decode_all(&p.body[..]).unwrap()).unwrap(),
        _ => serde_json::from_slice(&p.body).unwrap(),
    };
    assert_eq!(body["request_id"], "zip-404");
    assert_eq!(p.headers["x-request-id"], "zip-404");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_request_bodies_are_signed_as_sent_and_decoded() {
    let env = Env::start("sqlite", 1);
    let api = env.user_with_key("packer");
    let Auth::Hmac { key_id, secret } = api.auth.clone() else {
        unreachable!()
    };
    let json_ct = ("Content-Type", b"application/json".to_vec());
    for (enc, pack) in [
        ("gzip", gzip as fn(&[u8]) -> Vec<u8>),
        ("zstd", |b: &[u8]| zstd::encode_all(b, 3).unwrap()),
    ] {
        let version = format!("v2.0.0-{enc}");
        let body = generation_body(&new_uuid(), &version, &[("F-1", "Login")], "draft");
        let packed = pack(body.as_bytes());
        let ce = ("Content-Encoding", enc.as_bytes().to_vec());
        // Signed over the compressed bytes, as sent: accepted and decoded.
        let a = api
            .send_raw(
                "POST",
                "/api/v1/generations",
                &packed,
                &[json_ct.clone(), ce.clone()],
            )
            .await;
        assert_eq!(a.status, 201, "{enc}: {a:?}");
        assert_eq!(a.body["data"]["version"], version.as_str());
        // Signed over the decoded bytes instead: the signature does not match.
        let ts = timestamp_now();
        let sig = sign(&secret, "POST", "/api/v1/generations", &ts, &body);
        let auth = format!("HMAC {key_id}:{ts}:{sig}").into_bytes();
        let unsigned = Api::new(&env.url(), Auth::None);
        let a = unsigned
            .send_raw(
                "POST",
                "/api/v1/generations",
                &packed,
                &[json_ct.clone(), ce, ("Authorization", auth)],
            )
            .await;
        assert_eq!(a.status, 401, "{enc}: {a:?}");
        assert!(a.detail().contains("Invalid signature"), "{a:?}");
    }
    // Damaged data is 400; another coding is 415.
    let a = api
        .send_raw(
            "POST",
            "/api/v1/generations",
            b"not gzip at all",
            &[json_ct.clone(), ("Content-Encoding", b"gzip".to_vec())],
        )
        .await;
    assert_eq!(a.status, 400, "{a:?}");
    let a = api
        .send_raw(
            "POST",
            "/api/v1/generations",
            b"{}",
            &[json_ct, ("Content-Encoding", b"br".to_vec())],
        )
        .await;
    assert_eq!(a.status, 415, "{a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decompression_bomb_is_413_and_the_server_stays_healthy() {
    let env = Env::start("sqlite", 1);
    let api = env.user_with_key("bomber");
    let limit = gryt_server::DEFAULT_BODY_LIMIT;
    // A JSON array of zeros one MiB past the limit: a few KiB once compressed.
    let mut big = Vec::with_capacity(limit + (1 << 20));
    big.push(b'[');
    while big.len() < limit + (1 << 20) {
        big.extend_from_slice(b"0,");
    }
    big.extend_from_slice(b"0]");
    let json_ct = ("Content-Type", b"application/json".to_vec());
    for (enc, packed) in [
        ("gzip", gzip(&big)),
        ("zstd", zstd::encode_all(&big[..], 19).unwrap()),
    ] {
        assert!(packed.len() < 64 * 1024, "{enc}: {} bytes", packed.len());
        let a = api
            .send_raw(
                "POST",
                "/api/v1/sync/batch",
                &packed,
                &[
                    json_ct.clone(),
                    ("Content-Encoding", enc.as_bytes().to_vec()),
                ],
            )
            .await;
        assert_eq!(a.status, 413, "{enc}: {a:?}");
        assert_eq!(a.body["code"], "too_large");
        assert!(a.detail().contains("decompresses to more than"), "{a:?}");
        // The server still serves, and the bomb's bytes were given back to the budget.
        let body = generation_body(
            &new_uuid(),
            &format!("v3.0.0-{enc}"),
            &[("FEAT-1", "x")],
            "draft",
        );
        let ok = api
            .send_raw(
                "POST",
                "/api/v1/generations",
                &gzip(body.as_bytes()),
                &[json_ct.clone(), ("Content-Encoding", b"gzip".to_vec())],
            )
            .await;
        assert_eq!(ok.status, 201, "{enc}: {ok:?}");
        assert_eq!(api.get("/healthz").await.status, 200);
    }
}
