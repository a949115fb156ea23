//! No team member can break the team: API keys cannot manage keys or delete teams, a
//! pipeline run is written by its author only and is final once finished or once it proves
//! a promoted generation, team names and user names are not revealed to strangers, and
//! server ids do not count the server's records.

use crate::common::*;
use serde_json::json;

fn basic(env: &Env, name: &str) -> Api {
    Api::new(&env.url(), Auth::Basic(name.into(), PASSWORD.into()))
}

async fn keys_on(backend: &str) {
    let env = Env::start(backend, 1);
    let key = env.user_with_key("alice");
    let pass = basic(&env, "alice");
    let Auth::Hmac { key_id, .. } = key.auth.clone() else {
        unreachable!()
    };

    // A key cannot mint a key (with or without an expiry); the password can.
    for body in [
        r#"{"name": "ci"}"#,
        r#"{"name": "ci", "expires_in_days": 1}"#,
    ] {
        let a = key.post("/api/v1/api-keys", body).await;
        assert_eq!(a.status, 403, "[{backend}] {:?}", a.body);
        assert_problem(&a, backend);
        assert!(
            a.detail().contains("API key cannot create"),
            "{}",
            a.detail()
        );
    }
    let listed = key.get("/api/v1/api-keys").await;
    assert_eq!(listed.status, 200, "a key may still list keys");
    assert_eq!(listed.body["data"]["api_keys"].as_array().unwrap().len(), 1);
    let other = pass.post("/api/v1/api-keys", r#"{"name": "laptop"}"#).await;
    assert_eq!(other.status, 201, "[{backend}] {:?}", other.body);
    let other_id = other.body["data"]["key_id"].as_str().unwrap().to_string();

    // A key cannot revoke another key, and cannot delete a team; the password can.
    let r = key.delete(&format!("/api/v1/api-keys/{other_id}")).await;
    assert_eq!(r.status, 403, "[{backend}] {:?}", r.body);
    let t = pass
        .post("/api/v1/teams", &json!({"name": "core"}).to_string())
        .await;
    let team = t.body["team_id"].as_str().unwrap().to_string();
    let d = key.delete(&format!("/api/v1/teams/{team}")).await;
    assert_eq!(d.status, 403, "[{backend}] {:?}", d.body);
    assert!(d.detail().contains("delete a team"), "{}", d.detail());
    assert_eq!(key.get(&format!("/api/v1/teams/{team}")).await.status, 200);
    let d = pass.delete(&format!("/api/v1/teams/{team}")).await;
    assert_eq!(d.status, 200, "[{backend}] {:?}", d.body);

    // A key may revoke itself, and is refused from then on.
    let r = key.delete(&format!("/api/v1/api-keys/{key_id}")).await;
    assert_eq!(r.status, 200, "[{backend}] {:?}", r.body);
    assert_eq!(key.get("/api/v1/api-keys").await.status, 401);
    let r = pass.delete(&format!("/api/v1/api-keys/{other_id}")).await;
    assert_eq!(r.status, 200, "[{backend}] {:?}", r.body);
}

#[tokio::test]
async fn api_keys_cannot_mint_keys_revoke_others_or_delete_teams() {
    for b in backends() {
        keys_on(b).await;
    }
}

fn run_body(pipeline: &str, team: Option<&str>, stdout: &str, end: Option<&str>) -> String {
    json!({
        "pipeline_run": {"pipeline_id": pipeline, "name": "ci", "start_timestamp": "2026-11-22T02:00:00",
                         "end_timestamp": end, "status": if end.is_some() { "passed" } else { "running" },
                         "config_json": "{}", "team_id": team},
        "runners": [{"runner_id": "r1", "pipeline_id": pipeline, "name": "build", "execution_order": 0, "status": "running"}],
        "step_outputs": [{"step_id": "s1", "runner_id": "r1", "name": "test", "output_json": "{\"a\": 1}",
                          "stdout": stdout, "stderr": "", "status": "passed", "duration": 1.5,
                          "timestamp": "2026-11-22T02:05:00"}]
    })
    .to_string()
}

async fn runs_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let bob = env.user_with_key("bob");
    gryt_server::admin::add_user(&env.config, "carol", PASSWORD).unwrap();
    let t = alice
        .post("/api/v1/teams", &json!({"name": "core"}).to_string())
        .await;
    let team = t.body["team_id"].as_str().unwrap().to_string();
    let add = alice
        .post(
            &format!("/api/v1/teams/{team}/members"),
            r#"{"username": "bob"}"#,
        )
        .await;
    assert_eq!(add.status, 201, "{:?}", add.body);
    let get = |api: &Api, p: &str| {
        let (api, p) = (api.clone(), p.to_string());
        async move { api.get(&format!("/api/v1/pipeline-runs/{p}")).await }
    };

    // Alice writes an open run; she may update it while it runs.
    let a = alice
        .post(
            "/api/v1/pipeline-runs",
            &run_body("run-1", Some(&team), "one", None),
        )
        .await;
    assert_eq!(a.status, 201, "[{backend}] {:?}", a.body);
    let id = a.body["data"]["id"].as_i64().unwrap();
    let a = alice
        .post(
            "/api/v1/pipeline-runs",
            &run_body("run-1", Some(&team), "two", None),
        )
        .await;
    assert_eq!(a.status, 201, "[{backend}] {:?}", a.body);
    assert_eq!(a.body["data"]["id"], id);
    // Bob, a member of the team, may read it but not replace it.
    let b = bob
        .post(
            "/api/v1/pipeline-runs",
            &run_body("run-1", Some(&team), "forged", None),
        )
        .await;
    assert_eq!(b.status, 403, "[{backend}] {:?}", b.body);
    assert_problem(&b, backend);
    assert!(b.detail().contains("only its author"), "{}", b.detail());
    let seen = get(&bob, "run-1").await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["data"]["runners"][0]["steps"][0]["stdout"], "two");
    assert_eq!(
        seen.body["data"]["runners"][0]["steps"][0]["output_json"],
        "{\"a\": 1}"
    );
    assert_eq!(seen.body["data"]["id"], id);
    // Finished, the run is final, even for its author; the same run again is a retry.
    let done = run_body("run-1", Some(&team), "three", Some("2026-11-22T02:10:00"));
    assert_eq!(alice.post("/api/v1/pipeline-runs", &done).await.status, 201);
    assert_eq!(alice.post("/api/v1/pipeline-runs", &done).await.status, 201);
    let late = alice
        .post(
            "/api/v1/pipeline-runs",
            &run_body(
                "run-1",
                Some(&team),
                "rewritten",
                Some("2026-11-22T02:11:00"),
            ),
        )
        .await;
    assert_eq!(late.status, 409, "[{backend}] {:?}", late.body);
    assert!(late.detail().contains("finished"), "{}", late.detail());
    assert_eq!(
        get(&alice, "run-1").await.body["data"]["runners"][0]["steps"][0]["stdout"],
        "three"
    );

    // An open run that proves a promoted generation is final too.
    let gid = ready_generation(&alice, "v1.0.0").await;
    let pr = alice
        .post("/api/v1/pipeline-runs", &run_body("run-1", None, "x", None))
        .await;
    assert_eq!(pr.status, 201, "[{backend}] {:?}", pr.body);
    let p = alice
        .post(&format!("/api/v1/generations/{gid}/promote"), "")
        .await;
    assert_eq!(p.status, 200, "[{backend}] {:?}", p.body);
    let after = alice
        .post(
            "/api/v1/pipeline-runs",
            &run_body("run-1", None, "changed", None),
        )
        .await;
    assert_eq!(after.status, 409, "[{backend}] {:?}", after.body);
    assert!(after.detail().contains("promoted"), "{}", after.detail());
    // A non-member neither reads nor learns of the team's run.
    let carol = basic(&env, "carol");
    assert_eq!(get(&carol, "run-1").await.status, 404);
}

#[tokio::test]
async fn pipeline_runs_are_written_by_their_author_and_final_once_finished_or_promoted() {
    for b in backends() {
        runs_on(b).await;
    }
}

async fn teams_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let bob = env.user_with_key("bob");
    let carol = env.user_with_key("carol");
    let t = alice
        .post("/api/v1/teams", &json!({"name": "core"}).to_string())
        .await;
    assert_eq!(t.status, 201);
    let team = t.body["team_id"].as_str().unwrap().to_string();
    // Another user may use the same name: nothing tells them alice's team exists.
    let same = carol
        .post("/api/v1/teams", &json!({"name": "core"}).to_string())
        .await;
    assert_eq!(same.status, 201, "[{backend}] {:?}", same.body);
    assert_ne!(same.body["team_id"], team);
    // One owner's names stay unique.
    let again = alice
        .post("/api/v1/teams", &json!({"name": "core"}).to_string())
        .await;
    assert_eq!(again.status, 409, "[{backend}] {:?}", again.body);
    assert!(again.detail().contains("already exists"));

    let add = |api: &Api, who: &str| {
        let (api, path, body) = (
            api.clone(),
            format!("/api/v1/teams/{team}/members"),
            json!({ "username": who }).to_string(),
        );
        async move { api.post(&path, &body).await }
    };
    // A stranger probing user names through alice's team: the same 404 either way.
    let known = add(&carol, "bob").await;
    let unknown = add(&carol, "nobody-here").await;
    assert_eq!((known.status, unknown.status), (404, 404));
    assert_eq!(known.detail(), unknown.detail());
    // A member who is not the owner: the same 403 either way.
    assert_eq!(add(&alice, "bob").await.status, 201);
    let known = add(&bob, "carol").await;
    let unknown = add(&bob, "nobody-here").await;
    assert_eq!((known.status, unknown.status), (403, 403));
    assert_eq!(known.detail(), unknown.detail());
    // A member added without asking can always leave.
    let leave = bob
        .delete(&format!("/api/v1/teams/{team}/members/bob"))
        .await;
    assert_eq!(leave.status, 200, "[{backend}] {:?}", leave.body);
    assert_eq!(bob.get(&format!("/api/v1/teams/{team}")).await.status, 404);
}

#[tokio::test]
async fn team_and_user_names_are_not_revealed_to_strangers() {
    for b in backends() {
        teams_on(b).await;
    }
}

async fn ids_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let mut gens = Vec::new();
    let mut evos = Vec::new();
    for i in 0..4 {
        let g = alice
            .post(
                "/api/v1/generations",
                &generation_body(
                    &new_uuid(),
                    &format!("v1.{i}.0"),
                    &[("FEAT-1", "x")],
                    "draft",
                ),
            )
            .await;
        assert_eq!(g.status, 201);
        let gid = g.body["data"]["id"].as_i64().unwrap();
        let e = alice
            .post(
                "/api/v1/evolutions",
                &evolution_body(&new_uuid(), gid, "FEAT-1"),
            )
            .await;
        assert_eq!(e.status, 201);
        gens.push(gid);
        evos.push(e.body["data"]["id"].as_i64().unwrap());
    }
    let signup = |name: &str| {
        let api = Api::new(&env.url(), Auth::None);
        let body = json!({"username": name, "password": PASSWORD}).to_string();
        async move { api.post("/api/v1/accounts/create", &body).await }
    };
    let users = [
        signup("dave").await.body["data"]["id"].as_i64().unwrap(),
        signup("erin").await.body["data"]["id"].as_i64().unwrap(),
    ];
    for ids in [&gens[..], &evos[..], &users[..]] {
        for id in ids {
            assert!((1..(1i64 << 53)).contains(id), "[{backend}] id {id}");
        }
        // Consecutive creates do not step by a small count.
        for w in ids.windows(2) {
            assert!(
                (w[1] - w[0]).abs() > 1_000_000,
                "[{backend}] consecutive ids {} and {}",
                w[0],
                w[1]
            );
        }
    }
    // Lists still come back whole, in the order records last changed.
    let list = alice.get("/api/v1/generations").await;
    let listed: Vec<i64> = list.body["data"]["generations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, gens);
}

#[tokio::test]
async fn server_ids_do_not_count_records() {
    for b in backends() {
        ids_on(b).await;
    }
}
