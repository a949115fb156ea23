//! A CI job as teams run one: a fresh `git clone` of a repository that uses gryt, a HOME and
//! config dir with nothing in them, and only `GRYT_URL`/`GRYT_API_KEY_ID`/`GRYT_API_KEY_SECRET`
//! in the environment (no `gryt init`, no login). The job pulls, proves both changes with the
//! repository's pipeline, pushes the proofs, promotes and pushes the tag to origin; every gryt
//! step runs with `--json` and its answer is parsed. README's CI section is the same script.

use super::harness::{join, Cloud, Workspace};
use serde_json::Value;

const PIPELINE: &str = "steps:\n  - name: test\n    run: test -n \"$GRYT_EVOLUTION_TAG\" && echo proving $GRYT_CHANGE_ID\n";

#[test]
fn a_ci_job_in_a_fresh_clone_proves_pushes_promotes_and_tags() {
    let cloud = Cloud::start();
    cloud.add_user("lead");
    cloud.add_user("release-bot");
    let team = cloud.make_team("lead", "release-team", &["release-bot"]);
    let (key_id, secret) = cloud.api_key("release-bot");

    // The lead sets the repository up: a contract with two changes and a pipeline, pushed to
    // the server, committed and pushed to origin.
    let lead = join(&cloud, "lead", &team);
    lead.run(&["generation", "new", "v1.0.0", "-d", "First release"])
        .ok();
    lead.add_change("v1.0.0", "FEAT-1", "add", "Login");
    lead.add_change("v1.0.0", "BUG-2", "fix", "Session timeout");
    lead.write_pipeline("ci", PIPELINE);
    lead.run(&["sync", "push"]).ok();
    let origin_dir = tempfile::tempdir().expect("temp dir");
    let origin = lead.publish(&origin_dir);
    let origin_arg = origin.display().to_string();

    // The CI runner: its own user name, an empty HOME, a fresh clone.
    let ci = Workspace::bare("runner");
    ci.git(&["clone", "-q", &origin_arg, "."]);
    // The job names who makes the release tag (a runner has no git identity of its own).
    ci.git(&["config", "user.name", "Release Bot"]);
    ci.git(&["config", "user.email", "release-bot@example.com"]);
    assert!(!ci.config_dir().exists(), "the runner has no gryt config");
    assert!(!ci.gryt_dir().join("gryt.db").exists());
    let url = cloud.url();
    let env = [
        ("GRYT_URL", url.as_str()),
        ("GRYT_API_KEY_ID", key_id.as_str()),
        ("GRYT_API_KEY_SECRET", secret.as_str()),
    ];
    let job = |args: &[&str]| -> Value { ci.json_with(args, &env) };

    let pulled = job(&["sync", "pull"]);
    assert!(pulled.is_object(), "{pulled:#}");
    let shown = job(&["generation", "show", "v1.0.0"]);
    assert_eq!(shown["generation"]["sync_status"], "synced", "{shown:#}");
    assert_eq!(shown["gate"]["ready"], false, "{shown:#}");

    let mut tags = Vec::new();
    for change in ["FEAT-1", "BUG-2"] {
        let started = job(&["evolution", "start", "v1.0.0", "--change", change]);
        let ev = &started["evolution"];
        assert_eq!(ev["change_id"], change, "{started:#}");
        assert_eq!(ev["owner"], "release-bot", "the key's account: {started:#}");
        let tag = ev["tag"].as_str().expect("tag").to_string();
        let run = job(&["run", "ci"]); // the single evolution in progress
        assert_eq!(run["pipeline"], "ci", "{run:#}");
        assert_eq!(run["result"]["status"], "pass", "{run:#}");
        assert_eq!(run["evolution"]["tag"], tag.as_str(), "{run:#}");
        tags.push(tag);
    }
    let pushed = job(&["sync", "push-evolutions", "v1.0.0"]);
    assert!(pushed.is_object(), "{pushed:#}");

    // The server holds both proofs, owned by the API key's account.
    let g = cloud.generation("lead", &team, "v1.0.0");
    let evs = cloud.evolutions("lead", &g["id"]);
    assert_eq!(evs.len(), 2, "{evs:#?}");
    for e in &evs {
        assert_eq!(e["created_by"], "release-bot", "{e:#}");
        assert_eq!(e["status"], "pass", "{e:#}");
    }

    let out = ci.run_with(&["promote", "v1.0.0", "--json"], &env, None);
    out.ok();
    assert!(!out.stderr.contains("Warning"), "{out:?}");
    let promoted = out.json();
    assert_eq!(promoted["generation"]["status"], "promoted", "{promoted:#}");
    assert_eq!(promoted["gate"]["ready"], true, "{promoted:#}");
    assert_eq!(promoted["tag"], "v1.0.0", "{promoted:#}");
    let g = cloud.generation("lead", &team, "v1.0.0");
    assert_eq!(g["status"], "promoted", "{g:#}");

    // The tag goes to origin and names the commit the job checked out and proved.
    let checked = ci.git(&["rev-parse", "HEAD"]);
    ci.git(&["push", "-q", "origin", "v1.0.0"]);
    let remote = lead.git(&["ls-remote", &origin_arg, "refs/tags/v1.0.0^{}"]);
    let tagged = remote.split_whitespace().next().unwrap_or_default();
    assert_eq!(tagged, checked.trim(), "origin's tag: {remote}");

    // The checkout's only change is the promoted contract (`status: promoted`, to commit
    // when the team wants it in git); the database and credentials stay out of git.
    let status = ci.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert_eq!(status.trim(), "M .gryt/generations/v1.0.0.yaml", "{status}");
    assert!(ci.read_contract("v1.0.0").contains("status: promoted"));
    assert!(
        !ci.root().join(".gryt/config").exists()
            || !std::fs::read_to_string(ci.root().join(".gryt/config"))
                .unwrap_or_default()
                .contains(&secret),
        "no secret in the repository"
    );
}
