//! Contract files that must not be trusted: a `.gryt/generations` symlinked outside the
//! repository (never read or written through), and a database committed to git (never
//! synced from).

use super::harness::Workspace;

#[test]
fn a_generations_dir_symlinked_outside_the_repository_is_refused() {
    let t = Workspace::local_repo();
    t.run(&["generation", "new", "v1.0.0"]).clean();
    let outside = tempfile::tempdir().expect("temp dir");
    let dir = t.gryt_dir().join("generations");
    std::fs::remove_dir_all(&dir).expect("rm generations");
    std::os::unix::fs::symlink(outside.path(), &dir).expect("symlink");
    t.run(&["generation", "export", "v1.0.0"])
        .err(1, &["leads outside the repository"]);
    let add = [
        "generation",
        "add-change",
        "v1.0.0",
        "--id",
        "FEAT-1",
        "--type",
        "add",
        "--title",
        "x",
    ];
    t.run(&add).err(1, &["leads outside the repository"]);
    // The edit was rolled back with its file write, and nothing was written there.
    let shown = t
        .run(&["generation", "show", "v1.0.0", "--json"])
        .clean()
        .json();
    assert_eq!(
        shown["generation"]["changes"].as_array().map(Vec::len),
        Some(0)
    );
    assert_eq!(
        std::fs::read_dir(outside.path()).expect("read").count(),
        0,
        "gryt wrote outside the repository"
    );
    std::fs::write(outside.path().join("v1.0.0.yaml"), "version: v1.0.0\n").expect("write");
    t.run(&["generation", "update", "v1.0.0"])
        .err(1, &["leads outside the repository"]);
    t.run(&["check"])
        .err(1, &["failed the check"])
        .stdout_has("leads outside the repository");
}

#[test]
fn a_database_tracked_by_git_is_never_synced() {
    let t = Workspace::local_git_repo();
    t.run(&["generation", "new", "v1.0.0"]).clean();
    t.git(&["add", "-f", ".gryt/gryt.db"]);
    t.git(&["commit", "-q", "-m", "oops"]);
    // A server named with its credentials (nothing is ever sent to it).
    let env = [
        ("GRYT_URL", "http://127.0.0.1:9"),
        ("GRYT_API_KEY_ID", "gk_test"),
        ("GRYT_API_KEY_SECRET", "not-a-real-secret"),
    ];
    for args in [&["sync", "pull"][..], &["sync", "push"]] {
        let out = t.run_env(args, &env);
        out.err(1, &["tracked by git", "never trusted"]);
        out.hint("git rm --cached .gryt/gryt.db");
    }
}
