//! Loopback benchmark of gryt-server (not a test). Measures requests per second of
//! `GET /api/v1/sync/head`, the latency of a 1,000-record `GET /api/v1/sync/changes` page,
//! and promotions per second.
//!
//!     cargo run --release -p gryt-server --example bench
//!     GRYT_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/postgres \
//!         cargo run --release -p gryt-server --example bench
//!
//! The client is a minimal HTTP/1.1 keep-alive client on the same machine, so client and
//! server share the cores. Every loop is bounded in count and time.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use gryt_server::{ServerConfig, ServerKey, TestServer};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const PASSWORD: &str = "bench password 1";

struct Conn {
    s: BufReader<TcpStream>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            s: BufReader::new(s),
        }
    }

    async fn call(&mut self, method: &str, path: &str, auth: &str, body: &str) -> (u16, Vec<u8>) {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.s.get_mut().write_all(req.as_bytes()).await.unwrap();
        let mut line = String::new();
        self.s.read_line(&mut line).await.unwrap();
        let status: u16 = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
        let mut len = 0usize;
        loop {
            line.clear();
            self.s.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
            }
        }
        let mut buf = vec![0u8; len];
        self.s.read_exact(&mut buf).await.unwrap();
        (status, buf)
    }
}

fn basic(user: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{PASSWORD}"))
    )
}

/// Strictly increasing microsecond timestamps: every signature differs, as real clients' do.
static LAST_MICROS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn hmac_auth(key_id: &str, secret: &str, method: &str, path: &str, body: &str, _n: u64) -> String {
    let now = chrono::Utc::now().timestamp_micros();
    let prev = LAST_MICROS.fetch_max(now, Ordering::SeqCst);
    let micros = if prev >= now {
        LAST_MICROS.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        now
    };
    let ts = chrono::DateTime::from_timestamp_micros(micros).unwrap();
    let ts = ts.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{method}\n{path}\n{ts}\n{body}").as_bytes());
    format!(
        "HMAC {key_id}:{ts}:{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn gen_body(version: &str) -> String {
    format!(
        r#"{{"generation_id": "{}", "version": "{version}", "description": "bench", "changes": [{{"id": "FEAT-1", "type": "add", "title": "Bench change"}}], "status": "draft"}}"#,
        uuid::Uuid::new_v4()
    )
}

/// Many connections hammering one route for `secs`; returns requests per second.
async fn throughput(
    addr: SocketAddr,
    conns: usize,
    secs: u64,
    path: &'static str,
    auth: Arc<dyn Fn(u64) -> String + Send + Sync>,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (stop, count, auth) = (stop.clone(), count.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await;
            let mut n = c as u64 * 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let (status, _) = conn.call("GET", path, &auth(n), "").await;
                assert_eq!(status, 200);
                count.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Warm up, then measure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start_count = count.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let done = count.load(Ordering::Relaxed) - start_count;
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    done as f64 / elapsed
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn bench(label: &str, config: ServerConfig) {
    let server = TestServer::start(config).unwrap();
    let addr = server.addr();
    server.add_user("bench", PASSWORD).unwrap();
    let key = server.create_api_key("bench", "bench", None).unwrap();
    let auth_basic = basic("bench");
    let mut c = Conn::open(addr).await;

    // 1,000 generations through the batch route (2 requests of 500).
    for b in 0..2 {
        let ops: Vec<String> = (0..500)
            .map(|i| {
                format!(
                    r#"{{"op": "create_generation", "body": {}}}"#,
                    gen_body(&format!("v{b}.{i}.0"))
                )
            })
            .collect();
        let body = format!(r#"{{"operations": [{}]}}"#, ops.join(","));
        let t = Instant::now();
        let (status, _) = c
            .call("POST", "/api/v1/sync/batch", &auth_basic, &body)
            .await;
        assert_eq!(status, 200);
        println!(
            "[{label}] batch push of 500 generations: {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }

    let ab = auth_basic.clone();
    let head_basic = throughput(
        addr,
        32,
        5,
        "/api/v1/sync/head",
        Arc::new(move |_| ab.clone()),
    )
    .await;
    println!(
        "[{label}] GET /api/v1/sync/head, Basic (cached), 32 connections: {head_basic:.0} req/s"
    );
    let (kid, sec) = (key.key_id.clone(), key.secret.clone());
    let head_hmac = throughput(
        addr,
        32,
        5,
        "/api/v1/sync/head",
        Arc::new(move |n| hmac_auth(&kid, &sec, "GET", "/api/v1/sync/head", "", n)),
    )
    .await;
    println!("[{label}] GET /api/v1/sync/head, HMAC (replay-checked), 32 connections: {head_hmac:.0} req/s");

    let mut lat = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let (status, body) = c
            .call(
                "GET",
                "/api/v1/sync/changes?since=0&limit=1000",
                &auth_basic,
                "",
            )
            .await;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status, 200);
        assert!(body.len() > 100_000);
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "[{label}] GET /api/v1/sync/changes 1,000 records (sequential, 50 runs): median {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        lat[lat.len() - 1]
    );
    let pages = {
        let ab = auth_basic.clone();
        throughput(
            addr,
            4,
            5,
            "/api/v1/sync/changes?since=0&limit=1000",
            Arc::new(move |_| ab.clone()),
        )
        .await
    };
    println!("[{label}] GET /api/v1/sync/changes 1,000 records, 4 connections: {pages:.0} pages/s");

    // Promotions: prepare ready generations (not timed), then promote them.
    const PROMOS: usize = 300;
    let mut ids = Vec::new();
    for i in 0..PROMOS {
        let (s, b) = c
            .call(
                "POST",
                "/api/v1/generations",
                &auth_basic,
                &gen_body(&format!("v9.{i}.0")),
            )
            .await;
        assert_eq!(s, 201);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        let gid = v["data"]["id"].as_i64().unwrap();
        let e = format!(
            r#"{{"evolution_id": "{}", "generation_id": "{gid}", "change_id": "FEAT-1", "status": "pass"}}"#,
            uuid::Uuid::new_v4()
        );
        let (s, _) = c.call("POST", "/api/v1/evolutions", &auth_basic, &e).await;
        assert_eq!(s, 201);
        ids.push(gid);
    }
    let ids = Arc::new(ids);
    let next = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (ids, next, auth) = (ids.clone(), next.clone(), auth_basic.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= ids.len() {
                    break;
                }
                let (s, _) = conn
                    .call(
                        "POST",
                        &format!("/api/v1/generations/{}/promote", ids[i]),
                        &auth,
                        "",
                    )
                    .await;
                assert_eq!(s, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rate = PROMOS as f64 / t.elapsed().as_secs_f64();
    println!(
        "[{label}] POST .../promote ({PROMOS} generations, 4 connections): {rate:.0} promotions/s"
    );
    drop(c);
    server.stop().unwrap();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("gryt-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut sqlite = ServerConfig::new(format!("sqlite:{}", dir.join("bench.db").display()));
    sqlite.server_key = Some(ServerKey::generate().unwrap());
    println!(
        "cores: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    rt.block_on(bench("sqlite", sqlite));
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(admin) = std::env::var("GRYT_BENCH_POSTGRES") {
        let name = format!("gryt_bench_{}", uuid::Uuid::new_v4().simple());
        let (a, n) = (admin.clone(), name.clone());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&a, postgres::NoTls).unwrap();
            c.batch_execute(&format!("CREATE DATABASE {n}")).unwrap();
        })
        .join()
        .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
        let mut pg = ServerConfig::new(format!("{base}/{name}"));
        pg.server_key = Some(ServerKey::generate().unwrap());
        rt.block_on(bench("postgres", pg));
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .unwrap();
        })
        .join()
        .unwrap();
    }
}
