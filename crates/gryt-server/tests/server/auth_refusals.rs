//! Every malformed or wrong credential is 401 with a problem body whose `detail` says what is
//! wrong (without echoing the secret), a `WWW-Authenticate` header, and no effect. Complements
//! security.rs (tampered body/path/query, skewed timestamps, a replayed GET, revoked and
//! expired keys).

use crate::common::*;
use base64::Engine;

async fn refusals_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let bob = env.user_with_key("bob");
    let Auth::Hmac { key_id, secret } = alice.auth.clone() else {
        unreachable!()
    };
    let Auth::Hmac {
        key_id: bob_key, ..
    } = bob.auth.clone()
    else {
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
    let path = format!("/api/v1/generations/{gid}");
    let before = scope_state(&alice, None).await;

    let ts = timestamp_now;
    let good = |method: &str, p: &str, t: &str| sign(&secret, method, p, t, "");
    let t0 = ts();
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let wrong_pw = "not-the-password-7731";
    let cases: Vec<(String, String, &str)> = vec![
        (
            "empty header".into(),
            String::new(),
            "unsupported authorization scheme",
        ),
        ("scheme only".into(), "HMAC".into(), "malformed hmac header"),
        (
            "no colon".into(),
            format!("HMAC {key_id}"),
            "malformed hmac header",
        ),
        // The timestamp's own colons make this parse as a truncated timestamp.
        (
            "key and timestamp, no signature part".into(),
            format!("HMAC {key_id}:{t0}"),
            "timestamp",
        ),
        (
            "empty key id".into(),
            format!("HMAC :{t0}:{}", good("DELETE", &path, &t0)),
            "malformed hmac header",
        ),
        (
            "empty signature".into(),
            format!("HMAC {key_id}:{t0}:"),
            "malformed hmac header",
        ),
        (
            "empty timestamp".into(),
            format!("HMAC {key_id}::{}", good("DELETE", &path, "")),
            "malformed hmac header",
        ),
        (
            "non-hex signature".into(),
            format!("HMAC {key_id}:{}:zz-not-hex", ts()),
            "invalid signature",
        ),
        (
            "odd-length hex signature".into(),
            format!("HMAC {key_id}:{}:abc", ts()),
            "invalid signature",
        ),
        (
            "wrong signature".into(),
            format!("HMAC {key_id}:{}:{}", ts(), "ab".repeat(32)),
            "invalid signature",
        ),
        (
            "signature made for GET".into(),
            {
                let t = ts();
                format!("HMAC {key_id}:{t}:{}", good("GET", &path, &t))
            },
            "invalid signature",
        ),
        (
            "signature made for another path".into(),
            {
                let t = ts();
                format!(
                    "HMAC {key_id}:{t}:{}",
                    good("DELETE", "/api/v1/generations/999", &t)
                )
            },
            "invalid signature",
        ),
        (
            "another user's key id".into(),
            {
                let t = ts();
                format!("HMAC {bob_key}:{t}:{}", good("DELETE", &path, &t))
            },
            "invalid signature",
        ),
        (
            "unknown key id".into(),
            {
                let t = ts();
                format!("HMAC gk_0000000000000000:{t}:{}", good("DELETE", &path, &t))
            },
            "unknown api key",
        ),
        (
            "SQL in the key id".into(),
            {
                let t = ts();
                format!("HMAC x' OR '1'='1:{t}:{}", good("DELETE", &path, &t))
            },
            "unknown api key",
        ),
        (
            "unreadable timestamp".into(),
            format!(
                "HMAC {key_id}:yesterday:{}",
                good("DELETE", &path, "yesterday")
            ),
            "invalid signature timestamp",
        ),
        (
            "timestamp 6 minutes behind".into(),
            {
                let t = timestamp_at_offset(-360);
                format!("HMAC {key_id}:{t}:{}", good("DELETE", &path, &t))
            },
            "5 minutes",
        ),
        (
            "timestamp 6 minutes ahead".into(),
            {
                let t = timestamp_at_offset(360);
                format!("HMAC {key_id}:{t}:{}", good("DELETE", &path, &t))
            },
            "5 minutes",
        ),
        (
            "timestamp a year ahead".into(),
            {
                let t = timestamp_at_offset(365 * 86_400);
                format!("HMAC {key_id}:{t}:{}", good("DELETE", &path, &t))
            },
            "5 minutes",
        ),
        (
            "unknown scheme".into(),
            "Bearer abc.def.ghi".into(),
            "unsupported authorization scheme",
        ),
        (
            "Basic, not base64".into(),
            "Basic !!!".into(),
            "malformed basic credentials",
        ),
        (
            "Basic without a colon".into(),
            format!("Basic {}", b64(b"alice")),
            "malformed basic credentials",
        ),
        (
            "Basic, not UTF-8".into(),
            format!("Basic {}", b64(b"alice:\xff\xfe")),
            "malformed basic credentials",
        ),
        (
            "Basic, wrong password".into(),
            format!("Basic {}", b64(format!("alice:{wrong_pw}").as_bytes())),
            "invalid username or password",
        ),
        (
            "Basic, unknown user".into(),
            format!("Basic {}", b64(format!("nobody:{wrong_pw}").as_bytes())),
            "invalid username or password",
        ),
        (
            "Basic, empty password".into(),
            format!("Basic {}", b64(b"alice:")),
            "invalid username or password",
        ),
    ];
    let anon = Api::new(&env.url(), Auth::None);
    let mut failures = Vec::new();
    let mut basic_bodies = Vec::new();
    for (name, header, detail) in &cases {
        let a = anon
            .send_raw(
                "DELETE",
                &path,
                b"",
                &[("Authorization", header.clone().into_bytes())],
            )
            .await;
        let ctx = format!("[{backend}] {name} ({header:?})");
        if a.status != 401 {
            failures.push(format!("{ctx}: want 401, got {} {}", a.status, a.body));
            continue;
        }
        assert_problem(&a, &ctx);
        assert!(a.headers.contains_key("www-authenticate"), "{ctx}");
        if !a.detail().to_lowercase().contains(detail) {
            failures.push(format!("{ctx}: detail {:?} lacks {detail:?}", a.detail()));
        }
        let text = a.body.to_string();
        for s in [secret.as_str(), wrong_pw] {
            assert!(
                !text.contains(s),
                "{ctx}: the answer echoes a secret: {text}"
            );
        }
        if name.starts_with("Basic, ") && !name.contains("not") && !name.contains("without") {
            basic_bodies.push(without_request_id(&a.body).to_string());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A wrong password and an unknown user answer alike (no user enumeration).
    basic_bodies.dedup();
    assert_eq!(basic_bodies.len(), 1, "{basic_bodies:?}");
    // No case deleted anything.
    assert_eq!(before, scope_state(&alice, None).await, "[{backend}]");

    // A replayed signed write is refused and runs once.
    let body = generation_body(&new_uuid(), "v2.0.0", &[("FEAT-1", "x")], "draft");
    let t = ts();
    let sig = sign(&secret, "POST", "/api/v1/generations", &t, &body);
    let header = format!("HMAC {key_id}:{t}:{sig}");
    let headers = [
        ("Authorization", header.into_bytes()),
        ("Content-Type", b"application/json".to_vec()),
    ];
    let first = anon
        .send_raw("POST", "/api/v1/generations", body.as_bytes(), &headers)
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let head = scope_state(&alice, None).await;
    let again = anon
        .send_raw("POST", "/api/v1/generations", body.as_bytes(), &headers)
        .await;
    assert_eq!(again.status, 401, "{:?}", again.body);
    assert!(again.detail().contains("replay"), "{:?}", again.body);
    assert_eq!(
        head,
        scope_state(&alice, None).await,
        "[{backend}] the replay wrote"
    );
    // A replay on a second process sharing the database is refused too.
    if backend == "postgres" {
        let env2 = gryt_server::TestServer::start(env.config.clone()).unwrap();
        let other = anon.with_base(&env2.url());
        let a = other
            .send_raw("POST", "/api/v1/generations", body.as_bytes(), &headers)
            .await;
        assert_eq!(a.status, 401, "{:?}", a.body);
    }

    // A revoked key stays refused after the server restarts (nothing cached in memory).
    let k = env
        .server()
        .create_api_key("alice", "short-lived", None)
        .unwrap();
    let api = Api::new(
        &env.url(),
        Auth::Hmac {
            key_id: k.key_id.clone(),
            secret: k.secret.clone(),
        },
    );
    assert_eq!(api.get("/api/v1/generations").await.status, 200);
    gryt_server::admin::revoke_api_key(&env.config, &k.key_id).unwrap();
    let r = api.get("/api/v1/generations").await;
    assert_eq!(r.status, 401);
    assert!(!r.body.to_string().contains(&k.secret));
}

#[tokio::test]
async fn malformed_and_wrong_credentials_are_401_with_a_clear_detail() {
    for b in backends() {
        refusals_on(b).await;
    }
}
