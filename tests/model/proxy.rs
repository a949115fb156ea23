//! A fault-injecting TCP proxy between one client and the server. It forwards HTTP/1.1
//! messages (Content-Length bodies) one at a time and can
//! - lose answers: the request reaches the server and is committed, then the client's
//!   connection is closed before it reads the answer;
//! - stall: after a budget of forwarded answers, hold the next request (before or after the
//!   server saw it) without answering, so the test can `kill -9` the client while it waits.

use std::io::{BufRead, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Faults {
    /// Answers to POST requests still to lose.
    lose_posts: AtomicUsize,
    /// Answers still forwarded before stalling; negative: never stall.
    stall_budget: AtomicI64,
    /// Stall before forwarding the request (the server never sees it) instead of after.
    stall_before: AtomicBool,
    /// Set by `release`: stalled connections give up.
    released: AtomicBool,
    /// Set when the proxy is dropped: the accept loop ends.
    stopped: AtomicBool,
    lost: AtomicUsize,
    stalls: AtomicUsize,
}

pub struct Proxy {
    addr: SocketAddr,
    faults: Arc<Faults>,
}

impl Proxy {
    /// Proxies to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let faults = Arc::new(Faults::default());
        faults.stall_budget.store(-1, Ordering::SeqCst);
        let upstream = host_of(upstream);
        let f2 = faults.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if f2.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let up = upstream.clone();
                let f3 = f2.clone();
                std::thread::spawn(move || {
                    let _ = connection(client, &up, &f3);
                });
            }
        });
        Proxy { addr, faults }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Loses the answers to the next `n` POST requests (after the server applied them).
    pub fn lose_post_answers(&self, n: usize) {
        self.faults.lose_posts.store(n, Ordering::SeqCst);
    }

    /// Forwards `budget` more answers, then holds the next request: before the server sees
    /// it (`before`) or after the server answered it.
    pub fn stall_after(&self, budget: i64, before: bool) {
        self.faults.released.store(false, Ordering::SeqCst);
        self.faults.stall_before.store(before, Ordering::SeqCst);
        self.faults.stall_budget.store(budget, Ordering::SeqCst);
    }

    /// Back to plain forwarding; stalled connections are dropped.
    pub fn heal(&self) {
        self.faults.lose_posts.store(0, Ordering::SeqCst);
        self.faults.stall_budget.store(-1, Ordering::SeqCst);
        self.faults.released.store(true, Ordering::SeqCst);
    }

    pub fn lost(&self) -> usize {
        self.faults.lost.load(Ordering::SeqCst)
    }

    pub fn stalls(&self) -> usize {
        self.faults.stalls.load(Ordering::SeqCst)
    }

    /// Waits until a connection stalls (true) or `timeout` passes (false).
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
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.faults.released.store(true, Ordering::SeqCst);
        // Wake the accept loop so that its thread ends with the proxy (a long run makes
        // tens of thousands of proxies).
        self.faults.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn host_of(url: &str) -> String {
    url.strip_prefix("http://").unwrap_or(url).to_string()
}

/// Reads one HTTP/1.1 message (head and a Content-Length body); `None` at end of stream.
fn read_message(r: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut msg = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if let Some(v) = text.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if text.starts_with("transfer-encoding:") {
            return Err(std::io::Error::other(
                "the model proxy handles Content-Length bodies only",
            ));
        }
        msg.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    r.read_exact(&mut body)?;
    msg.extend_from_slice(&body);
    Ok(Some(msg))
}

/// Whether to stall at this message; otherwise one unit of budget is used.
fn stall_now(f: &Faults) -> bool {
    loop {
        let b = f.stall_budget.load(Ordering::SeqCst);
        if b < 0 {
            return false;
        }
        if b == 0 {
            return true;
        }
        if f.stall_budget
            .compare_exchange(b, b - 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return false;
        }
    }
}

fn hold(f: &Faults, client: &TcpStream) {
    f.stalls.fetch_add(1, Ordering::SeqCst);
    let t = Instant::now();
    // Held until healed or the client dies (it is killed while waiting); 60 s at most.
    let mut probe = [0u8; 1];
    let _ = client.set_read_timeout(Some(Duration::from_millis(5)));
    while !f.released.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(60) {
        match client.peek(&mut probe) {
            Ok(0) => break, // the client is gone
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
}

fn connection(client: TcpStream, upstream: &str, f: &Faults) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    let mut from_client = std::io::BufReader::new(client.try_clone()?);
    let mut from_server = std::io::BufReader::new(server.try_clone()?);
    let (mut to_client, mut to_server) = (client, server);
    while let Some(req) = read_message(&mut from_client)? {
        let before = f.stall_before.load(Ordering::SeqCst);
        if before && stall_now(f) {
            hold(f, &to_client);
            let _ = to_client.shutdown(Shutdown::Both);
            return Ok(());
        }
        to_server.write_all(&req)?;
        let Some(resp) = read_message(&mut from_server)? else {
            return Ok(());
        };
        if !before && stall_now(f) {
            hold(f, &to_client);
            let _ = to_client.shutdown(Shutdown::Both);
            return Ok(());
        }
        if req.starts_with(b"POST ")
            && f.lose_posts
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            f.lost.fetch_add(1, Ordering::SeqCst);
            to_client.shutdown(Shutdown::Both)?;
            return Ok(());
        }
        to_client.write_all(&resp)?;
    }
    Ok(())
}
