//! The server half of the bad-input catalogue: hostile or broken HTTP requests (bodies,
//! headers, methods, sizes, encodings, ids, query strings). Each one answers the documented
//! 4xx with a problem+json body (`type`, `title`, `status`, a clear `detail`), and changes
//! nothing: the scope's feed (every record and tombstone) and head are the same before and
//! after.

use crate::common::*;
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Vec<u8>,
    headers: Vec<(&'static str, Vec<u8>)>,
    want: u16,
    /// A piece of `detail` (compared case-insensitively).
    detail: &'static str,
}

const JSON: (&str, &[u8]) = ("Content-Type", b"application/json");

fn case(
    name: &'static str,
    method: &'static str,
    path: impl Into<String>,
    body: impl Into<Vec<u8>>,
    want: u16,
    detail: &'static str,
) -> Case {
    let body = body.into();
    let headers = if body.is_empty() {
        vec![]
    } else {
        vec![(JSON.0, JSON.1.to_vec())]
    };
    Case {
        name,
        method,
        path: path.into(),
        body,
        headers,
        want,
        detail,
    }
}

impl Case {
    fn header(mut self, k: &'static str, v: impl Into<Vec<u8>>) -> Case {
        self.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        self.headers.push((k, v.into()));
        self
    }
    fn without_header(mut self, k: &'static str) -> Case {
        self.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        self
    }
}

/// A valid generation create body (the reference client's fields).
fn good_generation() -> Value {
    json!({
        "generation_id": new_uuid(), "version": "v5.0.0", "description": "Release v5.0.0",
        "changes": [{"id": "FEAT-1", "type": "add", "title": "Login", "description": null,
                     "status": "pending", "pipeline": null}],
        "pipeline_template": null, "status": "draft", "created_at": "2026-11-22T01:51:08.262983",
        "team_id": null, "project": "default"
    })
}

fn with(mut v: Value, pointer: &str, new: Value) -> String {
    *v.pointer_mut(pointer).unwrap() = new;
    v.to_string()
}

fn without(mut v: Value, pointer: &str) -> String {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let p = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).unwrap()
    };
    p.as_object_mut().unwrap().remove(key);
    v.to_string()
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn catalogue(gid: i64, eid: i64) -> Vec<Case> {
    const GENS: &str = "/api/v1/generations";
    let g = good_generation;
    let one = format!("{GENS}/{gid}");
    let mut v = vec![
        // ---- bodies
        case("malformed JSON", "POST", GENS, r#"{"version": "#, 400, "malformed json"),
        case("trailing garbage", "POST", GENS, format!("{} x", g()), 400, "malformed json"),
        case("JSON array, not an object", "POST", GENS, "[1, 2, 3]", 422, "invalid request body"),
        case("JSON string, not an object", "POST", GENS, r#""hello""#, 422, "invalid request body"),
        case("JSON null", "POST", GENS, "null", 422, "invalid request body"),
        case("empty body", "POST", GENS, "", 400, "body is required"),
        case("whitespace body", "POST", GENS, " \n\t ", 400, "body is required"),
        case("empty body on PATCH", "PATCH", one.clone(), "", 400, "body is required"),
        case("empty body on evolution create", "POST", "/api/v1/evolutions", "", 400, "body is required"),
        case("missing generation_id", "POST", GENS, without(g(), "/generation_id"), 422, "missing field `generation_id`"),
        case("missing version", "POST", GENS, without(g(), "/version"), 422, "missing field `version`"),
        case("missing change id", "POST", GENS, without(g(), "/changes/0/id"), 422, "missing field `id`"),
        case("missing change type", "POST", GENS, without(g(), "/changes/0/type"), 422, "missing field `type`"),
        case("missing change title", "POST", GENS, without(g(), "/changes/0/title"), 422, "missing field `title`"),
        case("unknown change type", "POST", GENS, with(g(), "/changes/0/type", json!("explode")), 422, "unknown change type"),
        case("bad change id", "POST", GENS, with(g(), "/changes/0/id", json!("feat 1'; DROP TABLE generations; --")), 422, "invalid change id"),
        case("empty change id", "POST", GENS, with(g(), "/changes/0/id", json!("")), 422, "invalid change id"),
        case("duplicate change id", "POST", GENS,
            with(g(), "/changes", json!([{"id": "FEAT-1", "type": "add", "title": "a"}, {"id": "FEAT-1", "type": "fix", "title": "b"}])),
            409, "FEAT-1"),
        case("bad version", "POST", GENS, with(g(), "/version", json!("v1.0.0'; DROP TABLE generations; --")), 422, "version"),
        case("version with shell", "POST", GENS, with(g(), "/version", json!("$(rm -rf /)")), 422, "version"),
        case("generation_id not a UUID", "POST", GENS, with(g(), "/generation_id", json!("not-a-uuid")), 422, "not a uuid"),
        case("bad status", "POST", GENS, with(g(), "/status", json!("shipped")), 422, "shipped"),
        case("bad project", "POST", GENS, with(g(), "/project", json!("a b")), 422, "project"),
        case("description over 10,000 characters", "POST", GENS, with(g(), "/description", json!("d".repeat(10_001))), 422, "10000"),
        case("unknown team", "POST", GENS, with(g(), "/team_id", json!("no-such-team")), 404, "not found"),
        case("10,000 changes", "POST", GENS,
            with(g(), "/changes", Value::Array((1..=10_000).map(|i| json!({"id": format!("FEAT-{i}"), "type": "add", "title": "t"})).collect())),
            422, "at most 1000 changes"),
        case("deep nesting (500 levels)", "POST", GENS,
            g().to_string().replacen("\"pipeline\":null", &format!("\"pipeline\":{}", nested(500)), 1),
            400, "nested too deeply"),
        case("deep nesting of a whole body", "POST", "/api/v1/sync/batch",
            format!(r#"{{"operations": [], "x": {}1{}}}"#, "{\"x\": ".repeat(100_000), "}".repeat(100_000)), 400, "nested too deeply"),
        case("deep nesting in a batch operation", "POST", "/api/v1/sync/batch",
            format!(r#"{{"operations": [{{"op": "create_generation", "body": {}}}]}}"#, nested(100_000)), 400, "nested too deeply"),
        case("body over the limit", "POST", GENS,
            with(g(), "/description", json!("x".repeat(gryt_server::DEFAULT_BODY_LIMIT + 1))), 413, "limit"),
        case("batch over 500 operations", "POST", "/api/v1/sync/batch",
            json!({"operations": (0..501).map(|_| json!({"op": "delete_generation", "id": gid})).collect::<Vec<_>>()}).to_string(),
            422, "at most 500"),
        case("batch not an object", "POST", "/api/v1/sync/batch", "[]", 422, "invalid request body"),
        case("evolution for a change not in the generation", "POST", "/api/v1/evolutions",
            evolution_body(&new_uuid(), gid, "FEAT-999"), 422, "not part of"),
        case("evolution with a bad status", "POST", "/api/v1/evolutions",
            evolution_body(&new_uuid(), gid, "FEAT-1").replace("\"pending\"", "\"exploded\""), 422, "exploded"),
        case("evolution patch with a wrong type", "PATCH", format!("/api/v1/evolutions/{eid}"), r#"{"status": 7}"#, 422, "invalid type"),
        case("pipeline run without pipeline_run", "POST", "/api/v1/pipeline-runs", "{}", 422, "pipeline_run"),
        case("api key with a wrong type", "POST", "/api/v1/api-keys", r#"{"name": ["x"]}"#, 422, "invalid type"),
        // ---- encodings
        case("invalid UTF-8 in the body", "POST", GENS, b"{\"generation_id\": \"\xff\xfe\"}".to_vec(), 400, "malformed json"),
        case("invalid UTF-8 in a string", "POST", GENS,
            [format!(r#"{{"generation_id": "{}", "version": "v5.0.0", "description": ""#, new_uuid()).as_bytes(), b"\xc3\x28\"}"].concat(),
            400, "malformed json"),
        case("UTF-8 BOM", "POST", GENS, [b"\xef\xbb\xbf".as_slice(), g().to_string().as_bytes()].concat(), 400, "malformed json"),
        case("UTF-16 body", "POST", GENS,
            g().to_string().encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>(), 400, "malformed json"),
        case("lone surrogate escape", "POST", GENS, with(g(), "/description", json!("x")).replace("\"x\"", "\"\\ud800\""), 400, "malformed json"),
        case("gzip Content-Encoding with garbage", "POST", GENS, b"\x1f\x8b\x08garbage".to_vec(), 400, "not valid gzip data")
            .header("Content-Encoding", "gzip"),
        case("gzip Content-Encoding on plain JSON", "POST", GENS, g().to_string(), 400, "not valid gzip data")
            .header("Content-Encoding", "gzip"),
        case("zstd Content-Encoding on plain JSON", "POST", GENS, g().to_string(), 400, "not valid zstd data")
            .header("Content-Encoding", "zstd"),
        case("br Content-Encoding", "POST", GENS, g().to_string(), 415, "content-encoding")
            .header("Content-Encoding", "br"),
        case("stacked Content-Encoding", "POST", GENS, g().to_string(), 415, "content-encoding")
            .header("Content-Encoding", "gzip, zstd"),
        // ---- headers
        case("text/plain Content-Type", "POST", GENS, g().to_string(), 415, "content-type")
            .header("Content-Type", "text/plain"),
        case("form Content-Type", "POST", GENS, "version=v1.0.0", 415, "content-type")
            .header("Content-Type", "application/x-www-form-urlencoded"),
        case("missing Content-Type", "POST", GENS, g().to_string(), 415, "content-type")
            .without_header("Content-Type"),
        case("non-numeric If-Match", "PATCH", one.clone(), r#"{"description": "x"}"#, 400, "if-match")
            .header("If-Match", "\"abc\""),
        case("stale If-Match", "PATCH", one.clone(), r#"{"description": "x"}"#, 412, "changed on the server")
            .header("If-Match", "\"999\""),
        case("stale If-Match on delete", "DELETE", one.clone(), "", 412, "changed on the server")
            .header("If-Match", "\"999\""),
        case("If-Match not readable", "PATCH", one.clone(), r#"{"description": "x"}"#, 400, "if-match")
            .header("If-Match", b"\"\xff\"".to_vec()),
        case("over-long Idempotency-Key", "POST", GENS, g().to_string(), 400, "idempotency-key")
            .header("Idempotency-Key", "k".repeat(201)),
        case("Idempotency-Key with a space", "POST", GENS, g().to_string(), 400, "idempotency-key")
            .header("Idempotency-Key", "a b"),
        case("empty Idempotency-Key", "POST", GENS, g().to_string(), 400, "idempotency-key")
            .header("Idempotency-Key", ""),
        case("non-ASCII Idempotency-Key", "POST", GENS, g().to_string(), 400, "idempotency-key")
            .header("Idempotency-Key", "cl\u{e9}".as_bytes().to_vec()),
        case("huge (60 KiB) Idempotency-Key", "POST", GENS, g().to_string(), 400, "idempotency-key")
            .header("Idempotency-Key", "k".repeat(60 * 1024)),
        case("huge (60 KiB) If-Match", "PATCH", one.clone(), r#"{"description": "x"}"#, 400, "if-match")
            .header("If-Match", "9".repeat(60 * 1024)),
        // ---- methods
        case("PUT on the generations collection", "PUT", GENS, g().to_string(), 405, "method not allowed"),
        case("PATCH on the generations collection", "PATCH", GENS, g().to_string(), 405, "method not allowed"),
        case("DELETE on the generations collection", "DELETE", GENS, "", 405, "method not allowed"),
        case("PUT on a generation", "PUT", one.clone(), g().to_string(), 405, "method not allowed"),
        case("PUT on the evolutions collection", "PUT", "/api/v1/evolutions", "{}", 405, "method not allowed"),
        case("PATCH on teams", "PATCH", "/api/v1/teams", "{}", 405, "method not allowed"),
        case("GET on the batch route", "GET", "/api/v1/sync/batch", "", 405, "method not allowed"),
        case("POST on the feed", "POST", "/api/v1/sync/changes", "{}", 405, "method not allowed"),
        case("GET on promote", "GET", format!("{one}/promote"), "", 405, "method not allowed"),
        // ---- ids
        case("non-numeric id", "GET", format!("{GENS}/abc"), "", 404, "not found"),
        case("negative id", "GET", format!("{GENS}/-1"), "", 404, "not found"),
        case("huge id", "GET", format!("{GENS}/99999999999999999999999999"), "", 404, "not found"),
        case("i64::MAX id", "GET", format!("{GENS}/{}", i64::MAX), "", 404, "not found"),
        case("non-numeric id on PATCH", "PATCH", format!("{GENS}/abc"), r#"{"description": "x"}"#, 404, "not found"),
        case("negative id on DELETE", "DELETE", "/api/v1/evolutions/-5", "", 404, "not found"),
        case("float id on promote", "POST", format!("{GENS}/1e3/promote"), "", 404, "not found"),
        case("SQL in an id", "GET", format!("{GENS}/1%20OR%201=1"), "", 404, "not found"),
        case("non-numeric generation_id in an evolution", "POST", "/api/v1/evolutions",
            evolution_body(&new_uuid(), 0, "FEAT-1").replace("\"0\"", "\"abc\""), 404, "not found"),
        // ---- query strings
        case("since=-1", "GET", "/api/v1/sync/changes?since=-1", "", 400, "since"),
        case("since=abc", "GET", "/api/v1/sync/changes?since=abc", "", 400, "since"),
        case("since overflowing i64", "GET", "/api/v1/sync/changes?since=99999999999999999999", "", 400, "since"),
        case("limit=0", "GET", "/api/v1/sync/changes?since=0&limit=0", "", 400, "limit"),
        case("limit=100000", "GET", "/api/v1/sync/changes?since=0&limit=100000", "", 400, "limit"),
        case("limit=-5", "GET", "/api/v1/sync/changes?since=0&limit=-5", "", 400, "limit"),
        case("invalid percent-encoding", "GET", "/api/v1/sync/changes?since=%FF", "", 400, "since"),
        case("bad version filter", "GET", format!("{GENS}?version=%27%3B%20DROP%20TABLE"), "", 422, "version"),
        case("unknown team in the feed", "GET", "/api/v1/sync/changes?since=0&team_id=nope", "", 404, "not found"),
        case("non-numeric generation filter", "GET", "/api/v1/evolutions?generation_id=abc", "", 404, "not found"),
    ];
    // A stale If-Match on promote, too.
    v.push(
        case(
            "stale If-Match on promote",
            "POST",
            format!("{one}/promote"),
            "",
            412,
            "changed on the server",
        )
        .header("If-Match", "\"999\""),
    );
    v
}

async fn bad_requests_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("alice");
    let g = api
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "Login")], "draft"),
        )
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let gid = g.body["data"]["id"].as_i64().unwrap();
    let e = api
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), gid, "FEAT-1"),
        )
        .await;
    assert_eq!(e.status, 201, "{:?}", e.body);
    let eid = e.body["data"]["id"].as_i64().unwrap();

    let cases = catalogue(gid, eid);
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for c in &cases {
        let before = scope_state(&api, None).await;
        let a = api.send_raw(c.method, &c.path, &c.body, &c.headers).await;
        let after = scope_state(&api, None).await;
        let ctx = format!("[{backend}] {} ({} {})", c.name, c.method, short(&c.path));
        if a.status != c.want {
            failures.push(format!(
                "{ctx}: want {}, got {} {}",
                c.want,
                a.status,
                short(&a.body.to_string())
            ));
            continue;
        }
        assert_problem(&a, &ctx);
        let detail = a.detail().to_lowercase();
        if !detail.contains(&c.detail.to_lowercase()) {
            failures.push(format!("{ctx}: detail {detail:?} lacks {:?}", c.detail));
        }
        if before != after {
            failures.push(format!("{ctx}: the scope changed"));
        }
        if c.want == 412 {
            assert_eq!(
                a.body["current"]["id"].as_i64(),
                Some(if c.path.contains("evolutions") {
                    eid
                } else {
                    gid
                }),
                "{ctx}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Still serving, and the records are intact.
    let list = api.get("/api/v1/generations").await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.body["data"]["generations"].as_array().unwrap().len(),
        1
    );
}

fn short(s: &str) -> String {
    if s.len() > 300 {
        format!("{}...", &s[..s.floor_char_boundary_compat(300)])
    } else {
        s.to_string()
    }
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

#[tokio::test]
async fn bad_requests_answer_a_clear_4xx_and_change_nothing() {
    for b in backends() {
        bad_requests_on(b).await;
    }
}

/// What the server accepts it must be able to hand back: a record nested just under the
/// request parser's limit would otherwise sit in the feed, deeper again inside the page's
/// envelope, where no client's JSON parser (limit 128) can read it, and block every pull.
async fn accepted_records_stay_readable_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("alice");
    for depth in [20usize, 60, 100, 118, 122, 126] {
        let body = good_generation()
            .to_string()
            .replacen(
                "\"pipeline\":null",
                &format!("\"pipeline\":{}", nested(depth)),
                1,
            )
            .replace("v5.0.0", &format!("v5.0.{depth}"));
        let c = api.post("/api/v1/generations", &body).await;
        let ctx = format!("[{backend}] pipeline nested {depth} deep");
        match c.status {
            201 => {}
            400 | 422 => {
                assert_problem(&c, &ctx);
                continue;
            }
            other => panic!("{ctx}: {other} {:?}", c.body),
        }
        for path in [
            "/api/v1/generations".to_string(),
            "/api/v1/sync/changes?since=0".to_string(),
            format!("/api/v1/generations/{}", c.body["data"]["id"]),
        ] {
            let a = api.get(&path).await;
            assert_eq!(a.status, 200, "{ctx}: {path}");
            assert!(
                a.body.is_object(),
                "{ctx}: GET {path} answers JSON that a client cannot parse: {}",
                short(a.body.as_str().unwrap_or_default())
            );
        }
    }
}

#[tokio::test]
async fn accepted_records_stay_readable() {
    for b in backends() {
        accepted_records_stay_readable_on(b).await;
    }
}

/// A header beyond what the HTTP layer buffers (1 MiB) is refused before any handler runs
/// (431, or the connection is closed), and the server keeps serving.
#[tokio::test]
async fn a_huge_header_is_refused_and_the_server_keeps_serving() {
    let env = Env::start("sqlite", 1);
    let api = env.user_with_key("alice");
    let before = scope_state(&api, None).await;
    let body = generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft");
    let r = api
        .http
        .post(format!("{}/api/v1/generations", api.base))
        .header("Content-Type", "application/json")
        .header("X-Junk", "j".repeat(1024 * 1024))
        .body(body)
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status().as_u16(), 431),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    assert_eq!(before, scope_state(&api, None).await);
    assert_eq!(api.get("/api/v1/generations").await.status, 200);
}
