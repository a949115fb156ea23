//! The `Authorization` header as the server reads it (crates/gryt-server/src/extract.rs
//! `authenticate_head`: scheme split, then `auth::parse_hmac`), then the full HMAC check
//! (`auth::check_hmac`: timestamp parse, skew, hex signature, key lookup in a real
//! in-memory SQLite database, decryption, MAC verification).
//!
//! Input: the header value, optionally followed by "\n" and the request body.
//! Properties: no panic; the parsed parts are non-empty and rebuild the value exactly; the
//! key id holds no ':'; a made-up signature is never accepted.
#![no_main]

use gryt_server::auth::{self, Principal};
use gryt_server::db::{self, Conn, Dialect};
use gryt_server::ServerKey;
use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;

struct Fixture {
    conn: Box<dyn Conn>,
    key: ServerKey,
    key_id: String,
}

fn fixture() -> Fixture {
    let mut conn: Box<dyn Conn> =
        Box::new(db::sqlite::SqliteConn::open(":memory:", None).expect("in-memory SQLite"));
    db::migrate::migrate(conn.as_mut(), Dialect::Sqlite).expect("migrations");
    let uid = gryt_server::accounts::create_user(conn.as_mut(), "fuzzer", "x").expect("user");
    let key = ServerKey::from_bytes([7; 32]);
    let k = gryt_server::accounts::create_api_key(conn.as_mut(), &key, uid, "fuzz", None)
        .expect("api key");
    Fixture {
        conn,
        key,
        key_id: k.key_id,
    }
}

static FIXTURE: Mutex<Option<Fixture>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (value, body) = text.split_once('\n').unwrap_or((text, ""));
    // As extract.rs does it.
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if !scheme.eq_ignore_ascii_case("hmac") {
        return;
    }
    let Some(h) = auth::parse_hmac(rest) else {
        return;
    };
    assert!(!h.key_id.is_empty() && !h.timestamp.is_empty() && !h.signature.is_empty());
    assert!(!h.key_id.contains(':') && !h.signature.contains(':'));
    assert_eq!(
        format!("{}:{}:{}", h.key_id, h.timestamp, h.signature),
        rest
    );

    let mut guard = FIXTURE.lock().unwrap_or_else(|e| e.into_inner());
    let f = guard.get_or_insert_with(fixture);
    // "@" stands for the real key id, so the fuzzer gets past the key lookup.
    let key_id = if h.key_id == "@" {
        f.key_id.clone()
    } else {
        h.key_id.to_string()
    };
    let hh = auth::HmacHeader {
        key_id: &key_id,
        timestamp: h.timestamp,
        signature: h.signature,
    };
    let r = auth::check_hmac(
        f.conn.as_mut(),
        &f.key,
        &hh,
        "POST",
        "/api/v1/generations",
        body.as_bytes(),
    );
    if let Ok(v) = r {
        let Principal { username, .. } = v.principal;
        panic!("a guessed signature was accepted for {username}");
    }
});
