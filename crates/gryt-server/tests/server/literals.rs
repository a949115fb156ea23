//! Strings carrying SQL or shell metacharacters, quotes, newlines and unicode are data: the
//! server stores them and answers them back byte for byte (single record, list, feed, after a
//! PATCH), on both backends. A version carrying them is refused by the rules (422 naming the
//! version) and nothing is stored; the tables are still there afterwards.

use crate::common::*;
use serde_json::{json, Value};

pub const NASTY: &[&str] = &[
    "'; DROP TABLE generations; --",
    "\"; DROP TABLE evolutions; --",
    "Robert'); DELETE FROM users WHERE ('1'='1",
    "$(rm -rf /)",
    "`rm -rf /`",
    "${HOME} $PATH %s %n {0} {{x}}",
    "a\nb\r\nc\ttab",
    "back\\slash \\n not a newline",
    "quotes ' \" ` ´ ‘ ’ “ ”",
    "<script>alert(1)</script> &amp; &lt;",
    "Ünïcödé — 日本語 — emoji 🚀🔥 — rtl \u{202e}txet",
    "zero\u{200b}width and combining e\u{301}",
    "% _ LIKE wildcards \\% \\_",
    "?1 ?2 $1 $2 :name @p",
    "NULL",
];

fn changes() -> Value {
    Value::Array(
        NASTY
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({"id": format!("FEAT-{}", i + 1), "type": "add", "title": s, "description": s})
            })
            .collect(),
    )
}

#[track_caller]
fn same_texts(g: &Value, description: &str, ctx: &str) {
    assert_eq!(g["description"], description, "{ctx}");
    let ch = g["changes"].as_array().unwrap();
    assert_eq!(ch.len(), NASTY.len(), "{ctx}");
    for (c, s) in ch.iter().zip(NASTY) {
        assert_eq!(c["title"], *s, "{ctx}");
        assert_eq!(c["description"], *s, "{ctx}");
    }
}

async fn literals_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("alice");
    let description = NASTY.join(" | ");
    let body = json!({"generation_id": new_uuid(), "version": "v1.0.0", "description": description,
                      "changes": changes(), "pipeline_template": "'; DROP TABLE x; --"});
    let c = api.post("/api/v1/generations", &body.to_string()).await;
    assert_eq!(c.status, 201, "{:?}", c.body);
    let gid = c.body["data"]["id"].as_i64().unwrap();
    same_texts(&c.body["data"], &description, "create answer");
    assert_eq!(c.body["data"]["pipeline_template"], "'; DROP TABLE x; --");

    let one = api.get(&format!("/api/v1/generations/{gid}")).await;
    same_texts(&one.body["data"], &description, "get");
    let list = api.get("/api/v1/generations").await;
    same_texts(&list.body["data"]["generations"][0], &description, "list");
    let feed = scope_state(&api, None).await;
    same_texts(&feed["items"][0]["record"], &description, "feed");

    // Evolutions: a code name and a pipeline run id with metacharacters.
    for (i, s) in NASTY.iter().enumerate() {
        let e = api
            .post(
                "/api/v1/evolutions",
                &json!({"evolution_id": new_uuid(), "generation_id": gid.to_string(),
                        "change_id": format!("FEAT-{}", i + 1), "code_name": s,
                        "pipeline_run_id": s, "status": "pending"})
                .to_string(),
            )
            .await;
        assert_eq!(e.status, 201, "{s:?}: {:?}", e.body);
        let eid = e.body["data"]["id"].as_i64().unwrap();
        let back = api.get(&format!("/api/v1/evolutions/{eid}")).await;
        assert_eq!(back.body["data"]["code_name"], *s);
        assert_eq!(back.body["data"]["pipeline_run_id"], *s);
    }

    // A PATCH with the texts reversed, and the answer read back.
    let rev: Vec<Value> = changes()
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .cloned()
        .collect();
    let p = api
        .patch(
            &format!("/api/v1/generations/{gid}"),
            &json!({"description": NASTY[0], "changes": rev}).to_string(),
        )
        .await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    let back = api.get(&format!("/api/v1/generations/{gid}")).await;
    assert_eq!(back.body["data"]["description"], NASTY[0]);
    let got = back.body["data"]["changes"].as_array().unwrap();
    assert_eq!(got.len(), rev.len());
    for (g, want) in got.iter().zip(&rev) {
        for f in ["id", "title", "description"] {
            assert_eq!(g[f], want[f], "after PATCH");
        }
    }

    // A team whose name and description are hostile.
    let t = api
        .post(
            "/api/v1/teams",
            &json!({"name": "x'); DROP TABLE teams; --", "description": NASTY[3]}).to_string(),
        )
        .await;
    if t.status == 201 {
        let tid = t.body["team_id"].as_str().unwrap();
        let tb = api.get(&format!("/api/v1/teams/{tid}")).await;
        assert_eq!(tb.body["data"]["name"], "x'); DROP TABLE teams; --");
        assert_eq!(tb.body["data"]["description"], NASTY[3]);
    } else {
        assert_eq!(t.status, 422, "{:?}", t.body);
    }

    // Versions with metacharacters are refused by the rules, and nothing is stored.
    let before = scope_state(&api, None).await;
    for v in [
        "v1.0.0'; DROP TABLE generations; --",
        "1.0.0; rm -rf /",
        "$(rm -rf /)",
        "v1.0.0`id`",
        "v1.0.0\n",
        "v1.0.0\"",
        "v1.0.0 OR 1=1",
        "v1.0.0-rc.1+build.$(id)",
        "v１.０.０",
        "",
    ] {
        let body = json!({"generation_id": new_uuid(), "version": v, "changes": []});
        let a = api.post("/api/v1/generations", &body.to_string()).await;
        assert_eq!(a.status, 422, "{v:?}: {:?}", a.body);
        assert_problem(&a, v);
        assert!(
            a.detail().to_lowercase().contains("version"),
            "{v:?}: {:?}",
            a.body
        );
        let patched = api
            .patch(
                &format!("/api/v1/generations/{gid}"),
                &json!({"version": v}).to_string(),
            )
            .await;
        assert_eq!(patched.status, 422, "{v:?}: {:?}", patched.body);
        // The version filter refuses it too, rather than running it.
        let q: String = v.bytes().map(|b| format!("%{b:02X}")).collect();
        let f = api.get(&format!("/api/v1/generations?version={q}")).await;
        assert!(
            f.status == 422 || (f.status == 200 && q.is_empty()),
            "{v:?}: {:?}",
            f.body
        );
    }
    assert_eq!(
        before,
        scope_state(&api, None).await,
        "[{backend}] a refused version changed the scope"
    );
    // Every table still answers.
    assert_eq!(api.get("/api/v1/generations").await.status, 200);
    assert_eq!(api.get("/api/v1/evolutions").await.status, 200);
    assert_eq!(api.get("/api/v1/teams").await.status, 200);
}

#[tokio::test]
async fn metacharacters_are_stored_and_shown_literally() {
    for b in backends() {
        literals_on(b).await;
    }
}

/// A NUL character cannot live in a PostgreSQL text column: it must be refused (4xx) on
/// both backends alike, never a 500, and nothing stored.
async fn nul_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("alice");
    let g = api
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft"),
        )
        .await;
    let gid = g.body["data"]["id"].as_i64().unwrap();
    let before = scope_state(&api, None).await;
    let nul = "a\u{0}b";
    let bodies: Vec<(&str, String, String)> = vec![
        ("POST", "/api/v1/generations".into(), json!({"generation_id": new_uuid(), "version": "v2.0.0", "description": nul}).to_string()),
        ("POST", "/api/v1/generations".into(), json!({"generation_id": new_uuid(), "version": "v2.0.0", "changes": [{"id": "FEAT-1", "type": "add", "title": nul}]}).to_string()),
        ("POST", "/api/v1/generations".into(), json!({"generation_id": new_uuid(), "version": "v2.0.0", "created_at": nul}).to_string()),
        ("POST", "/api/v1/generations".into(), json!({"generation_id": new_uuid(), "version": "v2.0.0", "pipeline_template": nul}).to_string()),
        ("PATCH", format!("/api/v1/generations/{gid}"), json!({"description": nul}).to_string()),
        ("POST", "/api/v1/evolutions".into(), json!({"evolution_id": new_uuid(), "generation_id": gid, "change_id": "FEAT-1", "code_name": nul}).to_string()),
        ("POST", "/api/v1/evolutions".into(), json!({"evolution_id": new_uuid(), "generation_id": gid, "change_id": "FEAT-1", "pipeline_run_id": nul}).to_string()),
        ("POST", "/api/v1/teams".into(), json!({"name": "t", "description": nul}).to_string()),
        ("POST", "/api/v1/teams".into(), json!({"name": nul}).to_string()),
        ("POST", "/api/v1/api-keys".into(), json!({"name": nul}).to_string()),
        ("POST", "/api/v1/pipeline-runs".into(), json!({"pipeline_run": {"pipeline_id": nul}}).to_string()),
    ];
    let mut failures = Vec::new();
    for (m, p, b) in &bodies {
        let a = api.send(m, p, Some(b), &[]).await;
        if !(400..500).contains(&a.status) {
            failures.push(format!("[{backend}] {m} {p} {b}: {} {}", a.status, a.body));
            continue;
        }
        assert_problem(&a, b);
    }
    // In a URL (path or query), and in a Basic user name.
    for (m, p) in [
        (
            "GET",
            "/api/v1/sync/changes?since=0&team_id=a%00b".to_string(),
        ),
        ("GET", "/api/v1/sync/head?team_id=%00".to_string()),
        ("GET", "/api/v1/generations?team_id=a%00b".to_string()),
        ("GET", "/api/v1/generations?project=a%00b".to_string()),
        ("GET", "/api/v1/teams/a%00b".to_string()),
        ("GET", "/api/v1/teams/a%00b/members".to_string()),
        ("DELETE", "/api/v1/teams/a%00b/members/x%00y".to_string()),
        ("GET", "/api/v1/pipeline-runs/a%00b".to_string()),
        ("DELETE", "/api/v1/api-keys/gk_%00".to_string()),
        ("GET", format!("/api/v1/generations/{gid}%00")),
    ] {
        let a = api.send(m, &p, None, &[]).await;
        if !(400..500).contains(&a.status) {
            failures.push(format!("[{backend}] {m} {p}: {} {}", a.status, a.body));
            continue;
        }
        assert_problem(&a, &p);
    }
    let b = Api::new(
        &env.url(),
        Auth::Basic("al\u{0}ice".into(), PASSWORD.into()),
    )
    .get("/api/v1/generations")
    .await;
    if b.status != 401 {
        failures.push(format!(
            "[{backend}] Basic user name with NUL: {} {}",
            b.status, b.body
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(before, scope_state(&api, None).await, "[{backend}]");
}

#[tokio::test]
async fn a_nul_character_is_never_a_server_error() {
    for b in backends() {
        nul_on(b).await;
    }
}
