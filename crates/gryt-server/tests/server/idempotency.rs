//! Idempotency keys: one record for two identical keyed creates, the same answer; another
//! body with the key is refused; the promotion winner's retry answers its success.

use crate::common::*;

async fn idempotency_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("idem");
    let body = generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft");
    let key = [("Idempotency-Key", "create-v1")];
    let a = api
        .send("POST", "/api/v1/generations", Some(&body), &key)
        .await;
    let b = api
        .send("POST", "/api/v1/generations", Some(&body), &key)
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(
        (b.status, &b.body),
        (a.status, &a.body),
        "same key, same answer"
    );
    let list = api.get("/api/v1/generations").await;
    assert_eq!(
        list.body["data"]["generations"].as_array().unwrap().len(),
        1,
        "one record"
    );
    // Without the key the same body is a duplicate.
    let c = api.post("/api/v1/generations", &body).await;
    assert_eq!(c.status, 409);
    // Same key, another body: 422.
    let other = generation_body(&new_uuid(), "v1.0.1", &[("FEAT-1", "x")], "draft");
    let d = api
        .send("POST", "/api/v1/generations", Some(&other), &key)
        .await;
    assert_eq!(d.status, 422);
    assert_eq!(d.body["code"], "idempotency_mismatch");

    // The promotion winner retries with its key and gets the original success; a loser
    // (another key) gets the 409.
    let gid = ready_generation(&api, "v2.0.0").await;
    let path = format!("/api/v1/generations/{gid}/promote");
    let win = api
        .send("POST", &path, None, &[("Idempotency-Key", "promote-1")])
        .await;
    assert_eq!(win.status, 200);
    let retry = api
        .send("POST", &path, None, &[("Idempotency-Key", "promote-1")])
        .await;
    assert_eq!((retry.status, &retry.body), (200, &win.body));
    let loser = api
        .send("POST", &path, None, &[("Idempotency-Key", "promote-2")])
        .await;
    assert_eq!(loser.status, 409);
}

#[tokio::test]
async fn idempotency() {
    for b in backends() {
        idempotency_on(b).await;
    }
}

/// A key held by a request still being processed (by another server process on the same
/// database, say) answers 409 `idempotency_in_flight` and runs nothing; once that claim is
/// abandoned (older than five minutes without an answer) the request runs, once.
async fn in_flight_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("inflight");
    let body = generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft");
    let hash = gryt_server::util::sha256_hex(&[
        b"POST".as_slice(),
        b"/api/v1/generations".as_slice(),
        body.as_bytes(),
    ]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    env.sql(format!(
        "INSERT INTO idempotency (user_id, idem_key, request_hash, state, created_at) \
         SELECT id, 'held-key', '{hash}', 'pending', {now} FROM users WHERE username = 'inflight'"
    ));
    let key = [("Idempotency-Key", "held-key")];
    let held = api
        .send("POST", "/api/v1/generations", Some(&body), &key)
        .await;
    assert_eq!(held.status, 409, "{backend}: {:?}", held.body);
    assert_eq!(held.body["code"], "idempotency_in_flight", "{backend}");
    let list = api.get("/api/v1/generations").await;
    assert_eq!(
        list.body["data"]["generations"].as_array().map(Vec::len),
        Some(0),
        "{backend}: nothing ran"
    );

    env.sql("UPDATE idempotency SET created_at = created_at - 3600 WHERE idem_key = 'held-key'");
    let ran = api
        .send("POST", "/api/v1/generations", Some(&body), &key)
        .await;
    assert_eq!(ran.status, 201, "{backend}: {:?}", ran.body);
    let again = api
        .send("POST", "/api/v1/generations", Some(&body), &key)
        .await;
    assert_eq!((again.status, &again.body), (201, &ran.body), "{backend}");
    let list = api.get("/api/v1/generations").await;
    assert_eq!(
        list.body["data"]["generations"].as_array().map(Vec::len),
        Some(1),
        "{backend}"
    );
}

#[tokio::test]
async fn a_key_in_flight_is_refused_until_its_claim_is_abandoned() {
    for b in backends() {
        in_flight_on(b).await;
    }
}
