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

/// A stored answer is re-authorized when replayed: bob, removed from the team, replays
/// his old keys (same bodies) and gets what a fresh request of his gets, 404 for the team,
/// never the stored record; his personal record's key still replays; added back, the team
/// record's key replays again (the answer was kept, only withheld). A route naming the
/// team in its path (add-member) is re-authorized against that team too.
async fn replays_reauthorized_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let bob = env.user_with_key("bob");
    let alice_pw = Api::new(&env.url(), Auth::Basic("alice".into(), PASSWORD.into()));
    gryt_server::admin::add_user(&env.config, "dave", PASSWORD).unwrap();
    let t = alice.post("/api/v1/teams", r#"{"name": "core"}"#).await;
    assert_eq!(t.status, 201, "[{backend}] {:?}", t.body);
    let team = t.body["team_id"].as_str().unwrap().to_string();
    let members = format!("/api/v1/teams/{team}/members");
    let add_bob = alice.post(&members, r#"{"username": "bob"}"#).await;
    assert_eq!(add_bob.status, 201, "[{backend}] {:?}", add_bob.body);

    let in_team = generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "secret plan")], "draft")
        .replace("\"team_id\": null", &format!("\"team_id\": \"{team}\""));
    let personal = generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "mine")], "draft");
    let batch = serde_json::json!({"operations": [{
        "op": "create_generation",
        "idempotency_key": "batch-team",
        "body": serde_json::from_str::<serde_json::Value>(
            &generation_body(&new_uuid(), "v2.0.0", &[("FEAT-2", "batch plan")], "draft")
                .replace("\"team_id\": null", &format!("\"team_id\": \"{team}\""))
        ).unwrap(),
    }]})
    .to_string();
    let send = |body: &str, key: &str| {
        let (bob, body, key) = (bob.clone(), body.to_string(), key.to_string());
        async move {
            bob.send(
                "POST",
                "/api/v1/generations",
                Some(&body),
                &[("Idempotency-Key", &key)],
            )
            .await
        }
    };
    let first = send(&in_team, "team-create").await;
    assert_eq!(first.status, 201, "[{backend}] {:?}", first.body);
    assert_eq!(first.body["data"]["team_id"], team.as_str());
    let mine = send(&personal, "personal-create").await;
    assert_eq!(mine.status, 201, "[{backend}] {:?}", mine.body);
    let b = bob.post("/api/v1/sync/batch", &batch).await;
    assert_eq!(b.status, 200, "[{backend}] {:?}", b.body);
    assert_eq!(
        b.body["data"]["results"][0]["status"], 201,
        "[{backend}] {:?}",
        b.body
    );
    // Alice (the owner) adds dave under a key.
    let add_dave = |api: &Api| {
        let (api, members) = (api.clone(), members.clone());
        async move {
            api.send(
                "POST",
                &members,
                Some(r#"{"username": "dave"}"#),
                &[("Idempotency-Key", "add-dave")],
            )
            .await
        }
    };
    assert_eq!(add_dave(&alice).await.status, 201);

    // Bob is removed from the team.
    let rm = alice.delete(&format!("{members}/bob")).await;
    assert_eq!(rm.status, 200, "[{backend}] {:?}", rm.body);
    let fresh = send(&in_team.replace("v1.0.0", "v1.0.1"), "fresh").await;
    assert_eq!(fresh.status, 404, "[{backend}] {:?}", fresh.body);
    let replay = send(&in_team, "team-create").await;
    assert_eq!(replay.status, 404, "[{backend}] replayed {:?}", replay.body);
    assert_eq!(replay.body["code"], "not_found");
    assert!(
        replay.body.get("data").is_none(),
        "[{backend}] {:?}",
        replay.body
    );
    assert!(!replay.body.to_string().contains("secret plan"));
    let b = bob.post("/api/v1/sync/batch", &batch).await;
    assert_eq!(b.status, 200, "[{backend}] {:?}", b.body);
    let r = &b.body["data"]["results"][0];
    assert_eq!(r["status"], 404, "[{backend}] {r:?}");
    assert!(!r.to_string().contains("batch plan"), "[{backend}] {r:?}");
    // His personal record's key still replays its stored answer.
    let again = send(&personal, "personal-create").await;
    assert_eq!((again.status, &again.body), (mine.status, &mine.body));

    // Added back, his key replays the stored answer again (nothing ran twice).
    assert_eq!(
        alice.post(&members, r#"{"username": "bob"}"#).await.status,
        201
    );
    let back = send(&in_team, "team-create").await;
    assert_eq!((back.status, &back.body), (first.status, &first.body));

    // The team deleted: the add-member key (a route naming the team) answers 404.
    let del = alice_pw.delete(&format!("/api/v1/teams/{team}")).await;
    assert_eq!(del.status, 200, "[{backend}] {:?}", del.body);
    let replay = add_dave(&alice).await;
    assert_eq!(replay.status, 404, "[{backend}] {:?}", replay.body);
}

#[tokio::test]
async fn a_replayed_answer_is_reauthorized() {
    for b in backends() {
        replays_reauthorized_on(b).await;
    }
}

/// A batch operation's key stored by a server before the fingerprint moved to the bytes as
/// received (SHA-256 over the operation re-encoded from a JSON tree) still matches the same
/// operation retried after the upgrade: the stored answer comes back, nothing runs twice;
/// another operation under that key is still refused.
async fn batch_keys_across_the_upgrade_on(backend: &str) {
    use gryt_core::api::BatchOp;
    let env = Env::start(backend, 1);
    let api = env.user_with_key("upgrader");
    let gen = generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft");
    // Spacing and key order as a client might send them, which the old form normalised.
    let op_text =
        format!(r#"{{ "op": "create_generation",  "idempotency_key": "up-1", "body": {gen} }}"#);
    let batch = format!(r#"{{"operations": [{op_text}]}}"#);
    let first = api.post("/api/v1/sync/batch", &batch).await;
    assert_eq!(first.status, 200, "[{backend}] {:?}", first.body);
    assert_eq!(first.body["data"]["results"][0]["status"], 201);
    // As the old server stored it: the hash of the re-encoded operation, length-prefixed
    // parts ("batch", the JSON text), written here from that description.
    let op: BatchOp = serde_json::from_str(&op_text).unwrap();
    let text = serde_json::to_string(&op).unwrap();
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    for part in [b"batch".as_slice(), text.as_bytes()] {
        sha2::Digest::update(&mut h, (part.len() as u64).to_le_bytes());
        sha2::Digest::update(&mut h, part);
    }
    let old = hex::encode(sha2::Digest::finalize(h));
    env.sql(format!(
        "UPDATE idempotency SET request_hash = '{old}' WHERE idem_key = 'up-1'"
    ));
    let retry = api.post("/api/v1/sync/batch", &batch).await;
    assert_eq!(retry.status, 200, "[{backend}] {:?}", retry.body);
    assert_eq!(
        retry.body["data"]["results"][0], first.body["data"]["results"][0],
        "[{backend}] the stored answer"
    );
    let list = api.get("/api/v1/generations").await;
    assert_eq!(
        list.body["data"]["generations"].as_array().unwrap().len(),
        1
    );
    // Another operation under the old key: 422 as before.
    let other = batch.replace("v1.0.0", "v1.0.1");
    let r = api.post("/api/v1/sync/batch", &other).await;
    assert_eq!(
        r.body["data"]["results"][0]["status"], 422,
        "[{backend}] {:?}",
        r.body
    );
    assert_eq!(
        r.body["data"]["results"][0]["body"]["code"],
        "idempotency_mismatch"
    );
}

#[tokio::test]
async fn batch_keys_stored_before_the_upgrade_still_match() {
    for b in backends() {
        batch_keys_across_the_upgrade_on(b).await;
    }
}
