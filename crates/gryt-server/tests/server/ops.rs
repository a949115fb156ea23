//! Running the server: `/livez`, `/readyz`, `/metrics` (Prometheus text, parsed strictly
//! here) and request ids (header, problem bodies, the request log line).

use crate::common::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

/// One series: metric name and its labels (sorted).
type Series = (String, BTreeMap<String, String>);

/// A strict reader of the Prometheus text format (0.0.4): every sample belongs to a family
/// declared by `# TYPE` before it, names and label names are well-formed, label values are
/// quoted with only `\\`, `\"` and `\n` escapes, values are floats, no series appears
/// twice, a histogram has only `_bucket` (with `le`), `_sum` and `_count` samples, its
/// buckets are cumulative and end with `+Inf` equal to `_count`. Panics on anything else.
fn parse_prometheus(text: &str) -> BTreeMap<Series, f64> {
    fn name_ok(n: &str, colon: bool) -> bool {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    }
    fn value(v: &str) -> f64 {
        match v {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value {v:?}")),
        }
    }
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut out: BTreeMap<Series, f64> = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name, arg) = (
                parts.next().unwrap(),
                parts.next().unwrap_or_else(|| panic!("{line}")),
                parts.next().unwrap_or_else(|| panic!("{line}")),
            );
            assert!(name_ok(name, true), "bad family name in {line:?}");
            match kw {
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg),
                        "{line}"
                    );
                    assert!(
                        types.insert(name.to_string(), arg.to_string()).is_none(),
                        "TYPE twice: {line}"
                    );
                    assert!(
                        !out.keys().any(|(n, _)| n.starts_with(name)),
                        "TYPE after samples: {line}"
                    );
                }
                "HELP" => {
                    assert!(
                        helps.insert(name.to_string(), arg.to_string()).is_none(),
                        "{line}"
                    );
                }
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        assert!(!line.starts_with('#'), "bad comment {line:?}");
        // name, optional {labels}, value, optional timestamp.
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{line:?}"));
        let name = &line[..name_end];
        assert!(name_ok(name, true), "bad metric name in {line:?}");
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            let mut r = r;
            loop {
                if let Some(after) = r.strip_prefix('}') {
                    r = after;
                    break;
                }
                let eq = r.find('=').unwrap_or_else(|| panic!("{line:?}"));
                let lname = &r[..eq];
                assert!(name_ok(lname, false), "bad label name in {line:?}");
                r = r[eq + 1..]
                    .strip_prefix('"')
                    .unwrap_or_else(|| panic!("unquoted label value in {line:?}"));
                let mut val = String::new();
                let mut chars = r.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => val.push('\\'),
                            Some((_, '"')) => val.push('"'),
                            Some((_, 'n')) => val.push('\n'),
                            other => panic!("bad escape {other:?} in {line:?}"),
                        },
                        Some((i, '"')) => break i,
                        Some((_, c)) => val.push(c),
                        None => panic!("unterminated label value in {line:?}"),
                    }
                };
                assert!(
                    labels.insert(lname.to_string(), val).is_none(),
                    "label twice in {line:?}"
                );
                r = &r[end + 1..];
                if let Some(after) = r.strip_prefix(',') {
                    r = after;
                } else {
                    assert!(r.starts_with('}'), "{line:?}");
                }
            }
            rest = r;
        }
        let rest = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line:?}"));
        let mut fields = rest.split(' ');
        let v = value(fields.next().unwrap());
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .unwrap_or_else(|_| panic!("bad timestamp in {line:?}"));
        }
        assert!(fields.next().is_none(), "trailing text in {line:?}");
        // The family: the name itself, or a histogram's with its suffix.
        let family = if types.contains_key(name) {
            name.to_string()
        } else {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or_else(|| panic!("sample of an undeclared family: {line:?}"));
            assert_eq!(
                types.get(base).map(String::as_str),
                Some("histogram"),
                "{line:?}"
            );
            base.to_string()
        };
        if types[&family] == "histogram" {
            assert_ne!(name, family, "a bare histogram sample: {line:?}");
            assert_eq!(
                name.ends_with("_bucket"),
                labels.contains_key("le"),
                "{line:?}"
            );
        }
        assert!(
            out.insert((name.to_string(), labels), v).is_none(),
            "series twice: {line:?}"
        );
    }
    // Histograms: cumulative buckets ending in +Inf == _count.
    for (family, _) in types.iter().filter(|(_, t)| *t == "histogram") {
        let bucket = format!("{family}_bucket");
        let mut by_series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
        for ((n, l), v) in &out {
            if *n == bucket {
                let mut base = l.clone();
                let le = value(&base.remove("le").unwrap());
                by_series.entry(base).or_default().push((le, *v));
            }
        }
        for (labels, mut buckets) in by_series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(
                buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                "{family} {labels:?} not cumulative"
            );
            let last = buckets.last().unwrap();
            assert!(last.0.is_infinite(), "{family} {labels:?} has no +Inf");
            let count = out[&(format!("{family}_count"), labels.clone())];
            assert_eq!(last.1, count, "{family} {labels:?}");
            assert!(out.contains_key(&(format!("{family}_sum"), labels.clone())));
        }
    }
    out
}

fn get(m: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let l = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    m.get(&(name.to_string(), l)).copied()
}

async fn scrape(url: &str) -> (String, BTreeMap<Series, f64>) {
    let r = http_client()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text().await.unwrap();
    let parsed = parse_prometheus(&text);
    (text, parsed)
}

#[test]
fn the_parser_refuses_what_the_format_does_not_allow() {
    let ok = "# TYPE a counter\na{x=\"1\\\"\"} 3\n";
    assert_eq!(get(&parse_prometheus(ok), "a", &[("x", "1\"")]), Some(3.0));
    for bad in [
        "a 1\n",                        // no TYPE
        "# TYPE a counter\na{x=1} 1\n", // unquoted
        "# TYPE a counter\na 1\na 2\n", // twice
        "# TYPE a counter\na one\n",    // not a number
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE a counter\na{x=\"\\t\"} 1\n", // bad escape
        "# TYPE a counter\na 1",              // no final newline
    ] {
        let r = std::panic::catch_unwind(|| parse_prometheus(bad));
        assert!(r.is_err(), "accepted {bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_count_a_promotion_race_by_route_pattern() {
    for backend in backends() {
        let env = Env::start(backend, 1);
        let api = env.user_with_key("racer");
        let (_, before) = scrape(&env.url()).await;
        assert_eq!(get(&before, "gryt_promotions_total", &[]), Some(0.0));
        assert_eq!(
            get(&before, "gryt_promotion_races_lost_total", &[]),
            Some(0.0)
        );
        let gid = ready_generation(&api, "v1.0.0").await;
        let path = format!("/api/v1/generations/{gid}/promote");
        let (a, b) = tokio::join!(api.post(&path, ""), api.post(&path, ""));
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{backend}: {a:?} {b:?}");
        let lost = if a.status == 409 { &a } else { &b };
        assert_eq!(lost.body["code"], "already_promoted", "{backend}");

        let (text, m) = scrape(&env.url()).await;
        assert_eq!(
            get(&m, "gryt_promotions_total", &[]),
            Some(1.0),
            "{backend}"
        );
        assert_eq!(
            get(&m, "gryt_promotion_races_lost_total", &[]),
            Some(1.0),
            "{backend}"
        );
        let promote = "/api/v1/generations/{id}/promote";
        for status in ["200", "409"] {
            assert_eq!(
                get(
                    &m,
                    "gryt_http_requests_total",
                    &[("route", promote), ("method", "POST"), ("status", status)]
                ),
                Some(1.0),
                "{backend} {status}"
            );
        }
        assert_eq!(
            get(
                &m,
                "gryt_http_request_duration_seconds_count",
                &[("route", promote), ("method", "POST")]
            ),
            Some(2.0)
        );
        // Routes are patterns: the generation's id is in no label.
        assert!(!text.contains(&format!("/generations/{gid}")), "{text}");
        assert_eq!(get(&m, "gryt_database_up", &[]), Some(1.0));
        // Created (1), its evolution (2), the evolution passed (3), promoted (4).
        assert!(get(&m, "gryt_feed_head", &[]).unwrap() >= 4.0, "{text}");
        let size = get(&m, "gryt_db_pool_size", &[]).unwrap();
        let in_use = get(&m, "gryt_db_pool_connections", &[("state", "in_use")]).unwrap();
        let idle = get(&m, "gryt_db_pool_connections", &[("state", "idle")]).unwrap();
        assert!(
            size >= 1.0 && in_use <= size && idle <= size && idle >= 1.0,
            "{text}"
        );
        // A request no route takes is counted under one label, not its path.
        api.get("/no/such/path/123").await;
        let (text, m) = scrape(&env.url()).await;
        assert_eq!(
            get(
                &m,
                "gryt_http_requests_total",
                &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
            ),
            Some(1.0)
        );
        assert!(!text.contains("/no/such"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_refused_signatures_and_replays() {
    let env = Env::start("sqlite", 1);
    let api = env.user_with_key("ann");
    let Auth::Hmac { key_id, secret } = api.auth.clone() else {
        unreachable!()
    };
    let path = "/api/v1/accounts/me";
    let send = |header: String| {
        let url = format!("{}{path}", env.url());
        async move {
            http_client()
                .get(url)
                .header("Authorization", header)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let ts = timestamp_now();
    let good = format!("HMAC {key_id}:{ts}:{}", sign(&secret, "GET", path, &ts, ""));
    assert_eq!(send(good.clone()).await, 200);
    assert_eq!(
        send(good).await,
        401,
        "the same signature again is a replay"
    );
    let ts = timestamp_now();
    let wrong = format!(
        "HMAC {key_id}:{ts}:{}",
        sign("not-it", "GET", path, &ts, "")
    );
    assert_eq!(send(wrong).await, 401);
    let ts = timestamp_now();
    let unknown = format!(
        "HMAC gk_nobody:{ts}:{}",
        sign(&secret, "GET", path, &ts, "")
    );
    assert_eq!(send(unknown).await, 401);
    let old = timestamp_at_offset(-3600);
    let stale = format!(
        "HMAC {key_id}:{old}:{}",
        sign(&secret, "GET", path, &old, "")
    );
    assert_eq!(send(stale).await, 401);
    let (_, m) = scrape(&env.url()).await;
    for reason in ["replay", "signature", "key", "timestamp"] {
        assert_eq!(
            get(&m, "gryt_signatures_refused_total", &[("reason", reason)]),
            Some(1.0),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let env = Env::start_with("sqlite", 1, |c| {
        c.metrics = gryt_server::metrics::MetricsAccess::Off;
    });
    let a = Api::new(&env.url(), Auth::None).get("/metrics").await;
    assert_eq!(a.status, 404, "{a:?}");
}

/// Runs SQL on the server's database directly, without the migrations that opening a
/// [`gryt_server::db::Db`] runs (they would repair what these tests break on purpose).
fn raw_sql(env: &Env, sql: String) {
    let url = env.config.database.clone();
    std::thread::spawn(move || match url.strip_prefix("sqlite:") {
        Some(path) => rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(&sql)
            .unwrap(),
        None => postgres::Client::connect(&url, postgres::NoTls)
            .unwrap()
            .batch_execute(&sql)
            .unwrap(),
    })
    .join()
    .unwrap();
}

#[tokio::test]
async fn livez_and_readyz_follow_the_database() {
    for backend in backends() {
        let env = Env::start(backend, 1);
        let anon = Api::new(&env.url(), Auth::None);
        let (live, ready) = (
            anon.get("/livez").await.status,
            anon.get("/readyz").await.status,
        );
        assert_eq!((live, ready), (200, 200), "{backend}");

        // The schema table unreadable: the database does not answer readiness's query.
        raw_sql(
            &env,
            "ALTER TABLE schema_migrations RENAME TO schema_migrations_away".into(),
        );
        let r = anon.get("/readyz").await;
        assert_eq!(r.status, 503, "{backend}: {r:?}");
        assert_problem(&r, "readyz without a schema table");
        assert!(r.detail().contains("does not answer"), "{r:?}");
        assert_eq!(r.headers["retry-after"], "1");
        assert_eq!(anon.get("/livez").await.status, 200, "{backend}");
        raw_sql(
            &env,
            "ALTER TABLE schema_migrations_away RENAME TO schema_migrations".into(),
        );
        assert_eq!(anon.get("/readyz").await.status, 200, "{backend}");

        // Migrations behind this server's.
        let latest = gryt_server::db::migrate::latest_version();
        raw_sql(
            &env,
            format!("UPDATE schema_migrations SET version = -version WHERE version = {latest}"),
        );
        let r = anon.get("/readyz").await;
        assert_eq!(r.status, 503, "{backend}: {r:?}");
        assert!(
            r.detail().contains(&format!(
                "version {}; this server needs {latest}",
                latest - 1
            )),
            "{r:?}"
        );
        assert_eq!(anon.get("/livez").await.status, 200, "{backend}");
        raw_sql(
            &env,
            format!("UPDATE schema_migrations SET version = -version WHERE version = -{latest}"),
        );
        assert_eq!(anon.get("/readyz").await.status, 200, "{backend}");
    }
}

/// PostgreSQL: the database dropped under the running server, then created and migrated
/// again.
#[tokio::test]
async fn readyz_is_503_while_the_postgres_database_is_gone() {
    let Some(admin) = pg_admin_url() else {
        note("GRYT_TEST_POSTGRES is not set; skipping the lost-database readyz test");
        return;
    };
    let env = Env::start("postgres", 1);
    let anon = Api::new(&env.url(), Auth::None);
    assert_eq!(anon.get("/readyz").await.status, 200);
    let db = env.config.database.rsplit_once('/').unwrap().1.to_string();
    let (a, d) = (admin.clone(), db.clone());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&a, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP DATABASE {d} WITH (FORCE)"))
            .unwrap();
    })
    .join()
    .unwrap();
    let r = anon.get("/readyz").await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_problem(&r, "readyz without a database");
    assert_eq!(anon.get("/livez").await.status, 200);
    let url = env.config.database.clone();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
        // Opening migrates it.
        gryt_server::db::Db::open_blocking(&url).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(anon.get("/readyz").await.status, 200);
    assert_eq!(anon.get("/livez").await.status, 200);
}

#[tokio::test]
async fn request_ids_are_echoed_in_headers_and_problem_bodies() {
    let env = Env::start("sqlite", 1);
    let anon = Api::new(&env.url(), Auth::None);
    // A well-formed id from the client comes back as it is, in the header and the body.
    let mine = "req-7f3a:probe/1";
    let a = anon
        .send(
            "GET",
            "/api/v1/accounts/me",
            None,
            &[("X-Request-Id", mine)],
        )
        .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.headers["x-request-id"], mine);
    assert_eq!(a.body["request_id"], mine);
    assert_problem(&a, "401 with a request id");
    // Read by the wire type the CLI uses.
    let body: gryt_core::api::ErrorBody = serde_json::from_value(a.body.clone()).unwrap();
    assert_eq!(body.request_id.as_deref(), Some(mine));
    // A success carries the header too (and no body member).
    let a = anon
        .send("GET", "/livez", None, &[("X-Request-Id", mine)])
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["x-request-id"], mine);
    // Ill-formed ids are replaced by the server's own: too long, or not visible ASCII.
    let long = "x".repeat(129);
    for bad in [long.as_str(), "two words"] {
        let a = anon
            .send("GET", "/no/such", None, &[("X-Request-Id", bad)])
            .await;
        let id = a.headers["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_eq!(a.body["request_id"], id.as_str());
    }
    // Without one, each request gets its own.
    let (a, b) = (anon.get("/livez").await, anon.get("/livez").await);
    assert_ne!(a.headers["x-request-id"], b.headers["x-request-id"]);
    // A framework-made error (405) is a problem body with the id as well.
    let a = anon
        .send("PUT", "/livez", None, &[("X-Request-Id", "m-405")])
        .await;
    assert_eq!(a.status, 405);
    assert_eq!(a.body["request_id"], "m-405");
}

/// Log lines of every server in this test binary (a global subscriber, installed once).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "gryt_server::request=info",
            ))
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init()
            .expect("no other subscriber in this test binary");
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_log_line_per_request_without_paths_queries_or_secrets() {
    let logs = captured_logs();
    let env = Env::start("sqlite", 1);
    let api = env.user_with_key("logger");
    let Auth::Hmac { secret, .. } = api.auth.clone() else {
        unreachable!()
    };
    let id = format!("log-{}", new_uuid());
    let a = api
        .send(
            "GET",
            "/api/v1/generations/98765?project=s3cr3t-project",
            None,
            &[("X-Request-Id", &id)],
        )
        .await;
    assert_eq!(a.status, 404, "{a:?}");
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(&id)).collect();
    assert_eq!(lines.len(), 1, "{text}");
    let line = lines[0];
    for want in [
        "method=\"GET\"",
        "route=/api/v1/generations/{id}",
        "status=404",
        "latency_ms=",
    ] {
        assert!(line.contains(want), "{want} not in {line}");
    }
    for never in ["98765", "s3cr3t", secret.as_str(), "HMAC"] {
        assert!(!line.contains(never), "{never} in {line}");
    }
}
