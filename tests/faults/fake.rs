//! A small fake gryt server (std `TcpListener` on 127.0.0.1:0) whose answers a test
//! scripts byte by byte: garbage, wrong types, HTML, huge or truncated bodies. It counts
//! the requests it receives, so a test can tell a retry from a single attempt.

use std::io::{BufRead, BufReader, Read, Write};
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
    let mut v = format!(
        "HTTP/1.1 {status} Scripted\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    Reply::Bytes(v)
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

pub struct Fake {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
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

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request lines received so far.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("seen").clone()
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Vec<String>>, handler: &Handler) -> std::io::Result<()> {
    let mut r = BufReader::new(conn.try_clone()?);
    let mut w = conn;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Ok(());
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if h == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; length];
        r.read_exact(&mut body)?;
        seen.lock().expect("seen").push(line.clone());
        match handler(&line, &body) {
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
