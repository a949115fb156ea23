//! The one fault-injecting HTTP/1.1 proxy between the real `gryt` binary and a real gryt
//! server, both on 127.0.0.1.
//!
//! Each request is first checked against the stall budget (`stall_after`: after so many
//! more requests, hold the next one, before or after the server saw it), then matched
//! against the armed rules (a prefix of its request line, e.g. `"POST /api/v1/sync/batch"`,
//! and how many more times the rule fires); the first rule that fires decides its fate,
//! others pass through. Every request is logged with its fate and the status the client
//! saw, so tests count retries and lost answers instead of timing them; with its head and
//! the answer's head and size too, so tests and benches see what went over the wire (its
//! codings, its bytes).

use super::http::{self, Message};
use std::io::{BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
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
    /// gives up (its timeout, or it is killed) or the proxy is healed.
    Stall,
    /// Forwarded and committed, then held without an answer as `Stall` is.
    StallAfterCommit,
    /// Not forwarded: `503 Service Unavailable`, with `Retry-After: N` when given.
    Unavailable { retry_after: Option<String> },
    /// Not forwarded: the given status with a problem+json body.
    Status(u16),
    /// Not forwarded: the given status with a problem+json body carrying this `code` (as the
    /// server would answer, e.g. 409 `idempotency_in_flight`).
    Problem(u16, &'static str),
    /// Forwarded with the last byte of its body changed (a body altered on the way, its
    /// signature left as it was); the server's answer is forwarded.
    Tamper,
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
    /// The request's head (request line and headers) as sent.
    pub head: String,
    pub body: String,
    /// The body's bytes as sent (compressed when it was).
    pub raw_body: Vec<u8>,
    pub fault: Fault,
    /// The status the client received (`None`: no answer reached it).
    pub status: Option<u16>,
    /// The head of the answer the client received (empty: none, or a canned one).
    pub answer_head: String,
    /// Bytes of the answer the client received, head and body as framed on the wire.
    pub received: usize,
}

/// The value of header `name` in an HTTP head (case-insensitive name), if present.
fn header_in(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

impl Seen {
    /// A header of the request, as sent.
    pub fn header(&self, name: &str) -> Option<String> {
        header_in(&self.head, name)
    }

    /// A header of the answer the client received.
    pub fn answer_header(&self, name: &str) -> Option<String> {
        header_in(&self.answer_head, name)
    }

    /// The body as text, decoded when it was sent as zstd (as the server reads it).
    pub fn decoded_body(&self) -> String {
        let zstd = self
            .header("content-encoding")
            .is_some_and(|c| c.eq_ignore_ascii_case("zstd"));
        match zstd::decode_all(&self.raw_body[..]) {
            Ok(text) if zstd => String::from_utf8_lossy(&text).into_owned(),
            _ => self.body.clone(),
        }
    }

    /// Bytes of the request as sent, head and body.
    pub fn sent(&self) -> usize {
        self.head.len() + self.raw_body.len()
    }

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
        let body = self.decoded_body();
        let i = body.find(key)?;
        let rest = &body[i + key.len()..];
        Some(rest[..rest.find('"')?].to_string())
    }
}

struct Shared {
    upstream: SocketAddr,
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<Seen>>,
    /// Requests still let through before one is held; negative: never hold.
    stall_budget: AtomicI64,
    /// Hold the request before forwarding it (the server never sees it) instead of after.
    stall_before: AtomicBool,
    /// Set by `heal` (and on drop): held connections give up.
    released: AtomicBool,
    /// Set on drop: the accept loop ends.
    stopped: AtomicBool,
    /// Connections held so far.
    stalls: AtomicUsize,
}

impl Shared {
    /// The stall budget's verdict for one request: `Some` when it is the one to hold;
    /// otherwise one unit of budget is used.
    fn stall(&self) -> Option<Fault> {
        loop {
            let b = self.stall_budget.load(Ordering::SeqCst);
            if b < 0 {
                return None;
            }
            if b == 0 {
                return Some(if self.stall_before.load(Ordering::SeqCst) {
                    Fault::Stall
                } else {
                    Fault::StallAfterCommit
                });
            }
            if self
                .stall_budget
                .compare_exchange(b, b - 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return None;
            }
        }
    }

    fn pick(&self, line: &str) -> Fault {
        if let Some(f) = self.stall() {
            return f;
        }
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

    fn record(&self, line: &str, req: &Message, fault: &Fault) -> usize {
        let mut log = self.log.lock().expect("log");
        log.push(Seen {
            at: Instant::now(),
            line: line.to_string(),
            head: String::from_utf8_lossy(&req.head).into_owned(),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            raw_body: req.body.clone(),
            fault: fault.clone(),
            status: None,
            answer_head: String::new(),
            received: 0,
        });
        log.len() - 1
    }

    fn answered(&self, i: usize, status: u16) {
        self.log.lock().expect("log")[i].status = Some(status);
    }

    /// The client received `resp` whole.
    fn forwarded(&self, i: usize, resp: &Message) {
        let mut log = self.log.lock().expect("log");
        let seen = &mut log[i];
        seen.status = Some(resp.status());
        seen.answer_head = String::from_utf8_lossy(&resp.head).into_owned();
        seen.received = resp.head.len() + resp.body.len();
    }

    /// Holds a connection without answering until the client closes it, the proxy is
    /// healed or dropped, or 120 s pass (so a forgotten client cannot keep the thread).
    fn hold(&self, client: &TcpStream) {
        self.stalls.fetch_add(1, Ordering::SeqCst);
        let t = Instant::now();
        let mut probe = [0u8; 1];
        let _ = client.set_read_timeout(Some(Duration::from_millis(5)));
        while !self.released.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(120) {
            match client.peek(&mut probe) {
                Ok(0) => break, // the client is gone
                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
        }
        let _ = client.shutdown(Shutdown::Both);
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
            stall_budget: AtomicI64::new(-1),
            stall_before: AtomicBool::new(false),
            released: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            stalls: AtomicUsize::new(0),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.stopped.load(Ordering::SeqCst) {
                    break;
                }
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

    /// From now on, exactly the next `times` requests starting with `prefix` meet `fault`:
    /// replaces an armed rule of the same prefix and fault (0 disarms it).
    pub fn set(&self, prefix: &str, fault: Fault, times: usize) {
        let mut rules = self.shared.rules.lock().expect("rules");
        rules.retain(|r| !(r.prefix == prefix && r.fault == fault));
        rules.push(Rule {
            prefix: prefix.to_string(),
            fault,
            remaining: Some(times),
        });
    }

    /// Loses the answers to the next `n` `POST /api/v1/sync/batch` requests (after the
    /// server applied them); 0 stops losing them.
    pub fn lose_batch_answers(&self, n: usize) {
        self.set("POST /api/v1/sync/batch ", Fault::DropAfterCommit, n);
    }

    /// Loses the answers to the next `n` POST requests (after the server applied them);
    /// 0 stops losing them.
    pub fn lose_post_answers(&self, n: usize) {
        self.set("POST ", Fault::DropAfterCommit, n);
    }

    /// Lets `budget` more requests through, then holds the next one: before the server
    /// sees it (`before`) or after the server answered it.
    pub fn stall_after(&self, budget: i64, before: bool) {
        self.shared.released.store(false, Ordering::SeqCst);
        self.shared.stall_before.store(before, Ordering::SeqCst);
        self.shared.stall_budget.store(budget, Ordering::SeqCst);
    }

    /// Disarms every rule: pass-through (held connections stay held).
    pub fn clear(&self) {
        self.shared.rules.lock().expect("rules").clear();
    }

    /// Back to plain forwarding: every rule and the stall budget disarmed, held
    /// connections dropped.
    pub fn heal(&self) {
        self.clear();
        self.shared.stall_budget.store(-1, Ordering::SeqCst);
        self.shared.released.store(true, Ordering::SeqCst);
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

    /// Bytes the client sent through the proxy (heads and bodies) since the log began.
    pub fn bytes_up(&self) -> usize {
        self.log().iter().map(Seen::sent).sum()
    }

    /// Bytes of answers the client received through the proxy (heads and bodies, as framed)
    /// since the log began.
    pub fn bytes_down(&self) -> usize {
        self.log().iter().map(|s| s.received).sum()
    }

    /// How many answers were lost after the server committed them.
    pub fn lost(&self) -> usize {
        self.log()
            .iter()
            .filter(|s| s.fault == Fault::DropAfterCommit)
            .count()
    }

    /// How many connections were held so far.
    pub fn stalls(&self) -> usize {
        self.shared.stalls.load(Ordering::SeqCst)
    }

    /// Waits until more than `before` connections were held (true), `done()` says the
    /// client finished (false), or `timeout` passes (false).
    pub fn wait_stalled(
        &self,
        before: usize,
        timeout: Duration,
        done: &mut dyn FnMut() -> bool,
    ) -> bool {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if self.stalls() > before {
                return true;
            }
            if done() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
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

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.released.store(true, Ordering::SeqCst);
        // Wake the accept loop so that its thread ends with the proxy (a long model run
        // makes tens of thousands of proxies).
        self.shared.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Sends one request to the server on a fresh connection and reads its whole answer.
fn forward(upstream: SocketAddr, req: &Message) -> std::io::Result<Message> {
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&req.bytes())?;
    let head_request = req.first_line().starts_with("HEAD ");
    let mut reader = BufReader::new(server);
    http::read_message(&mut reader, head_request)?
        .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
}

fn canned(status: u16, reason: &str, extra: &str, body: &str) -> Vec<u8> {
    http::answer(
        status,
        reason,
        "application/problem+json",
        extra,
        body.as_bytes(),
    )
}

fn serve(client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    while let Some(req) = http::read_message(&mut from_client, false)? {
        let line = req.first_line();
        let fault = shared.pick(&line);
        let i = shared.record(&line, &req, &fault);
        match fault {
            Fault::Pass => {
                let resp = forward(shared.upstream, &req)?;
                to_client.write_all(&resp.bytes())?;
                shared.forwarded(i, &resp);
            }
            Fault::Tamper => {
                let mut altered = Message {
                    head: req.head.clone(),
                    body: req.body.clone(),
                };
                if let Some(last) = altered.body.last_mut() {
                    *last ^= 0x01;
                }
                let resp = forward(shared.upstream, &altered)?;
                to_client.write_all(&resp.bytes())?;
                shared.forwarded(i, &resp);
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
                shared.hold(&to_client);
                return Ok(());
            }
            Fault::StallAfterCommit => {
                forward(shared.upstream, &req)?;
                shared.hold(&to_client);
                return Ok(());
            }
            Fault::Unavailable { retry_after } => {
                let extra = retry_after
                    .map(|v| format!("Retry-After: {v}\r\n"))
                    .unwrap_or_default();
                let body = http::problem(503, "the server is overloaded (injected)");
                to_client.write_all(&canned(503, "Service Unavailable", &extra, &body))?;
                shared.answered(i, 503);
            }
            Fault::Status(status) => {
                let body = http::problem(status, &format!("injected {status}"));
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
