//! Test helpers: backends, a raw HTTP client that signs like the reference client.

use gryt_server::{ServerConfig, ServerKey, TestServer};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::Value;
use sha2::Sha256;
use std::sync::atomic::{AtomicI64, Ordering};

pub const PASSWORD: &str = "correct horse battery";

/// Where a test's server keeps its data.
pub enum Backend {
    Sqlite,
    Postgres(#[allow(dead_code)] PgDatabase),
}

/// A fresh PostgreSQL database for one test, dropped afterwards.
pub struct PgDatabase {
    pub admin_url: String,
    pub name: String,
    pub url: String,
}

fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

impl PgDatabase {
    pub fn create(admin_url: &str) -> PgDatabase {
        let name = format!("gryt_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_url.to_string();
        let n = name.clone();
        on_thread(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            c.batch_execute(&format!("CREATE DATABASE {n}")).unwrap();
        });
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(admin_url);
        PgDatabase {
            admin_url: admin_url.to_string(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = self.admin_url.clone();
        let n = self.name.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"));
            }
        })
        .join();
    }
}

/// The backends to run on: SQLite always, PostgreSQL when GRYT_TEST_POSTGRES is set.
pub fn backends() -> Vec<&'static str> {
    let mut v = vec!["sqlite"];
    if std::env::var("GRYT_TEST_POSTGRES").is_ok() {
        v.push("postgres");
    } else {
        note("GRYT_TEST_POSTGRES is not set; skipping the PostgreSQL run");
    }
    v
}

/// A note on the real stderr (not captured by the test harness, so it is always shown).
pub fn note(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "note: {msg}");
}

pub fn pg_admin_url() -> Option<String> {
    std::env::var("GRYT_TEST_POSTGRES").ok()
}

/// A running server plus what it needs to live (its database, its temp folder).
pub struct Env {
    pub servers: Vec<TestServer>,
    pub config: ServerConfig,
    /// The server key, as 64 hex characters (for a second process).
    pub key_hex: String,
    _backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

impl Env {
    pub fn url(&self) -> String {
        self.servers[0].url()
    }

    pub fn server(&self) -> &TestServer {
        &self.servers[0]
    }

    /// One server (or `n` sharing the database) on the named backend.
    pub fn start(backend: &str, n: usize) -> Env {
        Env::start_with(backend, n, |_| {})
    }

    /// As [`Env::start`], with `tweak` applied to the configuration (limits, timeouts).
    pub fn start_with(backend: &str, n: usize, tweak: impl Fn(&mut ServerConfig)) -> Env {
        let key_hex = hex::encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
        let key = ServerKey::from_hex(&key_hex).unwrap();
        let (config, b, dir) = match backend {
            "sqlite" => {
                let dir = tempfile::tempdir().unwrap();
                let c =
                    ServerConfig::new(format!("sqlite:{}", dir.path().join("server.db").display()));
                (c, Backend::Sqlite, Some(dir))
            }
            "postgres" => {
                let db = PgDatabase::create(&pg_admin_url().unwrap());
                (
                    ServerConfig::new(db.url.clone()),
                    Backend::Postgres(db),
                    None,
                )
            }
            other => panic!("unknown backend {other}"),
        };
        let mut config = config;
        config.allow_signup = true;
        config.server_key = Some(key);
        tweak(&mut config);
        let servers = (0..n)
            .map(|_| TestServer::start(config.clone()).unwrap())
            .collect();
        Env {
            servers,
            config,
            key_hex,
            _backend: b,
            _dir: dir,
        }
    }

    /// Adds a user and an API key for them; returns an HMAC client for the first server.
    pub fn user_with_key(&self, name: &str) -> Api {
        gryt_server::admin::add_user(&self.config, name, PASSWORD).unwrap();
        let k = gryt_server::admin::create_api_key(&self.config, name, "test", None).unwrap();
        Api::new(
            &self.url(),
            Auth::Hmac {
                key_id: k.key_id,
                secret: k.secret,
            },
        )
    }

    /// Runs SQL on the server's database (to simulate e.g. an expired key).
    pub fn sql(&self, sql: impl Into<String>) {
        let url = self.config.database.clone();
        let sql = sql.into();
        on_thread(move || {
            let db = gryt_server::db::Db::open_blocking(&url).unwrap();
            db.run_blocking(move |c| c.batch(&sql)).unwrap();
        });
    }
}

#[derive(Clone)]
pub enum Auth {
    None,
    Basic(String, String),
    Hmac { key_id: String, secret: String },
}

/// Strictly increasing timestamps (in microseconds), so two identical requests sent in the
/// same microsecond still get different signatures, as two real clients' would.
static LAST_MICROS: AtomicI64 = AtomicI64::new(0);

pub fn timestamp_now() -> String {
    timestamp_at_offset(0)
}

/// An ISO-8601 UTC timestamp as Python's `datetime.now(timezone.utc).isoformat()` makes it.
pub fn timestamp_at_offset(offset_secs: i64) -> String {
    let now = chrono::Utc::now().timestamp_micros();
    let mut last = LAST_MICROS.load(Ordering::SeqCst);
    let micros = loop {
        let next = now.max(last + 1);
        match LAST_MICROS.compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => break next,
            Err(v) => last = v,
        }
    };
    let t = chrono::DateTime::from_timestamp_micros(micros + offset_secs * 1_000_000).unwrap();
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// HMAC-SHA256 over METHOD\npath_and_query\ntimestamp\nbody, lowercase hex: written here
/// independently of the server's code, from the reference description.
pub fn sign(secret: &str, method: &str, path_q: &str, ts: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{method}\n{path_q}\n{ts}\n{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub auth: Auth,
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    pub fn detail(&self) -> String {
        self.body["detail"].as_str().unwrap_or_default().to_string()
    }
}

/// An HTTP client whose connections come from `source`, another loopback address
/// (127.0.0.0/8 all reaches this host), so a test can play several client addresses.
pub fn http_client_from(source: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(Some(source.parse().unwrap()))
        .build()
        .unwrap()
}

/// An HTTP client for the tests. In a workspace build reqwest's TLS is switched on by the
/// CLI (rustls without a built-in provider), so a provider must be installed first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

impl Api {
    pub fn new(base: &str, auth: Auth) -> Api {
        Api {
            http: http_client(),
            base: base.to_string(),
            auth,
        }
    }

    pub fn with_base(&self, base: &str) -> Api {
        Api {
            base: base.to_string(),
            ..self.clone()
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path_q: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, format!("{}{}", self.base, path_q));
        let raw = body.unwrap_or("");
        match &self.auth {
            Auth::None => {}
            Auth::Basic(u, p) => rb = rb.basic_auth(u, Some(p)),
            Auth::Hmac { key_id, secret } => {
                let ts = timestamp_now();
                let sig = sign(secret, method, path_q, &ts, raw);
                rb = rb.header("Authorization", format!("HMAC {key_id}:{ts}:{sig}"));
            }
        }
        if let Some(b) = body {
            rb = rb
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, p: &str) -> Answer {
        self.send("GET", p, None, &[]).await
    }
    pub async fn post(&self, p: &str, body: &str) -> Answer {
        self.send("POST", p, Some(body), &[]).await
    }
    pub async fn patch(&self, p: &str, body: &str) -> Answer {
        self.send("PATCH", p, Some(body), &[]).await
    }
    pub async fn delete(&self, p: &str) -> Answer {
        self.send("DELETE", p, None, &[]).await
    }
}

/// The reference client's generation body (its exact separators and leaked fields).
pub fn generation_body(
    uuid: &str,
    version: &str,
    changes: &[(&str, &str)],
    status: &str,
) -> String {
    let ch: Vec<String> = changes
        .iter()
        .map(|(id, title)| {
            format!(
                r#"{{"id": "{id}", "type": "add", "title": "{title}", "description": null, "status": "pending", "pipeline": null}}"#
            )
        })
        .collect();
    format!(
        r#"{{"generation_id": "{uuid}", "version": "{version}", "description": "Release {version}", "changes": [{}], "pipeline_template": null, "status": "{status}", "sync_status": "not_synced", "remote_id": null, "created_at": "2026-11-22T01:51:08.262983", "promoted_at": null, "team_id": null}}"#,
        ch.join(", ")
    )
}

pub fn evolution_body(uuid: &str, generation_server_id: i64, change: &str) -> String {
    format!(
        r#"{{"evolution_id": "{uuid}", "generation_id": "{generation_server_id}", "change_id": "{change}", "code_name": "clever-fiery-meadow", "tag": null, "status": "pending", "pipeline_run_id": null, "created_by": "local"}}"#
    )
}

pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Creates a draft generation `version` with one change (FEAT-001) and an open (pending)
/// evolution of it; gives their server ids (generation, evolution).
pub async fn open_evolution(api: &Api, version: &str) -> (i64, i64) {
    let g = api
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), version, &[("FEAT-001", "Login")], "draft"),
        )
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let gid = g.body["data"]["id"].as_i64().unwrap();
    let e = api
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), gid, "FEAT-001"),
        )
        .await;
    assert_eq!(e.status, 201, "{:?}", e.body);
    (gid, e.body["data"]["id"].as_i64().unwrap())
}

/// Creates a generation with one change proven by a passing evolution: ready to promote.
pub async fn ready_generation(api: &Api, version: &str) -> i64 {
    let (gid, eid) = open_evolution(api, version).await;
    let p = api.patch(&format!("/api/v1/evolutions/{eid}"), r#"{"status": "pass", "pipeline_run_id": "run-1", "completed_at": "2026-11-22T02:00:00"}"#).await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    gid
}

/// HMAC-SHA256 like [`sign`], over a raw (possibly non-UTF-8) body.
pub fn sign_bytes(secret: &str, method: &str, path_q: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{method}\n{path_q}\n{ts}\n").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

impl Api {
    /// Sends exactly these bytes with exactly these headers (no Content-Type is added),
    /// signed over the raw body when the client uses HMAC.
    pub async fn send_raw(
        &self,
        method: &str,
        path_q: &str,
        body: &[u8],
        headers: &[(&str, Vec<u8>)],
    ) -> Answer {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, format!("{}{}", self.base, path_q));
        match &self.auth {
            Auth::None => {}
            Auth::Basic(u, p) => rb = rb.basic_auth(u, Some(p)),
            Auth::Hmac { key_id, secret } => {
                let ts = timestamp_now();
                let sig = sign_bytes(secret, method, path_q, &ts, body);
                rb = rb.header("Authorization", format!("HMAC {key_id}:{ts}:{sig}"));
            }
        }
        for (k, v) in headers {
            rb = rb.header(
                *k,
                reqwest::header::HeaderValue::from_bytes(v).expect("a sendable header value"),
            );
        }
        if !body.is_empty() {
            rb = rb.body(body.to_vec());
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            body,
            headers,
        }
    }
}

/// Everything a scope holds as `api` sees it: the head and every record and tombstone of
/// the change feed (all pages), for "nothing changed" assertions. `team` narrows it to a
/// team's scope.
pub async fn scope_state(api: &Api, team: Option<&str>) -> Value {
    let t = team.map(|t| format!("&team_id={t}")).unwrap_or_default();
    let mut since = 0i64;
    let mut items = Vec::new();
    loop {
        let a = api
            .get(&format!("/api/v1/sync/changes?since={since}&limit=1000{t}"))
            .await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        let d = &a.body["data"];
        items.extend(d["items"].as_array().unwrap().iter().cloned());
        let (next, head) = (d["next"].as_i64().unwrap(), d["head"].as_i64().unwrap());
        if next >= head {
            return serde_json::json!({"head": head, "items": items});
        }
        since = next;
    }
}

/// A problem body without its `request_id` (which differs on every request), for comparing
/// two answers.
pub fn without_request_id(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(o) = b.as_object_mut() {
        o.remove("request_id");
    }
    b
}

/// An error answer is problem+json with `type`, `title`, `status` (matching the HTTP
/// status) and a non-empty human `detail`.
#[track_caller]
pub fn assert_problem(a: &Answer, context: &str) {
    let ct = a
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert_eq!(ct, "application/problem+json", "{context}: {a:?}");
    for f in ["type", "title", "detail"] {
        assert!(
            a.body[f].as_str().is_some_and(|s| !s.is_empty()),
            "{context}: no {f} in {a:?}"
        );
    }
    assert_eq!(
        a.body["status"].as_u64(),
        Some(u64::from(a.status)),
        "{context}: {a:?}"
    );
}
