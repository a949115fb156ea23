//! Team isolation: a member of team A cannot list, read, change, delete, promote, prove,
//! follow (feed, head), or administer team B's records or membership. Every attempt answers
//! 404 with the body a non-existent id would get (the same bytes once the id is swapped), and
//! team B's records, feed, members and pipeline runs are exactly as before.

use crate::common::*;
use serde_json::{json, Value};

/// One probe: a request by the outsider naming B's object, and the same request naming an
/// object that does not exist.
struct Probe {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<String>,
    headers: Vec<(&'static str, String)>,
    /// (the id of B's object in the path or body, the id of a missing object).
    swap: (String, String),
}

fn probe(
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<String>,
    swap: (String, String),
) -> Probe {
    Probe {
        name,
        method,
        path,
        body,
        headers: vec![],
        swap,
    }
}

/// What B holds, as B's owner sees it: the feed, the team, its members, the pipeline run.
async fn b_state(bob: &Api, team: &str, pipeline: &str) -> Value {
    json!({
        "scope": scope_state(bob, Some(team)).await,
        "team": bob.get(&format!("/api/v1/teams/{team}")).await.body,
        "members": bob.get(&format!("/api/v1/teams/{team}/members")).await.body,
        "run": bob.get(&format!("/api/v1/pipeline-runs/{pipeline}")).await.body,
        "generations": bob.get(&format!("/api/v1/generations?team_id={team}")).await.body,
        "evolutions": bob.get("/api/v1/evolutions").await.body,
    })
}

async fn team(api: &Api, name: &str) -> String {
    let t = api
        .post("/api/v1/teams", &json!({"name": name}).to_string())
        .await;
    assert_eq!(t.status, 201, "{:?}", t.body);
    t.body["team_id"].as_str().unwrap().to_string()
}

/// Replaces `from` by `to` where it stands as a whole token (not inside a longer word,
/// number, version or UUID).
fn swap_word(text: &str, from: &str, to: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        out.push_str(if word(before) || word(after) {
            from
        } else {
            to
        });
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

fn in_team(body: String, team: &str) -> String {
    body.replace("\"team_id\": null", &format!("\"team_id\": \"{team}\""))
}

async fn scopes_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let bob = env.user_with_key("bob");
    env.user_with_key("carol");
    let team_a = team(&alice, "team-a").await;
    let team_b = team(&bob, "team-b").await;
    let add = bob
        .post(
            &format!("/api/v1/teams/{team_b}/members"),
            r#"{"username": "carol"}"#,
        )
        .await;
    assert_eq!(add.status, 201, "{:?}", add.body);

    // Team B: a draft with an evolution, a draft ready to promote, a pipeline run.
    let g = bob
        .post(
            "/api/v1/generations",
            &in_team(
                generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "Secret")], "draft"),
                &team_b,
            ),
        )
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let gb = g.body["data"]["id"].as_i64().unwrap();
    let gb_uuid = g.body["data"]["generation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = bob
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), gb, "FEAT-1"),
        )
        .await;
    assert_eq!(e.status, 201, "{:?}", e.body);
    let eb = e.body["data"]["id"].as_i64().unwrap();
    let r = bob
        .post(
            "/api/v1/generations",
            &in_team(
                generation_body(&new_uuid(), "v2.0.0", &[("FEAT-1", "Ready")], "draft"),
                &team_b,
            ),
        )
        .await;
    let ready = r.body["data"]["id"].as_i64().unwrap();
    let re = bob
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), ready, "FEAT-1"),
        )
        .await;
    let re_id = re.body["data"]["id"].as_i64().unwrap();
    let pass = bob
        .patch(
            &format!("/api/v1/evolutions/{re_id}"),
            r#"{"status": "pass"}"#,
        )
        .await;
    assert_eq!(pass.status, 200, "{:?}", pass.body);
    let pipeline = format!("pipe-{}", new_uuid());
    let pr = bob
        .post(
            "/api/v1/pipeline-runs",
            &json!({"pipeline_run": {"pipeline_id": pipeline, "name": "ci", "team_id": team_b},
                    "runners": [], "step_outputs": []})
            .to_string(),
        )
        .await;
    assert_eq!(pr.status, 201, "{:?}", pr.body);

    // Team A has its own record, so alice's lists are not trivially empty.
    let ga = alice
        .post(
            "/api/v1/generations",
            &in_team(
                generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "Mine")], "draft"),
                &team_a,
            ),
        )
        .await;
    assert_eq!(ga.status, 201, "{:?}", ga.body);

    let before = b_state(&bob, &team_b, &pipeline).await;
    let missing_team = uuid::Uuid::new_v4().to_string();
    let (gid, gmiss) = (gb.to_string(), "987654321".to_string());
    let (eid, emiss) = (eb.to_string(), "987654322".to_string());
    let (rid, rmiss) = (ready.to_string(), "987654323".to_string());
    let t = (team_b.clone(), missing_team.clone());
    let gs = (gid.clone(), gmiss.clone());
    let es = (eid.clone(), emiss.clone());
    let mut probes = vec![
        probe(
            "list generations of B",
            "GET",
            format!("/api/v1/generations?team_id={team_b}"),
            None,
            t.clone(),
        ),
        probe(
            "read a generation",
            "GET",
            format!("/api/v1/generations/{gb}"),
            None,
            gs.clone(),
        ),
        probe(
            "change a generation",
            "PATCH",
            format!("/api/v1/generations/{gb}"),
            Some(r#"{"description": "owned", "changes": []}"#.into()),
            gs.clone(),
        ),
        probe(
            "delete a generation",
            "DELETE",
            format!("/api/v1/generations/{gb}"),
            None,
            gs.clone(),
        ),
        probe(
            "promote a generation",
            "POST",
            format!("/api/v1/generations/{ready}/promote"),
            None,
            (rid.clone(), rmiss.clone()),
        ),
        probe(
            "promote through PATCH",
            "PATCH",
            format!("/api/v1/generations/{ready}"),
            Some(r#"{"status": "promoted"}"#.into()),
            (rid.clone(), rmiss.clone()),
        ),
        probe(
            "add an evolution",
            "POST",
            "/api/v1/evolutions".into(),
            Some(evolution_body(&new_uuid(), gb, "FEAT-1")),
            gs.clone(),
        ),
        probe(
            "list a generation's evolutions",
            "GET",
            format!("/api/v1/evolutions?generation_id={gb}"),
            None,
            gs.clone(),
        ),
        probe(
            "read an evolution",
            "GET",
            format!("/api/v1/evolutions/{eb}"),
            None,
            es.clone(),
        ),
        probe(
            "change an evolution",
            "PATCH",
            format!("/api/v1/evolutions/{eb}"),
            Some(r#"{"status": "pass"}"#.into()),
            es.clone(),
        ),
        probe(
            "delete an evolution",
            "DELETE",
            format!("/api/v1/evolutions/{eb}"),
            None,
            es.clone(),
        ),
        probe(
            "the feed of B",
            "GET",
            format!("/api/v1/sync/changes?since=0&team_id={team_b}"),
            None,
            t.clone(),
        ),
        probe(
            "the head of B",
            "GET",
            format!("/api/v1/sync/head?team_id={team_b}"),
            None,
            t.clone(),
        ),
        probe(
            "read team B",
            "GET",
            format!("/api/v1/teams/{team_b}"),
            None,
            t.clone(),
        ),
        probe(
            "list B's members",
            "GET",
            format!("/api/v1/teams/{team_b}/members"),
            None,
            t.clone(),
        ),
        probe(
            "join B",
            "POST",
            format!("/api/v1/teams/{team_b}/members"),
            Some(r#"{"username": "alice"}"#.into()),
            t.clone(),
        ),
        probe(
            "remove B's member",
            "DELETE",
            format!("/api/v1/teams/{team_b}/members/carol"),
            None,
            t.clone(),
        ),
        probe(
            "delete team B",
            "DELETE",
            format!("/api/v1/teams/{team_b}"),
            None,
            t.clone(),
        ),
        probe(
            "create in B",
            "POST",
            "/api/v1/generations".into(),
            Some(in_team(
                generation_body(&new_uuid(), "v9.0.0", &[("FEAT-1", "x")], "draft"),
                &team_b,
            )),
            t.clone(),
        ),
        probe(
            "push a pipeline run into B",
            "POST",
            "/api/v1/pipeline-runs".into(),
            Some(json!({"pipeline_run": {"pipeline_id": "evil", "team_id": team_b}}).to_string()),
            t.clone(),
        ),
        probe(
            "read B's pipeline run",
            "GET",
            format!("/api/v1/pipeline-runs/{pipeline}"),
            None,
            (pipeline.clone(), format!("pipe-{}", new_uuid())),
        ),
    ];
    // A stale If-Match must not turn into a 412 that shows B's record.
    let mut stale = probe(
        "change with a stale If-Match",
        "PATCH",
        format!("/api/v1/generations/{gb}"),
        Some(r#"{"description": "owned"}"#.into()),
        gs.clone(),
    );
    stale.headers.push(("If-Match", "\"99\"".into()));
    probes.push(stale);
    let mut current = probe(
        "delete with the right If-Match",
        "DELETE",
        format!("/api/v1/generations/{gb}"),
        None,
        gs.clone(),
    );
    current.headers.push(("If-Match", "\"1\"".into()));
    probes.push(current);

    let mut failures = Vec::new();
    for p in &probes {
        let headers: Vec<(&str, &str)> = p.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = alice
            .send(p.method, &p.path, p.body.as_deref(), &headers)
            .await;
        let (real, fake) = &p.swap;
        let miss_path = swap_word(&p.path, real, fake);
        let miss_body = p.body.as_ref().map(|b| swap_word(b, real, fake));
        let m = alice
            .send(p.method, &miss_path, miss_body.as_deref(), &headers)
            .await;
        let ctx = format!("[{backend}] {}: {} {}", p.name, p.method, p.path);
        if a.status != 404 {
            failures.push(format!("{ctx}: want 404, got {} {}", a.status, a.body));
            continue;
        }
        assert_problem(&a, &ctx);
        let shown = swap_word(&without_request_id(&a.body).to_string(), real, fake);
        if shown != without_request_id(&m.body).to_string().as_str() || m.status != 404 {
            failures.push(format!(
                "{ctx}: the answer differs from a missing id's:\n  {}\n  {} {}",
                a.body, m.status, m.body
            ));
        }
        for secret in ["Secret", "Ready", gb_uuid.as_str(), "carol", "team-b"] {
            if a.body.to_string().contains(secret) {
                failures.push(format!("{ctx}: the answer shows {secret:?}: {}", a.body));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The same operations in one batch: each answers 404.
    let batch = json!({"operations": [
        {"op": "update_generation", "id": gb, "body": {"description": "owned"}},
        {"op": "delete_generation", "id": gb},
        {"op": "promote_generation", "id": ready},
        {"op": "create_evolution", "body": serde_json::from_str::<Value>(&evolution_body(&new_uuid(), gb, "FEAT-1")).unwrap()},
        {"op": "update_evolution", "id": eb, "body": {"status": "pass"}},
        {"op": "delete_evolution", "id": eb},
        {"op": "create_generation", "body": serde_json::from_str::<Value>(
            &in_team(generation_body(&new_uuid(), "v9.0.0", &[], "draft"), &team_b)).unwrap()},
    ]});
    let br = alice.post("/api/v1/sync/batch", &batch.to_string()).await;
    assert_eq!(br.status, 200, "{:?}", br.body);
    for (i, r) in br.body["data"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(r["status"], 404, "[{backend}] batch op {i}: {r}");
    }

    // Lists without team_id cover only alice's scopes; the feed of her scopes shows nothing
    // of B.
    let all = alice.get("/api/v1/generations").await.body.to_string();
    let evs = alice.get("/api/v1/evolutions").await.body.to_string();
    let feed_a = scope_state(&alice, Some(&team_a)).await.to_string();
    let feed_p = scope_state(&alice, None).await.to_string();
    let teams = alice.get("/api/v1/teams").await.body.to_string();
    for (what, text) in [
        ("generations", &all),
        ("evolutions", &evs),
        ("team A feed", &feed_a),
        ("personal feed", &feed_p),
        ("teams", &teams),
    ] {
        for secret in [
            "Secret",
            "Ready",
            gb_uuid.as_str(),
            team_b.as_str(),
            "team-b",
        ] {
            assert!(
                !text.contains(secret),
                "[{backend}] alice's {what} show {secret:?}: {text}"
            );
        }
    }
    assert!(all.contains("Mine"), "alice sees her own team's record");

    // Nothing of B changed.
    let after = b_state(&bob, &team_b, &pipeline).await;
    assert_eq!(before, after, "[{backend}] team B changed");

    // A member of B (carol) does see B: the 404s above are about membership, not the ids.
    let carol_api = {
        let k = env.server().create_api_key("carol", "c", None).unwrap();
        Api::new(
            &env.url(),
            Auth::Hmac {
                key_id: k.key_id,
                secret: k.secret,
            },
        )
    };
    assert_eq!(
        carol_api
            .get(&format!("/api/v1/generations/{gb}"))
            .await
            .status,
        200
    );
    assert_eq!(
        carol_api
            .get(&format!("/api/v1/teams/{team_b}/members"))
            .await
            .status,
        200
    );

    // Once removed from B, carol is an outsider too.
    let rm = bob
        .delete(&format!("/api/v1/teams/{team_b}/members/carol"))
        .await;
    assert_eq!(rm.status, 200, "{:?}", rm.body);
    assert_eq!(
        carol_api
            .get(&format!("/api/v1/generations/{gb}"))
            .await
            .status,
        404
    );
    assert_eq!(
        carol_api
            .get(&format!("/api/v1/sync/changes?since=0&team_id={team_b}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_team_member_cannot_see_or_touch_another_teams_records() {
    for b in backends() {
        scopes_on(b).await;
    }
}

/// Evolution UUIDs are unique per scope (server migration 0002). Before, a UUID taken in
/// another scope answered 409 "already exists": an outsider could learn that it exists.
#[tokio::test]
async fn an_evolution_uuid_used_in_another_scope_is_neither_refused_nor_revealed() {
    for b in backends() {
        evolution_uuid_per_scope(b).await;
    }
}

async fn evolution_uuid_per_scope(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let bob = env.user_with_key("bob");
    let mut gens = Vec::new();
    for api in [&bob, &alice] {
        let g = api
            .post(
                "/api/v1/generations",
                &generation_body(&new_uuid(), "v1.0.0", &[("FEAT-001", "Login")], "draft"),
            )
            .await;
        assert_eq!(g.status, 201, "{backend}: {:?}", g.body);
        gens.push(g.body["data"]["id"].as_i64().unwrap());
    }
    let uuid = new_uuid();
    let theirs = bob
        .post(
            "/api/v1/evolutions",
            &evolution_body(&uuid, gens[0], "FEAT-001"),
        )
        .await;
    assert_eq!(theirs.status, 201, "{backend}: {:?}", theirs.body);
    let bob_before = bob.get("/api/v1/evolutions").await.body;

    // Alice, in her own scope, uses the same UUID: an ordinary create.
    let mine = alice
        .post(
            "/api/v1/evolutions",
            &evolution_body(&uuid, gens[1], "FEAT-001"),
        )
        .await;
    assert_eq!(mine.status, 201, "{backend}: {:?}", mine.body);
    assert_eq!(mine.body["data"]["rc"], 1, "{backend}: {:?}", mine.body);
    assert_eq!(
        bob.get("/api/v1/evolutions").await.body,
        bob_before,
        "{backend}"
    );
    let listed = alice.get("/api/v1/evolutions").await.body;
    let ids: Vec<&Value> = listed["data"]["evolutions"]
        .as_array()
        .map(|a| a.iter().map(|e| &e["evolution_id"]).collect())
        .unwrap_or_default();
    assert_eq!(ids, [&json!(uuid)], "{backend}: {listed:#}");

    // Within one scope the UUID still names one evolution.
    let again = alice
        .post(
            "/api/v1/evolutions",
            &evolution_body(&uuid, gens[1], "FEAT-001"),
        )
        .await;
    assert_eq!(again.status, 409, "{backend}: {:?}", again.body);
    assert_eq!(
        again.body["code"], "already_exists",
        "{backend}: {:?}",
        again.body
    );
}
