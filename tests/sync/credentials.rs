//! Credentials bound to their server, identity from the login, a project per repository
//! (issues #13 item 1, #10 items 2 and 4): a committed `.gryt/config` cannot send the
//! user's credentials to a server of its choosing, cannot make a teammate someone else, and
//! two repositories never share releases by accident.

use super::harness::{password_of, Cloud, Fake, Workspace};

fn no_authorization(requests: &[String]) {
    for r in requests {
        assert!(
            !r.to_ascii_lowercase().contains("\nauthorization:")
                && !r.to_ascii_lowercase().contains("\nx-api-key"),
            "credentials were sent: {r}"
        );
    }
}

#[test]
fn a_repository_naming_another_server_gets_no_credentials() {
    let cloud = Cloud::start();
    cloud.add_user("alice");
    let (key_id, secret) = cloud.api_key("alice");
    let thief = Fake::unauthorized();
    let d = Workspace::bare("alice");
    d.run(&["init"]).ok();
    d.login(&cloud.url()).ok().stdout_has("as alice");
    // The committed configuration of a cloned repository names another server.
    std::fs::write(
        d.gryt_dir().join("config"),
        format!(
            "gryt_url: {}\nexecution_mode: cloud\nproject: app\n",
            thief.url()
        ),
    )
    .expect("write .gryt/config");
    let env_creds = [
        ("GRYT_API_KEY_ID", key_id.as_str()),
        ("GRYT_API_KEY_SECRET", secret.as_str()),
    ];
    let env_password = [("GRYT_PASSWORD", "alice-secret-pw")];
    for vars in [&[][..], &env_creds[..], &env_password[..]] {
        // A read works offline and says why it did not sync.
        d.run_with(&["generation", "list"], vars, None)
            .ok()
            .stderr_has("Not logged in to")
            .stderr_has("named by the repository's .gryt/config");
        // A sync is refused with the fix.
        d.run_with(&["sync", "pull"], vars, None)
            .fails(1, &["Not logged in to", &thief.url()])
            .hint(&format!("gryt cloud login --url {}", thief.url()));
    }
    // Nothing at all reached the other server, credentials least of all.
    let seen = thief.raw_requests();
    no_authorization(&seen);
    assert!(seen.is_empty(), "{seen:#?}");
    let creds = std::fs::read_to_string(d.config_dir().join("credentials")).expect("creds");
    assert!(!creds.contains(&thief.url()), "{creds}");

    // Naming the real server the user logged in to works.
    std::fs::write(
        d.gryt_dir().join("config"),
        format!("gryt_url: {}\nproject: app\n", cloud.url()),
    )
    .expect("write .gryt/config");
    d.run(&["generation", "new", "v1.0.0"]).ok();
    d.run(&["sync", "push"]).ok();
}

#[test]
fn a_repository_server_works_after_logging_in_to_it() {
    let cloud = Cloud::start();
    cloud.add_user("bob");
    let d = Workspace::bare("bob");
    d.run(&["init"]).ok();
    std::fs::write(
        d.gryt_dir().join("config"),
        format!("gryt_url: {}\nproject: app\n", cloud.url()),
    )
    .expect("write .gryt/config");
    // Unbound credentials (older versions' flat credentials file, the environment) are
    // not sent to a URL only the repository names.
    // (gryt no longer writes a password; the flat file is written here as an older gryt
    // left it.)
    d.run(&["config", "--global", "username", "bob"]).ok();
    std::fs::write(
        d.credentials(),
        format!("password: {}\n", password_of("bob")),
    )
    .expect("write an older credentials file");
    d.run(&["sync", "pull"])
        .fails(1, &["Not logged in to"])
        .hint("gryt cloud login --url");
    d.run_with(
        &["sync", "pull"],
        &[("GRYT_PASSWORD", &password_of("bob"))],
        None,
    )
    .fails(1, &["Not logged in to"])
    .hint("gryt cloud login --url");
    d.login(&cloud.url()).ok();
    d.run(&["generation", "new", "v1.0.0"]).ok();
    d.run(&["sync", "push"]).ok();
    d.run(&["sync", "pull"]).ok();
    let who = d.json(&["cloud", "whoami"]);
    assert_eq!(who["username"], "bob", "{who:#}");
    assert_eq!(who["server"], "accepted", "{who:#}");
}

#[test]
fn a_repository_that_moves_the_server_is_reported_not_followed() {
    let first = Cloud::start();
    let second = Cloud::start();
    for c in [&first, &second] {
        c.add_user("alice");
    }
    let d = Workspace::bare("alice");
    d.run(&["init"]).ok();
    d.run(&["config", "project", "app"]).ok();
    d.login(&second.url()).ok();
    d.login(&first.url()).ok();
    d.run(&["generation", "new", "v1.0.0"]).ok();
    d.run(&["sync", "push"]).ok();
    // A pulled commit changes the repository's server.
    d.run(&["config", "gryt_url", &second.url()]).ok();
    d.run(&["sync", "push"])
        .fails(1, &[&first.url(), &second.url(), "nothing was sent"])
        .hint("gryt cloud bind");
    let on_second = second.get("alice", "/api/v1/generations?project=app");
    assert_eq!(on_second["generations"], serde_json::json!([]));
    // The user's own choice (global config, GRYT_URL) is followed.
    d.run(&["config", "--unset", "gryt_url"]).ok();
    d.run(&["sync", "pull"]).ok();
    // A deliberate move: bind, then sync with the new server.
    d.run(&["config", "gryt_url", &second.url()]).ok();
    d.run(&["cloud", "bind"]).ok().stdout_has("now syncs with");
    // Bound: the binding no longer stops the sync (this test's second server holds other
    // data, which sync's own checks then judge).
    let out = d.run(&["sync", "pull"]);
    assert!(!out.stderr.contains("now names"), "{out:?}");
}

#[test]
fn identity_comes_from_the_login_never_from_the_repository() {
    let cloud = Cloud::start();
    cloud.add_user("alice");
    cloud.add_user("bob");
    let team = cloud.make_team("alice", "app-team", &["bob"]);
    let origin = tempfile::Builder::new()
        .prefix("gryt-origin-")
        .tempdir()
        .expect("temp dir");
    let bare = origin.path().join("app.git").display().to_string();

    let alice = Workspace::bare("alice");
    alice.git(&["init", "-q", "--bare", &bare]);
    alice.git(&["clone", "-q", &bare, "."]);
    alice
        .run(&["init"])
        .ok()
        .stdout_has("Project: app (from the git remote origin");
    alice.login(&cloud.url()).ok();
    // What the README used to say writes nothing to the shared repository.
    alice
        .run(&["config", "username", "alice"])
        .fails(2, &["personal"])
        .hint("--global");
    alice.run(&["config", "team", &team]).ok();
    alice.run(&["generation", "new", "v1.0.0"]).ok();
    alice.add_change("v1.0.0", "FEAT-1", "add", "Login");
    alice.run(&["sync", "push"]).ok();
    // An older repository config that still names its author.
    let cfg_path = alice.gryt_dir().join("config");
    let mut committed = std::fs::read_to_string(&cfg_path).expect("config");
    assert!(committed.contains("project: app"), "{committed}");
    committed.push_str("username: alice\n");
    std::fs::write(&cfg_path, committed).expect("write config");
    alice.git(&["add", "-A"]);
    alice.git(&["commit", "-q", "-m", "release contract"]);
    alice.git(&["push", "-q", "origin", "HEAD"]);

    // bob (whose login name differs from his OS user) works in a clone.
    let bob = Workspace::bare("bob");
    bob.git(&["clone", "-q", &bare, "."]);
    let robert = [("USER", "robert")];
    bob.run_with(
        &[
            "cloud",
            "login",
            "--url",
            &cloud.url(),
            "--username",
            "bob",
            "--password-stdin",
        ],
        &robert,
        Some(&format!("{}\n", password_of("bob"))),
    )
    .ok();
    let who = bob.run_with(&["cloud", "whoami", "--json"], &robert, None);
    who.ok().stderr_has("ignoring 'username'");
    let who = who.json();
    assert_eq!(who["username"], "bob", "{who:#}");
    assert_eq!(who["server_username"], "bob", "{who:#}");
    bob.run_with(&["sync", "pull"], &robert, None).ok();
    let ev = bob.run_with(
        &[
            "evolution",
            "start",
            "v1.0.0",
            "--change",
            "FEAT-1",
            "--json",
        ],
        &robert,
        None,
    );
    ev.ok();
    let tag = ev.json()["evolution"]["tag"]
        .as_str()
        .expect("tag")
        .to_string();
    bob.run_with(
        &["evolution", "complete", &tag, "--status", "pass"],
        &robert,
        None,
    )
    .ok();
    bob.run_with(&["sync", "push"], &robert, None).ok();
    let list = bob.run_with(&["evolution", "list", "--json"], &robert, None);
    list.ok();
    let text = list.stdout.clone();
    assert!(!text.contains("alice"), "{text}");
    assert!(!text.contains("robert"), "{text}");
    let g = cloud.get(
        "alice",
        &format!("/api/v1/generations?team_id={team}&project=app"),
    )["generations"][0]
        .clone();
    let evs = cloud.evolutions("alice", &g["id"]);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    let owner = evs[0].to_string();
    assert!(owner.contains("\"bob\""), "{owner}");
    assert!(!owner.contains("alice"), "{owner}");
}

#[test]
fn two_repositories_on_one_account_never_see_each_others_releases() {
    let cloud = Cloud::start();
    cloud.add_user("alice");
    let make = |dir: &str| {
        let d = Workspace::bare("alice");
        let root = d.home().join("work").join(dir);
        std::fs::create_dir_all(&root).expect("dir");
        d.run(&["init", dir]).ok();
        d.login(&cloud.url()).ok();
        (d, dir.to_string())
    };
    let (web, _) = make("web");
    let (api, _) = make("api");
    let in_dir = |d: &Workspace, dir: &str, args: &[&str]| {
        let mut a = vec!["-C", dir];
        a.extend_from_slice(args);
        d.run(&a)
    };
    in_dir(&web, "web", &["generation", "new", "v1.0.0", "-d", "web"]).ok();
    in_dir(&web, "web", &["sync", "push"]).ok();
    in_dir(&api, "api", &["generation", "new", "v2.0.0", "-d", "api"]).ok();
    in_dir(&api, "api", &["sync", "push"]).ok();
    in_dir(&api, "api", &["sync", "pull"]).ok();
    in_dir(&web, "web", &["sync", "pull"]).ok();
    let list = |d: &Workspace, dir: &str| {
        let out = in_dir(d, dir, &["generation", "list", "--json"]);
        out.ok();
        out.stdout.clone()
    };
    let (w, a) = (list(&web, "web"), list(&api, "api"));
    assert!(w.contains("v1.0.0") && !w.contains("v2.0.0"), "{w}");
    assert!(a.contains("v2.0.0") && !a.contains("v1.0.0"), "{a}");

    // A repository without a project (made before `gryt init` recorded one) is refused on
    // its first sync, with the fix, instead of merging with someone else's releases.
    std::fs::write(web.root().join("web/.gryt/config"), "").expect("write config");
    in_dir(&web, "web", &["sync", "pull"])
        .fails(1, &["no project"])
        .hint("gryt config project NAME");
}
