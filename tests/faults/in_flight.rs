//! A promotion the server reports as still in flight (409 `idempotency_in_flight`: the first
//! attempt under that key is still being processed) is not a lost race: `gryt promote` asks
//! again under the same key and body, and when the server stays unsettled it exits 4 with the
//! promotion kept pending. `sync push` settles it later and creates the release tag on the
//! commit the promotion checked (not on whatever HEAD became); a re-run of `gryt promote`
//! completes a missing tag. Real git, real server, the proxy injecting the in-flight answers.

use super::harness::{join, Cloud, Workspace};
use super::harness::{Fault, Proxy};

const PROMOTE: &str = "POST /api/v1/generations/";

/// git in the developer's working directory (see `Workspace::git`), its stdout trimmed.
fn git(dev: &Workspace, args: &[&str]) -> String {
    dev.git(args).trim().to_string()
}

/// A developer whose workspace is a git repository with everything committed, and a
/// generation v4.0.0 with FEAT-1 proven on that commit.
fn proven_in_git(server: &Cloud, proxy: &Proxy) -> (Workspace, String) {
    let _ = server;
    let dev = join(&proxy.url(), "alice");
    git(&dev, &["init", "-q", "-b", "main"]);
    git(&dev, &["config", "user.name", "Alice"]);
    git(&dev, &["config", "user.email", "alice@example.com"]);
    dev.run(&["generation", "new", "v4.0.0"]).ok();
    dev.add_change("v4.0.0", "FEAT-1", "add", "Login");
    std::fs::write(dev.root().join("code.rs"), "fn main() {}\n").expect("write");
    git(&dev, &["add", "-A"]);
    git(&dev, &["commit", "-q", "-m", "release candidate"]);
    let checked = git(&dev, &["rev-parse", "HEAD"]);
    dev.prove_ending("v4.0.0", "FEAT-1", &[0, 4]);
    (dev, checked)
}

fn promote_bodies(proxy: &Proxy) -> Vec<String> {
    proxy
        .log()
        .iter()
        .filter(|s| s.line.starts_with(PROMOTE) && s.route().ends_with("/promote"))
        .map(|s| s.body.clone())
        .collect()
}

#[test]
fn in_flight_is_asked_again_with_the_same_key_and_then_promotes_with_its_tag() {
    let server = Cloud::with_users(&["alice"]);
    let proxy = Proxy::start(&server.url());
    let (dev, checked) = proven_in_git(&server, &proxy);
    proxy.reset_log();
    proxy.inject(PROMOTE, Fault::Problem(409, "idempotency_in_flight"), 2);
    let out = dev.run(&["promote", "v4.0.0"]);
    out.ok();
    assert!(out.stdout.contains("Promoted v4.0.0"), "{out:?}");
    assert!(out.stdout.contains("git push origin v4.0.0"), "{out:?}");
    // Three asks (two in flight, then the answer), each the same request.
    let bodies = promote_bodies(&proxy);
    assert_eq!(bodies.len(), 3, "{:#?}", proxy.log());
    assert!(bodies.iter().all(|b| b == &bodies[0]), "{bodies:#?}");
    assert!(bodies[0].contains(&checked), "{}", bodies[0]);
    assert_eq!(git(&dev, &["rev-parse", "v4.0.0^{commit}"]), checked);
}

#[test]
fn still_in_flight_is_kept_pending_and_settled_by_push_with_the_tag_on_the_checked_commit() {
    let server = Cloud::with_users(&["alice"]);
    let proxy = Proxy::start(&server.url());
    let (dev, checked) = proven_in_git(&server, &proxy);
    proxy.always(PROMOTE, Fault::Problem(409, "idempotency_in_flight"));
    let out = dev.run(&["promote", "v4.0.0"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("still processing"), "{out:?}");
    assert!(!out.stderr.contains("first promotion wins"), "{out:?}");
    assert_eq!(
        git(&dev, &["tag", "-l"]),
        "",
        "no tag before the server confirms"
    );
    let pending: Option<String> = rusqlite::Connection::open(dev.db())
        .expect("db")
        .query_row(
            "SELECT promote_key FROM generations WHERE version = 'v4.0.0'",
            [],
            |r| r.get(0),
        )
        .expect("row");
    assert!(pending.is_some(), "the promotion's key is kept");
    // Work goes on: HEAD moves past the checked commit.
    std::fs::write(dev.root().join("later.rs"), "// later\n").expect("write");
    git(&dev, &["add", "-A"]);
    git(&dev, &["commit", "-q", "-m", "later work"]);
    proxy.clear();
    let push = dev.run(&["sync", "push", "--json"]);
    push.ok();
    assert_eq!(push.json()["push"]["tagged"][0], "v4.0.0", "{push:?}");
    assert_eq!(git(&dev, &["rev-parse", "v4.0.0^{commit}"]), checked);
    let shown = dev.json(&["generation", "show", "v4.0.0"]);
    assert_eq!(shown["generation"]["status"], "promoted");
    // The tag went missing (deleted by hand): a re-run completes it and exits 0.
    git(&dev, &["tag", "-d", "v4.0.0"]);
    let again = dev.run(&["promote", "v4.0.0"]);
    again.ok();
    assert!(
        again.stdout.contains("missing tag was created"),
        "{again:?}"
    );
    assert_eq!(git(&dev, &["rev-parse", "v4.0.0^{commit}"]), checked);
    // With the tag in place there is nothing to complete.
    assert_ne!(dev.run(&["promote", "v4.0.0"]).code, 0);
}
