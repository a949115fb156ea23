//! `cancelled`: the evolution status `gryt evolution cancel` sends. The server accepts it on
//! create and on update, keeps it, and never counts it as a proof.

use crate::common::*;

#[tokio::test]
async fn cancelled_evolutions_are_accepted_and_prove_nothing() {
    for b in backends() {
        cancelled_on(b).await;
    }
}

async fn cancelled_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    // Update: pending -> cancelled.
    let (gid, eid) = open_evolution(&alice, "v1.0.0").await;
    let p = alice
        .patch(
            &format!("/api/v1/evolutions/{eid}"),
            r#"{"status": "cancelled", "completed_at": "2026-11-22T02:00:00"}"#,
        )
        .await;
    assert_eq!(p.status, 200, "{backend}: {:?}", p.body);
    let got = alice.get(&format!("/api/v1/evolutions/{eid}")).await;
    assert_eq!(got.body["data"]["status"], "cancelled", "{backend}");

    // Create: an evolution cancelled before it was ever sent.
    let body = evolution_body(&new_uuid(), gid, "FEAT-001")
        .replace(r#""status": "pending""#, r#""status": "cancelled""#);
    let c = alice.post("/api/v1/evolutions", &body).await;
    assert_eq!(c.status, 201, "{backend}: {:?}", c.body);
    assert_eq!(c.body["data"]["status"], "cancelled", "{backend}");

    // Unknown statuses are still refused.
    let bad = alice
        .patch(
            &format!("/api/v1/evolutions/{eid}"),
            r#"{"status": "aborted"}"#,
        )
        .await;
    assert!(
        (400..500).contains(&bad.status),
        "{backend}: {:?}",
        bad.body
    );

    // Cancelled evolutions are not proofs: the gate refuses the promotion.
    let promote = alice
        .post(&format!("/api/v1/generations/{gid}/promote"), "")
        .await;
    assert_eq!(promote.status, 409, "{backend}: {:?}", promote.body);
    assert_eq!(promote.body["code"], "gate_failed", "{backend}");
}
