//! Connections, bodies and authentication under abuse: slow clients are cut off and capped
//! per address while others are served; a body is read only after the headers
//! authenticate; body bytes in memory are budgeted per address and in total; floods of
//! wrong passwords are answered 429 while the real user still gets in, and honest
//! concurrent logins from one address all get in (queued, not refused). Several client
//! addresses are played with loopback source addresses (127.0.0.0/8).

use crate::common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A safety net against a hang (a failure, not a measurement).
const NET: Duration = Duration::from_secs(60);

async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{source}:0").parse().unwrap()).unwrap();
    sock.connect(addr).await.unwrap()
}

/// Everything the server sends until it closes the connection (a reset counts as closed).
async fn read_to_close(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(NET, s.read(&mut buf)).await {
            Err(_) => panic!(
                "the server kept the connection open; it sent {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads one answer head (up to the blank line) without waiting for the connection to close.
async fn read_head(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let n = tokio::time::timeout(NET, s.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn hmac_parts(api: &Api) -> (String, String) {
    match &api.auth {
        Auth::Hmac { key_id, secret } => (key_id.clone(), secret.clone()),
        _ => panic!("an HMAC client"),
    }
}

fn signed_head(api: &Api, path: &str, body: &[u8], declared: usize, ts: &str) -> String {
    let (key_id, secret) = hmac_parts(api);
    let sig = sign_bytes(&secret, "POST", path, ts, body);
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {declared}\r\nAuthorization: HMAC {key_id}:{ts}:{sig}\r\n\r\n"
    )
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_capped_per_address() {
    let env = Env::start_with("sqlite", 1, |c| {
        c.max_connections = 40;
        c.max_connections_per_address = 10;
        c.header_timeout = Duration::from_secs(2);
    });
    let api = env.user_with_key("legit");
    let addr = env.server().addr();
    // 100 half-sent requests from one address.
    let mut held = Vec::new();
    for _ in 0..100 {
        let mut s = connect_from("127.0.0.1", addr).await;
        let _ = s
            .write_all(b"POST /api/v1/generations HTTP/1.1\r\nHost: x\r\nContent-Ty")
            .await;
        held.push(s);
    }
    // Another client is served while they hang.
    let legit = Api {
        http: http_client_from("127.0.0.2"),
        ..api.clone()
    };
    let a = legit.get("/api/v1/generations").await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let h = legit.get("/healthz").await;
    assert_eq!(h.status, 200);
    // Every slow connection is closed by the server: at once with 503 over the cap, or
    // when its head does not complete in time.
    let mut refused = 0;
    for s in &mut held {
        let text = read_to_close(s).await;
        if text.starts_with("HTTP/1.1 503") {
            assert!(text.contains("Retry-After: 1"), "{text}");
            assert!(text.contains("too_many_connections"), "{text}");
            refused += 1;
        } else {
            assert!(
                text.is_empty() || text.starts_with("HTTP/1.1 408"),
                "{text}"
            );
        }
    }
    assert!(refused >= 1, "no connection was refused over the cap");
    // Once they are gone, the first address is served again.
    let again = api.get("/api/v1/generations").await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn bodies_are_read_only_after_the_headers_authenticate() {
    let env = Env::start_with("sqlite", 1, |c| {
        c.request_timeout = Duration::from_secs(30);
    });
    let api = env.user_with_key("bodies");
    let (key_id, _) = hmac_parts(&api);
    let addr = env.server().addr();
    let path = "/api/v1/generations";
    let heads = [
        (
            "no credentials",
            "POST /api/v1/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 8000000\r\n\r\n"
                .to_string(),
            "401",
        ),
        (
            "wrong password",
            "POST /api/v1/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 8000000\r\nAuthorization: Basic Ym9kaWVzOndyb25nLXBhc3N3b3Jk\r\n\r\n"
                .to_string(),
            "401",
        ),
        (
            "unknown key",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 8000000\r\nAuthorization: HMAC gk_nobody:{}:00\r\n\r\n",
                timestamp_now()
            ),
            "401",
        ),
        (
            "stale timestamp",
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 8000000\r\nAuthorization: HMAC {key_id}:{}:00\r\n\r\n",
                timestamp_at_offset(-3600)
            ),
            "401",
        ),
    ];
    // The server answers from the head alone: no body byte is sent.
    for (what, head, want) in heads {
        let mut s = connect_from("127.0.0.1", addr).await;
        s.write_all(head.as_bytes()).await.unwrap();
        let answer = read_head(&mut s).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {want}")),
            "{what}: {answer}"
        );
    }
    // A right key with a wrong signature is refused once the body has been read.
    let body = generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft");
    let mut head = signed_head(&api, path, b"something else", body.len(), &timestamp_now());
    head.push_str(&body);
    let mut s = connect_from("127.0.0.1", addr).await;
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_head(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // And a right one is served.
    let ok = api.post(path, &body).await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
}

#[tokio::test]
async fn body_bytes_in_memory_are_budgeted_per_address_and_in_total() {
    let env = Env::start_with("sqlite", 1, |c| {
        c.body_memory_per_address = 100_000;
        c.body_memory = 150_000;
    });
    let api = env.user_with_key("budget");
    let addr = env.server().addr();
    let path = "/api/v1/generations";
    let padded = |version: &str| {
        let mut b = generation_body(&new_uuid(), version, &[("FEAT-1", "x")], "draft");
        b.push_str(&" ".repeat(80_000 - b.len()));
        b
    };
    // A holds 80 kB of its budget while its body is still arriving.
    let body_a = padded("v1.0.0");
    let mut a = connect_from("127.0.0.1", addr).await;
    a.write_all(
        signed_head(
            &api,
            path,
            body_a.as_bytes(),
            body_a.len(),
            &timestamp_now(),
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    a.write_all(&body_a.as_bytes()[..1000]).await.unwrap();
    // Wait (by outcome) until A's reservation is in place: a second 80 kB body from the
    // same address is refused 429 with Retry-After.
    let from = |ip: &str| Api {
        http: http_client_from(ip),
        ..api.clone()
    };
    let mut n = 0;
    let b = loop {
        n += 1;
        let b = from("127.0.0.1")
            .post(path, &padded(&format!("v1.1.{n}")))
            .await;
        if b.status != 201 {
            break b;
        }
        // B got in before A's head was read: again, with another record.
    };
    assert_eq!(b.status, 429, "{:?}", b.body);
    assert!(b.headers.contains_key("retry-after"));
    assert_problem(&b, "per-address body budget");
    // Another address fits its own share but not the server's total.
    let c = from("127.0.0.3").post(path, &padded("v1.0.2")).await;
    assert_eq!(c.status, 503, "{:?}", c.body);
    assert_eq!(c.headers["retry-after"], "1");
    // A completes and is served; its bytes are released.
    a.write_all(&body_a.as_bytes()[1000..]).await.unwrap();
    let answer = read_head(&mut a).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let c = from("127.0.0.3").post(path, &padded("v1.0.3")).await;
    assert_eq!(c.status, 201, "{:?}", c.body);
    // Small requests from everyone else go on meanwhile.
    assert_eq!(api.get("/api/v1/generations").await.status, 200);
}

#[tokio::test]
async fn password_floods_get_429_and_the_real_user_still_gets_in() {
    let env = Env::start_with("sqlite", 1, |c| {
        c.auth_failures_per_address = 5;
        c.auth_failures_per_account = 12;
    });
    gryt_server::admin::add_user(&env.config, "alice", PASSWORD).unwrap();
    let base = env.url();
    let as_from = |ip: &str, password: &str| Api {
        http: http_client_from(ip),
        base: base.clone(),
        auth: Auth::Basic("alice".into(), password.into()),
    };
    // The real user logs in from her usual address.
    let home = as_from("127.0.0.2", PASSWORD);
    assert_eq!(home.get("/api/v1/accounts/me").await.status, 200);
    // A flood of 20 concurrent wrong passwords from one address.
    let flooder = as_from("127.0.0.1", "wrong password!");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let f = flooder.clone();
        tasks.push(tokio::spawn(async move {
            f.get("/api/v1/accounts/me").await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked + limited, 20, "{statuses:?}");
    assert!(checked <= 5, "{checked} passwords checked: {statuses:?}");
    // The flooding address is refused even with the right password, with Retry-After.
    let r = as_from("127.0.0.1", PASSWORD)
        .get("/api/v1/accounts/me")
        .await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    assert_problem(&r, "flooding address");
    assert_eq!(r.body["code"], "too_many_failures");
    let secs: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&secs), "{secs}");
    // The real user still gets in from elsewhere.
    assert_eq!(home.get("/api/v1/accounts/me").await.status, 200);
    // Wrong passwords for alice from more addresses push the account over its limit.
    for ip in ["127.0.0.3", "127.0.0.4"] {
        let w = as_from(ip, "wrong password!");
        for _ in 0..5 {
            let s = w.get("/api/v1/accounts/me").await.status;
            assert!(s == 401 || s == 429, "{s}");
        }
    }
    // Now a new address is refused for alice, even with her password ...
    let fresh = as_from("127.0.0.5", PASSWORD)
        .get("/api/v1/accounts/me")
        .await;
    assert_eq!(fresh.status, 429, "{:?}", fresh.body);
    // ... while her usual address still logs in, and other accounts are not affected.
    assert_eq!(home.get("/api/v1/accounts/me").await.status, 200);
    gryt_server::admin::add_user(&env.config, "bob", PASSWORD).unwrap();
    let bob = Api {
        http: http_client_from("127.0.0.5"),
        base: base.clone(),
        auth: Auth::Basic("bob".into(), PASSWORD.into()),
    };
    assert_eq!(bob.get("/api/v1/accounts/me").await.status, 200);
}

#[tokio::test]
async fn fifty_concurrent_right_passwords_from_one_address_all_get_in() {
    // Far fewer checks allowed under way than logins arrive at once (a CI runner, a NAT).
    let env = Env::start_with("sqlite", 1, |c| {
        c.auth_failures_per_address = 3;
        c.auth_failures_per_account = 3;
    });
    gryt_server::admin::add_user(&env.config, "alice", PASSWORD).unwrap();
    let alice = Api {
        http: http_client_from("127.0.0.1"),
        base: env.url(),
        auth: Auth::Basic("alice".into(), PASSWORD.into()),
    };
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let a = alice.clone();
            tokio::spawn(async move { a.get("/api/v1/accounts/me").await })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        let r = tokio::time::timeout(NET, t)
            .await
            .expect("an answer")
            .unwrap();
        statuses.push(r.status);
    }
    assert!(
        statuses.iter().all(|s| (200..300).contains(s)),
        "every honest login gets in: {statuses:?}"
    );
    // None of them counted as a failure: a wrong password from there is still checked.
    let wrong = Api {
        auth: Auth::Basic("alice".into(), "wrong password!".into()),
        ..alice.clone()
    };
    assert_eq!(wrong.get("/api/v1/accounts/me").await.status, 401);
}

/// Ends every connection the server holds to its PostgreSQL database, as a restart of
/// PostgreSQL does.
fn terminate_server_connections(env: &Env) {
    let admin = pg_admin_url().unwrap();
    let db = env
        .config
        .database
        .rsplit_once('/')
        .map(|(_, n)| n.to_string())
        .unwrap();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&db],
        )
        .unwrap();
    })
    .join()
    .unwrap();
}

#[tokio::test]
async fn a_lost_database_connection_answers_503_then_reconnects() {
    if pg_admin_url().is_none() {
        note("GRYT_TEST_POSTGRES is not set; skipping the PostgreSQL connection-loss test");
        return;
    }
    let env = Env::start("postgres", 1);
    let api = env.user_with_key("pgloss");
    let basic = Api {
        auth: Auth::Basic("pgloss".into(), PASSWORD.into()),
        ..api.clone()
    };
    // Several requests at once, so the pool holds several connections.
    let mut warm = Vec::new();
    for _ in 0..6 {
        let a = api.clone();
        warm.push(tokio::spawn(async move {
            a.get("/api/v1/generations").await.status
        }));
    }
    for w in warm {
        assert_eq!(w.await.unwrap(), 200);
    }
    for round in 0..3 {
        terminate_server_connections(&env);
        // Every answer is a success or a 503 with Retry-After, never a 500; the server
        // reconnects, so a few requests later it serves again.
        let mut served = false;
        for i in 0..20 {
            let a = if i % 2 == 0 {
                basic.get("/api/v1/generations").await
            } else {
                let body = generation_body(
                    &new_uuid(),
                    &format!("v{round}.{i}.0"),
                    &[("FEAT-1", "x")],
                    "draft",
                );
                api.post("/api/v1/generations", &body).await
            };
            match a.status {
                200 | 201 => {
                    served = true;
                    if i % 2 == 1 {
                        break;
                    }
                }
                503 => {
                    assert!(a.headers.contains_key("retry-after"), "{a:?}");
                    assert_problem(&a, "connection lost");
                }
                other => panic!("round {round}, request {i}: {other} {:?}", a.body),
            }
        }
        assert!(served, "the server never reconnected");
    }
    let h = api.get("/healthz").await;
    assert_eq!(h.status, 200);
}

/// A keyed request whose client disconnects while the request waits for its claim (the
/// database locked by another session) still completes: the retry with the same key gets
/// the one result, never a key left in flight. PostgreSQL: the idempotency table locked;
/// SQLite: the database's write lock held by another connection.
async fn disconnect_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = match backend {
        "postgres" => env.user_with_key("gone"),
        _ => {
            // Basic, so that the first write of the request is its claim (an HMAC request
            // first records its signature, which would wait on the lock instead).
            gryt_server::admin::add_user(&env.config, "gone", PASSWORD).unwrap();
            Api::new(&env.url(), Auth::Basic("gone".into(), PASSWORD.into()))
        }
    };
    let url = env.config.database.clone();
    let (locked_tx, locked) = std::sync::mpsc::channel::<()>();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = if backend == "postgres" {
        // Another session holds the idempotency table, so the request stops at its claim.
        let url = url.clone();
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let mut tx = c.transaction().unwrap();
            tx.batch_execute("LOCK TABLE idempotency IN EXCLUSIVE MODE")
                .unwrap();
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv();
            tx.commit().unwrap();
        })
    } else {
        // Another connection holds the write lock, so the request's claim waits for it.
        let path = url.strip_prefix("sqlite:").unwrap().to_string();
        std::thread::spawn(move || {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch("BEGIN IMMEDIATE").unwrap();
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv();
            c.execute_batch("COMMIT").unwrap();
        })
    };
    locked.recv().unwrap();
    let path = "/api/v1/generations";
    let body = generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft");
    let authorization = match &api.auth {
        Auth::Hmac { key_id, secret } => {
            let ts = timestamp_now();
            let sig = sign(secret, "POST", path, &ts, &body);
            format!("HMAC {key_id}:{ts}:{sig}")
        }
        _ => {
            use base64::Engine;
            let pair = format!("gone:{PASSWORD}");
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        }
    };
    let waits_before = url
        .strip_prefix("sqlite:")
        .map(gryt_server::db::sqlite::lock_waits);
    let mut s = connect_from("127.0.0.1", env.server().addr()).await;
    s.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nIdempotency-Key: once\r\n\
             Authorization: {authorization}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // Wait (by outcome) until the server's claim waits on the lock, then disconnect.
    if backend == "postgres" {
        let admin = pg_admin_url().unwrap();
        let d = url.rsplit_once('/').map(|(_, n)| n.to_string()).unwrap();
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            let start = std::time::Instant::now();
            loop {
                let n: i64 = c
                    .query_one(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 \
                         AND wait_event_type = 'Lock' AND query ILIKE '%idempotency%'",
                        &[&d],
                    )
                    .unwrap()
                    .get(0);
                if n > 0 {
                    break;
                }
                assert!(start.elapsed() < NET, "the claim never waited on the lock");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .join()
        .unwrap();
    } else {
        let db = url.strip_prefix("sqlite:").unwrap();
        let start = std::time::Instant::now();
        while Some(gryt_server::db::sqlite::lock_waits(db)) == waits_before {
            assert!(start.elapsed() < NET, "the claim never waited on the lock");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop(s);
    release.send(()).unwrap();
    holder.join().unwrap();
    // The retry with the same key gets the one result: never a claim left in flight.
    let start = std::time::Instant::now();
    let retry = loop {
        let r = api
            .send("POST", path, Some(&body), &[("Idempotency-Key", "once")])
            .await;
        if r.status != 409 {
            break r;
        }
        assert_eq!(r.body["code"], "idempotency_in_flight", "{:?}", r.body);
        assert!(
            start.elapsed() < NET,
            "the key stayed in flight after its client left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(retry.status, 201, "{:?}", retry.body);
    let list = api.get(path).await;
    assert_eq!(
        list.body["data"]["generations"].as_array().unwrap().len(),
        1,
        "the request ran once"
    );
}

#[tokio::test]
async fn a_client_that_disconnects_mid_request_never_leaves_its_key_in_flight() {
    for b in backends() {
        disconnect_on(b).await;
    }
}
