//! The story: the reference client's flows as raw signed HTTP, then every rule.

use crate::common::*;
use serde_json::Value;

#[tokio::test]
async fn story() {
    for b in backends() {
        story_on(b).await;
    }
}

async fn story_on(backend: &str) {
    let env = Env::start(backend, 1);
    let base = env.url();
    let anon = Api::new(&base, Auth::None);

    // Health, signup (allowed here), Basic auth, API key creation over HTTP.
    let h = anon.get("/healthz").await;
    assert_eq!(h.status, 200);
    let s = anon
        .post(
            "/api/v1/accounts/create",
            r#"{"username": "alice", "password": "correct horse battery"}"#,
        )
        .await;
    assert_eq!(s.status, 201, "{:?}", s.body);
    let dup = anon
        .post(
            "/api/v1/accounts/create",
            r#"{"username": "alice", "password": "correct horse battery"}"#,
        )
        .await;
    assert_eq!(dup.status, 409);
    assert!(dup.detail().contains("already exists"));
    let basic = Api::new(&base, Auth::Basic("alice".into(), PASSWORD.into()));
    let k = basic
        .post(
            "/api/v1/api-keys",
            r#"{"name": "laptop", "expires_in_days": 30}"#,
        )
        .await;
    assert_eq!(k.status, 201, "{:?}", k.body);
    let key_id = k.body["data"]["key_id"].as_str().unwrap().to_string();
    let secret = k.body["data"]["secret"].as_str().unwrap().to_string();
    let keys = basic.get("/api/v1/api-keys").await;
    assert_eq!(keys.status, 200);
    assert!(
        !keys.body.to_string().contains(&secret),
        "a listed key must not show its secret"
    );
    let alice = Api::new(&base, Auth::Hmac { key_id, secret });
    // Who is asking: the key's owner (gryt's extension), and nobody without credentials.
    let me = alice.get("/api/v1/accounts/me").await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["data"]["username"], "alice");
    let anon = Api::new(&base, Auth::None).get("/api/v1/accounts/me").await;
    assert_eq!(anon.status, 401, "{:?}", anon.body);

    // 1. create generation (the reference body, verbatim shape).
    let guuid = new_uuid();
    let body = generation_body(&guuid, "v1.0.0", &[("FEAT-001", "OAuth2 login")], "draft");
    let g = alice.post("/api/v1/generations", &body).await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let gid = g.body["data"]["id"].as_i64().unwrap();
    assert_eq!(g.body["data"]["generation_id"], guuid.as_str());
    assert_eq!(g.body["data"]["project"], "default");
    assert_eq!(g.body["data"]["rev"], 1);
    assert_eq!(g.headers["etag"], "\"1\"");

    // Unique version per scope and project.
    let again = alice
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), "v1.0.0", &[("FEAT-001", "x")], "draft"),
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(
        again.detail().contains("Generation v1.0.0 already exists"),
        "{}",
        again.detail()
    );
    assert!(again.detail().contains("alice"));
    assert_eq!(again.body["title"], "Conflict");
    assert_eq!(again.body["status"], 409);
    assert!(again.body["type"].as_str().unwrap().starts_with("https://"));

    // 2. list.
    let l = alice.get("/api/v1/generations").await;
    assert_eq!(l.status, 200);
    let gens = l.body["data"]["generations"].as_array().unwrap();
    assert_eq!(gens.len(), 1);
    for field in [
        "id",
        "version",
        "generation_id",
        "description",
        "status",
        "pipeline_template",
        "created_at",
        "promoted_at",
        "created_by",
        "promoted_by",
        "team_id",
    ] {
        assert!(gens[0].get(field).is_some(), "missing {field}");
    }
    for field in ["id", "type", "title"] {
        assert!(
            gens[0]["changes"][0].get(field).is_some(),
            "missing change {field}"
        );
    }

    // 3. create evolution (generation_id is the server id, as a string).
    let euuid = new_uuid();
    let e = alice
        .post(
            "/api/v1/evolutions",
            &evolution_body(&euuid, gid, "FEAT-001"),
        )
        .await;
    assert_eq!(e.status, 201, "{:?}", e.body);
    let eid = e.body["data"]["id"].as_i64().unwrap();
    assert_eq!(e.body["data"]["evolution_id"], euuid.as_str());
    assert_eq!(e.body["data"]["rc"], 1);
    assert_eq!(e.body["data"]["tag"], "v1.0.0-rc.1");
    assert_eq!(e.body["data"]["created_by"], "alice");
    let dup_e = alice
        .post(
            "/api/v1/evolutions",
            &evolution_body(&euuid, gid, "FEAT-001"),
        )
        .await;
    assert_eq!(dup_e.status, 409);
    assert!(dup_e.detail().contains("already exists"));
    let bad_change = alice
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), gid, "FEAT-999"),
        )
        .await;
    assert_eq!(bad_change.status, 422);
    let le = alice
        .get(&format!("/api/v1/evolutions?generation_id={gid}"))
        .await;
    assert_eq!(le.status, 200);
    assert_eq!(le.body["data"]["evolutions"].as_array().unwrap().len(), 1);

    // The gate: not yet proven.
    let early = alice
        .post(&format!("/api/v1/generations/{gid}/promote"), "")
        .await;
    assert_eq!(early.status, 409);
    assert_eq!(early.body["code"], "gate_failed", "{:?}", early.body);

    // 4. PATCH evolution.
    let pe = alice.patch(&format!("/api/v1/evolutions/{eid}"), r#"{"status": "pass", "pipeline_run_id": "run-42", "completed_at": "2026-11-22T02:10:00.000001"}"#).await;
    assert_eq!(pe.status, 200, "{:?}", pe.body);
    let ge = alice.get(&format!("/api/v1/evolutions/{eid}")).await;
    assert_eq!(ge.body["data"]["status"], "pass");
    assert_eq!(ge.body["data"]["pipeline_run_id"], "run-42");

    // 5. PATCH generation: the whole body again, new description.
    let body2 = body.replace("Release v1.0.0", "First release");
    let pg = alice
        .patch(&format!("/api/v1/generations/{gid}"), &body2)
        .await;
    assert_eq!(pg.status, 200, "{:?}", pg.body);
    assert_eq!(pg.body["data"]["description"], "First release");
    assert_eq!(pg.body["data"]["rev"], 2);

    // If-Match: a stale base answers 412 with the current record.
    let stale = alice
        .send(
            "PATCH",
            &format!("/api/v1/generations/{gid}"),
            Some(r#"{"description": "old base"}"#),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.body["current"]["rev"], 2);
    assert_eq!(stale.body["current"]["description"], "First release");

    // Pipeline run push.
    let run = r#"{"pipeline_run": {"pipeline_id": "run-42", "name": "ci", "start_timestamp": "2026-11-22T02:00:00", "end_timestamp": "2026-11-22T02:10:00", "status": "passed", "config_json": "{}", "team_id": null}, "runners": [{"runner_id": "r1", "pipeline_id": "run-42", "name": "build", "execution_order": 0, "status": "passed"}], "step_outputs": [{"step_id": "s1", "runner_id": "r1", "name": "cargo test", "output_json": "{}", "stdout": "ok", "stderr": "", "status": "passed", "duration": 1.5, "timestamp": "2026-11-22T02:05:00"}]}"#;
    let pr = alice.post("/api/v1/pipeline-runs", run).await;
    assert_eq!(pr.status, 201, "{:?}", pr.body);
    assert!(pr.body.get("data").is_some());
    let gr = alice.get("/api/v1/pipeline-runs/run-42").await;
    assert_eq!(gr.status, 200);
    assert_eq!(gr.body["data"]["name"], "ci");
    assert_eq!(
        gr.body["data"]["runners"][0]["steps"][0]["name"],
        "cargo test"
    );

    // 6. Promotion by PATCH (status: promoted in the whole body).
    let promote = body2.replace("\"status\": \"draft\"", "\"status\": \"promoted\"");
    let pp = alice
        .patch(&format!("/api/v1/generations/{gid}"), &promote)
        .await;
    assert_eq!(pp.status, 200, "{:?}", pp.body);
    assert_eq!(pp.body["data"]["status"], "promoted");
    assert_eq!(pp.body["data"]["promoted_by"], "alice");

    // Promoted records are immutable.
    let again = alice
        .post(&format!("/api/v1/generations/{gid}/promote"), "")
        .await;
    assert_eq!(again.status, 409);
    assert!(
        again.detail().contains("already promoted"),
        "{}",
        again.detail()
    );
    assert!(again.detail().contains("alice"));
    let edit = alice
        .patch(&format!("/api/v1/generations/{gid}"), &body2)
        .await;
    assert_eq!(edit.status, 409);
    assert!(
        edit.detail().contains("is promoted and immutable"),
        "{}",
        edit.detail()
    );
    let del = alice.delete(&format!("/api/v1/generations/{gid}")).await;
    assert_eq!(del.status, 409);
    assert!(del.detail().contains("is promoted and immutable"));
    let late = alice
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), gid, "FEAT-001"),
        )
        .await;
    assert_eq!(late.status, 409);
    let late_edit = alice
        .patch(
            &format!("/api/v1/evolutions/{eid}"),
            r#"{"status": "fail"}"#,
        )
        .await;
    assert_eq!(late_edit.status, 409);

    // Teams: scopes, members, evolution ownership, rc numbering.
    env.server().add_user("bob", PASSWORD).unwrap();
    let bob = Api::new(&base, Auth::Basic("bob".into(), PASSWORD.into()));
    let t = alice
        .post(
            "/api/v1/teams",
            r#"{"name": "core", "description": "the core team"}"#,
        )
        .await;
    assert_eq!(t.status, 201, "{:?}", t.body);
    let team = t.body["team_id"].as_str().unwrap().to_string();
    // Not yet a member: the team's records and the team itself are invisible.
    let tg = alice
        .post(
            "/api/v1/generations",
            &generation_body(
                &new_uuid(),
                "v2.0.0",
                &[("FEAT-1", "a"), ("BUG-2", "b")],
                "draft",
            )
            .replace("\"team_id\": null", &format!("\"team_id\": \"{team}\"")),
        )
        .await;
    assert_eq!(tg.status, 201, "{:?}", tg.body);
    let tgid = tg.body["data"]["id"].as_i64().unwrap();
    assert_eq!(tg.body["data"]["team_id"], team.as_str());
    assert_eq!(
        bob.get(&format!("/api/v1/generations/{tgid}")).await.status,
        404
    );
    assert_eq!(bob.get(&format!("/api/v1/teams/{team}")).await.status, 404);
    assert_eq!(
        bob.get(&format!("/api/v1/generations/{gid}")).await.status,
        404,
        "alice's personal record"
    );
    let add = alice
        .post(
            &format!("/api/v1/teams/{team}/members"),
            r#"{"username": "bob"}"#,
        )
        .await;
    assert_eq!(add.status, 201, "{:?}", add.body);
    let add2 = alice
        .post(
            &format!("/api/v1/teams/{team}/members"),
            r#"{"username": "bob"}"#,
        )
        .await;
    assert_eq!(add2.status, 409);
    let teams = bob.get("/api/v1/teams").await;
    assert_eq!(teams.body["data"]["teams"][0]["member_count"], 2);
    let members = bob.get(&format!("/api/v1/teams/{team}/members")).await;
    assert_eq!(members.body["data"]["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        bob.get(&format!("/api/v1/generations/{tgid}")).await.status,
        200
    );
    let ea = alice
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), tgid, "FEAT-1"),
        )
        .await;
    let eb = bob
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), tgid, "FEAT-1"),
        )
        .await;
    assert_eq!((ea.status, eb.status), (201, 201));
    assert_eq!(ea.body["data"]["rc"], 1);
    assert_eq!(eb.body["data"]["rc"], 2);
    assert_eq!(eb.body["data"]["tag"], "v2.0.0-rc.2");
    let eaid = ea.body["data"]["id"].as_i64().unwrap();
    let steal = bob
        .patch(
            &format!("/api/v1/evolutions/{eaid}"),
            r#"{"status": "pass"}"#,
        )
        .await;
    assert_eq!(steal.status, 403, "{:?}", steal.body);
    assert_eq!(
        bob.delete(&format!("/api/v1/evolutions/{eaid}"))
            .await
            .status,
        403
    );
    // Drafts can be edited by anyone in the scope.
    let bob_edit = bob
        .patch(
            &format!("/api/v1/generations/{tgid}"),
            r#"{"description": "edited by bob"}"#,
        )
        .await;
    assert_eq!(bob_edit.status, 200);

    // Deleting a draft leaves a tombstone (and its evolutions' tombstones) in the feed.
    let head0 = alice
        .get(&format!("/api/v1/sync/head?team_id={team}"))
        .await;
    let h0 = head0.body["data"]["head"].as_i64().unwrap();
    assert_eq!(head0.headers["etag"], format!("\"{h0}\"").as_str());
    let not_modified = alice
        .send(
            "GET",
            &format!("/api/v1/sync/head?team_id={team}"),
            None,
            &[("If-None-Match", &format!("\"{h0}\""))],
        )
        .await;
    assert_eq!(not_modified.status, 304);
    let d = bob.delete(&format!("/api/v1/generations/{tgid}")).await;
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(
        bob.get(&format!("/api/v1/generations/{tgid}")).await.status,
        404
    );
    let feed = alice
        .get(&format!(
            "/api/v1/sync/changes?team_id={team}&since={h0}&limit=100"
        ))
        .await;
    assert_eq!(feed.status, 200);
    let items = feed.body["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items
        .iter()
        .all(|i| i["record"]["deleted"] == Value::Bool(true)));
    assert_eq!(items[0]["kind"], "generation");
    assert_eq!(feed.body["data"]["next"], feed.body["data"]["head"]);
    // The version is free again after the delete.
    let reuse = alice
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), "v2.0.0", &[("FEAT-1", "a")], "draft")
                .replace("\"team_id\": null", &format!("\"team_id\": \"{team}\"")),
        )
        .await;
    assert_eq!(reuse.status, 201);
    // Projects: the same version in another project is another record.
    let other = alice
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "a")], "draft").replace(
                "\"team_id\": null",
                "\"team_id\": null, \"project\": \"web\"",
            ),
        )
        .await;
    assert_eq!(other.status, 201, "{:?}", other.body);
    let web = alice
        .get("/api/v1/sync/changes?since=0&limit=1&project=web")
        .await;
    let items = web.body["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["record"]["project"], "web");
    let rest = alice
        .get(&format!(
            "/api/v1/sync/changes?since={}&project=web",
            web.body["data"]["next"]
        ))
        .await;
    assert!(rest.body["data"]["items"].as_array().unwrap().is_empty());
    assert_eq!(rest.body["data"]["next"], rest.body["data"]["head"]);

    // Bad requests: clear detail, nothing changed.
    let before = alice.get("/api/v1/sync/head").await.body["data"]["head"].clone();
    let cases: Vec<(&str, &str, String, u16)> = vec![
        ("POST", "/api/v1/generations", "{not json".to_string(), 400),
        ("POST", "/api/v1/generations", "".to_string(), 400),
        (
            "POST",
            "/api/v1/generations",
            r#"{"generation_id": 5, "version": "v9.0.0"}"#.to_string(),
            422,
        ),
        (
            "POST",
            "/api/v1/generations",
            r#"{"version": "v9.0.0"}"#.to_string(),
            422,
        ),
        (
            "POST",
            "/api/v1/generations",
            generation_body("not-a-uuid", "v9.0.0", &[], "draft"),
            422,
        ),
        (
            "POST",
            "/api/v1/generations",
            generation_body(&new_uuid(), "banana", &[], "draft"),
            422,
        ),
        (
            "POST",
            "/api/v1/generations",
            generation_body(&new_uuid(), "v9.0.0", &[("feat-1", "x")], "draft"),
            422,
        ),
        (
            "POST",
            "/api/v1/generations",
            generation_body(
                &new_uuid(),
                "v9.0.0",
                &[("FEAT-1", "x"), ("FEAT-1", "y")],
                "draft",
            ),
            409,
        ),
        ("GET", "/api/v1/generations/999999", "".to_string(), 404),
        ("GET", "/api/v1/generations/abc", "".to_string(), 404),
        ("GET", "/api/v1/evolutions/999999", "".to_string(), 404),
        ("GET", "/api/v1/pipeline-runs/nope", "".to_string(), 404),
        ("GET", "/api/v1/nothing-here", "".to_string(), 404),
        ("GET", "/api/v1/sync/changes?since=-1", "".to_string(), 400),
        (
            "POST",
            "/api/v1/generations?team_id=x",
            generation_body(&new_uuid(), "v9.0.0", &[], "draft")
                .replace("\"team_id\": null", "\"team_id\": \"no-such-team\""),
            404,
        ),
    ];
    for (m, p, b, want) in cases {
        let a = alice
            .send(
                m,
                p,
                if b.is_empty() { None } else { Some(b.as_str()) },
                &[],
            )
            .await;
        assert_eq!(a.status, want, "{m} {p} {b}: {:?}", a.body);
        assert!(!a.detail().is_empty(), "{m} {p}: no detail");
    }
    let big = format!(
        r#"{{"generation_id": "{}", "version": "v9.9.9", "description": "{}"}}"#,
        new_uuid(),
        "x".repeat(9 * 1024 * 1024)
    );
    let too_big = alice.post("/api/v1/generations", &big).await;
    assert_eq!(too_big.status, 413);
    assert!(too_big.detail().contains("limit"));
    let after = alice.get("/api/v1/sync/head").await.body["data"]["head"].clone();
    assert_eq!(before, after, "failed requests changed nothing");

    // Batch push: several records in one request, each with its own answer.
    let b1 = new_uuid();
    let batch = serde_json::json!({"operations": [
        {"op": "create_generation", "idempotency_key": "b-1", "body": serde_json::from_str::<Value>(&generation_body(&b1, "v3.0.0", &[("FEAT-1", "a")], "draft")).unwrap()},
        {"op": "create_generation", "body": serde_json::from_str::<Value>(&generation_body(&new_uuid(), "v3.0.0", &[("FEAT-1", "a")], "draft")).unwrap()},
        {"op": "nonsense"}
    ]});
    let h1 = alice.get("/api/v1/sync/head").await.body["data"]["head"]
        .as_i64()
        .unwrap();
    let br = alice.post("/api/v1/sync/batch", &batch.to_string()).await;
    let h2 = alice.get("/api/v1/sync/head").await.body["data"]["head"]
        .as_i64()
        .unwrap();
    assert_eq!(h2, h1 + 1, "only the successful operation reached the feed");
    assert_eq!(br.status, 200, "{:?}", br.body);
    let res = br.body["data"]["results"].as_array().unwrap();
    assert_eq!(res[0]["status"], 201);
    assert_eq!(res[1]["status"], 409);
    assert_eq!(res[2]["status"], 422);
    let br2 = alice.post("/api/v1/sync/batch", &batch.to_string()).await;
    assert_eq!(
        br2.body["data"]["results"][0], res[0],
        "the keyed op answers its stored result"
    );

    // Change password; the old one stops working.
    let cp = basic
        .post(
            "/api/v1/accounts/change-password",
            r#"{"current_password": "correct horse battery", "new_password": "new horse battery"}"#,
        )
        .await;
    assert_eq!(cp.status, 200, "{:?}", cp.body);
    assert_eq!(basic.get("/api/v1/generations").await.status, 401);
    let basic2 = Api::new(
        &base,
        Auth::Basic("alice".into(), "new horse battery".into()),
    );
    assert_eq!(basic2.get("/api/v1/generations").await.status, 200);
}

#[tokio::test]
async fn signup_is_closed_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        gryt_server::ServerConfig::new(format!("sqlite:{}", dir.path().join("s.db").display()));
    let server = gryt_server::TestServer::start(cfg).unwrap();
    let anon = Api::new(&server.url(), Auth::None);
    let s = anon
        .post(
            "/api/v1/accounts/create",
            r#"{"username": "eve", "password": "correct horse battery"}"#,
        )
        .await;
    assert_eq!(s.status, 403);
    assert!(s.detail().contains("disabled"));
    assert!(
        dir.path().join("s.db.key").exists(),
        "server key created next to the database"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("s.db.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("s.db").display());
    drop(gryt_server::TestServer::start(gryt_server::ServerConfig::new(url.clone())).unwrap());
    let u = url.clone();
    std::thread::spawn(move || {
        let db = gryt_server::db::Db::open_blocking(&u).unwrap();
        db.run_blocking(|c| c.batch("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')"))
            .unwrap();
    })
    .join()
    .unwrap();
    let err = gryt_server::TestServer::start(gryt_server::ServerConfig::new(url))
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("newer than this server"),
        "{err:#}"
    );
}

/// A schema-1 database (evolution UUIDs unique server-wide) is upgraded in place by
/// migration 0002: every evolution is kept, with its id, and UUIDs become unique per scope.
#[tokio::test]
async fn a_schema_1_database_is_upgraded_keeping_its_evolutions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!("../../migrations/sqlite/0001_initial.sql"))
            .unwrap();
        c.execute_batch(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 'initial', '2026-01-01T00:00:00Z');
             INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'u1', 'x', 't'), (2, 'u2', 'x', 't');
             INSERT INTO scopes (id, user_id, seq) VALUES (1, 1, 2), (2, 2, 2);
             INSERT INTO generations (id, generation_id, scope_id, project, version, changes, status, created_at, created_by, rev, seq)
               VALUES (1, 'g1', 1, 'default', 'v1.0.0', '[]', 'draft', 't', 'u1', 1, 1),
                      (2, 'g2', 2, 'default', 'v1.0.0', '[]', 'draft', 't', 'u2', 1, 1);
             INSERT INTO evolutions (id, evolution_id, generation_pk, scope_id, change_id, rc, code_name, status, owner_id, created_by, created_at, rev, seq)
               VALUES (7, 'e1', 1, 1, 'FEAT-1', 1, 'a-b-c', 'pass', 1, 'u1', 't', 2, 2);",
        )
        .unwrap();
    }
    let url = format!("sqlite:{}", path.display());
    drop(gryt_server::TestServer::start(gryt_server::ServerConfig::new(url)).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = c
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(v, gryt_server::db::migrate::latest_version());
    let row: (i64, String, i64, String) = c
        .query_row(
            "SELECT id, evolution_id, rc, status FROM evolutions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(row, (7, "e1".to_string(), 1, "pass".to_string()));
    // The same UUID in another scope is accepted; in the same scope it is not.
    c.execute(
        "INSERT INTO evolutions (evolution_id, generation_pk, scope_id, change_id, rc, code_name, status, owner_id, created_by, created_at, rev, seq)
         VALUES ('e1', 2, 2, 'FEAT-1', 1, 'd-e-f', 'pending', 2, 'u2', 't', 1, 2)",
        [],
    )
    .unwrap();
    let dup = c.execute(
        "INSERT INTO evolutions (evolution_id, generation_pk, scope_id, change_id, rc, code_name, status, owner_id, created_by, created_at, rev, seq)
         VALUES ('e1', 1, 1, 'FEAT-1', 2, 'g-h-i', 'pending', 1, 'u1', 't', 1, 3)",
        [],
    );
    assert!(dup.is_err(), "a duplicate UUID within one scope was stored");
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}
