//! Secrets stay secret: no error answer echoes a password or an API key secret, an API key's
//! secret is shown once (in its creation answer, and in that answer's idempotent replay) and
//! is never stored in plain text anywhere in the database, including the idempotency store.

use crate::common::*;
use serde_json::json;

/// Every text value the database holds in the tables that could carry a secret.
fn stored_texts(env: &Env) -> String {
    let url = env.config.database.clone();
    std::thread::spawn(move || {
        let db = gryt_server::db::Db::open_blocking(&url).unwrap();
        let mut out = String::new();
        for sql in [
            "SELECT COALESCE(body, '') FROM idempotency",
            "SELECT secret_enc FROM api_keys",
            "SELECT password_hash FROM users",
            "SELECT signature FROM seen_signatures",
        ] {
            let rows = db.run_blocking(move |c| c.query(sql, &[])).unwrap();
            for r in rows {
                out.push_str(&r.text(0).unwrap());
                out.push('\n');
            }
        }
        out
    })
    .join()
    .unwrap()
}

/// The SQLite files' raw bytes (database and WAL), where a deleted row may linger.
fn sqlite_bytes(env: &Env) -> Vec<u8> {
    let Some(path) = env.config.database.strip_prefix("sqlite:") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
            out.extend(b);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn secrets_on(backend: &str) {
    let env = Env::start(backend, 1);
    let alice = env.user_with_key("alice");
    let basic = Api::new(&env.url(), Auth::Basic("alice".into(), PASSWORD.into()));
    let anon = Api::new(&env.url(), Auth::None);
    let mut secrets: Vec<String> = vec![PASSWORD.into()];
    let mut answers = Vec::new();

    // API keys made over HTTP: the answer shows the secret once; a keyed retry answers the
    // same secret (the client may have lost the first answer). Keys are made with the
    // password (an API key cannot make keys).
    let idem = [("Idempotency-Key", "make-ci-key-1")];
    let made = basic
        .send(
            "POST",
            "/api/v1/api-keys",
            Some(r#"{"name": "ci", "expires_in_days": 30}"#),
            &idem,
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let key_secret = made.body["data"]["secret"].as_str().unwrap().to_string();
    let key_id = made.body["data"]["key_id"].as_str().unwrap().to_string();
    let retry = basic
        .send(
            "POST",
            "/api/v1/api-keys",
            Some(r#"{"name": "ci", "expires_in_days": 30}"#),
            &idem,
        )
        .await;
    assert_eq!((retry.status, &retry.body), (201, &made.body));
    let plain = basic.post("/api/v1/api-keys", r#"{"name": "plain"}"#).await;
    assert_eq!(plain.status, 201);
    secrets.push(key_secret.clone());
    secrets.push(plain.body["data"]["secret"].as_str().unwrap().to_string());
    let via_basic = basic
        .send(
            "POST",
            "/api/v1/api-keys",
            Some(r#"{"name": "basic"}"#),
            &[("Idempotency-Key", "make-basic-key")],
        )
        .await;
    assert_eq!(via_basic.status, 201, "{:?}", via_basic.body);
    secrets.push(
        via_basic.body["data"]["secret"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let Auth::Hmac {
        secret: test_secret,
        ..
    } = alice.auth.clone()
    else {
        unreachable!()
    };
    secrets.push(test_secret);

    // The new key works; listing and revoking never show a secret.
    let k = Api::new(
        &env.url(),
        Auth::Hmac {
            key_id: key_id.clone(),
            secret: key_secret.clone(),
        },
    );
    assert_eq!(k.get("/api/v1/generations").await.status, 200);
    answers.push(alice.get("/api/v1/api-keys").await);
    answers.push(basic.delete(&format!("/api/v1/api-keys/{key_id}")).await);
    answers.push(k.get("/api/v1/generations").await);

    // Error answers around passwords.
    let wrong = "wrong-password-5521";
    let new_pw = "brand-new-password-9913";
    let weak = "Zq1!";
    let long = "L".repeat(1025);
    answers.push(
        Api::new(&env.url(), Auth::Basic("alice".into(), wrong.into()))
            .get("/api/v1/generations")
            .await,
    );
    answers.push(
        basic
            .post(
                "/api/v1/accounts/change-password",
                &json!({"current_password": wrong, "new_password": new_pw}).to_string(),
            )
            .await,
    );
    answers.push(
        basic
            .post(
                "/api/v1/accounts/change-password",
                &json!({"current_password": PASSWORD, "new_password": weak}).to_string(),
            )
            .await,
    );
    answers.push(
        anon.post(
            "/api/v1/accounts/create",
            &json!({"username": "alice", "password": new_pw}).to_string(),
        )
        .await,
    );
    answers.push(
        anon.post(
            "/api/v1/accounts/create",
            &json!({"username": "eve", "password": weak}).to_string(),
        )
        .await,
    );
    answers.push(
        anon.post(
            "/api/v1/accounts/create",
            &json!({"username": "eve", "password": long}).to_string(),
        )
        .await,
    );
    answers.push(
        anon.post(
            "/api/v1/accounts/create",
            &json!({"username": "bad name", "password": new_pw}).to_string(),
        )
        .await,
    );
    answers.push(
        anon.post(
            "/api/v1/accounts/create",
            &format!(r#"{{"username": "eve", "password": "{new_pw}""#),
        )
        .await,
    );
    answers.push(
        anon.send_raw(
            "POST",
            "/api/v1/accounts/create",
            json!({"username": "eve", "password": new_pw})
                .to_string()
                .as_bytes(),
            &[("Content-Type", b"text/plain".to_vec())],
        )
        .await,
    );
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 401, 401, 403, 422, 409, 422, 422, 422, 400, 415],
        "{answers:#?}"
    );
    secrets.extend([wrong.to_string(), new_pw.to_string(), long.clone()]);
    for a in &answers {
        let text = format!("{:?} {}", a.headers, a.body);
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "[{backend}] an answer shows a secret: {text}"
            );
        }
        assert!(!text.contains(weak), "[{backend}] {text}");
    }
    // The failed password change left the password as it was.
    assert_eq!(basic.get("/api/v1/generations").await.status, 200);

    // At rest: no secret in plain text, in any table that could hold one, or (SQLite) in
    // the database files' bytes at all.
    let stored = stored_texts(&env);
    let raw = sqlite_bytes(&env);
    for s in &secrets {
        assert!(
            !stored.contains(s.as_str()),
            "[{backend}] a secret is stored in plain text"
        );
        assert!(
            !contains(&raw, s),
            "[{backend}] a secret is in the SQLite file"
        );
    }
    assert!(!stored.contains(&env.key_hex), "the server key is stored");
    assert!(!contains(&raw, &env.key_hex), "the server key is stored");
}

#[tokio::test]
async fn no_secret_in_answers_or_at_rest() {
    for b in backends() {
        secrets_on(b).await;
    }
}
