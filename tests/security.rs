//! Security checks that need the real `gryt` binary (issue 5, "Security tests"):
//!
//! - the real `gryt server`, logging at trace level, never writes a password, an API key
//!   secret, a Basic credential or the server key to its output, whatever requests it serves;
//! - the CLI, with every log variable at trace level and failing or working credentials,
//!   never prints a secret;
//! - titles and descriptions carrying SQL or shell metacharacters are stored and shown
//!   literally by the CLI and reach the server unchanged; a version carrying them is
//!   refused with a clear error and nothing is stored.
//!
//! The server side of the same promises (HTTP answers, storage, scopes) is in
//! crates/gryt-server/tests/server/{secrets,literals,scopes,auth_refusals}.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use support::server::{Cloud, ServerProcess};
use support::Workspace;

const ALICE_PW: &str = "alice-Pw-3141592653";
const ALICE_NEW_PW: &str = "alice-New-2718281828";
const CAROL_PW: &str = "carol-Pw-1618033988";
const WRONG_PW: &str = "wrong-Pw-1414213562";
const WRONG_SECRET: &str = "feedfacecafebeef0123456789abcdef";

/// Every logging knob the CLI or the server might read, at its most verbose.
const LOUD: &[(&str, &str)] = &[
    ("RUST_LOG", "trace"),
    ("GRYT_LOG", "trace"),
    ("RUST_BACKTRACE", "1"),
];

/// A machine whose every `gryt` runs with loud logging (see `support::Workspace`).
fn loud() -> Workspace {
    let mut w = Workspace::bare("alice");
    for (k, v) in LOUD {
        w.set_env(k, v);
    }
    w
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s), "{what} shows the secret {s:?}:\n{text}");
    }
}

fn b64(s: &str) -> String {
    use base64_lite::encode;
    encode(s.as_bytes())
}

/// A small standard base64 encoder (the root package has no base64 dependency).
mod base64_lite {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pub fn encode(b: &[u8]) -> String {
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= c.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

fn sign(secret: &str, method: &str, path_q: &str, ts: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{method}\n{path_q}\n{ts}\n{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A blocking HTTP call: (status, body text).
fn call(
    base: &str,
    method: &str,
    path: &str,
    auth: Option<String>,
    body: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, String) {
    // The root package builds reqwest without a default TLS crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::new();
    let mut rb = http.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{base}{path}"),
    );
    if let Some(a) = auth {
        rb = rb.header("Authorization", a);
    }
    if let Some(b) = body {
        rb = rb
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    for (k, v) in extra {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().expect("request");
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn basic(user: &str, pw: &str) -> Option<String> {
    Some(format!("Basic {}", b64(&format!("{user}:{pw}"))))
}

fn hmac_auth(key_id: &str, secret: &str, method: &str, path: &str, body: &str) -> Option<String> {
    let ts = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string();
    Some(format!(
        "HMAC {key_id}:{ts}:{}",
        sign(secret, method, path, &ts, body)
    ))
}

#[test]
fn the_server_logs_no_secret_at_trace_level() {
    let key_hex = hex::encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let ws = loud().with_env("GRYT_SERVER_KEY", &key_hex);
    let db = format!("sqlite:{}", ws.home().join("server.db").display());
    let admin = |args: &[&str], stdin: Option<&str>| {
        ws.run_with(args, &[("GRYT_SERVER_DATABASE", &db)], stdin)
    };
    let added = admin(
        &["server", "user", "add", "alice", "--password-stdin"],
        Some(&format!("{ALICE_PW}\n")),
    );
    assert_eq!(added.code, 0, "{added:?}");
    let made = admin(
        &["server", "api-key", "create", "alice", "--name", "ci"],
        None,
    );
    assert_eq!(made.code, 0, "{made:?}");
    let field = |name: &str| {
        made.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_string()
    };
    let (key_id, secret) = (field("key id:"), field("secret:"));
    // The administration commands print nothing secret but the new key's secret, once.
    assert_no_secret("user add", &format!("{added:?}"), &[ALICE_PW, &key_hex]);
    assert_no_secret(
        "api-key create's stderr",
        &made.stderr,
        &[&secret, &key_hex],
    );
    assert_eq!(made.stdout.matches(&secret).count(), 1, "{made:?}");

    let server = ServerProcess::start(&ws, &["--database", &db, "--allow-signup"]);
    let url = server.url.clone();
    let gens = "/api/v1/generations";

    // Signup, Basic (right and wrong), HMAC (right and wrong), a key made over HTTP and its
    // idempotent replay, a password change, and failures that carry secrets in the body.
    let mut answers = Vec::new();
    let signup = json!({"username": "carol", "password": CAROL_PW}).to_string();
    answers.push(call(
        &url,
        "POST",
        "/api/v1/accounts/create",
        None,
        Some(&signup),
        &[],
    ));
    answers.push(call(&url, "GET", gens, basic("alice", ALICE_PW), None, &[]));
    answers.push(call(&url, "GET", gens, basic("alice", WRONG_PW), None, &[]));
    answers.push(call(
        &url,
        "GET",
        gens,
        basic(WRONG_PW, ALICE_PW),
        None,
        &[],
    ));
    answers.push(call(
        &url,
        "GET",
        gens,
        hmac_auth(&key_id, &secret, "GET", gens, ""),
        None,
        &[],
    ));
    answers.push(call(
        &url,
        "GET",
        gens,
        hmac_auth(&key_id, WRONG_SECRET, "GET", gens, ""),
        None,
        &[],
    ));
    let g = json!({"generation_id": uuid::Uuid::new_v4().to_string(), "version": "v1.0.0",
                   "description": "made with a signed request", "changes": []})
    .to_string();
    answers.push(call(
        &url,
        "POST",
        gens,
        hmac_auth(&key_id, &secret, "POST", gens, &g),
        Some(&g),
        &[],
    ));
    let key_body = r#"{"name": "over-http"}"#;
    let idem = [("Idempotency-Key", "key-over-http")];
    let k1 = call(
        &url,
        "POST",
        "/api/v1/api-keys",
        basic("alice", ALICE_PW),
        Some(key_body),
        &idem,
    );
    let k2 = call(
        &url,
        "POST",
        "/api/v1/api-keys",
        basic("alice", ALICE_PW),
        Some(key_body),
        &idem,
    );
    assert_eq!(
        (k1.0, &k1.1),
        (201, &k2.1),
        "the keyed retry answers the same key"
    );
    let http_secret = serde_json::from_str::<Value>(&k1.1).unwrap()["data"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let http_key = serde_json::from_str::<Value>(&k1.1).unwrap()["data"]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    answers.push(call(
        &url,
        "GET",
        gens,
        hmac_auth(&http_key, &http_secret, "GET", gens, ""),
        None,
        &[],
    ));
    let change =
        |cur: &str, new: &str| json!({"current_password": cur, "new_password": new}).to_string();
    answers.push(call(
        &url,
        "POST",
        "/api/v1/accounts/change-password",
        basic("alice", ALICE_PW),
        Some(&change(WRONG_PW, ALICE_NEW_PW)),
        &[],
    ));
    answers.push(call(
        &url,
        "POST",
        "/api/v1/accounts/change-password",
        basic("alice", ALICE_PW),
        Some(&change(ALICE_PW, ALICE_NEW_PW)),
        &[],
    ));
    answers.push(call(
        &url,
        "GET",
        gens,
        basic("alice", ALICE_NEW_PW),
        None,
        &[],
    ));
    answers.push(call(&url, "GET", gens, basic("alice", ALICE_PW), None, &[]));
    answers.push(call(
        &url,
        "POST",
        "/api/v1/accounts/create",
        None,
        Some(&format!(r#"{{"username": "x", "password": "{CAROL_PW}"#)),
        &[],
    ));
    answers.push(call(
        &url,
        "GET",
        "/api/v1/api-keys",
        basic("alice", ALICE_NEW_PW),
        None,
        &[],
    ));
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert_eq!(
        statuses,
        [201, 200, 401, 401, 200, 401, 201, 200, 403, 200, 200, 401, 400, 200],
        "{answers:#?}"
    );

    let log = server.stop();
    // Trace logging was on: the request log is there (else this test proves nothing).
    assert!(
        log.contains("/api/v1/generations") && log.lines().count() > 20,
        "the server did not log at trace level:\n{log}"
    );
    let basic_values: Vec<String> = [ALICE_PW, ALICE_NEW_PW, WRONG_PW]
        .iter()
        .map(|p| b64(&format!("alice:{p}")))
        .chain([b64(&format!("carol:{CAROL_PW}"))])
        .collect();
    let mut secrets: Vec<&str> = vec![
        ALICE_PW,
        ALICE_NEW_PW,
        CAROL_PW,
        WRONG_PW,
        WRONG_SECRET,
        &secret,
        &http_secret,
        &key_hex,
    ];
    secrets.extend(basic_values.iter().map(String::as_str));
    assert_no_secret("the server's log", &log, &secrets);
    // No error answer echoes a secret either (the key creation answers are the exception).
    for (status, body) in &answers {
        if *status >= 400 {
            assert_no_secret("an error answer", body, &secrets);
        }
    }
}

/// A repository configured for `url` with the given credentials in its global config.
fn workspace(url: &str, creds: &[(&str, &str)]) -> Workspace {
    let w = loud();
    w.run(&["init"]).ok();
    w.run(&["config", "--global", "gryt_url", url]).ok();
    for (k, v) in creds {
        w.run(&["config", "--global", k, v]).ok();
    }
    w
}

/// A server with alice (`ALICE_PW`) and an API key of hers.
fn server_with_alice() -> (Cloud, gryt_core::api::ApiKeyCreated) {
    let server = Cloud::with_signup();
    server.add_user_with("alice", ALICE_PW);
    let key = server
        .test_server()
        .create_api_key("alice", "ci", None)
        .unwrap();
    (server, key)
}

/// (name, global config settings, environment variables).
type Setup<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>);

#[test]
fn the_cli_prints_no_secret_with_loud_logging_and_failing_auth() {
    let (server, key) = server_with_alice();
    let url = server.url();
    let mut outputs = Vec::new();
    let commands: &[&[&str]] = &[
        &["sync", "pull"],
        &["sync", "push"],
        &["sync", "status"],
        &["cloud", "whoami"],
        &["team", "list"],
        &["cloud", "api-keys", "list"],
        &["config"],
        &["config", "password"],
        &["--json", "config"],
        &["generation", "list"],
    ];
    // Wrong password, wrong key secret (configured), wrong key secret from the
    // environment, and the right credentials.
    let setups: Vec<Setup> = vec![
        (
            "wrong password",
            vec![("username", "alice"), ("password", WRONG_PW)],
            vec![],
        ),
        (
            "wrong key secret",
            vec![
                ("api_key_id", &key.key_id),
                ("api_key_secret", WRONG_SECRET),
            ],
            vec![],
        ),
        (
            "wrong secret in the environment",
            vec![],
            vec![
                ("GRYT_URL", url.as_str()),
                ("GRYT_API_KEY_ID", &key.key_id),
                ("GRYT_API_KEY_SECRET", WRONG_SECRET),
            ],
        ),
        (
            "right password",
            vec![("username", "alice"), ("password", ALICE_PW)],
            vec![],
        ),
        (
            "right key",
            vec![("api_key_id", &key.key_id), ("api_key_secret", &key.secret)],
            vec![],
        ),
    ];
    for (name, creds, env) in &setups {
        let w = workspace(&url, creds);
        let r = w.run(&["generation", "new", "v1.0.0"]);
        outputs.push((name.to_string(), format!("{r:?}")));
        for args in commands {
            let r = w.run_env(args, env);
            // `sync status` works offline and answers 0 whatever the server says.
            let remote =
                !matches!(args[0], "config" | "generation" | "--json") && args[1] != "status";
            if name.starts_with("wrong") && remote {
                assert_ne!(r.code, 0, "{name}: {r:?}");
            }
            outputs.push((name.to_string(), format!("{r:?}")));
        }
    }
    // Login refused, with the password on stdin and the secret on argv.
    let w = loud();
    for args in [
        vec![
            "cloud",
            "login",
            "--url",
            &url,
            "--method",
            "password",
            "--username",
            "alice",
            "--password-stdin",
        ],
        vec![
            "cloud",
            "login",
            "--url",
            &url,
            "--method",
            "api-key",
            "--key-id",
            &key.key_id,
            "--secret-key",
            WRONG_SECRET,
        ],
    ] {
        let r = w.run_with(&args, &[], Some(&format!("{WRONG_PW}\n")));
        assert_ne!(r.code, 0, "{r:?}");
        outputs.push(("login".into(), format!("{r:?}")));
    }
    for (name, out) in &outputs {
        assert_no_secret(
            name,
            // The argv echo of the login command is ours, not gryt's output.
            &out.replace(&format!("\"{WRONG_SECRET}\"]"), "]"),
            &[ALICE_PW, WRONG_PW, WRONG_SECRET, &key.secret],
        );
    }
}

/// Titles and descriptions that look like SQL or shell; gryt must treat them as text.
const NASTY: &[&str] = &[
    "'; DROP TABLE generations; --",
    "\"; DROP TABLE evolutions; --",
    "$(rm -rf /)",
    "`rm -rf /` and `id`",
    "${HOME} $PATH %s %n {0}",
    "quotes ' \" ` ‘ ’ “ ”",
    "back\\slash \\n not a newline",
    "Ünïcödé 日本語 🚀 \u{202e}txet",
    "<script>alert(1)</script> &amp;",
    "NULL",
    "- yaml: [list] {map} #comment",
    "key: value",
    "!!binary aGVsbG8=",
    "line one\nline two",
];

#[test]
fn metacharacters_are_literal_in_the_cli_and_on_the_server() {
    let (server, key) = server_with_alice();
    let url = server.url();
    let ws = workspace(
        &url,
        &[("api_key_id", &key.key_id), ("api_key_secret", &key.secret)],
    );
    let w = ws.root();
    let gryt_run = |args: &[&str]| ws.run(args);

    let description = NASTY[..NASTY.len() - 1].join(" | ");
    let r = gryt_run(&["generation", "new", "v1.0.0", "-d", &description]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut stored = Vec::new();
    for (i, s) in NASTY.iter().enumerate() {
        let id = format!("FEAT-{}", i + 1);
        let (title, desc) = (format!("--title={s}"), format!("--description={s}"));
        let r = gryt_run(&[
            "generation",
            "add-change",
            "v1.0.0",
            "--id",
            &id,
            "--type",
            "add",
            &title,
            &desc,
        ]);
        if s.contains('\n') && r.code != 0 {
            // A title may refuse a newline, but clearly, and store nothing.
            assert!(r.stderr.starts_with("Error: "), "{r:?}");
            continue;
        }
        assert_eq!(r.code, 0, "{s:?}: {r:?}");
        stored.push((id, *s));
    }
    let show = gryt_run(&["generation", "show", "v1.0.0", "--json"]);
    assert_eq!(show.code, 0, "{show:?}");
    let j: Value = serde_json::from_str(&show.stdout).unwrap();
    let g = &j["generation"];
    assert_eq!(g["description"], description.as_str(), "{show:?}");
    let changes = g["changes"].as_array().unwrap();
    assert_eq!(changes.len(), stored.len(), "{show:?}");
    for (c, (id, s)) in changes.iter().zip(&stored) {
        assert_eq!(c["id"], id.as_str());
        assert_eq!(c["title"], *s, "{show:?}");
        assert_eq!(c["description"], *s, "{show:?}");
    }
    // The human view shows them too (and nothing was run: no file appeared).
    let text = gryt_run(&["generation", "show", "v1.0.0"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("DROP TABLE generations"), "{text:?}");
    assert!(text.stdout.contains("$(rm -rf /)"), "{text:?}");
    // The contract file reads back to the same texts (YAML quoting is gryt's job).
    let reread = gryt_run(&["generation", "update", "v1.0.0"]);
    assert_eq!(reread.code, 0, "{reread:?}");
    let again: Value =
        serde_json::from_str(&gryt_run(&["generation", "show", "v1.0.0", "--json"]).stdout)
            .unwrap();
    assert_eq!(again["generation"]["changes"], g["changes"]);

    // Pushed to the server, they arrive byte for byte.
    let push = gryt_run(&["sync", "push"]);
    assert_eq!(push.code, 0, "{push:?}");
    let path = "/api/v1/generations";
    let (status, body) = call(
        &url,
        "GET",
        path,
        hmac_auth(&key.key_id, &key.secret, "GET", path, ""),
        None,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    let remote = &list["data"]["generations"][0];
    assert_eq!(remote["description"], description.as_str());
    let rc = remote["changes"].as_array().unwrap();
    assert_eq!(rc.len(), stored.len());
    for (c, (id, s)) in rc.iter().zip(&stored) {
        assert_eq!(c["id"], id.as_str());
        assert_eq!(c["title"], *s);
        assert_eq!(c["description"], *s);
    }

    // A version carrying metacharacters is refused by the rules, clearly, and nothing is
    // stored (no record, no contract file, nothing pushed).
    let before_list = gryt_run(&["generation", "list", "--json"]).stdout;
    let files = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let gen_dir = w.join(".gryt").join("generations");
    let before_files = files(&gen_dir);
    for v in [
        "v1.0.0'; DROP TABLE generations; --",
        "$(rm -rf /)",
        "v2.0.0`touch pwned`",
        "v2.0.0; touch pwned",
        "v2.0.0\nv3.0.0",
        "v2.0.0\"",
        "../../v2.0.0",
    ] {
        for args in [
            vec!["generation", "new", v],
            vec!["generation", "rename", "v1.0.0", v],
        ] {
            let r = gryt_run(&args);
            assert_eq!(r.code, 1, "{r:?}");
            assert!(r.stderr.starts_with("Error: Invalid version"), "{r:?}");
        }
    }
    assert_eq!(
        gryt_run(&["generation", "list", "--json"]).stdout,
        before_list
    );
    assert_eq!(files(&gen_dir), before_files);
    assert!(!w.join("pwned").exists() && !ws.home().join("pwned").exists());
    let (_, body) = call(
        &url,
        "GET",
        path,
        hmac_auth(&key.key_id, &key.secret, "GET", path, ""),
        None,
        &[],
    );
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["data"]["generations"].as_array().unwrap().len(), 1);
}
