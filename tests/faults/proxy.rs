//! A fault-injecting HTTP/1.1 proxy between the real `gryt` binary and a real gryt server,
//! both on 127.0.0.1. Each request is matched against the armed rules (a prefix of its
//! request line, e.g. `"POST /api/v1/sync/batch"`, and how many more times the rule fires);
//! the first rule that fires decides its fate, others pass through. Every request is logged
//! with its fate and the status the client saw, so tests count retries instead of timing them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What happens to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded; the server's answer is forwarded.
    Pass,
    /// Forwarded and answered by the server (committed), then the client's connection is
    /// closed without a byte of the answer: a lost response.
    DropAfterCommit,
    /// Forwarded; the answer's head and half its body reach the client, then the
    /// connection is reset (RST).
    ResetMidBody,
    /// Not forwarded: the connection is held open without an answer until the client
    /// gives up (its timeout).
    Stall,
    /// Forwarded and committed, then held without an answer until the client gives up.
    StallAfterCommit,
    /// Not forwarded: `503 Service Unavailable`, with `Retry-After: N` when given.
    Unavailable { retry_after: Option<String> },
    /// Not forwarded: the given status with a problem+json body.
    Status(u16),
    /// Not forwarded: the given status with a problem+json body carrying this `code` (as the
    /// server would answer, e.g. 409 `idempotency_in_flight`).
    Problem(u16, &'static str),
}

struct Rule {
    prefix: String,
    fault: Fault,
    /// `None`: until disarmed.
    remaining: Option<usize>,
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    /// `METHOD /path?query HTTP/1.1`.
    pub line: String,
    pub body: String,
    pub fault: Fault,
    /// The status the client received (`None`: no answer reached it).
    pub status: Option<u16>,
}

impl Seen {
    /// `METHOD /path` without the query.
    pub fn route(&self) -> String {
        let mut parts = self.line.split(' ');
        let method = parts.next().unwrap_or("");
        let target = parts.next().unwrap_or("");
        let path = target.split('?').next().unwrap_or("");
        format!("{method} {path}")
    }

    /// The `project` the request is about: the query's `project=`, else the body's
    /// `"project":"..."` (how concurrent clients in their own projects are told apart).
    pub fn project(&self) -> Option<String> {
        if let Some(i) = self.line.find("project=") {
            let rest = &self.line[i + "project=".len()..];
            let end = rest.find(['&', ' ']).unwrap_or(rest.len());
            return Some(rest[..end].to_string());
        }
        let key = "\"project\":\"";
        let i = self.body.find(key)?;
        let rest = &self.body[i + key.len()..];
        Some(rest[..rest.find('"')?].to_string())
    }
}

struct Shared {
    upstream: SocketAddr,
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<Seen>>,
}

impl Shared {
    fn pick(&self, line: &str) -> Fault {
        let mut rules = self.rules.lock().expect("rules");
        for r in rules.iter_mut() {
            if !line.starts_with(&r.prefix) {
                continue;
            }
            match &mut r.remaining {
                Some(0) => continue,
                Some(n) => *n -= 1,
                None => {}
            }
            return r.fault.clone();
        }
        Fault::Pass
    }

    fn record(&self, line: &str, body: &[u8], fault: &Fault) -> usize {
        let mut log = self.log.lock().expect("log");
        log.push(Seen {
            at: Instant::now(),
            line: line.to_string(),
            body: String::from_utf8_lossy(body).into_owned(),
            fault: fault.clone(),
            status: None,
        });
        log.len() - 1
    }

    fn answered(&self, i: usize, status: u16) {
        self.log.lock().expect("log")[i].status = Some(status);
    }
}

pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Proxy {
        let upstream: SocketAddr = upstream
            .strip_prefix("http://")
            .expect("an http:// URL")
            .parse()
            .expect("IP:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = serve(client, &s);
                });
            }
        });
        Proxy { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `times` requests whose request line starts with `prefix` meet `fault`.
    pub fn inject(&self, prefix: &str, fault: Fault, times: usize) {
        self.shared.rules.lock().expect("rules").push(Rule {
            prefix: prefix.to_string(),
            fault,
            remaining: Some(times),
        });
    }

    /// Every request starting with `prefix` meets `fault` until `clear`.
    pub fn always(&self, prefix: &str, fault: Fault) {
        self.shared.rules.lock().expect("rules").push(Rule {
            prefix: prefix.to_string(),
            fault,
            remaining: None,
        });
    }

    /// Disarms every rule: pass-through.
    pub fn clear(&self) {
        self.shared.rules.lock().expect("rules").clear();
    }

    /// Every request seen so far.
    pub fn log(&self) -> Vec<Seen> {
        self.shared.log.lock().expect("log").clone()
    }

    /// Forgets the log (counts start again from zero).
    pub fn reset_log(&self) {
        self.shared.log.lock().expect("log").clear();
    }

    /// How many requests of `route` (`"POST /api/v1/sync/batch"`) were seen.
    pub fn count(&self, route: &str) -> usize {
        self.log().iter().filter(|s| s.route() == route).count()
    }

    /// The most requests seen within any window of `window` (a figure for reports, never
    /// asserted: timings vary by machine).
    pub fn peak_in(&self, window: Duration) -> usize {
        let mut times: Vec<Instant> = self.log().iter().map(|s| s.at).collect();
        times.sort();
        let mut best = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end].duration_since(times[start]) > window {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }
}

/// One HTTP/1.1 message: its head and its body exactly as framed on the wire.
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
}

impl Message {
    fn first_line(&self) -> String {
        let end = self
            .head
            .iter()
            .position(|b| *b == b'\r')
            .unwrap_or(self.head.len());
        String::from_utf8_lossy(&self.head[..end]).into_owned()
    }

    fn status(&self) -> u16 {
        self.first_line()
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn bytes(&self) -> Vec<u8> {
        let mut v = self.head.clone();
        v.extend_from_slice(&self.body);
        v
    }
}

/// Reads one message (Content-Length or chunked body); `None` at a clean end of stream.
fn read_message(r: &mut impl BufRead, bodiless: bool) -> std::io::Result<Option<Message>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if let Some(v) = text.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if text.starts_with("transfer-encoding:") && text.contains("chunked") {
            chunked = true;
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let mut body = Vec::new();
    if bodiless {
        // HEAD answers and the like: no body whatever the headers say.
    } else if chunked {
        loop {
            let mut size_line = Vec::new();
            r.read_until(b'\n', &mut size_line)?;
            body.extend_from_slice(&size_line);
            let size_text = String::from_utf8_lossy(&size_line);
            let size = usize::from_str_radix(size_text.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            if size == 0 {
                // Trailers end with an empty line.
                loop {
                    let mut t = Vec::new();
                    r.read_until(b'\n', &mut t)?;
                    body.extend_from_slice(&t);
                    if t == b"\r\n" || t.is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0u8; size + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
        }
    } else {
        body = vec![0u8; length];
        r.read_exact(&mut body)?;
    }
    Ok(Some(Message { head, body }))
}

/// Sends one request to the server on a fresh connection and reads its whole answer.
fn forward(upstream: SocketAddr, req: &Message) -> std::io::Result<Message> {
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&req.bytes())?;
    let head_request = req.first_line().starts_with("HEAD ");
    let mut reader = BufReader::new(server);
    read_message(&mut reader, head_request)?.ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
}

/// Keeps a connection open without answering until the client closes it (bounded, so a
/// forgotten client cannot keep the thread forever).
fn hold(r: &mut impl Read) {
    let mut buf = [0u8; 1024];
    let until = Instant::now() + Duration::from_secs(120);
    while Instant::now() < until {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn canned(status: u16, reason: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/problem+json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    while let Some(req) = read_message(&mut from_client, false)? {
        let line = req.first_line();
        let fault = shared.pick(&line);
        let i = shared.record(&line, &req.body, &fault);
        match fault {
            Fault::Pass => {
                let resp = forward(shared.upstream, &req)?;
                to_client.write_all(&resp.bytes())?;
                shared.answered(i, resp.status());
            }
            Fault::DropAfterCommit => {
                forward(shared.upstream, &req)?;
                to_client.shutdown(Shutdown::Both)?;
                return Ok(());
            }
            Fault::ResetMidBody => {
                let resp = forward(shared.upstream, &req)?;
                to_client.write_all(&resp.head)?;
                to_client.write_all(&resp.body[..resp.body.len() / 2])?;
                to_client.flush()?;
                // SO_LINGER 0: closing sends RST instead of FIN.
                socket2::SockRef::from(&to_client).set_linger(Some(Duration::ZERO))?;
                return Ok(());
            }
            Fault::Stall => {
                hold(&mut from_client);
                return Ok(());
            }
            Fault::StallAfterCommit => {
                forward(shared.upstream, &req)?;
                hold(&mut from_client);
                return Ok(());
            }
            Fault::Unavailable { retry_after } => {
                let extra = retry_after
                    .map(|v| format!("Retry-After: {v}\r\n"))
                    .unwrap_or_default();
                let body = super::harness::problem(503, "the server is overloaded (injected)");
                to_client.write_all(&canned(503, "Service Unavailable", &extra, &body))?;
                shared.answered(i, 503);
            }
            Fault::Status(status) => {
                let body = super::harness::problem(status, &format!("injected {status}"));
                to_client.write_all(&canned(status, "Injected", "", &body))?;
                shared.answered(i, status);
            }
            Fault::Problem(status, code) => {
                let body = serde_json::json!({ "type": "about:blank", "title": "injected",
                    "status": status, "detail": format!("injected {code}"), "code": code })
                .to_string();
                to_client.write_all(&canned(status, "Injected", "", &body))?;
                shared.answered(i, status);
            }
        }
    }
    Ok(())
}
