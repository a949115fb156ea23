//! End-to-end tests of `gryt cloud ...` and `gryt team ...`: the real `gryt` binary, with a
//! cleared environment and a temporary HOME and config dir, against a real gryt server
//! started in-process on 127.0.0.1:0.
//!
//! Every command's stdout and stderr is recorded by the [`Session`], which checks at the end
//! that no secret (password, API key secret) appeared anywhere, except in the answer of
//! `gryt cloud api-keys create`, whose purpose is to show the new secret once.

use gryt_server::TestServer;
use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const ALICE_PW: &str = "alice-correct-horse-1";
const BOB_PW: &str = "bob-battery-staple-2";

struct Out {
    args: Vec<String>,
    code: i32,
    stdout: String,
    stderr: String,
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gryt {:?}\n--- exit code: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

impl Out {
    #[track_caller]
    fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success\n{self:?}");
        self
    }

    /// Exit `code` with an "Error: ..." on stderr naming every needle.
    #[track_caller]
    fn err(&self, code: i32, needles: &[&str]) -> &Self {
        assert_eq!(self.code, code, "expected exit code {code}\n{self:?}");
        assert!(
            self.stderr.contains("Error: "),
            "expected an error on stderr\n{self:?}"
        );
        for n in needles {
            assert!(self.stderr.contains(n), "stderr lacks {n:?}\n{self:?}");
        }
        self
    }

    #[track_caller]
    fn stdout_has(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(self.stdout.contains(n), "stdout lacks {n:?}\n{self:?}");
        }
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{self:?}"))
    }
}

/// One user's machine: a HOME, a config dir, and every output it produced.
struct Session {
    home: tempfile::TempDir,
    /// Extra environment variables for every command.
    env: Vec<(String, String)>,
    /// (output, may show secrets) for every command run.
    log: RefCell<Vec<(String, bool)>>,
}

impl Session {
    fn new() -> Session {
        Session {
            home: tempfile::tempdir().expect("temp HOME"),
            env: Vec::new(),
            log: RefCell::new(Vec::new()),
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn config_dir(&self) -> PathBuf {
        self.home().join("config")
    }

    fn credentials(&self) -> PathBuf {
        self.config_dir().join("credentials")
    }

    fn global_config(&self) -> PathBuf {
        self.config_dir().join("config")
    }

    fn read(&self, path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("GRYT_CONFIG_DIR", self.config_dir())
            .env("NO_COLOR", "1")
            .env("LANG", "C")
            .current_dir(self.home());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn finish(&self, mut c: Command, args: &[&str], stdin: Option<&str>, secret_ok: bool) -> Out {
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("run gryt");
        {
            let mut pipe = child.stdin.take().expect("stdin");
            if let Some(text) = stdin {
                // gryt may exit before reading (a usage error): a closed pipe is fine.
                match pipe.write_all(text.as_bytes()) {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                        panic!("write stdin: {e}")
                    }
                    _ => {}
                }
            }
        }
        let o = child.wait_with_output().expect("wait for gryt");
        let out = Out {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        self.log.borrow_mut().push((format!("{out:?}"), secret_ok));
        out
    }

    /// Runs `gryt ARGS` from HOME with `stdin` (closed when `None`).
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Out {
        self.run_in(self.home(), args, stdin)
    }

    fn run_in(&self, dir: &Path, args: &[&str], stdin: Option<&str>) -> Out {
        let mut c = self.command(env!("CARGO_BIN_EXE_gryt"));
        c.args(args).current_dir(dir);
        self.finish(c, args, stdin, false)
    }

    /// Runs `gryt ARGS` under `umask`, through `sh -c 'umask U; exec gryt ...'`.
    fn run_umask(&self, dir: &Path, umask: &str, args: &[&str], stdin: Option<&str>) -> Out {
        let mut c = self.command("sh");
        c.arg("-c")
            .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_gryt"))
            .args(args)
            .current_dir(dir);
        self.finish(c, args, stdin, false)
    }

    /// `gryt --json cloud api-keys create --name NAME`: (key id, secret).
    fn create_key(&self, name: &str) -> (String, String) {
        let args = ["--json", "cloud", "api-keys", "create", "--name", name];
        let mut c = self.command(env!("CARGO_BIN_EXE_gryt"));
        c.args(args);
        let out = self.finish(c, &args, None, true);
        out.ok();
        let v = out.json();
        (
            v["key_id"].as_str().expect("key_id").to_string(),
            v["secret"].as_str().expect("secret").to_string(),
        )
    }

    fn login_password(&self, url: &str, user: &str, password: &str) -> Out {
        self.run(
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
            Some(&format!("{password}\n")),
        )
    }

    fn login_key(&self, url: &str, key_id: &str, secret: &str) -> Out {
        self.run(
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
            Some(&format!("{secret}\n")),
        )
    }

    /// No output recorded so far (other than an api-keys create answer) shows a secret.
    #[track_caller]
    fn assert_no_secret(&self, secrets: &[&str]) {
        for (out, secret_ok) in self.log.borrow().iter() {
            if *secret_ok {
                continue;
            }
            for s in secrets {
                assert!(!out.contains(s), "a secret appears in output:\n{out}");
            }
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains_bytes(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn server_with_users(users: &[(&str, &str)]) -> TestServer {
    let server = TestServer::start_sqlite().expect("start the test server");
    for (u, p) in users {
        server.add_user(u, p).expect("add user");
    }
    server
}

#[test]
fn signup_then_login_with_password_and_whoami() {
    let server = server_with_users(&[]);
    let url = server.url();
    let s = Session::new();

    s.run(
        &[
            "cloud",
            "signup",
            "--url",
            &url,
            "--username",
            "alice",
            "--password-stdin",
        ],
        Some(&format!("{ALICE_PW}\n")),
    )
    .ok()
    .stdout_has(&["Created account alice"]);
    // Signup stores nothing: logging in is a separate, checked step.
    assert!(!s.credentials().exists());
    // A second signup of the same name is refused by the server.
    s.run(
        &[
            "cloud",
            "signup",
            "--url",
            &url,
            "--username",
            "alice",
            "--password-stdin",
        ],
        Some("another-password-9\n"),
    )
    .err(1, &["already exists"]);

    s.login_password(&url, "alice", ALICE_PW).ok().stdout_has(&[
        "Logged in to",
        "alice",
        "password",
    ]);
    assert_eq!(mode(&s.credentials()), 0o600);
    let creds = s.read(&s.credentials());
    assert!(creds.contains(ALICE_PW), "{creds}");
    // The login is bound to its server, with the account the server knows.
    assert!(
        creds.contains(&url) && creds.contains("account: alice"),
        "{creds}"
    );
    let global = s.read(&s.global_config());
    assert!(global.contains(&url), "{global}");
    assert!(!global.contains(ALICE_PW), "{global}");

    s.run(&["cloud", "whoami"], None)
        .ok()
        .stdout_has(&[&url, "alice", "password", "accepts"]);
    let v = s.run(&["--json", "cloud", "whoami"], None).ok().json();
    assert_eq!(v["server"], "accepted");
    assert_eq!(v["auth"], "password");
    assert_eq!(v["username"], "alice");
    assert_eq!(v["url"], url.as_str());

    // Once logged in, --url may be left out: the stored gryt_url is used.
    s.run(
        &["cloud", "login", "--username", "alice", "--password-stdin"],
        Some(&format!("{ALICE_PW}\n")),
    )
    .ok();

    s.assert_no_secret(&[ALICE_PW]);
}

#[test]
fn wrong_password_and_bad_keys_are_refused_and_nothing_is_stored() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let url = server.url();
    let s = Session::new();

    s.login_password(&url, "alice", "not-the-password")
        .err(1, &["Login failed", "refused", "nothing was stored"]);
    s.login_password(&url, "nobody", ALICE_PW)
        .err(1, &["Login failed"]);
    s.login_key(&url, "gk_0000000000000000", "feedfacefeedface")
        .err(1, &["Login failed", "API key"]);
    // A real key id with the wrong secret.
    let real = server.create_api_key("alice", "ci", None).expect("key");
    s.login_key(&url, &real.key_id, "0123456789abcdef0123456789abcdef")
        .err(1, &["Login failed"]);
    // The secret on argv is accepted, and refused all the same when wrong.
    s.run(
        &[
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
        ],
        None,
    )
    .err(1, &["Login failed"]);

    assert!(!s.credentials().exists(), "credentials written");
    assert!(!s.global_config().exists(), "global config written");
    assert!(files_under(&s.config_dir()).is_empty());
    s.run(&["cloud", "whoami"], None)
        .err(1, &["gryt cloud login --url"]);

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
    let s = Session::new();
    s.login_password(&url, "alice", ALICE_PW).ok();

    // The text answer shows the id and the secret once.
    let args = ["cloud", "api-keys", "create", "--name", "laptop"];
    let mut c = s.command(env!("CARGO_BIN_EXE_gryt"));
    c.args(args);
    let text = s.finish(c, &args, None, true);
    text.ok()
        .stdout_has(&["Key id:  gk_", "Secret:  ", "Expires: never"]);
    assert!(text.stderr.contains("shown only this once"), "{text:?}");

    let (ci_id, ci_secret) = s.create_key("ci");
    let (other_id, other_secret) = s.create_key("other");
    assert_ne!(ci_id, other_id);
    s.run(
        &[
            "cloud",
            "api-keys",
            "create",
            "--name",
            "x",
            "--expires-in-days",
            "0",
        ],
        None,
    )
    .err(1, &["expires_in_days"]);

    s.run(&["cloud", "api-keys", "list"], None)
        .ok()
        .stdout_has(&["laptop", &ci_id, &other_id, "active"]);

    s.login_key(&url, &ci_id, &ci_secret)
        .ok()
        .stdout_has(&["Logged in", &ci_id]);
    // The key replaced the password: the credentials file holds the key's secret only.
    let creds = s.read(&s.credentials());
    assert!(
        creds.contains(&ci_secret) && !creds.contains(ALICE_PW),
        "{creds}"
    );
    assert_eq!(mode(&s.credentials()), 0o600);
    assert!(creds.contains(&ci_id), "{creds}");
    let global = s.read(&s.global_config());
    assert!(!global.contains(&ci_secret), "{global}");

    s.run(&["cloud", "whoami"], None).ok().stdout_has(&[
        "API key",
        &ci_id,
        "credentials file",
        "accepts",
        "Account: alice",
    ]);
    let v = s.run(&["--json", "cloud", "whoami"], None).ok().json();
    assert_eq!(v["auth"], "api-key");
    assert_eq!(v["api_key_id"], ci_id.as_str());
    assert_eq!(v["server"], "accepted");
    // The server names the key's owner (GET /api/v1/accounts/me).
    assert_eq!(v["server_username"], "alice");

    // An API key cannot make keys or revoke another key: that needs the password.
    s.run(&["cloud", "api-keys", "create", "--name", "minted"], None)
        .err(1, &["API key cannot create API keys"]);
    s.run(&["cloud", "api-keys", "revoke", &other_id], None)
        .err(1, &["API key cannot revoke another API key"]);
    s.login_password(&url, "alice", ALICE_PW).ok();
    s.run(&["cloud", "api-keys", "revoke", &other_id], None)
        .ok()
        .stdout_has(&["Revoked", &other_id]);
    s.run(&["cloud", "api-keys", "revoke", "gk_doesnotexist"], None)
        .err(1, &["not found"]);
    s.login_key(&url, &ci_id, &ci_secret).ok();
    let v = s
        .run(&["--json", "cloud", "api-keys", "list"], None)
        .ok()
        .json();
    let keys = v["api_keys"].as_array().expect("api_keys");
    assert_eq!(keys.len(), 3);
    for k in keys {
        assert!(k.get("secret").is_none(), "a listed key has a secret: {k}");
        let revoked = !k["revoked_at"].is_null();
        assert_eq!(revoked, k["key_id"] == other_id.as_str(), "{k}");
    }
    s.login_key(&url, &other_id, &other_secret)
        .err(1, &["Login failed", "revoked"]);

    // Revoking the key in use: the server refuses it from then on.
    let out = s.run(&["cloud", "api-keys", "revoke", &ci_id], None);
    out.ok();
    assert!(out.stderr.contains("log in again"), "{out:?}");
    s.run(&["cloud", "whoami"], None)
        .err(1, &["refused", "gryt cloud login"])
        .stdout_has(&["refuses"]);
    s.run(&["team", "list"], None)
        .err(1, &["refused", "gryt cloud login"]);

    s.assert_no_secret(&[ALICE_PW, &ci_secret, &other_secret]);
}

#[test]
fn credentials_file_is_0600_under_any_umask_and_never_in_the_repository() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let url = server.url();
    let key = server.create_api_key("alice", "ci", None).expect("key");
    for umask in ["000", "022"] {
        let s = Session::new();
        let repo = s.home().join("project");
        std::fs::create_dir_all(&repo).expect("mkdir");
        s.run_in(&repo, &["init"], None).ok();
        // Log in with a password from inside the repository...
        s.run_umask(
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
        s.run_umask(
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
        assert!(s.read(&s.credentials()).contains(&key.secret));
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
        s.run_in(&repo, &["cloud", "whoami"], None)
            .ok()
            .stdout_has(&["accepts"]);
        s.assert_no_secret(&[ALICE_PW, &key.secret]);
    }
}

#[test]
fn logout_removes_the_secrets() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let url = server.url();
    let key = server.create_api_key("alice", "ci", None).expect("key");
    let s = Session::new();
    s.login_key(&url, &key.key_id, &key.secret).ok();
    assert!(s.read(&s.credentials()).contains(&key.secret));

    s.run(&["cloud", "logout"], None)
        .ok()
        .stdout_has(&["Logged out", "the login for", &url]);
    let creds = s.read(&s.credentials());
    assert!(!creds.contains(&key.secret), "{creds}");
    assert!(!creds.contains("api_key_secret"), "{creds}");
    let global = s.read(&s.global_config());
    assert!(!global.contains(&key.key_id), "{global}");
    // The server URL stays, so logging in again needs no --url.
    assert!(global.contains(&url), "{global}");

    s.run(&["cloud", "whoami"], None)
        .err(1, &["Not logged in"])
        .stdout_has(&["not logged in"]);
    s.run(&["team", "list"], None)
        .err(1, &["Not logged in", "gryt cloud login"]);
    s.run(&["cloud", "logout"], None)
        .ok()
        .stdout_has(&["No stored credentials"]);

    // A password login, then logout, removes the password too.
    s.login_password(&url, "alice", ALICE_PW).ok();
    assert!(s.read(&s.credentials()).contains(ALICE_PW));
    s.run(&["cloud", "logout"], None).ok();
    assert!(!s.read(&s.credentials()).contains(ALICE_PW));

    s.assert_no_secret(&[ALICE_PW, &key.secret]);
}

#[test]
fn teams_create_list_members_add_and_remove() {
    let server = server_with_users(&[("alice", ALICE_PW), ("bob", BOB_PW)]);
    let url = server.url();
    let alice = Session::new();
    alice.login_password(&url, "alice", ALICE_PW).ok();

    let out = alice.run(
        &["team", "create", "core", "--description", "The core team"],
        None,
    );
    out.ok().stdout_has(&["Created team core"]);
    let team_id = out
        .stdout
        .lines()
        .last()
        .expect("a team id line")
        .trim()
        .to_string();
    assert!(uuid::Uuid::parse_str(&team_id).is_ok(), "{out:?}");
    alice
        .run(&["team", "create", "core"], None)
        .err(1, &["already exists"]);

    alice.run(&["team", "list"], None).ok().stdout_has(&[
        &team_id,
        "core",
        "alice",
        "The core team",
    ]);
    let v = alice.run(&["--json", "team", "list"], None).ok().json();
    assert_eq!(v["teams"][0]["team_id"], team_id.as_str());
    assert_eq!(v["teams"][0]["member_count"], 1);

    alice
        .run(&["team", "members", &team_id], None)
        .ok()
        .stdout_has(&["alice", "owner"]);
    alice
        .run(&["team", "add-member", &team_id, "bob"], None)
        .ok()
        .stdout_has(&["Added bob"]);
    alice
        .run(&["team", "add-member", &team_id, "bob"], None)
        .err(1, &["already"]);
    alice
        .run(&["team", "add-member", &team_id, "nobody"], None)
        .err(1, &["not found"]);
    // The team's name works where an id is expected.
    let v = alice
        .run(&["--json", "team", "members", "core"], None)
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
    let mut bob = Session::new();
    bob.env = vec![
        ("GRYT_URL".into(), url.clone()),
        ("GRYT_USERNAME".into(), "bob".into()),
        ("GRYT_PASSWORD".into(), BOB_PW.into()),
    ];
    bob.run(&["team", "list"], None)
        .ok()
        .stdout_has(&[&team_id]);
    bob.run(&["team", "add-member", &team_id, "alice"], None)
        .err(1, &["owner"]);

    alice
        .run(&["team", "remove-member", "core", "bob"], None)
        .ok()
        .stdout_has(&["Removed bob"]);
    alice.run(&["team", "members", &team_id], None).ok();
    let v = alice
        .run(&["--json", "team", "members", &team_id], None)
        .ok()
        .json();
    assert_eq!(v["members"].as_array().expect("members").len(), 1);
    bob.run(&["team", "members", &team_id], None)
        .err(1, &["not found"]);
    alice
        .run(&["team", "members", "no-such-team"], None)
        .err(1, &["No team no-such-team"]);

    alice.assert_no_secret(&[ALICE_PW, BOB_PW]);
    bob.assert_no_secret(&[ALICE_PW, BOB_PW]);
}

#[test]
fn a_stopped_server_is_exit_code_4() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let url = server.url();
    let key = server.create_api_key("alice", "ci", None).expect("key");
    let s = Session::new();
    s.login_key(&url, &key.key_id, &key.secret).ok();
    let creds_before = s.read(&s.credentials());
    server.stop().expect("stop the server");

    s.run(&["cloud", "whoami"], None)
        .err(4, &["unreachable"])
        .stdout_has(&["cannot be reached"]);
    s.run(&["team", "list"], None).err(4, &["unreachable"]);
    s.run(&["cloud", "api-keys", "list"], None)
        .err(4, &["unreachable"]);
    s.run(&["team", "create", "t"], None)
        .err(4, &["unreachable"]);
    s.login_password(&url, "alice", ALICE_PW)
        .err(4, &["unreachable"]);
    s.run(
        &[
            "cloud",
            "signup",
            "--url",
            &url,
            "--username",
            "carol",
            "--password-stdin",
        ],
        Some("carol-password-3\n"),
    )
    .err(4, &["unreachable"]);
    // The failed login changed nothing.
    assert_eq!(s.read(&s.credentials()), creds_before);

    s.assert_no_secret(&[ALICE_PW, &key.secret, "carol-password-3"]);
}

#[test]
fn ci_credentials_from_the_environment_need_no_file() {
    let server = server_with_users(&[("alice", ALICE_PW)]);
    let key = server.create_api_key("alice", "ci", None).expect("key");
    let mut s = Session::new();
    s.env = vec![
        ("GRYT_URL".into(), server.url()),
        ("GRYT_API_KEY_ID".into(), key.key_id.clone()),
        ("GRYT_API_KEY_SECRET".into(), key.secret.clone()),
    ];

    s.run(&["cloud", "whoami"], None)
        .ok()
        .stdout_has(&[&key.key_id, "environment", "accepts"]);
    s.run(&["team", "create", "ci-team"], None).ok();
    s.run(&["team", "list"], None).ok().stdout_has(&["ci-team"]);
    s.run(&["cloud", "api-keys", "list"], None)
        .ok()
        .stdout_has(&[&key.key_id]);
    // Nothing was written to the config dir.
    assert!(files_under(&s.config_dir()).is_empty());

    // A wrong secret in the environment is refused with a hint to log in.
    s.env[2].1 = "wrong-secret-from-ci".into();
    s.run(&["team", "list"], None)
        .err(1, &["refused", "gryt cloud login"]);

    s.assert_no_secret(&[&key.secret, "wrong-secret-from-ci", ALICE_PW]);
}

#[test]
fn no_server_configured_is_a_clear_error() {
    let s = Session::new();
    for args in [
        &["cloud", "whoami"][..],
        &["team", "list"][..],
        &["cloud", "api-keys", "list"][..],
    ] {
        s.run(args, None)
            .err(1, &["gryt_url", "gryt cloud login --url"]);
    }
    s.run(
        &["cloud", "login", "--key-id", "k", "--secret-key", "s"],
        None,
    )
    .err(1, &["gryt cloud login --url"]);
    s.run(
        &[
            "cloud",
            "login",
            "--url",
            "ftp://example",
            "--password-stdin",
        ],
        Some("x\n"),
    )
    .err(2, &["Invalid gryt_url"]);
    assert!(files_under(&s.config_dir()).is_empty());
}
