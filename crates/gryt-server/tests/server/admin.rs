//! User administration against a running server (the calls `gryt server user ...` and
//! `gryt server api-key list` make, from outside the server's process): a disabled user is
//! refused at the next request, Basic and HMAC, in the very words of a wrong password or
//! signature, even right after a remembered login; enabling lets them in again; a password
//! set by the administrator replaces the remembered one at once; a removed user's keys and
//! memberships end while the records they made stay with the team; key listings show when a
//! key last signed a request.

use crate::common::*;
use gryt_server::accounts::Changed;
use serde_json::json;

async fn team(api: &Api, name: &str) -> String {
    let t = api
        .post("/api/v1/teams", &json!({"name": name}).to_string())
        .await;
    assert_eq!(t.status, 201, "{:?}", t.body);
    t.body["team_id"].as_str().unwrap().to_string()
}

/// The answer to a request, with what differs between two requests (the instance, a
/// request id) left out.
fn refusal(a: &Answer) -> (u16, serde_json::Value) {
    let mut b = a.body.clone();
    if let Some(o) = b.as_object_mut() {
        o.remove("instance");
        o.remove("request_id");
    }
    (a.status, b)
}

async fn disabled_users_on(backend: &str) {
    let env = Env::start(backend, 1);
    let bob_key = env.user_with_key("bob");
    let bob = Api::new(&env.url(), Auth::Basic("bob".into(), PASSWORD.into()));
    let wrong = Api::new(
        &env.url(),
        Auth::Basic("bob".into(), "not-the-password".into()),
    );
    let Auth::Hmac { key_id, .. } = bob_key.auth.clone() else {
        unreachable!()
    };
    let bad_sig = Api::new(
        &env.url(),
        Auth::Hmac {
            key_id: key_id.clone(),
            secret: "0".repeat(64),
        },
    );
    // Logged in: a password login (now remembered by the server) and a key.
    assert_eq!(bob.get("/api/v1/accounts/me").await.status, 200);
    assert_eq!(bob_key.get("/api/v1/generations").await.status, 200);
    let wrong_password = refusal(&wrong.get("/api/v1/generations").await);
    let wrong_signature = refusal(&bad_sig.get("/api/v1/generations").await);
    assert_eq!(wrong_password.0, 401);
    assert_eq!(wrong_signature.0, 401);

    assert_eq!(
        gryt_server::admin::set_disabled(&env.config, "bob", true).unwrap(),
        Changed::Yes
    );
    assert_eq!(
        gryt_server::admin::set_disabled(&env.config, "bob", true).unwrap(),
        Changed::AlreadySo
    );
    // The next requests: the remembered password login and the key are refused, answered
    // as a wrong password and a wrong signature.
    assert_eq!(
        refusal(&bob.get("/api/v1/generations").await),
        wrong_password
    );
    assert_eq!(
        refusal(&bob_key.get("/api/v1/generations").await),
        wrong_signature
    );
    let users = gryt_server::admin::list_users(&env.config).unwrap();
    let b = users.iter().find(|u| u.username == "bob").unwrap();
    assert!(b.disabled_at.is_some(), "{users:?}");

    gryt_server::admin::set_disabled(&env.config, "bob", false).unwrap();
    assert_eq!(bob.get("/api/v1/generations").await.status, 200);
    assert_eq!(bob_key.get("/api/v1/generations").await.status, 200);
    assert!(
        gryt_server::admin::set_disabled(&env.config, "nobody", true)
            .unwrap_err()
            .to_string()
            .contains("User nobody not found")
    );
}

#[tokio::test]
async fn a_disabled_user_is_refused_at_the_next_request_like_a_wrong_credential() {
    for b in backends() {
        disabled_users_on(b).await;
    }
}

async fn passwd_on(backend: &str) {
    let env = Env::start(backend, 1);
    env.user_with_key("carol");
    let old = Api::new(&env.url(), Auth::Basic("carol".into(), PASSWORD.into()));
    assert_eq!(old.get("/api/v1/accounts/me").await.status, 200);
    gryt_server::admin::set_password(&env.config, "carol", "a brand new password").unwrap();
    // The login the server remembered with the old password no longer stands.
    assert_eq!(old.get("/api/v1/accounts/me").await.status, 401);
    let new = Api::new(
        &env.url(),
        Auth::Basic("carol".into(), "a brand new password".into()),
    );
    assert_eq!(new.get("/api/v1/accounts/me").await.status, 200);
    // Checked like any password; an unknown user is named.
    assert!(
        gryt_server::admin::set_password(&env.config, "carol", "short")
            .unwrap_err()
            .to_string()
            .contains("at least 8")
    );
    assert!(
        gryt_server::admin::set_password(&env.config, "nobody", "long enough pw")
            .unwrap_err()
            .to_string()
            .contains("not found")
    );
}

#[tokio::test]
async fn a_password_set_by_the_administrator_replaces_a_remembered_login() {
    for b in backends() {
        passwd_on(b).await;
    }
}

async fn remove_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let dave = env.user_with_key("dave");
    let t = team(&alice, "release").await;
    let add = alice
        .post(
            &format!("/api/v1/teams/{t}/members"),
            &json!({"username": "dave"}).to_string(),
        )
        .await;
    assert_eq!(add.status, 201, "{:?}", add.body);
    // dave makes a record in the team.
    let body = generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft")
        .replace("\"team_id\": null", &format!("\"team_id\": \"{t}\""));
    let g = dave.post("/api/v1/generations", &body).await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    // A second key of dave's; and the owner of a team cannot be removed.
    gryt_server::admin::create_api_key(&env.config, "dave", "laptop", None).unwrap();
    let e = gryt_server::admin::remove_user(&env.config, "alice").unwrap_err();
    assert!(
        e.to_string().contains("owns the team(s) release")
            && e.to_string().contains("gryt server user disable alice"),
        "{e}"
    );

    let r = gryt_server::admin::remove_user(&env.config, "dave").unwrap();
    assert_eq!(r.keys_revoked, 2);
    assert_eq!(r.teams_left, vec!["release".to_string()]);
    // dave's keys are refused, his password too; the list no longer has him, and his keys
    // show as revoked.
    assert_eq!(dave.get("/api/v1/generations").await.status, 401);
    let dave_pw = Api::new(&env.url(), Auth::Basic("dave".into(), PASSWORD.into()));
    assert_eq!(dave_pw.get("/api/v1/generations").await.status, 401);
    let users = gryt_server::admin::list_users(&env.config).unwrap();
    assert_eq!(
        users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["alice"]
    );
    let keys = gryt_server::admin::list_api_keys(&env.config, None).unwrap();
    let daves: Vec<_> = keys.iter().filter(|k| k.username == "dave").collect();
    assert_eq!(daves.len(), 2);
    assert!(daves.iter().all(|k| k.revoked_at.is_some()), "{daves:?}");
    // The team's record stays; the team now has one member.
    let gens = alice.get(&format!("/api/v1/generations?team_id={t}")).await;
    assert_eq!(
        gens.body["data"]["generations"].as_array().unwrap().len(),
        1
    );
    let members = alice.get(&format!("/api/v1/teams/{t}/members")).await;
    assert_eq!(
        members.body["data"]["members"].as_array().unwrap().len(),
        1,
        "{:?}",
        members.body
    );
    // The name is not given again, neither by the administrator nor by signup; nor can a
    // removed user be added to a team or removed twice.
    let e = gryt_server::admin::add_user(&env.config, "dave", PASSWORD).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let signup = Api::new(&env.url(), Auth::None)
        .post(
            "/api/v1/accounts/create",
            &json!({"username": "dave", "password": PASSWORD}).to_string(),
        )
        .await;
    assert_eq!(signup.status, 409, "{:?}", signup.body);
    let add = alice
        .post(
            &format!("/api/v1/teams/{t}/members"),
            &json!({"username": "dave"}).to_string(),
        )
        .await;
    assert_eq!(add.status, 404, "{:?}", add.body);
    assert!(gryt_server::admin::remove_user(&env.config, "dave").is_err());
}

#[tokio::test]
async fn a_removed_user_loses_keys_and_memberships_and_the_team_keeps_the_records() {
    for b in backends() {
        remove_on(b).await;
    }
}

async fn key_list_on(backend: &str) {
    let env = Env::start(backend, 1);
    let erin = env.user_with_key("erin");
    env.user_with_key("frank");
    let spare = gryt_server::admin::create_api_key(&env.config, "erin", "spare", None).unwrap();
    let gone = gryt_server::admin::create_api_key(&env.config, "erin", "gone", None).unwrap();
    gryt_server::admin::revoke_api_key(&env.config, &gone.key_id).unwrap();
    let keys = gryt_server::admin::list_api_keys(&env.config, Some("erin")).unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys
        .iter()
        .all(|k| k.username == "erin" && k.last_used_at.is_none()));
    assert!(keys
        .iter()
        .any(|k| k.key_id == gone.key_id && k.revoked_at.is_some()));

    assert_eq!(erin.get("/api/v1/generations").await.status, 200);
    let Auth::Hmac { key_id, .. } = erin.auth.clone() else {
        unreachable!()
    };
    let keys = gryt_server::admin::list_api_keys(&env.config, Some("erin")).unwrap();
    let used = keys.iter().find(|k| k.key_id == key_id).unwrap();
    assert!(used.last_used_at.is_some(), "{keys:?}");
    let unused = keys.iter().find(|k| k.key_id == spare.key_id).unwrap();
    assert!(unused.last_used_at.is_none());
    // Never a secret: the listing has no field for one.
    let text = serde_json::to_string(&keys).unwrap();
    assert!(
        !text.contains(&spare.secret) && !text.contains("secret"),
        "{text}"
    );

    // All keys: both users'; live keys counted per user (the revoked one is not).
    assert_eq!(
        gryt_server::admin::list_api_keys(&env.config, None)
            .unwrap()
            .len(),
        4
    );
    let users = gryt_server::admin::list_users(&env.config).unwrap();
    let counts: Vec<(String, u64)> = users
        .iter()
        .map(|u| (u.username.clone(), u.active_keys))
        .collect();
    assert_eq!(counts, [("erin".to_string(), 2), ("frank".to_string(), 1)]);
    assert!(gryt_server::admin::list_api_keys(&env.config, Some("nobody")).is_err());
}

#[tokio::test]
async fn api_key_listings_show_last_use_and_no_secret() {
    for b in backends() {
        key_list_on(b).await;
    }
}
