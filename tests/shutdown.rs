//! `gryt server` stops gracefully on SIGTERM: a request already in flight is answered in
//! full before the process exits 0.
//!
//! Deterministic, no sleeps: the request announces `Expect: 100-continue`, so the server's
//! `100 Continue` shows that its handler is reading the body; the server logs when it has
//! taken the signal; only then does the test send the rest of the body.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
    let home = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite:{}", home.path().join("server.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_gryt"))
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--allow-signup",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("GRYT_LOG", "gryt_server=info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gryt server");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the listening line");
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

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
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut seen = Vec::new();
    loop {
        let line = lines.recv_timeout(NET).unwrap_or_else(|_| {
            panic!(
                "the server never logged the shutdown; it logged:\n{}",
                seen.join("\n")
            )
        });
        let taken = line.contains("shutdown requested");
        seen.push(line);
        if taken {
            break;
        }
    }

    // The rest of the body: the request is answered in full.
    s.write_all(body.as_bytes()).expect("send the body");
    let answer = read_until(&mut s, "}");
    assert!(answer.contains("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("alice"), "{answer}");

    let status = child.wait().expect("wait for the server");
    assert!(status.success(), "the server exited with {status}");
    // The account was committed: the database holds it.
    let c = rusqlite::Connection::open(home.path().join("server.db")).expect("open");
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM users WHERE username = 'alice'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(n, 1);
}
