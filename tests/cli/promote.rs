//! `gryt promote`: the gate, the annotated git tag, and immutability afterwards.

use super::harness::{add_change, prove_all, repo_with_draft, Workspace, NOW_STORED, USER};

/// A git repository holding a gryt repository with v1.2.0 (FEAT-101, BUG-7).
fn git_repo_with_draft() -> Workspace {
    let t = Workspace::local_git_repo();
    t.run(&["generation", "new", "v1.2.0", "-d", "Spring release"])
        .clean();
    add_change(&t, "v1.2.0", "FEAT-101", "add", "OAuth2 login");
    add_change(&t, "v1.2.0", "BUG-7", "fix", "Session timeout");
    t
}

#[test]
fn promotion_is_refused_while_a_change_is_unproven() {
    let t = repo_with_draft();
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    t.run(&["evolution", "complete", "v1.2.0-rc.1", "--status", "pass"])
        .clean();
    t.run(&["evolution", "start", "v1.2.0", "--change", "BUG-7"])
        .clean();
    t.run(&["evolution", "complete", "v1.2.0-rc.2", "--status", "fail"])
        .clean();
    let out = t.refused(&["promote", "v1.2.0"], 1, &["BUG-7"]);
    // The gate table comes first, on stdout.
    out.stdout_has("Change")
        .stdout_has("Proof")
        .stdout_has("proven: rc.1 pass (alice)")
        .stdout_has("unproven: rc.2 fail (alice)")
        .stdout_has("Ready for promotion: no");
    let out = t.refused(&["promote", "v1.2.0", "--json"], 1, &["BUG-7"]);
    let j = out.json();
    assert_eq!(j["gate"]["ready"], false);
    assert_eq!(j["gate"]["changes"][1]["proven"], false);
    // A generation without changes has nothing proven either.
    t.run(&["generation", "new", "v2.0.0"]).clean();
    t.refused(&["promote", "v2.0.0"], 1, &["v2.0.0"]);
}

#[test]
fn promotion_without_git() {
    let t = repo_with_draft();
    prove_all(&t, "v1.2.0");
    let out = t.run(&["promote", "v1.2.0"]);
    out.clean()
        .stdout_has("proven: rc.1 pass (alice)")
        .stdout_has("Ready for promotion: yes")
        .stdout_has("Promoted v1.2.0: it is final and immutable.");
    assert!(!out.stdout.contains("Tagged"), "{out:?}");
    let j = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["status"], "promoted");
    assert_eq!(j["generation"]["promoted_at"], NOW_STORED);
    assert_eq!(j["generation"]["promoted_by"], USER);
    t.run(&["generation", "show", "v1.2.0"])
        .clean()
        .stdout_has("Generation v1.2.0 (promoted)")
        .stdout_has(&format!("Promoted:    {NOW_STORED} by {USER}"));
    let list = t.run(&["generation", "list", "--json"]).clean().json();
    assert_eq!(list["generations"][0]["status"], "promoted");
    assert_eq!(list["generations"][0]["proven"], 2);
}

#[test]
fn promotion_in_git_creates_an_annotated_tag_listing_the_changes() {
    let t = git_repo_with_draft();
    prove_all(&t, "v1.2.0");
    let out = t.run(&["generation", "promote", "1.2.0", "--json"]);
    let j = out.clean().json();
    assert_eq!(j["tag"], "v1.2.0");
    assert_eq!(j["generation"]["status"], "promoted");
    assert_eq!(j["gate"]["ready"], true);
    assert_eq!(t.git(&["cat-file", "-t", "v1.2.0"]).trim(), "tag");
    let message = t.git(&["tag", "-l", "--format=%(contents)", "v1.2.0"]);
    assert!(message.starts_with("Release v1.2.0\n"), "{message}");
    assert!(message.contains("Spring release"), "{message}");
    assert!(message.contains("- FEAT-101 add OAuth2 login"), "{message}");
    assert!(message.contains("- BUG-7 fix Session timeout"), "{message}");
    // The tag points at HEAD.
    assert_eq!(
        t.git(&["rev-parse", "v1.2.0^{commit}"]),
        t.git(&["rev-parse", "HEAD"])
    );
}

#[test]
fn promotion_in_git_text_output_and_no_tag() {
    let t = git_repo_with_draft();
    prove_all(&t, "v1.2.0");
    t.run(&["promote", "v1.2.0"])
        .clean()
        .stdout_has("Tagged v1.2.0 (annotated) on commit");
    t.run(&["generation", "new", "v1.3.0"]).clean();
    add_change(&t, "v1.3.0", "FEAT-1", "add", "x");
    prove_all(&t, "v1.3.0");
    let out = t.run(&["promote", "v1.3.0", "--no-tag"]);
    out.clean().stdout_has("Promoted v1.3.0");
    assert!(!out.stdout.contains("Tagged"), "{out:?}");
    assert_eq!(t.git(&["tag", "-l"]), "v1.2.0\n");
}

#[test]
fn an_existing_git_tag_blocks_promotion() {
    let t = git_repo_with_draft();
    prove_all(&t, "v1.2.0");
    t.git(&["tag", "v1.2.0"]);
    t.refused(
        &["promote", "v1.2.0"],
        1,
        &["git tag v1.2.0 already exists"],
    )
    .hint("--no-tag");
    t.run(&["promote", "v1.2.0", "--no-tag"]).clean();
}

#[test]
fn a_promoted_generation_is_immutable() {
    let t = git_repo_with_draft();
    prove_all(&t, "v1.2.0");
    t.run(&["promote", "v1.2.0"]).clean();
    let script = t.home().join("editor");
    super::harness::write_script(
        &script,
        "#!/bin/sh\necho 'description: changed' >> \"$1\"\n",
    );
    let editor = script.to_str().expect("utf-8").to_string();
    let cases: &[&[&str]] = &[
        &["generation", "update", "v1.2.0"],
        &[
            "generation",
            "add-change",
            "v1.2.0",
            "--id",
            "FEAT-9",
            "--type",
            "add",
            "--title",
            "x",
        ],
        &["generation", "remove-change", "v1.2.0", "BUG-7"],
        &["generation", "rename", "v1.2.0", "v1.2.1"],
        &["generation", "delete", "v1.2.0"],
        &["generation", "delete", "v1.2.0", "--local-only"],
        &["evolution", "start", "v1.2.0", "--change", "FEAT-101"],
        &["promote", "v1.2.0"],
        &["promote", "v1.2.0", "--no-tag"],
        &["generation", "promote", "v1.2.0"],
    ];
    for args in cases {
        t.refused(args, 1, &["v1.2.0"]);
    }
    let before = t.snapshot();
    t.run_env(&["generation", "edit", "v1.2.0"], &[("EDITOR", &editor)])
        .err(1, &["v1.2.0", "immutable"]);
    before.assert_same(&t.snapshot(), "edit of a promoted generation");
    // Editing the file by hand and running update is refused too, and the file is not
    // accepted into the database.
    let original = t.read_contract("v1.2.0");
    t.write_contract("v1.2.0", &original.replace("Spring release", "Changed"));
    let before = t.snapshot();
    t.run(&["generation", "update", "v1.2.0"])
        .err(1, &["immutable"]);
    before.assert_same(&t.snapshot(), "update of a promoted generation");
    let j = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["description"], "Spring release");
    // Second promotion names who promoted it and when.
    t.run(&["promote", "v1.2.0"])
        .err(1, &["already promoted", "by alice"]);
}

/// Commits everything in the work tree (gryt's own `.gryt/` included) and returns HEAD.
fn commit_all(t: &Workspace, message: &str) -> String {
    t.git(&["add", "-A"]);
    t.git(&["commit", "-q", "--allow-empty", "-m", message]);
    t.git(&["rev-parse", "HEAD"]).trim().to_string()
}

#[test]
fn a_dirty_tree_is_refused_unless_allowed() {
    let t = git_repo_with_draft();
    commit_all(&t, "contract");
    prove_all(&t, "v1.2.0");
    std::fs::write(t.root().join("README"), "edited, not committed\n").expect("write");
    let before = t.snapshot();
    t.refused(&["promote", "v1.2.0"], 1, &["uncommitted changes"])
        .hint("--allow-dirty");
    before.assert_same(&t.snapshot(), "a refused dirty promotion");
    // An untracked file makes the tree dirty too; gryt's own .gryt/ does not.
    t.git(&["checkout", "--", "README"]);
    std::fs::write(t.root().join("new.rs"), "fn main() {}\n").expect("write");
    t.refused(&["promote", "v1.2.0"], 1, &["uncommitted changes"]);
    let out = t.run(&["promote", "v1.2.0", "--allow-dirty", "--json"]);
    let j = out.clean().json();
    assert_eq!(j["generation"]["status"], "promoted");
    assert_eq!(j["tag"], "v1.2.0");
    let head = t.git(&["rev-parse", "HEAD"]).trim().to_string();
    assert_eq!(j["commit"], head.as_str());
}

#[test]
fn the_tag_names_the_checked_commit_and_the_output_names_each_proof() {
    let t = git_repo_with_draft();
    let first = commit_all(&t, "contract");
    let ev = t
        .run(&[
            "evolution",
            "start",
            "v1.2.0",
            "--change",
            "FEAT-101",
            "--json",
        ])
        .clean()
        .json();
    assert_eq!(ev["evolution"]["commit"], first.as_str());
    assert_eq!(ev["evolution"]["dirty"], false);
    assert!(ev["evolution"]["fingerprint"]
        .as_str()
        .is_some_and(|f| f.starts_with("c1:")));
    t.run(&["evolution", "complete", "v1.2.0-rc.1", "--status", "pass"])
        .clean();
    std::fs::write(t.root().join("code.rs"), "fn main() {}\n").expect("write");
    let second = commit_all(&t, "more code");
    t.run(&["evolution", "start", "v1.2.0", "--change", "BUG-7"])
        .clean();
    let done = t
        .run(&[
            "evolution",
            "complete",
            "v1.2.0-rc.2",
            "--status",
            "pass",
            "--json",
        ])
        .clean()
        .json();
    assert_eq!(done["evolution"]["commit"], second.as_str());
    let out = t.run(&["promote", "v1.2.0"]);
    out.clean()
        .stdout_has(&format!(
            "FEAT-101 proven by v1.2.0-rc.1 (alice) on commit {}",
            &first[..12]
        ))
        .stdout_has(&format!(
            "BUG-7 proven by v1.2.0-rc.2 (alice) on commit {}",
            &second[..12]
        ))
        .stdout_has(&format!(
            "Tagged v1.2.0 (annotated) on commit {}",
            &second[..12]
        ))
        .stdout_has("git push origin v1.2.0");
    assert_eq!(t.git(&["rev-parse", "v1.2.0^{commit}"]).trim(), second);
}

#[test]
fn a_regression_unproves_a_change() {
    let t = git_repo_with_draft();
    commit_all(&t, "contract");
    prove_all(&t, "v1.2.0");
    // rc.3: FEAT-101 again, and this time it fails.
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    t.run(&["evolution", "complete", "v1.2.0-rc.3", "--status", "fail"])
        .clean();
    let before = t.snapshot();
    t.refused(&["promote", "v1.2.0"], 1, &["FEAT-101", "rc.3 failed"]);
    before.assert_same(&t.snapshot(), "a promotion refused by a regression");
    let j = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["gate"]["ready"], false);
    assert_eq!(j["gate"]["changes"][0]["decided_by"]["rc"], 3);
    // A new pass on the same commit proves it again.
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    t.run(&["evolution", "complete", "v1.2.0-rc.4", "--status", "pass"])
        .clean();
    t.run(&["promote", "v1.2.0"]).clean();
}

#[test]
fn a_redefined_change_needs_a_new_proof() {
    let t = repo_with_draft();
    prove_all(&t, "v1.2.0");
    // Same id, another meaning: the old pass proved something else.
    t.run(&["generation", "remove-change", "v1.2.0", "FEAT-101"])
        .clean();
    add_change(&t, "v1.2.0", "FEAT-101", "fix", "Token refresh");
    t.refused(
        &["promote", "v1.2.0"],
        1,
        &["FEAT-101", "earlier definition"],
    );
    // Editing the description does not change what the change means.
    t.run(&[
        "generation",
        "add-change",
        "v1.2.0",
        "--id",
        "FEAT-200",
        "--type",
        "add",
        "--title",
        "x",
    ])
    .clean();
    t.run(&["generation", "remove-change", "v1.2.0", "FEAT-200"])
        .clean();
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    t.run(&["evolution", "complete", "v1.2.0-rc.3", "--status", "pass"])
        .clean();
    t.run(&["promote", "v1.2.0"])
        .clean()
        .stdout_has("FEAT-101 proven by v1.2.0-rc.3 (alice) outside git (no commit recorded)");
}

#[test]
fn a_proof_from_another_branch_does_not_count() {
    let t = git_repo_with_draft();
    commit_all(&t, "contract");
    t.git(&["checkout", "-q", "-b", "experiment"]);
    std::fs::write(t.root().join("try.rs"), "fn main() {}\n").expect("write");
    commit_all(&t, "an experiment");
    prove_all(&t, "v1.2.0");
    t.git(&["checkout", "-q", "main"]);
    t.refused(&["promote", "v1.2.0"], 1, &["ancestor"]);
    // Merged into main, the proofs' commit is an ancestor of HEAD.
    t.git(&["merge", "-q", "--no-ff", "-m", "merge", "experiment"]);
    t.run(&["promote", "v1.2.0"]).clean();
}

#[test]
fn runs_record_their_commit_and_say_so() {
    let t = git_repo_with_draft();
    t.write_pipeline("ci", "steps:\n  - name: ok\n    run: \"true\"\n");
    let head = commit_all(&t, "contract and pipeline");
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    std::fs::write(t.root().join("wip.rs"), "// not committed\n").expect("write");
    let run = t.run(&["run", "ci", "--json"]).ok().json();
    assert_eq!(run["commit"], head.as_str());
    assert_eq!(run["dirty"], true);
    assert_eq!(run["evolution"]["commit"], head.as_str());
    assert_eq!(run["evolution"]["dirty"], true);
    let shown = t
        .run(&["evolution", "show", "v1.2.0-rc.1", "--json"])
        .clean()
        .json();
    assert_eq!(shown["runs"][0]["commit"], head.as_str());
    assert_eq!(shown["runs"][0]["dirty"], true);
    // Outside git the output says there is no commit.
    let plain = repo_with_draft();
    plain.write_pipeline("ci", "steps:\n  - name: ok\n    run: \"true\"\n");
    plain
        .run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    plain
        .run(&["run", "ci"])
        .clean()
        .stdout_has("Ran outside git: no commit recorded");
}
