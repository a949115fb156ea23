//! A small fake gryt server on 127.0.0.1:0 whose answers a test scripts byte by byte:
//! garbage, wrong types, HTML, huge or truncated bodies, or a plain 401 (a server the user
//! never logged in to). It records the requests it receives, so a test can tell a retry
//! from a single attempt and see what a client sent.

use super::http;
use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the fake writes back.
#[derive(Clone)]
pub enum Reply {
    /// A well-formed answer written verbatim; the connection stays open.
    Bytes(Vec<u8>),
    /// Written verbatim, then the connection is closed (truncated answers, non-HTTP).
    Close(Vec<u8>),
    /// A 200 answer announcing `size` bytes of JSON-looking padding, streamed until the
    /// client stops reading.
    Huge { size: usize },
    /// A 200 answer announcing `size` bytes that start with `prefix` (then padding),
    /// streamed until the client stops reading.
    HugeAfter { size: usize, prefix: Vec<u8> },
    /// A 200 answer whose head comes at once and whose body (`body`) comes one byte every
    /// `every_ms` milliseconds: a server that never stalls long enough for a per-read
    /// timeout, yet never finishes in time.
    Drip { body: Vec<u8>, every_ms: u64 },
}

/// An answer with `status`, a content type and a body (Content-Length framing).
pub fn answer(status: u16, content_type: &str, body: &[u8]) -> Reply {
    Reply::Bytes(http::answer(status, "Scripted", content_type, "", body))
}

pub fn json(status: u16, body: &str) -> Reply {
    answer(status, "application/json", body.as_bytes())
}

pub fn html(status: u16) -> Reply {
    answer(
        status,
        "text/html; charset=utf-8",
        b"<!DOCTYPE html>\n<html><head><title>Oops</title></head><body><h1>Something went wrong</h1></body></html>\n",
    )
}

type Handler = dyn Fn(&str, &[u8]) -> Reply + Send + Sync;

/// One request the fake received: its request line and its whole text (head and body).
#[derive(Clone, Debug)]
struct Received {
    line: String,
    text: String,
}

pub struct Fake {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Fake {
    /// Serves every request with `handler(request line, body)`.
    pub fn start(handler: impl Fn(&str, &[u8]) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake server");
        let addr = listener.local_addr().expect("address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let s = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (s, h) = (s.clone(), handler.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &s, &*h);
                });
            }
        });
        Fake { addr, seen }
    }

    /// A server the user never logged in to: every request is answered 401.
    pub fn unauthorized() -> Fake {
        Fake::start(|_, _| json(401, r#"{"detail":"Authentication required"}"#))
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request lines received so far.
    pub fn requests(&self) -> Vec<String> {
        let seen = self.seen.lock().expect("seen");
        seen.iter().map(|r| r.line.clone()).collect()
    }

    /// Every request received so far, head and body.
    pub fn raw_requests(&self) -> Vec<String> {
        let seen = self.seen.lock().expect("seen");
        seen.iter().map(|r| r.text.clone()).collect()
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Vec<Received>>, handler: &Handler) -> std::io::Result<()> {
    let mut r = BufReader::new(conn.try_clone()?);
    let mut w = conn;
    while let Some(req) = http::read_message(&mut r, false)? {
        let line = req.first_line();
        seen.lock().expect("seen").push(Received {
            line: line.clone(),
            text: req.text(),
        });
        match handler(&line, &req.body) {
            Reply::Bytes(b) => w.write_all(&b)?,
            Reply::Close(b) => {
                w.write_all(&b)?;
                w.flush()?;
                let _ = w.shutdown(Shutdown::Both);
                return Ok(());
            }
            Reply::Drip { body, every_ms } => {
                w.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                )?;
                for b in body {
                    std::thread::sleep(std::time::Duration::from_millis(every_ms));
                    // The client gives up and closes: that ends us.
                    w.write_all(&[b])?;
                    w.flush()?;
                }
            }
            Reply::Huge { size } => {
                huge(&mut w, size, b"{\"data\":{\"head\":1,\"pad\":\"")?;
                return Ok(());
            }
            Reply::HugeAfter { size, prefix } => {
                huge(&mut w, size, &prefix)?;
                return Ok(());
            }
        }
    }
    Ok(())
}

/// A 200 answer announcing `size` bytes: `prefix`, then padding, written until the client
/// stops reading (its limit) and closes.
fn huge(w: &mut TcpStream, size: usize, prefix: &[u8]) -> std::io::Result<()> {
    w.write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        )
        .as_bytes(),
    )?;
    w.write_all(prefix)?;
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = prefix.len();
    while sent < size {
        let n = chunk.len().min(size - sent);
        w.write_all(&chunk[..n])?;
        sent += n;
    }
    Ok(())
}
