//! `gryt generation`: new, list, show, add-change, remove-change, update, edit, rename,
//! delete.

use super::harness::{
    add_change, read, repo_with_draft, write_script, Workspace, NOW_STORED, USER,
};

#[test]
fn new_accepts_both_spellings_and_writes_the_contract() {
    let t = Workspace::local_repo();
    t.run(&["generation", "new", "1.2.0", "-d", "Spring release"])
        .clean()
        .stdout_has("Created generation v1.2.0 (draft)");
    let id = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json()["generation"]["generation_id"]
        .as_str()
        .expect("uuid")
        .to_string();
    assert_eq!(
        t.read_contract("v1.2.0"),
        format!("version: v1.2.0\ngeneration_id: {id}\ndescription: Spring release\nchanges: []\n")
    );
    t.run(&["generation", "new", "v1.3.0"]).clean();
    assert!(t.contract("v1.3.0").is_file());
    // The alias and a pre-release.
    t.run(&["gen", "new", "2.0.0-beta.1"]).clean();
    assert!(t.contract("v2.0.0-beta.1").is_file());
    let j = t.run(&["generation", "list", "--json"]).clean().json();
    let versions: Vec<&str> = j["generations"]
        .as_array()
        .expect("array")
        .iter()
        .map(|g| g["version"].as_str().expect("version"))
        .collect();
    assert_eq!(versions, ["v1.2.0", "v1.3.0", "v2.0.0-beta.1"]);
    let g = &j["generations"][0];
    assert_eq!(g["status"], "draft");
    assert_eq!(g["description"], "Spring release");
    assert_eq!(g["changes"], 0);
    assert_eq!(g["created_at"], NOW_STORED);
}

#[test]
fn list_orders_by_semver() {
    let t = Workspace::local_repo();
    for v in [
        "v1.10.0",
        "v1.9.0",
        "v2.0.0",
        "v2.0.0-rc.1",
        "v2.0.0-alpha",
        "v1.9.10",
        "v1.9.2",
        "v0.1.0",
    ] {
        t.run(&["generation", "new", v]).clean();
    }
    let j = t.run(&["generation", "list", "--json"]).clean().json();
    let versions: Vec<&str> = j["generations"]
        .as_array()
        .expect("array")
        .iter()
        .map(|g| g["version"].as_str().expect("version"))
        .collect();
    assert_eq!(
        versions,
        [
            "v0.1.0",
            "v1.9.0",
            "v1.9.2",
            "v1.9.10",
            "v1.10.0",
            "v2.0.0-alpha",
            "v2.0.0-rc.1",
            "v2.0.0"
        ]
    );
    // The table lists them in the same order.
    let text = t.run(&["generation", "list"]).clean().stdout.clone();
    let pos = |v: &str| text.find(&format!("{v} ")).expect(v);
    assert!(pos("v1.9.10") < pos("v1.10.0"));
    assert!(pos("v2.0.0-rc.1") < pos("v2.0.0 "));
}

#[test]
fn list_table_and_empty_list() {
    let t = Workspace::local_repo();
    t.run(&["generation", "list"])
        .clean()
        .stdout_has("No generations yet");
    let t = repo_with_draft();
    let out = t.run(&["generation", "ls"]);
    out.clean();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    for h in ["Version", "Status", "Proven", "Evolutions", "Description"] {
        assert!(lines[0].contains(h), "{out:?}");
    }
    for cell in ["v1.2.0", "draft", "0/2", "Spring release"] {
        assert!(lines[1].contains(cell), "{out:?}");
    }
}

#[test]
fn show_text_and_json() {
    let t = repo_with_draft();
    let out = t.run(&["generation", "show", "1.2.0"]);
    out.clean()
        .stdout_has("Generation v1.2.0 (draft)")
        .stdout_has("Description: Spring release")
        .stdout_has(&format!("Created:     {NOW_STORED} by {USER}"))
        .stdout_has("FEAT-101")
        .stdout_has("OAuth2 login")
        .stdout_has("unproven: not started")
        .stdout_has("Ready for promotion: no");
    let j = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    let keys: Vec<&String> = j.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["evolutions", "gate", "generation"]);
    let g = &j["generation"];
    assert_eq!(g["version"], "v1.2.0");
    assert_eq!(g["status"], "draft");
    assert_eq!(g["description"], "Spring release");
    assert_eq!(g["created_by"], USER);
    assert_eq!(g["promoted_at"], serde_json::Value::Null);
    assert!(g["generation_id"].as_str().is_some_and(|s| s.len() == 36));
    assert_eq!(
        g["changes"],
        serde_json::json!([
            {"id": "FEAT-101", "type": "add", "title": "OAuth2 login"},
            {"id": "BUG-7", "type": "fix", "title": "Session timeout"}
        ])
    );
    assert_eq!(j["evolutions"], serde_json::json!([]));
    assert_eq!(j["gate"]["ready"], false);
    assert_eq!(j["gate"]["version"], "v1.2.0");
    assert_eq!(j["gate"]["changes"][0]["change_id"], "FEAT-101");
    assert_eq!(j["gate"]["changes"][0]["proven"], false);
    // A generation without changes says so.
    t.run(&["generation", "new", "v3.0.0"]).clean();
    t.run(&["generation", "show", "v3.0.0"])
        .clean()
        .stdout_has("No changes yet.");
}

#[test]
fn add_and_remove_change_rewrite_the_contract() {
    let t = Workspace::local_repo();
    t.run(&["generation", "new", "v1.0.0"]).clean();
    t.run(&[
        "generation",
        "add-change",
        "v1.0.0",
        "--id",
        "FEAT-1",
        "--type",
        "add",
        "--title",
        "Login",
        "--description",
        "Users log in",
    ])
    .clean()
    .stdout_has("Added FEAT-1 to v1.0.0");
    add_change(&t, "1.0.0", "BUG-2", "fix", "Crash");
    add_change(&t, "v1.0.0", "REF-3", "refine", "Faster");
    add_change(&t, "v1.0.0", "OLD-4", "remove", "Legacy API");
    let id = t
        .run(&["generation", "show", "v1.0.0", "--json"])
        .clean()
        .json()["generation"]["generation_id"]
        .as_str()
        .expect("uuid")
        .to_string();
    assert_eq!(
        t.read_contract("v1.0.0"),
        format!(
            "version: v1.0.0\ngeneration_id: {id}\ndescription: null\nchanges:\n\
         - id: FEAT-1\n  type: add\n  title: Login\n  description: Users log in\n\
         - id: BUG-2\n  type: fix\n  title: Crash\n\
         - id: REF-3\n  type: refine\n  title: Faster\n\
         - id: OLD-4\n  type: remove\n  title: Legacy API\n"
        )
    );
    t.run(&["generation", "remove-change", "v1.0.0", "BUG-2"])
        .clean()
        .stdout_has("Removed BUG-2 from v1.0.0");
    let j = t
        .run(&["generation", "show", "v1.0.0", "--json"])
        .clean()
        .json();
    let ids: Vec<&str> = j["generation"]["changes"]
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["FEAT-1", "REF-3", "OLD-4"]);
    assert!(!t.read_contract("v1.0.0").contains("BUG-2"));
    // The same id may appear in another generation.
    t.run(&["generation", "new", "v1.1.0"]).clean();
    add_change(&t, "v1.1.0", "FEAT-1", "add", "Login again");
    // Removing a change that is not there.
    t.refused(
        &["generation", "remove-change", "v1.0.0", "BUG-2"],
        1,
        &["BUG-2"],
    );
}

#[test]
fn update_reads_the_hand_edited_contract() {
    let t = repo_with_draft();
    t.write_contract(
        "v1.2.0",
        "version: v1.2.0\n\
         description: Edited by hand\n\
         changes:\n\
         \x20 - id: FEAT-101\n    type: add\n    title: OAuth2 login\n\
         \x20 - id: FEAT-102\n    type: refine\n    title: Remember me\n    assignee: bob\n\
         \x20   status: pending\n    pipelines: []\n",
    );
    t.run(&["generation", "update", "v1.2.0"])
        .clean()
        .stdout_has("Updated generation v1.2.0 (2 changes)");
    let j = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["description"], "Edited by hand");
    assert_eq!(
        j["generation"]["changes"],
        serde_json::json!([
            {"id": "FEAT-101", "type": "add", "title": "OAuth2 login"},
            {"id": "FEAT-102", "type": "refine", "title": "Remember me", "assignee": "bob"}
        ])
    );
    // The file is rewritten in the canonical layout (the reference's ignored keys dropped).
    let text = t.read_contract("v1.2.0");
    assert!(text.contains("assignee: bob"), "{text}");
    assert!(!text.contains("pipelines"), "{text}");
}

#[test]
fn update_imports_a_contract_written_by_someone_else() {
    let t = Workspace::local_repo();
    t.write_contract(
        "v4.0.0",
        "version: v4.0.0\ndescription: From a teammate\nchanges:\n- id: FEAT-1\n  type: add\n  title: x\n",
    );
    t.run(&["generation", "update", "4.0.0"]).clean();
    let j = t
        .run(&["generation", "show", "v4.0.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["description"], "From a teammate");
    assert_eq!(j["generation"]["changes"][0]["id"], "FEAT-1");
}

#[test]
fn edit_runs_the_editor_then_updates() {
    let t = repo_with_draft();
    let script = t.home().join("bin/fake-editor");
    // The editor gets the contract's path as its last argument and rewrites it.
    write_script(
        &script,
        "#!/bin/sh\n\
         test \"$1\" = --wait || exit 9\n\
         cat > \"$2\" <<'EOF'\n\
         version: v1.2.0\n\
         description: Rewritten in the editor\n\
         changes:\n\
         - id: FEAT-101\n  type: add\n  title: OAuth2 login\n\
         - id: BUG-8\n  type: fix\n  title: Logout\n\
         EOF\n",
    );
    let editor = format!("{} --wait", script.display());
    t.run_env(&["generation", "edit", "v1.2.0"], &[("EDITOR", &editor)])
        .clean()
        .stdout_has("Updated generation v1.2.0 (2 changes)");
    let j = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["description"], "Rewritten in the editor");
    assert_eq!(j["generation"]["changes"][1]["id"], "BUG-8");
    assert_eq!(j["generation"]["changes"].as_array().map(Vec::len), Some(2));
}

#[test]
fn edit_failures_change_nothing() {
    let t = repo_with_draft();
    // No editor configured.
    t.refused(&["generation", "edit", "v1.2.0"], 1, &["No editor"]);
    // An editor that fails.
    let before = t.snapshot();
    t.run_env(&["generation", "edit", "v1.2.0"], &[("EDITOR", "false")])
        .err(1, &["editor exited"])
        .hint("gryt generation update v1.2.0");
    before.assert_same(&t.snapshot(), "failing editor");
    // An editor that writes a broken contract: the database is untouched.
    let script = t.home().join("bin/broken-editor");
    write_script(
        &script,
        "#!/bin/sh\nprintf 'version: v1.2.0\\nchanges: [\\n' > \"$1\"\n",
    );
    let before_db = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    t.run_env(
        &["generation", "edit", "v1.2.0"],
        &[("EDITOR", script.to_str().expect("utf-8"))],
    )
    .err(1, &["v1.2.0.yaml:"])
    .hint("gryt generation update v1.2.0");
    let after_db = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(before_db, after_db);
}

#[test]
fn rename_moves_the_contract() {
    let t = repo_with_draft();
    t.run(&["generation", "rename", "v1.2.0", "1.3.0"])
        .clean()
        .stdout_has("Renamed v1.2.0 to v1.3.0");
    assert!(!t.contract("v1.2.0").exists());
    let text = t.read_contract("v1.3.0");
    assert!(text.starts_with("version: v1.3.0\n"), "{text}");
    assert!(text.contains("FEAT-101"), "{text}");
    t.run(&["generation", "show", "v1.2.0"])
        .err(1, &["v1.2.0 not found"]);
    let j = t
        .run(&["generation", "show", "v1.3.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["changes"].as_array().map(Vec::len), Some(2));
    // Renaming onto an existing version, or onto itself, is refused.
    t.run(&["generation", "new", "v2.0.0"]).clean();
    t.refused(
        &["generation", "rename", "v1.3.0", "v2.0.0"],
        1,
        &["v2.0.0 already exists"],
    );
    t.refused(
        &["generation", "rename", "v1.3.0", "1.3.0"],
        1,
        &["already called v1.3.0"],
    );
    t.refused(
        &["generation", "rename", "v1.3.0", "banana"],
        1,
        &["Invalid version 'banana'"],
    );
    t.refused(
        &["generation", "rename", "v9.9.9", "v9.9.10"],
        1,
        &["v9.9.9 not found"],
    );
}

#[test]
fn delete_removes_record_contract_and_evolutions() {
    let t = repo_with_draft();
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    t.run(&["generation", "delete", "v1.2.0"])
        .clean()
        .stdout_has("Deleted generation v1.2.0");
    assert!(!t.contract("v1.2.0").exists());
    t.run(&["generation", "list", "--json"])
        .clean()
        .stdout_has("\"generations\": []");
    t.run(&["evolution", "list", "--json"])
        .clean()
        .stdout_has("\"evolutions\": []");
    // The version is free again.
    t.run(&["generation", "new", "v1.2.0"]).clean();
    t.run(&["generation", "delete", "v1.2.0", "--local-only"])
        .clean();
    t.refused(
        &["generation", "delete", "v1.2.0"],
        1,
        &["v1.2.0 not found"],
    );
}

#[test]
fn contract_file_round_trips_through_yaml_tools() {
    // What gryt writes, gryt reads back unchanged (update is a no-op on a fresh file).
    let t = repo_with_draft();
    let before = read(&t.contract("v1.2.0"));
    t.run(&["generation", "update", "v1.2.0"]).clean();
    assert_eq!(read(&t.contract("v1.2.0")), before);
}

/// `generation list` counts what the gate counts: a change whose newest proof failed, or
/// whose definition changed since its pass, is not proven (it used to be "any pass").
#[test]
fn the_list_counts_proven_changes_as_the_gate_does() {
    let t = repo_with_draft();
    let proven = |t: &Workspace| {
        let list = t.run(&["generation", "list", "--json"]).clean().json();
        let show = t
            .run(&["generation", "show", "v1.2.0", "--json"])
            .clean()
            .json();
        let by_gate = show["gate"]["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter(|c| c["proven"] == true)
            .count();
        assert_eq!(
            list["generations"][0]["proven"], by_gate,
            "{list:#}\n{show:#}"
        );
        by_gate
    };
    let prove = |t: &Workspace, change: &str, status: &str| {
        let ev = t
            .run(&["evolution", "start", "v1.2.0", "--change", change, "--json"])
            .clean()
            .json();
        let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
        t.run(&["evolution", "complete", &tag, "--status", status])
            .clean();
    };
    assert_eq!(proven(&t), 0);
    prove(&t, "FEAT-101", "pass");
    prove(&t, "BUG-7", "pass");
    assert_eq!(proven(&t), 2);
    // A later failure supersedes the pass.
    prove(&t, "FEAT-101", "fail");
    assert_eq!(proven(&t), 1);
    // Redefined (another title): its pass proved the earlier meaning.
    t.run(&["generation", "remove-change", "v1.2.0", "BUG-7"])
        .clean();
    add_change(
        &t,
        "v1.2.0",
        "BUG-7",
        "fix",
        "Session timeout after 30 minutes",
    );
    assert_eq!(proven(&t), 0);
    prove(&t, "BUG-7", "pass");
    assert_eq!(proven(&t), 1);
}
