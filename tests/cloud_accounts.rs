//! End-to-end tests of `gryt cloud ...` and `gryt team ...`: the real `gryt` binary, with a
//! cleared environment and a temporary HOME and config dir, against a real gryt server
//! started in-process on 127.0.0.1:0.
//!
//! Every command's stdout and stderr is kept by its workspace (`tests/support/`), which checks at
//! the end that no secret (password, API key secret) appeared anywhere, except in the answer of
//! `gryt cloud api-keys create`, whose purpose is to show the new secret once.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::files::files_under;
use support::server::Cloud;
use support::{gryt_bin, Out, Workspace};

const ALICE_PW: &str = "alice-correct-horse-1";
const BOB_PW: &str = "bob-battery-staple-2";

/// One user's machine: a HOME and a config dir; every output it shows is kept.
fn session() -> Workspace {
    Workspace::bare("alice")
}

/// The file's text, or nothing when it does not exist.
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Runs `gryt ARGS` in `dir` under `umask`, through `sh -c 'umask U; exec gryt ...'`.
fn run_umask(s: &Workspace, dir: &Path, umask: &str, args: &[&str], stdin: Option<&str>) -> Out {
    let mut c = s.program_in("sh", dir);
    c.arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(gryt_bin())
        .args(args);
    s.run_command(c, args, stdin)
}

/// `gryt --json cloud api-keys create --name NAME --password-stdin` (the stored login is an
/// API key, which cannot create keys): (key id, secret).
fn create_key(s: &Workspace, name: &str) -> (String, String) {
    let out = s.run_showing_secret_with(
        &[
            "--json",
            "cloud",
            "api-keys",
            "create",
            "--name",
            name,
            "--password-stdin",
        ],
        Some(&format!("{ALICE_PW}\n")),
    );
    out.ok();
    let v = out.json();
    (
        v["key_id"].as_str().expect("key_id").to_string(),
        v["secret"].as_str().expect("secret").to_string(),
    )
}

fn login_password(s: &Workspace, url: &str, user: &str, password: &str) -> Out {
    s.run_with(
        &[
            "cloud",
            "login",
            "--url",
            url,
            "--method",
            "password",
            "--username",
            user,
            "--password-stdin",
        ],
        &[],
        Some(&format!("{password}\n")),
    )
}

fn login_key(s: &Workspace, url: &str, key_id: &str, secret: &str) -> Out {
    s.run_with(
        &[
            "cloud",
            "login",
            "--url",
            url,
            "--method",
            "api-key",
            "--key-id",
            key_id,
            "--secret-key-stdin",
        ],
        &[],
        Some(&format!("{secret}\n")),
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn contains_bytes(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The API keys of `user` as the server's own `gryt server api-key list` gives them.
fn server_keys(server: &Cloud, user: &str) -> Vec<serde_json::Value> {
    let admin = Workspace::bare("admin");
    let db = server.database_url();
    let out = admin.run(&[
        "server",
        "--database",
        &db,
        "api-key",
        "list",
        user,
        "--json",
    ]);
    out.ok();
    out.json()["api_keys"].as_array().expect("api_keys").clone()
}

/// A server that lets anyone sign up, with `users` (name, password).
fn server_with_users(users: &[(&str, &str)]) -> Cloud {
    let server = Cloud::with_signup();
    for (u, p) in users {
        server.add_user_with(u, p);
    }
    server
}

#[test]
fn signup_then_login_with_password_and_whoami() {
    let server = server_with_users(&[]);
    let url = server.url();
    let s = session();

    s.run_with(
        &[
            "cloud",
            "signup",
            "--url",
            &url,
            "--username",
            "alice",
            "--password-stdin",
        ],
        &[],
        Some(&format!("{ALICE_PW}\n")),
    )
    .ok()
    .stdout_has_all(&["Created account alice"]);
    // Signup stores nothing: logging in is a separate, checked step.
    assert!(!s.credentials().exists());
    // A second signup of the same name is refused by the server.
    s.run_with(
        &[
            "cloud",
            "signup",
            "--url",
            &url,
            "--username",
            "alice",
            "--password-stdin",
        ],
        &[],
        Some("another-password-9\n"),
    )
    .fails(1, &["already exists"]);

    login_password(&s, &url, "alice", ALICE_PW)
        .ok()
        .stdout_has_all(&["Logged in to", "alice", "password", "API key gk_"]);
    assert_eq!(mode(&s.credentials()), 0o600);
    // The password made an API key; the key is stored, never the password.
    let creds = std::fs::read(s.credentials()).expect("credentials");
    assert!(!contains_bytes(&creds, ALICE_PW));
    let creds = read(&s.credentials());
    // The login is bound to its server, with the account the server knows.
    assert!(
        creds.contains(&url) && creds.contains("account: alice"),
        "{creds}"
    );
    let global = read(&s.global_config());
    assert!(global.contains(&url), "{global}");
    assert!(!global.contains(ALICE_PW), "{global}");

    s.run(&["cloud", "whoami"])
        .ok()
        .stdout_has_all(&[&url, "alice", "API key gk_", "accepts"]);
    let v = s.run(&["--json", "cloud", "whoami"]).ok().json();
    assert_eq!(v["server"], "accepted");
    assert_eq!(v["auth"], "api-key");
    assert_eq!(v["username"], "alice");
    assert_eq!(v["url"], url.as_str());
    // Commands work with the stored key, and the server lists the key the login made.
    let made = v["api_key_id"].as_str().expect("api_key_id").to_string();
    s.run(&["team", "create", "login-team"]).ok();
    s.run(&["team", "list"]).ok().stdout_has("login-team");
    let listed = s.json(&["cloud", "api-keys", "list"]);
    let keys = listed["api_keys"].as_array().expect("api_keys");
    assert_eq!(keys.len(), 1, "{listed:#}");
    assert_eq!(keys[0]["key_id"], made.as_str());
    let name = keys[0]["name"].as_str().expect("name");
    assert!(name.starts_with("gryt login "), "{name}");
    assert!(keys[0]["revoked_at"].is_null(), "{listed:#}");

    // Once logged in, --url may be left out: the stored gryt_url is used. The new login's
    // key replaces the first one's, which is revoked on the server.
    s.run_with(
        &["cloud", "login", "--username", "alice", "--password-stdin"],
        &[],
        Some(&format!("{ALICE_PW}\n")),
    )
    .ok()
    .stderr_has(&format!("revoked the API key {made}"));
    let keys = server_keys(&server, "alice");
    assert_eq!(keys.len(), 2, "{keys:#?}");
    for k in &keys {
        assert_eq!(
            k["revoked_at"].is_null(),
            k["key_id"] != made.as_str(),
            "{k}"
        );
    }
    assert!(!contains_bytes(
        &std::fs::read(s.credentials()).expect("credentials"),
        ALICE_PW
    ));

    s.assert_no_secret(&[ALICE_PW]);
}

#[test]
fn wrong_password_and_bad_keys_are_refused_and_nothing_is_stored() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let url = server.url();
    let s = session();

    login_password(&s, &url, "alice", "not-the-password")
        .fails(1, &["Login failed", "refused", "nothing was stored"]);
    login_password(&s, &url, "nobody", ALICE_PW).fails(1, &["Login failed"]);
    login_key(&s, &url, "gk_0000000000000000", "feedfacefeedface")
        .fails(1, &["Login failed", "API key"]);
    // A real key id with the wrong secret.
    let real = server
        .test_server()
        .create_api_key("alice", "ci", None)
        .expect("key");
    login_key(&s, &url, &real.key_id, "0123456789abcdef0123456789abcdef")
        .fails(1, &["Login failed"]);
    // The secret on argv is accepted, and refused all the same when wrong.
    s.run(&[
        "cloud",
        "login",
        "--url",
        &url,
        "--method",
        "api-key",
        "--key-id",
        &real.key_id,
        "--secret-key",
        "argv-secret-that-is-wrong",
    ])
    .fails(1, &["Login failed"]);

    assert!(!s.credentials().exists(), "credentials written");
    assert!(!s.global_config().exists(), "global config written");
    assert!(files_under(&s.config_dir()).is_empty());
    s.run(&["cloud", "whoami"])
        .fails(1, &["gryt cloud login --url"]);

    s.assert_no_secret(&[
        ALICE_PW,
        "not-the-password",
        "feedfacefeedface",
        "0123456789abcdef0123456789abcdef",
        &real.secret,
    ]);
}

#[test]
fn api_keys_create_list_revoke_and_login_with_a_key() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let url = server.url();
    let s = session();
    login_password(&s, &url, "alice", ALICE_PW).ok();

    // The stored login is the API key the password made: creating keys takes the
    // password again. The text answer shows the id and the secret once.
    let pw = format!("{ALICE_PW}\n");
    let args = [
        "cloud",
        "api-keys",
        "create",
        "--name",
        "laptop",
        "--password-stdin",
    ];
    let text = s.run_showing_secret_with(&args, Some(&pw));
    text.ok()
        .stdout_has_all(&["Key id:  gk_", "Secret:  ", "Expires: never"]);
    assert!(text.stderr.contains("shown only this once"), "{text:?}");

    let (ci_id, ci_secret) = create_key(&s, "ci");
    let (other_id, other_secret) = create_key(&s, "other");
    assert_ne!(ci_id, other_id);
    s.run_with(
        &[
            "cloud",
            "api-keys",
            "create",
            "--name",
            "x",
            "--expires-in-days",
            "0",
            "--password-stdin",
        ],
        &[],
        Some(&pw),
    )
    .fails(1, &["expires_in_days"]);

    s.run(&["cloud", "api-keys", "list"])
        .ok()
        .stdout_has_all(&["laptop", &ci_id, &other_id, "active"]);

    // The key login replaces the key the password login made, which is revoked.
    login_key(&s, &url, &ci_id, &ci_secret)
        .ok()
        .stdout_has_all(&["Logged in", &ci_id])
        .stderr_has("revoked the API key");
    // The credentials file holds the key's secret only.
    let creds = read(&s.credentials());
    assert!(
        creds.contains(&ci_secret) && !creds.contains(ALICE_PW),
        "{creds}"
    );
    assert_eq!(mode(&s.credentials()), 0o600);
    assert!(creds.contains(&ci_id), "{creds}");
    let global = read(&s.global_config());
    assert!(!global.contains(&ci_secret), "{global}");

    s.run(&["cloud", "whoami"]).ok().stdout_has_all(&[
        "API key",
        &ci_id,
        "credentials file",
        "accepts",
        "Account: alice",
    ]);
    let v = s.run(&["--json", "cloud", "whoami"]).ok().json();
    assert_eq!(v["auth"], "api-key");
    assert_eq!(v["api_key_id"], ci_id.as_str());
    assert_eq!(v["server"], "accepted");
    // The server names the key's owner (GET /api/v1/accounts/me).
    assert_eq!(v["server_username"], "alice");

    // An API key cannot make keys or revoke another key: that needs the password, asked
    // for (here: on stdin) and used for that request only.
    s.run(&["cloud", "api-keys", "create", "--name", "minted"])
        .fails(2, &["needs your password", "stored login is an API key"])
        .hint("--password-stdin");
    s.run(&["cloud", "api-keys", "revoke", &other_id])
        .fails(2, &["needs your password"]);
    let revoke_other = ["cloud", "api-keys", "revoke", &other_id, "--password-stdin"];
    s.run_with(&revoke_other, &[], Some("not-alices-password\n"))
        .fails(1, &["refused"]);
    s.run_with(&revoke_other, &[], Some(&pw))
        .ok()
        .stdout_has_all(&["Revoked", &other_id]);
    assert!(!contains_bytes(
        &std::fs::read(s.credentials()).expect("credentials"),
        ALICE_PW
    ));
    s.run_with(
        &[
            "cloud",
            "api-keys",
            "revoke",
            "gk_doesnotexist",
            "--password-stdin",
        ],
        &[],
        Some(&pw),
    )
    .fails(1, &["not found"]);
    let v = s.run(&["--json", "cloud", "api-keys", "list"]).ok().json();
    let keys = v["api_keys"].as_array().expect("api_keys");
    // laptop, ci, other, and the key of the first (password) login, which the key login
    // that replaced it revoked.
    assert_eq!(keys.len(), 4, "{keys:#?}");
    for k in keys {
        assert!(k.get("secret").is_none(), "a listed key has a secret: {k}");
        let revoked = !k["revoked_at"].is_null();
        let login_key = k["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("gryt login "));
        assert_eq!(
            revoked,
            k["key_id"] == other_id.as_str() || login_key,
            "{k}"
        );
    }
    login_key(&s, &url, &other_id, &other_secret).fails(1, &["Login failed", "revoked"]);

    // Revoking the key in use: the server refuses it from then on.
    let out = s.run(&["cloud", "api-keys", "revoke", &ci_id]);
    out.ok();
    assert!(out.stderr.contains("log in again"), "{out:?}");
    s.run(&["cloud", "whoami"])
        .fails(1, &["refused", "gryt cloud login"])
        .stdout_has_all(&["refuses"]);
    s.run(&["team", "list"])
        .fails(1, &["refused", "gryt cloud login"]);

    s.assert_no_secret(&[ALICE_PW, &ci_secret, &other_secret]);
}

#[test]
fn credentials_file_is_0600_under_any_umask_and_never_in_the_repository() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let url = server.url();
    let key = server
        .test_server()
        .create_api_key("alice", "ci", None)
        .expect("key");
    for umask in ["000", "022"] {
        let s = session();
        let repo = s.home().join("project");
        std::fs::create_dir_all(&repo).expect("mkdir");
        s.run_in(&repo, &["init"]).ok();
        // Log in with a password from inside the repository...
        run_umask(
            &s,
            &repo,
            umask,
            &[
                "cloud",
                "login",
                "--url",
                &url,
                "--username",
                "alice",
                "--password-stdin",
            ],
            Some(&format!("{ALICE_PW}\n")),
        )
        .ok();
        assert_eq!(mode(&s.credentials()), 0o600, "umask {umask}");
        assert_eq!(mode(&s.config_dir()), 0o700, "umask {umask}");
        // ...then with an API key, which rewrites the credentials file.
        run_umask(
            &s,
            &repo,
            umask,
            &[
                "cloud",
                "login",
                "--method",
                "api-key",
                "--key-id",
                &key.key_id,
                "--secret-key-stdin",
            ],
            Some(&format!("{}\n", key.secret)),
        )
        .ok();
        assert_eq!(mode(&s.credentials()), 0o600, "umask {umask}");
        assert!(read(&s.credentials()).contains(&key.secret));
        // No file the config dir holds other than the credentials file has a secret, and
        // nothing the repository holds does.
        for f in files_under(&s.config_dir()) {
            let bytes = std::fs::read(&f).expect("read");
            if f != s.credentials() {
                assert!(!contains_bytes(&bytes, &key.secret), "{}", f.display());
                assert!(!contains_bytes(&bytes, ALICE_PW), "{}", f.display());
            }
        }
        let repo_files = files_under(&repo.join(".gryt"));
        assert!(!repo_files.is_empty());
        for f in repo_files {
            let bytes = std::fs::read(&f).expect("read");
            assert!(!contains_bytes(&bytes, &key.secret), "{}", f.display());
            assert!(!contains_bytes(&bytes, ALICE_PW), "{}", f.display());
        }
        // Commands run inside the repository use the stored login.
        s.run_in(&repo, &["cloud", "whoami"])
            .ok()
            .stdout_has_all(&["accepts"]);
        s.assert_no_secret(&[ALICE_PW, &key.secret]);
    }
}

#[test]
fn logout_removes_the_secrets() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let url = server.url();
    let key = server
        .test_server()
        .create_api_key("alice", "ci", None)
        .expect("key");
    let s = session();
    login_key(&s, &url, &key.key_id, &key.secret).ok();
    assert!(read(&s.credentials()).contains(&key.secret));

    s.run(&["cloud", "logout"])
        .ok()
        .stdout_has_all(&["Logged out", "the login for", &url]);
    let creds = read(&s.credentials());
    assert!(!creds.contains(&key.secret), "{creds}");
    assert!(!creds.contains("api_key_secret"), "{creds}");
    let global = read(&s.global_config());
    assert!(!global.contains(&key.key_id), "{global}");
    // The server URL stays, so logging in again needs no --url.
    assert!(global.contains(&url), "{global}");

    s.run(&["cloud", "whoami"])
        .fails(1, &["Not logged in"])
        .stdout_has_all(&["not logged in"]);
    s.run(&["team", "list"])
        .fails(1, &["Not logged in", "gryt cloud login"]);
    s.run(&["cloud", "logout"])
        .ok()
        .stdout_has_all(&["No stored credentials"]);

    // A password login stores an API key it created; logout revokes that key on the
    // server (a key the user made and logged in with is left alone: CI may use it).
    login_password(&s, &url, "alice", ALICE_PW).ok();
    let v = s.json(&["cloud", "whoami"]);
    let made = v["api_key_id"].as_str().expect("a key id").to_string();
    s.run(&["cloud", "logout"])
        .ok()
        .stdout_has_all(&["Logged out", "Revoked the API key", &made]);
    assert!(!read(&s.credentials()).contains(&made));
    let keys = server_keys(&server, "alice");
    assert!(keys.len() > 1, "{keys:#?}");
    for k in &keys {
        let revoked = !k["revoked_at"].is_null();
        assert_eq!(revoked, k["key_id"] == made.as_str(), "{k}");
    }

    s.assert_no_secret(&[ALICE_PW, &key.secret]);
}

#[test]
fn teams_create_list_members_add_and_remove() {
    let server = server_with_users(&[("alice", ALICE_PW), ("bob", BOB_PW)]);
    let url = server.url();
    let alice = session();
    login_password(&alice, &url, "alice", ALICE_PW).ok();

    let out = alice.run(&["team", "create", "core", "--description", "The core team"]);
    out.ok().stdout_has_all(&["Created team core"]);
    let team_id = out
        .stdout
        .lines()
        .last()
        .expect("a team id line")
        .trim()
        .to_string();
    assert!(uuid::Uuid::parse_str(&team_id).is_ok(), "{out:?}");
    alice
        .run(&["team", "create", "core"])
        .fails(1, &["already exists"]);

    alice
        .run(&["team", "list"])
        .ok()
        .stdout_has_all(&[&team_id, "core", "alice", "The core team"]);
    let v = alice.run(&["--json", "team", "list"]).ok().json();
    assert_eq!(v["teams"][0]["team_id"], team_id.as_str());
    assert_eq!(v["teams"][0]["member_count"], 1);

    alice
        .run(&["team", "members", &team_id])
        .ok()
        .stdout_has_all(&["alice", "owner"]);
    alice
        .run(&["team", "add-member", &team_id, "bob"])
        .ok()
        .stdout_has_all(&["Added bob"]);
    alice
        .run(&["team", "add-member", &team_id, "bob"])
        .fails(1, &["already"]);
    alice
        .run(&["team", "add-member", &team_id, "nobody"])
        .fails(1, &["not found"]);
    // The team's name works where an id is expected.
    let v = alice
        .run(&["--json", "team", "members", "core"])
        .ok()
        .json();
    let mut members: Vec<(String, String)> = v["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["username"].as_str().expect("username").to_string(),
                m["role"].as_str().expect("role").to_string(),
            )
        })
        .collect();
    members.sort();
    assert_eq!(
        members,
        vec![
            ("alice".to_string(), "owner".to_string()),
            ("bob".to_string(), "member".to_string())
        ]
    );

    // Bob, with credentials from the environment only, sees the team.
    let mut bob = session();
    bob.set_env("GRYT_URL", &url);
    bob.set_env("GRYT_USERNAME", "bob");
    bob.set_env("GRYT_PASSWORD", BOB_PW);
    bob.run(&["team", "list"]).ok().stdout_has_all(&[&team_id]);
    bob.run(&["team", "add-member", &team_id, "alice"])
        .fails(1, &["owner"]);

    alice
        .run(&["team", "remove-member", "core", "bob"])
        .ok()
        .stdout_has_all(&["Removed bob"]);
    alice.run(&["team", "members", &team_id]).ok();
    let v = alice
        .run(&["--json", "team", "members", &team_id])
        .ok()
        .json();
    assert_eq!(v["members"].as_array().expect("members").len(), 1);
    bob.run(&["team", "members", &team_id])
        .fails(1, &["not found"]);
    alice
        .run(&["team", "members", "no-such-team"])
        .fails(1, &["No team no-such-team"]);

    alice.assert_no_secret(&[ALICE_PW, BOB_PW]);
    bob.assert_no_secret(&[ALICE_PW, BOB_PW]);
}

#[test]
fn a_stopped_server_is_exit_code_4() {
    let mut server = server_with_users(&[("alice", ALICE_PW)]);
    let url = server.url();
    let key = server
        .test_server()
        .create_api_key("alice", "ci", None)
        .expect("key");
    let s = session();
    login_key(&s, &url, &key.key_id, &key.secret).ok();
    let creds_before = read(&s.credentials());
    server.stop();

    s.run(&["cloud", "whoami"])
        .fails(4, &["unreachable"])
        .stdout_has_all(&["cannot be reached"]);
    s.run(&["team", "list"]).fails(4, &["unreachable"]);
    s.run(&["cloud", "api-keys", "list"])
        .fails(4, &["unreachable"]);
    s.run(&["team", "create", "t"]).fails(4, &["unreachable"]);
    login_password(&s, &url, "alice", ALICE_PW).fails(4, &["unreachable"]);
    s.run_with(
        &[
            "cloud",
            "signup",
            "--url",
            &url,
            "--username",
            "carol",
            "--password-stdin",
        ],
        &[],
        Some("carol-password-3\n"),
    )
    .fails(4, &["unreachable"]);
    // The failed login changed nothing.
    assert_eq!(read(&s.credentials()), creds_before);

    s.assert_no_secret(&[ALICE_PW, &key.secret, "carol-password-3"]);
}

#[test]
fn ci_credentials_from_the_environment_need_no_file() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let key = server
        .test_server()
        .create_api_key("alice", "ci", None)
        .expect("key");
    let mut s = session();
    s.set_env("GRYT_URL", &server.url());
    s.set_env("GRYT_API_KEY_ID", &key.key_id);
    s.set_env("GRYT_API_KEY_SECRET", &key.secret);

    s.run(&["cloud", "whoami"])
        .ok()
        .stdout_has_all(&[&key.key_id, "environment", "accepts"]);
    s.run(&["team", "create", "ci-team"]).ok();
    s.run(&["team", "list"]).ok().stdout_has_all(&["ci-team"]);
    s.run(&["cloud", "api-keys", "list"])
        .ok()
        .stdout_has_all(&[&key.key_id]);
    // Nothing was written to the config dir.
    assert!(files_under(&s.config_dir()).is_empty());

    // A wrong secret in the environment is refused with a hint to log in.
    s.set_env("GRYT_API_KEY_SECRET", "wrong-secret-from-ci");
    s.run(&["team", "list"])
        .fails(1, &["refused", "gryt cloud login"]);

    s.assert_no_secret(&[&key.secret, "wrong-secret-from-ci", ALICE_PW]);
}

#[test]
fn no_server_configured_is_a_clear_error() {
    let s = session();
    for args in [
        &["cloud", "whoami"][..],
        &["team", "list"][..],
        &["cloud", "api-keys", "list"][..],
    ] {
        s.run(args)
            .fails(1, &["gryt_url", "gryt cloud login --url"]);
    }
    s.run(&["cloud", "login", "--key-id", "k", "--secret-key", "s"])
        .fails(1, &["gryt cloud login --url"]);
    s.run_with(
        &[
            "cloud",
            "login",
            "--url",
            "ftp://example",
            "--password-stdin",
        ],
        &[],
        Some("x\n"),
    )
    .fails(2, &["Invalid gryt_url"]);
    assert!(files_under(&s.config_dir()).is_empty());
}

#[test]
fn a_password_an_older_gryt_stored_keeps_working_until_the_next_login_replaces_it() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let other = server_with_users(&[("alice", ALICE_PW)]);
    let (url, other_url) = (server.url(), other.url());
    let s = session();
    // The credentials file an older `gryt cloud login` wrote: passwords under servers.
    std::fs::create_dir_all(s.config_dir()).expect("mkdir");
    std::fs::set_permissions(s.config_dir(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");
    std::fs::write(
        s.credentials(),
        format!(
            "servers:\n  {url}:\n    account: alice\n    password: {ALICE_PW}\n    username: alice\n  {other_url}:\n    password: {ALICE_PW}\n    username: alice\n"
        ),
    )
    .expect("write credentials");
    std::fs::set_permissions(s.credentials(), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    s.run(&["config", "--global", "gryt_url", &url]).ok();

    // It still works, with a warning that says how to replace it.
    s.run(&["cloud", "whoami"])
        .ok()
        .stdout_has_all(&["password", "accepts"])
        .stderr_has("older gryt")
        .stderr_has(&format!("gryt cloud login --url {url}"));

    // The next login stores an API key instead, and removes the password kept for the other
    // server too, saying how to log in there again.
    login_password(&s, &url, "alice", ALICE_PW)
        .ok()
        .stderr_has(&format!(
            "removed the password an older gryt stored for {other_url}"
        ))
        .stderr_has(&format!("gryt cloud login --url {other_url}"));
    let bytes = std::fs::read(s.credentials()).expect("credentials");
    assert!(!contains_bytes(&bytes, ALICE_PW));
    assert!(
        !contains_bytes(&bytes, &other_url),
        "{}",
        read(&s.credentials())
    );
    assert_eq!(mode(&s.credentials()), 0o600);
    let out = s.run(&["cloud", "whoami"]);
    out.ok().stdout_has_all(&["API key gk_", "accepts"]);
    assert!(!out.stderr.contains("older gryt"), "{out:?}");

    s.assert_no_secret(&[ALICE_PW]);
}

/// A certificate authority and a server certificate for 127.0.0.1 and localhost, made here
/// and written as PEM files in `dir`: (the authority's certificate, the server's
/// certificate, its key).
fn test_pki(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "gryt client test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("server key");
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("params");
    let cert = params.signed_by(&key, &ca).expect("server certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).expect("write");
    std::fs::write(&paths.1, cert.pem()).expect("write");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write");
    paths
}

#[test]
fn an_untrusted_certificate_is_exit_1_with_the_fix_not_unreachable() {
    use support::server::ServerProcess;
    // The real `gryt server` over TLS with a certificate from an authority made here.
    let admin = Workspace::bare("admin");
    let db = admin.server_database();
    admin.add_server_user(&db, "alice", ALICE_PW).ok();
    let (ca, cert, key) = test_pki(admin.home());
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let server = ServerProcess::start(
        &admin,
        &["--database", &db, "--tls-cert", &cert, "--tls-key", &key],
    );
    let url = server.url.clone();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    // Not trusted (the system's authorities only): exit 1 naming the certificate and the
    // fix, not "unreachable" (4); nothing stored.
    let mut s = session();
    login_password(&s, &url, "alice", ALICE_PW)
        .err(
            1,
            &[
                "certificate is not trusted",
                "authority this machine does not trust",
            ],
        )
        .hint("SSL_CERT_FILE");
    assert!(!s.credentials().exists());

    // Trusted through the documented fix: the login and the commands after it work.
    s.set_env("SSL_CERT_FILE", &ca.display().to_string());
    login_password(&s, &url, "alice", ALICE_PW).ok();
    s.run(&["cloud", "whoami"]).ok().stdout_has("accepts");
    s.run(&["team", "create", "tls-team"]).ok();

    // The same login without the fix: whoami says what is wrong.
    let other = session();
    std::fs::create_dir_all(other.config_dir()).expect("mkdir");
    std::fs::set_permissions(other.config_dir(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");
    for f in ["credentials", "config"] {
        std::fs::copy(s.config_dir().join(f), other.config_dir().join(f)).expect("copy");
    }
    other
        .run(&["cloud", "whoami"])
        .fails(1, &["certificate is not trusted"])
        .stdout_has("untrusted");
    let v = other.run(&["--json", "cloud", "whoami"]);
    assert_eq!(v.code, 1, "{v:?}");
    assert_eq!(v.json()["server"], "untrusted", "{v:?}");
    drop(server);
    s.assert_no_secret(&[ALICE_PW]);
    other.assert_no_secret(&[ALICE_PW]);
}
