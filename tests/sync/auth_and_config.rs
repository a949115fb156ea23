//! Must show 7 and authentication: the reference client's config keys (`gryt_url`,
//! `api_key_id`, `api_key_secret`, `execution_mode`) work in `.gryt/config` or the global
//! config, with the secret read from the credentials file in the config dir; a secret in
//! `.gryt/config` (where the reference client kept it, in plain text) is refused clearly.
//! HMAC (API key) and Basic (password) both work end to end.

use super::harness::{join, password_of, Cloud, Workspace};
use std::os::unix::fs::PermissionsExt;

fn mode_of(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// A server with alice (the team owner) and bob, and the team's id.
fn server() -> (Cloud, String) {
    let cloud = Cloud::start();
    cloud.add_user("alice");
    cloud.add_user("bob");
    let team = cloud.make_team("alice", "keys", &["bob"]);
    (cloud, team)
}

#[test]
fn hmac_with_keys_in_the_global_config_and_the_secret_in_the_credentials_file() {
    let (cloud, team) = server();
    let (key_id, secret) = cloud.api_key("bob");
    let d = Workspace::bare("bob-ci");
    d.run(&["init"]).ok();
    d.run(&["config", "--global", "gryt_url", &cloud.url()])
        .ok();
    d.run(&["config", "--global", "api_key_id", &key_id]).ok();
    let out = d.run(&["config", "--global", "api_key_secret", &secret]);
    out.ok().stdout_has("credentials");
    d.run(&["config", "--global", "execution_mode", "cloud"])
        .ok();
    d.run(&["config", "team", &team]).ok();
    d.run(&["config", "project", "default"]).ok();

    // The secret lives only in the credentials file, mode 0600; never shown.
    let creds = d.config_dir().join("credentials");
    assert!(std::fs::read_to_string(&creds)
        .expect("credentials")
        .contains(&secret));
    assert_eq!(mode_of(&creds), 0o600);
    let global = std::fs::read_to_string(d.config_dir().join("config")).expect("config");
    assert!(
        !global.contains(&secret) && global.contains(&key_id),
        "{global}"
    );
    let shown = d.run(&["config"]);
    shown.ok();
    assert!(!shown.stdout.contains(&secret), "{shown:?}");

    // Cloud mode from the global config: the change is pushed as it is made, signed with
    // HMAC as bob (the key's owner).
    d.run(&["generation", "new", "v7.0.0", "-d", "Signed"]).ok();
    let g = cloud.generation("alice", &team, "v7.0.0");
    assert_eq!(g["created_by"], "bob");
    d.run(&["sync", "pull"]).ok();
    d.run(&["sync", "status"]).ok().stdout_has("Synced: 1");

    // A wrong secret is refused by the server: a clear error, not a crash.
    d.run(&["config", "--global", "api_key_secret", "not-the-secret"])
        .ok();
    d.run(&["sync", "pull"]).fails(1, &["credentials"]);
}

#[test]
fn reference_keys_in_repo_config_work_with_the_secret_from_the_config_dir() {
    let (cloud, team) = server();
    let (key_id, secret) = cloud.api_key("alice");
    let d = Workspace::bare("alice");
    d.run(&["init"]).ok();
    // .gryt/config as the reference client writes it, minus the secret (plus the project).
    let repo_config = d.gryt_dir().join("config");
    std::fs::write(
        &repo_config,
        format!(
            "gryt_url: {}\napi_key_id: {key_id}\nexecution_mode: cloud\nteam: {team}\nproject: default\n",
            cloud.url()
        ),
    )
    .expect("write .gryt/config");
    d.run(&["config", "--global", "api_key_secret", &secret])
        .ok();
    // The shared keys are read from the repository; the key id is personal: ignored there,
    // with a warning naming the file.
    let out = d.run(&["config", "--json"]);
    out.ok()
        .stderr_has("ignoring 'api_key_id'")
        .stderr_has(".gryt/config");
    let cfg = out.json();
    assert_eq!(cfg["config"]["gryt_url"]["source"], "repository", "{cfg:#}");
    assert!(cfg["config"]["api_key_id"].is_null(), "{cfg:#}");
    assert_eq!(
        cfg["config"]["execution_mode"]["source"], "repository",
        "{cfg:#}"
    );
    assert_eq!(
        cfg["config"]["api_key_secret"]["source"], "credentials",
        "{cfg:#}"
    );
    assert_eq!(
        cfg["config"]["api_key_secret"]["value"], "********",
        "{cfg:#}"
    );
    // An unbound secret is not sent to a URL only the repository names.
    d.run(&["sync", "pull"]).fails(1, &["Not logged in to"]);
    // Logging in with the key binds it to this server.
    d.run_with(
        &[
            "cloud",
            "login",
            "--url",
            &cloud.url(),
            "--key-id",
            &key_id,
            "--secret-key-stdin",
        ],
        &[],
        Some(&format!("{secret}\n")),
    )
    .ok();

    d.run(&["generation", "new", "v7.1.0"]).ok();
    d.add_change("v7.1.0", "FEAT-1", "add", "Keys");
    let g = cloud.generation("alice", &team, "v7.1.0");
    assert_eq!(g["created_by"], "alice");
    assert_eq!(g["changes"][0]["id"], "FEAT-1");

    // The reference client also kept the secret in .gryt/config: gryt refuses to read it
    // there, says where it belongs, and sends nothing.
    let text = std::fs::read_to_string(&repo_config).expect("read");
    std::fs::write(&repo_config, format!("{text}api_key_secret: {secret}\n")).expect("write");
    let out = d.run(&["generation", "new", "v7.2.0"]);
    out.fails(
        1,
        &["holds the secret 'api_key_secret'", "credentials file"],
    )
    .stderr_has("gryt config --global api_key_secret");
    assert!(!out.stderr.contains(&secret), "{out:?}");
    d.run(&["sync", "push"]).fails(1, &["api_key_secret"]);
    assert_eq!(cloud.generations("alice", &team).len(), 1);
    // Once it is removed there, everything works again.
    std::fs::write(&repo_config, text).expect("write");
    d.run(&["generation", "new", "v7.2.0"]).ok();
    assert_eq!(cloud.generations("alice", &team).len(), 2);
}

#[test]
fn basic_auth_with_username_and_password_and_a_wrong_password_is_refused() {
    let (cloud, team) = server();
    // Logged in (an API key in the credentials file), with the password in the
    // environment, which gryt sends instead (HTTP Basic) to the user's own server.
    let d = join(&cloud, "bob", &team);
    let creds = d.config_dir().join("credentials");
    assert_eq!(mode_of(&creds), 0o600);
    let right = [("GRYT_PASSWORD", password_of("bob"))];
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let who = d.run_with(&["cloud", "whoami", "--json"], &right, None);
    assert_eq!(who.ok().json()["auth"], "password", "{who:?}");
    d.run_with(&["generation", "new", "v7.3.0"], &right, None)
        .ok();
    d.run_with(&["sync", "push"], &right, None)
        .ok()
        .stdout_has("1 created");
    assert_eq!(
        cloud.generation("alice", &team, "v7.3.0")["created_by"],
        "bob"
    );
    let wrong = [("GRYT_PASSWORD", "wrong-password")];
    d.run_with(&["sync", "pull"], &wrong, None)
        .fails(1, &["credentials"]);
    // Local work still goes on in hybrid mode without reaching the server.
    d.run_with(&["generation", "new", "v7.4.0"], &wrong, None)
        .ok();
    assert_eq!(cloud.generations("alice", &team).len(), 1);
}
