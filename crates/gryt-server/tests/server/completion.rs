//! An evolution that has ended (pass, fail or cancelled) is never completed again, on the
//! server as in the CLI: a later result is refused (409 `immutable`) and changes nothing,
//! through the single route and through the batch alike. The same result delivered twice is
//! answered with the record as it is.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn an_ended_evolution_is_not_completed_twice() {
    for b in backends() {
        completed_twice_on(b).await;
    }
}

async fn completed_twice_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let (gid, eid) = open_evolution(&alice, "v1.0.0").await;
    let path = format!("/api/v1/evolutions/{eid}");

    let pass = r#"{"status": "pass", "completed_at": "2026-11-22T02:00:00"}"#;
    let done = alice.patch(&path, pass).await;
    assert_eq!(done.status, 200, "{backend}: {:?}", done.body);
    let rev = done.body["data"]["rev"].as_i64().unwrap();

    // A second, different result: refused, nothing changes.
    let again = alice
        .patch(
            &path,
            r#"{"status": "fail", "completed_at": "2026-11-22T03:00:00"}"#,
        )
        .await;
    assert_eq!(again.status, 409, "{backend}: {:?}", again.body);
    assert_eq!(again.body["code"], "immutable", "{backend}");
    assert!(
        again.detail().contains("is already complete (pass)"),
        "{backend}: {:?}",
        again.body
    );
    assert!(
        again.body["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("gryt evolution start v1.0.0 --change FEAT-001"),
        "{backend}: {:?}",
        again.body
    );
    let now = alice.get(&path).await;
    assert_eq!(now.body["data"]["status"], "pass", "{backend}");
    assert_eq!(now.body["data"]["rev"], rev, "{backend}");

    // Reopening it is completing it twice too.
    let reopen = alice.patch(&path, r#"{"status": "running"}"#).await;
    assert_eq!(reopen.status, 409, "{backend}: {:?}", reopen.body);

    // The same result once more changes nothing and is answered as it stands.
    let same = alice.patch(&path, pass).await;
    assert_eq!(same.status, 200, "{backend}: {:?}", same.body);
    assert_eq!(same.body["data"]["status"], "pass", "{backend}");
    assert_eq!(same.body["data"]["rev"], rev, "{backend}");

    // Through the batch: the same refusal, the same record.
    let batch = json!({"operations": [
        {"op": "update_evolution", "id": eid, "body": {"status": "fail"}}
    ]});
    let b = alice.post("/api/v1/sync/batch", &batch.to_string()).await;
    assert_eq!(b.status, 200, "{backend}: {:?}", b.body);
    let r = &b.body["data"]["results"][0];
    assert_eq!(r["status"], 409, "{backend}: {r:?}");
    assert_eq!(r["body"]["code"], "immutable", "{backend}: {r:?}");
    let now = alice.get(&path).await;
    assert_eq!(now.body["data"]["status"], "pass", "{backend}");
    assert_eq!(now.body["data"]["rev"], rev, "{backend}");

    // A cancelled evolution ends too.
    let c = alice
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), gid, "FEAT-001"),
        )
        .await;
    let cid = c.body["data"]["id"].as_i64().unwrap();
    let cpath = format!("/api/v1/evolutions/{cid}");
    let cancel = alice.patch(&cpath, r#"{"status": "cancelled"}"#).await;
    assert_eq!(cancel.status, 200, "{backend}: {:?}", cancel.body);
    let late = alice.patch(&cpath, r#"{"status": "pass"}"#).await;
    assert_eq!(late.status, 409, "{backend}: {:?}", late.body);
    assert!(
        late.detail().contains("already complete (cancelled)"),
        "{backend}: {:?}",
        late.body
    );
}
