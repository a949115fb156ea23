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
