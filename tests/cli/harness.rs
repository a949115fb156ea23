//! Local-workflow helpers on top of the shared layer (`tests/support/`): a repository with
//! a draft, changes added and proved. Every command runs in a [`Workspace::local`]: the real
//! `gryt`, a temporary HOME and config dir, a cleared environment, the fixed clock.

pub use crate::support::files::{read, write, write_script};
pub use crate::support::{finish, Workspace, NOW_STORED};

/// The configured user (`USER`) of [`Workspace::local`].
pub const USER: &str = "alice";

/// A repository with a draft v1.2.0 holding FEAT-101 (add) and BUG-7 (fix).
pub fn repo_with_draft() -> Workspace {
    let t = Workspace::local_repo();
    t.run(&["generation", "new", "v1.2.0", "-d", "Spring release"])
        .clean();
    add_change(&t, "v1.2.0", "FEAT-101", "add", "OAuth2 login");
    add_change(&t, "v1.2.0", "BUG-7", "fix", "Session timeout");
    t
}

/// `gryt generation add-change`, which must succeed with nothing on stderr.
pub fn add_change(t: &Workspace, version: &str, id: &str, kind: &str, title: &str) {
    t.add_change(version, id, kind, title).clean();
}

/// Proves every change of `version` with a passing evolution.
pub fn prove_all(t: &Workspace, version: &str) {
    let show = t.run(&["generation", "show", version, "--json"]);
    for c in show.ok().json()["generation"]["changes"]
        .as_array()
        .expect("changes")
    {
        let id = c["id"].as_str().expect("id");
        let ev = t
            .run(&["evolution", "start", version, "--change", id, "--json"])
            .ok()
            .json();
        let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
        t.run(&["evolution", "complete", &tag, "--status", "pass"])
            .clean();
    }
}
