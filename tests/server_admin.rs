//! Running and administering the server with the real `gryt server` binary: users and API
//! keys administered while a server runs (SQLite and PostgreSQL), settings from
//! `GRYT_SERVER_*` variables, plain HTTP refused on a non-loopback address, bad TLS files
//! refused before anything listens, JSON log lines, and a backup taken while the server
//! runs that a second server serves with the very same change feed.

mod support;

use serde_json::Value;
use support::server::{Backend, Cloud, ServerProcess};
use support::{password_of, Workspace};

/// A server key both the in-process server and the binary use (64 hex characters).
const KEY_HEX: &str = "6b6579206f6620746865207365727665722061646d696e206d6f6465206f6b21";

/// An administrator's shell: every command reaches `cloud`'s database through variables.
fn admin_of(cloud: &Cloud) -> Workspace {
    Workspace::bare("admin")
        .with_env("GRYT_SERVER_DATABASE", &cloud.database_url())
        .with_env("GRYT_SERVER_KEY", KEY_HEX)
}

fn with_key(c: &mut gryt_server::ServerConfig) {
    c.server_key = Some(gryt_server::ServerKey::from_hex(KEY_HEX).expect("key"));
}

fn users(admin: &Workspace) -> Vec<Value> {
    let out = admin.run(&["server", "user", "list", "--json"]);
    out.clean();
    out.json()["users"].as_array().expect("users").clone()
}

fn administration_on(backend: Backend) {
    let cloud = Cloud::start_with(backend, with_key);
    let admin = admin_of(&cloud);
    let pw = format!("{}\n", password_of("bob"));
    admin
        .run_with(
            &["server", "user", "add", "bob", "--password-stdin"],
            &[],
            Some(&pw),
        )
        .clean()
        .stdout_has("added user bob");
    admin
        .run_with(
            &["server", "user", "add", "carol", "--password-stdin"],
            &[],
            Some(&pw),
        )
        .clean();
    let list = admin.run(&["server", "user", "list"]);
    list.clean()
        .stdout_has_all(&["NAME", "CREATED", "DISABLED", "KEYS", "bob", "carol"]);
    assert_eq!(
        cloud.request("bob", "GET", "/api/v1/generations", None).0,
        200
    );
    let (_, wrong_password) = {
        let (s, v) = cloud.request("nobody", "GET", "/api/v1/generations", None);
        assert_eq!(s, 401);
        (s, v)
    };

    // Disabled while the server runs: refused at the next request, as a wrong password.
    admin
        .run(&["server", "user", "disable", "bob"])
        .clean()
        .stdout_has("disabled bob");
    let (status, body) = cloud.request("bob", "GET", "/api/v1/generations", None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["detail"], wrong_password["detail"], "{body}");
    let bob = users(&admin)
        .into_iter()
        .find(|u| u["username"] == "bob")
        .expect("bob listed");
    assert!(bob["disabled_at"].is_string(), "{bob}");
    admin
        .run(&["server", "user", "enable", "bob"])
        .clean()
        .stdout_has("enabled bob");
    assert_eq!(
        cloud.request("bob", "GET", "/api/v1/generations", None).0,
        200
    );

    // A new password: the old one is refused from the next request.
    admin
        .run_with(
            &["server", "user", "passwd", "bob", "--password-stdin"],
            &[],
            Some("an entirely new password\n"),
        )
        .clean();
    assert_eq!(
        cloud.request("bob", "GET", "/api/v1/generations", None).0,
        401
    );
    admin
        .run_with(
            &["server", "user", "passwd", "bob", "--password-stdin"],
            &[],
            Some(&pw),
        )
        .clean();
    admin
        .run(&["server", "user", "passwd", "bob"])
        .err(1, &["--password-stdin"]);

    // Keys: created, listed without their secret, counted; removal revokes them.
    let created = admin.run_showing_secret(&["server", "api-key", "create", "bob", "--name", "ci"]);
    created.clean();
    let secret = created
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .expect("a secret")
        .to_string();
    let keys = admin.run(&["server", "api-key", "list", "bob", "--json"]);
    keys.clean();
    let keys = keys.json()["api_keys"].as_array().expect("keys").clone();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["username"], "bob");
    assert_eq!(keys[0]["name"], "ci");
    assert!(keys[0]["revoked_at"].is_null());
    admin
        .run(&["server", "api-key", "list"])
        .clean()
        .stdout_has_all(&["ID", "LAST USED", "ci", "bob"]);
    let counts: Vec<(String, i64)> = users(&admin)
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap_or_default().to_string(),
                u["active_keys"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(counts, [("bob".into(), 1), ("carol".into(), 0)]);

    let removed = admin.run(&["server", "user", "remove", "bob"]);
    removed
        .clean()
        .stdout_has_all(&["removed user bob", "API keys revoked: 1"]);
    assert_eq!(
        cloud.request("bob", "GET", "/api/v1/generations", None).0,
        401
    );
    let names: Vec<Value> = users(&admin)
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, ["carol"]);
    let keys = admin.run(&["server", "api-key", "list", "--json"]);
    assert!(
        keys.json()["api_keys"][0]["revoked_at"].is_string(),
        "{keys:?}"
    );
    admin
        .run(&["server", "user", "disable", "bob"])
        .err(1, &["User bob not found"]);
    admin
        .run_with(
            &["server", "user", "add", "bob", "--password-stdin"],
            &[],
            Some(&pw),
        )
        .err(1, &["already exists"]);
    admin.assert_no_secret(&[&secret, password_of("bob").as_str()]);
}

#[test]
fn users_and_keys_are_administered_while_the_server_runs() {
    for backend in Backend::all() {
        administration_on(backend);
    }
}

#[test]
fn plain_http_on_a_non_loopback_address_needs_tls_or_insecure_http() {
    let ws = Workspace::bare("admin");
    let db = format!("sqlite:{}", ws.home().join("server.db").display());
    // The address from GRYT_SERVER_LISTEN: every address, over plain HTTP.
    let refused = ws.run_env(
        &["server", "--database", &db],
        &[("GRYT_SERVER_LISTEN", "0.0.0.0:0")],
    );
    refused.err(
        1,
        &[
            "refusing to serve plain HTTP on 0.0.0.0:0",
            "--tls-cert",
            "--insecure-http",
        ],
    );
    assert!(!refused.stdout.contains("listening on"), "{refused:?}");
    assert!(
        !ws.home().join("server.db").exists(),
        "the database was opened"
    );

    // GRYT_SERVER_INSECURE_HTTP=1 (behind a TLS proxy): served, with a warning.
    let mut c = ws.command_in(ws.home());
    c.args(["server", "--database", &db])
        .env("GRYT_SERVER_LISTEN", "0.0.0.0:0")
        .env("GRYT_SERVER_INSECURE_HTTP", "1");
    let server = ServerProcess::spawn(c);
    assert!(server.url.starts_with("http://0.0.0.0:"), "{}", server.url);
    let port = server.url.rsplit(':').next().expect("a port").to_string();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let health =
        reqwest::blocking::get(format!("http://127.0.0.1:{port}/healthz")).expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let log = server.stop();
    assert!(log.contains("serving plain HTTP"), "{log}");
}

#[test]
fn bad_tls_files_stop_the_start_before_anything_listens() {
    let ws = Workspace::bare("admin");
    let db = format!("sqlite:{}", ws.home().join("server.db").display());
    let junk = ws.home().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").expect("write");
    let missing = ws.home().join("missing.pem");
    let junk_s = junk.display().to_string();
    let missing_s = missing.display().to_string();
    for (cert, key, says) in [
        (&junk_s, &junk_s, "holds no certificate"),
        (&missing_s, &junk_s, "cannot read the TLS certificate"),
    ] {
        let out = ws.run(&[
            "server",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ]);
        out.err(1, &[says]);
        assert!(!out.stdout.contains("listening on"), "{out:?}");
    }
    // Both files are needed.
    ws.run(&["server", "--database", &db, "--tls-cert", &junk_s])
        .err(2, &["--tls-key"]);
}

#[test]
fn log_lines_are_json_with_gryt_log_format() {
    let ws = Workspace::bare("admin")
        .with_env("GRYT_LOG_FORMAT", "json")
        .with_env("GRYT_LOG", "info");
    let db = format!("sqlite:{}", ws.home().join("server.db").display());
    let server = ServerProcess::start(&ws, &["--database", &db]);
    server.wait_for_log("gryt server started", std::time::Duration::from_secs(60));
    let log = server.stop();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let started = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("gryt server started"))
        })
        .unwrap_or_else(|| panic!("no start line in {log}"));
    assert_eq!(started["level"], "INFO", "{started}");
    assert!(started["timestamp"].is_string(), "{started}");
    assert_eq!(started["tls"], false, "{started}");
    // Every line on stderr is a JSON object (stdout has only "listening on").
    for l in log.lines().filter(|l| !l.trim().is_empty()) {
        assert!(l.starts_with('{') || l.starts_with("listening on"), "{l}");
    }
}

/// The whole change feed of alice's personal scope from the server at `url`.
fn feed(http: &reqwest::blocking::Client, url: &str) -> Value {
    let r = http
        .get(format!(
            "{url}/api/v1/sync/changes?since=0&limit=1000&project=default"
        ))
        .basic_auth("alice", Some(password_of("alice")))
        .send()
        .expect("feed");
    assert_eq!(r.status().as_u16(), 200);
    r.json::<Value>().expect("json")["data"].clone()
}

#[test]
fn a_backup_taken_while_serving_restores_the_same_feed() {
    let admin = Workspace::bare("admin");
    let db_file = admin.home().join("server.db");
    let db = format!("sqlite:{}", db_file.display());
    admin
        .add_server_user(&db, "alice", &password_of("alice"))
        .clean();
    let first = ServerProcess::start(&admin, &["--database", &db]);

    // Alice works through the running server.
    let alice = Workspace::local().join(&first.url, None);
    alice.run(&["generation", "new", "v1.0.0"]).ok();
    alice.add_change("v1.0.0", "FEAT-1", "add", "Login");
    alice.add_change("v1.0.0", "BUG-2", "fix", "Crash");
    alice.run(&["generation", "new", "v1.1.0"]).ok();
    alice.run(&["sync", "push"]).ok();
    alice.prove("v1.0.0", "FEAT-1");
    alice.run(&["sync", "push"]).ok();

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::new();
    let before = feed(&http, &first.url);
    assert!(
        before["items"].as_array().is_some_and(|c| c.len() >= 3),
        "{before}"
    );

    // The backup, while the first server runs.
    let copy = admin.home().join("backup.db");
    let copy_s = copy.display().to_string();
    admin
        .run(&["server", "--database", &db, "backup", &copy_s])
        .clean()
        .stdout_has_all(&["backed up the database", "server key"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).expect("copy").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // Never over an existing file.
    admin
        .run(&["server", "--database", &db, "backup", &copy_s])
        .err(1, &["already exists"]);
    // Work goes on after the backup: not in the copy.
    alice.run(&["generation", "new", "v2.0.0"]).ok();
    alice.run(&["sync", "push"]).ok();
    assert_ne!(feed(&http, &first.url), before);

    // Restore: a second server on the copy, with the same server key file.
    let key = format!("{}.key", db_file.display());
    let second = ServerProcess::start(
        &admin,
        &[
            "--database",
            &format!("sqlite:{copy_s}"),
            "--key-file",
            &key,
        ],
    );
    assert_eq!(feed(&http, &second.url), before);
    second.stop();

    // A backup taken while the server is writing: whatever moment it caught, it is the
    // feed up to that moment, every record as the server holds it (a prefix of the final
    // feed), never a torn copy.
    let writer = {
        let (url, http) = (first.url.clone(), http.clone());
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            for i in 0..60 {
                let body = serde_json::json!({
                    "generation_id": uuid::Uuid::new_v4().to_string(),
                    "version": format!("v3.0.{i}"),
                    "description": null,
                    "changes": [],
                    "pipeline_template": null,
                    "status": "draft",
                    "project": "default",
                    "team_id": null,
                });
                let r = http
                    .post(format!("{url}/api/v1/generations"))
                    .basic_auth("alice", Some(password_of("alice")))
                    .json(&body)
                    .send()
                    .expect("a write");
                assert_eq!(r.status().as_u16(), 201, "{:?}", r.text());
                if i == 9 {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv().expect("ten writes done");
        t
    };
    let during = admin.home().join("during.db");
    let during_s = during.display().to_string();
    admin
        .run(&["server", "--database", &db, "backup", &during_s])
        .clean();
    writer.join().expect("the writer");
    let last = feed(&http, &first.url);
    let third = ServerProcess::start(
        &admin,
        &[
            "--database",
            &format!("sqlite:{during_s}"),
            "--key-file",
            &key,
        ],
    );
    let caught = feed(&http, &third.url);
    third.stop();
    first.stop();
    let (caught, last) = (
        caught["items"].as_array().expect("items").clone(),
        last["items"].as_array().expect("items").clone(),
    );
    let before_len = before["items"].as_array().map_or(0, Vec::len);
    assert!(caught.len() >= before_len + 1 + 10, "{}", caught.len());
    assert_eq!(caught[..], last[..caught.len()]);

    // PostgreSQL is pg_dump's: exit 2 and the command to use; nothing written.
    let pg = admin.home().join("pg.dump");
    admin
        .run(&[
            "server",
            "--database",
            "postgres://gryt@127.0.0.1:1/gryt",
            "backup",
            &pg.display().to_string(),
        ])
        .err(2, &["PostgreSQL", "pg_dump"]);
    assert!(!pg.exists());
}
