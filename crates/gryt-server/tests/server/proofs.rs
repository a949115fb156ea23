//! What a proof proved and what a promotion names: evolutions carry their commit, dirty flag
//! and the fingerprint of the change they prove; a promotion naming its proofs is checked proof
//! by proof (stale, superseded, failed, unknown, missing); one naming nothing gets the
//! newest-proof rule. Both backends.

use crate::common::{evolution_body, generation_body, new_uuid, note, pg_admin_url, Api, Env};
use serde_json::{json, Value};

const C1: &str = "aaaaaaa1aaaaaaa1aaaaaaa1aaaaaaa1aaaaaaa1";

async fn evolution(api: &Api, gid: i64, change: &str, status: &str, commit: &str) -> Value {
    let uuid = new_uuid();
    let e = api
        .post("/api/v1/evolutions", &evolution_body(&uuid, gid, change))
        .await;
    assert_eq!(e.status, 201, "{:?}", e.body);
    let id = e.body["data"]["id"].as_i64().unwrap();
    let body = json!({"status": status, "commit": commit, "dirty": false}).to_string();
    let p = api.patch(&format!("/api/v1/evolutions/{id}"), &body).await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    p.body["data"].clone()
}

fn named(commit: &str, proofs: &[(&str, &Value)]) -> String {
    let proofs: Vec<Value> = proofs
        .iter()
        .map(|(c, e)| json!({"change_id": c, "evolution_id": e["evolution_id"]}))
        .collect();
    json!({"commit": commit, "proofs": proofs}).to_string()
}

async fn story(env: &Env) {
    let api = env.user_with_key("prover");
    let g = api
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), "v3.0.0", &[("FEAT-001", "Login")], "draft"),
        )
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let gid = g.body["data"]["id"].as_i64().unwrap();
    let promote = format!("/api/v1/generations/{gid}/promote");

    // A reference-client evolution gets the change's fingerprint at creation.
    let e1 = evolution(&api, gid, "FEAT-001", "pass", C1).await;
    assert_eq!(
        e1["fingerprint"],
        gryt_core::change::fingerprint("FEAT-001", "add", "Login")
    );
    assert_eq!(e1["commit"], C1);
    assert_eq!(e1["dirty"], false);

    // Bad extension fields are refused.
    let bad = api
        .post(
            "/api/v1/evolutions",
            &json!({"evolution_id": new_uuid(), "generation_id": gid, "change_id": "FEAT-001",
                    "fingerprint": "md5:nope"})
            .to_string(),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (422, Some("invalid"))
    );
    let bad = api.post(&promote, r#"{"commit": "not-a-commit"}"#).await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (422, Some("invalid"))
    );

    // A regression on the same commit: rc.2 fails after rc.1 passed.
    let e2 = evolution(&api, gid, "FEAT-001", "fail", C1).await;
    for (method, path, body) in [
        ("POST", promote.as_str(), None),
        (
            "PATCH",
            &format!("/api/v1/generations/{gid}"),
            Some(r#"{"status": "promoted"}"#),
        ),
    ] {
        let a = api.send(method, path, body, &[]).await;
        assert_eq!(a.status, 409, "{method}: {:?}", a.body);
        assert_eq!(a.body["code"], "gate_failed", "{method}");
        assert!(a.detail().contains("rc.2 failed"), "{}", a.detail());
    }
    let a = api.post(&promote, &named(C1, &[("FEAT-001", &e1)])).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (409, Some("proof_superseded")),
        "{:?}",
        a.body
    );
    let a = api.post(&promote, &named(C1, &[("FEAT-001", &e2)])).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (409, Some("proof_not_passed"))
    );
    let a = api.post(&promote, &named(C1, &[])).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (422, Some("proof_missing"))
    );
    let ghost = json!({"evolution_id": new_uuid()});
    let a = api
        .post(&promote, &named(C1, &[("FEAT-001", &ghost)]))
        .await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (422, Some("proof_unknown"))
    );

    // Re-defined: same id, another type and title. The old pass proved something else.
    let e3 = evolution(&api, gid, "FEAT-001", "pass", C1).await;
    let redefined =
        json!({"changes": [{"id": "FEAT-001", "type": "fix", "title": "Token refresh"}]});
    let p = api
        .patch(
            &format!("/api/v1/generations/{gid}"),
            &redefined.to_string(),
        )
        .await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    let a = api.post(&promote, &named(C1, &[("FEAT-001", &e3)])).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (409, Some("proof_stale")),
        "{:?}",
        a.body
    );
    assert!(a.detail().contains("earlier definition"), "{}", a.detail());
    let a = api.post(&promote, "").await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (409, Some("gate_failed"))
    );
    // The batch route checks the same body.
    let batch = json!({"operations": [{"op": "promote_generation", "id": gid,
        "body": serde_json::from_str::<Value>(&named(C1, &[("FEAT-001", &e3)])).unwrap()}]});
    let b = api.post("/api/v1/sync/batch", &batch.to_string()).await;
    assert_eq!(b.status, 200, "{:?}", b.body);
    assert_eq!(b.body["data"]["results"][0]["status"], 409);
    assert_eq!(b.body["data"]["results"][0]["body"]["code"], "proof_stale");

    // A proof of the new definition promotes, and the record names the commit.
    let e4 = evolution(&api, gid, "FEAT-001", "pass", C1).await;
    assert_eq!(
        e4["fingerprint"],
        gryt_core::change::fingerprint("FEAT-001", "fix", "Token refresh")
    );
    let a = api.post(&promote, &named(C1, &[("FEAT-001", &e4)])).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["data"]["status"], "promoted");
    assert_eq!(a.body["data"]["promoted_commit"], C1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_sqlite() {
    story(&Env::start("sqlite", 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_postgres() {
    if pg_admin_url().is_none() {
        note("GRYT_TEST_POSTGRES is not set; skipping the PostgreSQL proofs story");
        return;
    }
    story(&Env::start("postgres", 1)).await;
}
