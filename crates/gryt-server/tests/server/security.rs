//! Authentication and scope isolation: every bad credential is 401, another scope is 404.

use crate::common::*;

async fn security_on(backend: &str) {
    let env = Env::start(backend, 1);
    let base = env.url();
    let alice = env.user_with_key("alice");
    let Auth::Hmac { key_id, secret } = alice.auth.clone() else {
        unreachable!()
    };
    let g = alice
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft"),
        )
        .await;
    assert_eq!(g.status, 201);
    let gid = g.body["data"]["id"].as_i64().unwrap();

    // No credentials; wrong password; unknown user.
    assert_eq!(
        Api::new(&base, Auth::None)
            .get("/api/v1/generations")
            .await
            .status,
        401
    );
    let wrong = Api::new(&base, Auth::Basic("alice".into(), "wrong password".into()));
    let w = wrong.get("/api/v1/generations").await;
    assert_eq!(w.status, 401);
    assert!(!w.detail().is_empty());
    assert_eq!(
        Api::new(&base, Auth::Basic("nobody".into(), PASSWORD.into()))
            .get("/api/v1/generations")
            .await
            .status,
        401
    );

    let http = super::common::http_client();
    let raw = |method: &'static str,
               path: String,
               ts: String,
               sign_path: String,
               sign_body: String,
               body: String| {
        let http = http.clone();
        let base = base.clone();
        let key_id = key_id.clone();
        let secret = secret.clone();
        async move {
            let sig = sign(&secret, method, &sign_path, &ts, &sign_body);
            let r = http
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{base}{path}"),
                )
                .header("Authorization", format!("HMAC {key_id}:{ts}:{sig}"))
                .body(body)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    let body = generation_body(&new_uuid(), "v1.1.0", &[("FEAT-1", "x")], "draft");
    let p = "/api/v1/generations".to_string();
    // Tampered body.
    assert_eq!(
        raw(
            "POST",
            p.clone(),
            timestamp_now(),
            p.clone(),
            body.clone(),
            body.replace("v1.1.0", "v6.6.6")
        )
        .await,
        401
    );
    // Tampered path (signed for one record, sent to another).
    assert_eq!(
        raw(
            "GET",
            format!("{p}/{gid}"),
            timestamp_now(),
            format!("{p}/1{gid}"),
            String::new(),
            String::new()
        )
        .await,
        401
    );
    // Tampered query string.
    assert_eq!(
        raw(
            "GET",
            format!("/api/v1/evolutions?generation_id={gid}"),
            timestamp_now(),
            "/api/v1/evolutions?generation_id=999".into(),
            String::new(),
            String::new()
        )
        .await,
        401
    );
    // Timestamps six minutes off, either way.
    assert_eq!(
        raw(
            "GET",
            p.clone(),
            timestamp_at_offset(-360),
            p.clone(),
            String::new(),
            String::new()
        )
        .await,
        401
    );
    assert_eq!(
        raw(
            "GET",
            p.clone(),
            timestamp_at_offset(360),
            p.clone(),
            String::new(),
            String::new()
        )
        .await,
        401
    );
    // A good signature works once; the same signature again is a replay.
    let ts = timestamp_now();
    assert_eq!(
        raw(
            "GET",
            p.clone(),
            ts.clone(),
            p.clone(),
            String::new(),
            String::new()
        )
        .await,
        200
    );
    assert_eq!(
        raw(
            "GET",
            p.clone(),
            ts,
            p.clone(),
            String::new(),
            String::new()
        )
        .await,
        401
    );
    // Garbage headers.
    for h in ["HMAC", "HMAC nonsense", "HMAC a:b", "Bearer x", "Basic !!!"] {
        let r = http
            .get(format!("{base}/api/v1/generations"))
            .header("Authorization", h)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{h}");
    }

    // Revoked key.
    let k2 = env
        .server()
        .create_api_key("alice", "second", Some(1))
        .unwrap();
    let api2 = Api::new(
        &base,
        Auth::Hmac {
            key_id: k2.key_id.clone(),
            secret: k2.secret.clone(),
        },
    );
    assert_eq!(api2.get("/api/v1/generations").await.status, 200);
    let rv = Api::new(&base, Auth::Basic("alice".into(), PASSWORD.into()))
        .delete(&format!("/api/v1/api-keys/{}", k2.key_id))
        .await;
    assert_eq!(rv.status, 200, "{:?}", rv.body);
    let after = api2.get("/api/v1/generations").await;
    assert_eq!(after.status, 401);
    assert!(after.detail().contains("revoked"));
    // Revoked by the administrator.
    let k3 = env.server().create_api_key("alice", "third", None).unwrap();
    gryt_server::admin::revoke_api_key(&env.config, &k3.key_id).unwrap();
    let api3 = Api::new(
        &base,
        Auth::Hmac {
            key_id: k3.key_id,
            secret: k3.secret,
        },
    );
    assert_eq!(api3.get("/api/v1/generations").await.status, 401);
    // Expired key.
    let k4 = env
        .server()
        .create_api_key("alice", "fourth", Some(1))
        .unwrap();
    let api4 = Api::new(
        &base,
        Auth::Hmac {
            key_id: k4.key_id,
            secret: k4.secret,
        },
    );
    assert_eq!(api4.get("/api/v1/generations").await.status, 200);
    env.sql("UPDATE api_keys SET expires_at = '2000-01-01T00:00:00+00:00' WHERE name = 'fourth'");
    let exp = api4.get("/api/v1/generations").await;
    assert_eq!(exp.status, 401);
    assert!(exp.detail().contains("expired"));

    // Secrets are stored encrypted, never in plain text.
    let url = env.config.database.clone();
    let plain = k2.secret.clone();
    let stored = std::thread::spawn(move || {
        let db = gryt_server::db::Db::open_blocking(&url).unwrap();
        db.run_blocking(|c| c.query("SELECT secret_enc FROM api_keys", &[]))
            .unwrap()
    })
    .join()
    .unwrap();
    assert!(!stored.is_empty());
    for r in stored {
        assert!(!r.text(0).unwrap().contains(&plain));
    }

    // Another user's records: 404, never 403.
    let mallory = env.user_with_key("mallory");
    assert_eq!(
        mallory
            .get(&format!("/api/v1/generations/{gid}"))
            .await
            .status,
        404
    );
    assert_eq!(
        mallory
            .patch(
                &format!("/api/v1/generations/{gid}"),
                r#"{"description": "mine"}"#
            )
            .await
            .status,
        404
    );
    assert_eq!(
        mallory
            .delete(&format!("/api/v1/generations/{gid}"))
            .await
            .status,
        404
    );
    assert_eq!(
        mallory
            .post(&format!("/api/v1/generations/{gid}/promote"), "")
            .await
            .status,
        404
    );
    assert_eq!(
        mallory
            .post(
                "/api/v1/evolutions",
                &evolution_body(&new_uuid(), gid, "FEAT-1")
            )
            .await
            .status,
        404
    );
    assert_eq!(
        mallory
            .get(&format!("/api/v1/evolutions?generation_id={gid}"))
            .await
            .status,
        404
    );
    let ml = mallory.get("/api/v1/generations").await;
    assert_eq!(ml.body["data"]["generations"].as_array().unwrap().len(), 0);
    let mf = mallory.get("/api/v1/sync/changes?since=0").await;
    assert_eq!(mf.body["data"]["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn security() {
    for b in backends() {
        security_on(b).await;
    }
}
