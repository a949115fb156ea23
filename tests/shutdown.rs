//! `gryt server` stops gracefully on SIGTERM: a request already in flight is answered in
//! full before the process exits 0.
//!
//! Deterministic, no sleeps: the request announces `Expect: 100-continue`, so the server's
//! `100 Continue` shows that its handler is reading the body; the server logs when it has
//! taken the signal; only then does the test send the rest of the body.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use support::server::ServerProcess;
use support::Workspace;

/// A safety net against a hang (a failure, not a measurement): no step waits this long
/// when the server behaves.
const NET: Duration = Duration::from_secs(60);

/// Reads from `s` until `needle` has arrived; returns everything read.
fn read_until(s: &mut TcpStream, needle: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) {
        let n = s.read(&mut buf).expect("read from the server");
        assert!(
            n > 0,
            "the server closed the connection: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_then_exits_0() {
    let ws = Workspace::bare("admin").with_env("GRYT_LOG", "gryt_server=info");
    let db = format!("sqlite:{}", ws.home().join("server.db").display());
    let server = ServerProcess::start(&ws, &["--database", &db, "--allow-signup"]);
    let addr = server.addr();

    let body = r#"{"username": "alice", "password": "correct horse battery"}"#;
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(NET)).expect("timeout");
    write!(
        s,
        "POST /api/v1/accounts/create HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .expect("send the head");
    read_until(&mut s, "100 Continue");

    // The request is in the handler. Now the signal; wait until the server has taken it.
    server.terminate();
    server.wait_for_log("shutdown requested", NET);

    // The rest of the body: the request is answered in full.
    s.write_all(body.as_bytes()).expect("send the body");
    let answer = read_until(&mut s, "}");
    assert!(answer.contains("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("alice"), "{answer}");

    let (status, output) = server.wait();
    assert!(
        status.success(),
        "the server exited with {status}:\n{output}"
    );
    // The account was committed: the database holds it.
    let c = rusqlite::Connection::open(ws.home().join("server.db")).expect("open");
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM users WHERE username = 'alice'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(n, 1);
}
