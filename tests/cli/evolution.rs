//! `gryt evolution`: start, list, show, complete.

use super::harness::{repo_with_draft, NOW_STORED, USER};

#[test]
fn start_numbers_rc_and_records_the_owner() {
    let t = repo_with_draft();
    let out = t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"]);
    out.clean()
        .stdout_has("Started evolution v1.2.0-rc.1 (")
        .stdout_has(&format!("for FEAT-101, owned by {USER}"));
    let j = t
        .run(&["evo", "start", "1.2.0", "--change", "BUG-7", "--json"])
        .clean()
        .json();
    let e = &j["evolution"];
    assert_eq!(e["tag"], "v1.2.0-rc.2");
    assert_eq!(e["rc"], 2);
    assert_eq!(e["change_id"], "BUG-7");
    assert_eq!(e["version"], "v1.2.0");
    assert_eq!(e["owner"], USER);
    assert_eq!(e["status"], "pending");
    assert_eq!(e["started_at"], NOW_STORED);
    assert_eq!(e["completed_at"], serde_json::Value::Null);
    let code = e["code_name"].as_str().expect("code name");
    assert_eq!(code.split('-').count(), 3, "{code}");
    // The owner is the configured username, which may differ from $USER.
    t.run(&["config", "--global", "username", "bob"]).clean();
    let j = t
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
    assert_eq!(j["evolution"]["tag"], "v1.2.0-rc.3");
    assert_eq!(j["evolution"]["owner"], "bob");
    // Numbering is per generation.
    t.run(&["generation", "new", "v2.0.0"]).clean();
    t.run(&[
        "generation",
        "add-change",
        "v2.0.0",
        "--id",
        "FEAT-101",
        "--type",
        "add",
        "--title",
        "x",
    ])
    .clean();
    let j = t
        .run(&[
            "evolution",
            "start",
            "v2.0.0",
            "--change",
            "FEAT-101",
            "--json",
        ])
        .clean()
        .json();
    assert_eq!(j["evolution"]["tag"], "v2.0.0-rc.1");
}

#[test]
fn list_all_or_one_generation() {
    let t = repo_with_draft();
    t.run(&["evolution", "list"])
        .clean()
        .stdout_has("No evolutions yet");
    t.run(&["generation", "new", "v2.0.0"]).clean();
    t.run(&[
        "generation",
        "add-change",
        "v2.0.0",
        "--id",
        "FIX-1",
        "--type",
        "fix",
        "--title",
        "x",
    ])
    .clean();
    // Started at different instants: the full list is in start order.
    for (now, version, change) in [
        ("2026-01-02T03:04:05Z", "v1.2.0", "FEAT-101"),
        ("2026-01-02T03:04:06Z", "v2.0.0", "FIX-1"),
        ("2026-01-02T03:04:07Z", "v1.2.0", "BUG-7"),
    ] {
        t.run_env(
            &["evolution", "start", version, "--change", change],
            &[("GRYT_NOW", now)],
        )
        .clean();
    }
    let tags = |args: &[&str]| -> Vec<String> {
        t.run(args).clean().json()["evolutions"]
            .as_array()
            .expect("array")
            .iter()
            .map(|e| e["tag"].as_str().expect("tag").to_string())
            .collect()
    };
    assert_eq!(
        tags(&["evolution", "list", "--json"]),
        ["v1.2.0-rc.1", "v2.0.0-rc.1", "v1.2.0-rc.2"]
    );
    assert_eq!(
        tags(&["evolution", "list", "v2.0.0", "--json"]),
        ["v2.0.0-rc.1"]
    );
    let out = t.run(&["evo", "ls", "1.2.0"]);
    out.clean();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    for h in ["Tag", "Change", "Status", "Owner", "Code name", "Started"] {
        assert!(lines[0].contains(h), "{out:?}");
    }
    assert!(lines[1].contains("v1.2.0-rc.1") && lines[1].contains("FEAT-101"));
    assert!(lines[2].contains("v1.2.0-rc.2") && lines[2].contains("BUG-7"));
    assert!(lines[1].contains("pending") && lines[1].contains(USER));
    t.refused(&["evolution", "list", "v9.0.0"], 1, &["v9.0.0 not found"]);
}

#[test]
fn show_by_tag_code_name_and_uuid() {
    let t = repo_with_draft();
    let e = t
        .run(&[
            "evolution",
            "start",
            "v1.2.0",
            "--change",
            "FEAT-101",
            "--json",
        ])
        .clean()
        .json()["evolution"]
        .clone();
    let id = e["evolution_id"].as_str().expect("id");
    let code = e["code_name"].as_str().expect("code name");
    for key in ["v1.2.0-rc.1", code, id] {
        let j = t.run(&["evolution", "show", key, "--json"]).clean().json();
        assert_eq!(j["evolution"], e, "show {key}");
        assert_eq!(j["runs"], serde_json::json!([]), "show {key}");
    }
    t.run(&["evolution", "show", "v1.2.0-rc.1"])
        .clean()
        .stdout_has(&format!("Evolution v1.2.0-rc.1 ({code})"))
        .stdout_has("Change:    FEAT-101")
        .stdout_has("Status:    pending")
        .stdout_has(&format!("Owner:     {USER}"))
        .stdout_has(&format!("Id:        {id}"));
    t.refused(
        &["evolution", "show", "v1.2.0-rc.9"],
        1,
        &["'v1.2.0-rc.9' not found"],
    )
    .hint("gryt evolution list");
}

#[test]
fn complete_pass_and_fail() {
    let t = repo_with_draft();
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    t.run(&["evolution", "start", "v1.2.0", "--change", "BUG-7"])
        .clean();
    t.run(&["evolution", "complete", "v1.2.0-rc.1", "--status", "pass"])
        .clean()
        .stdout_has("Evolution v1.2.0-rc.1 of FEAT-101: pass");
    t.run(&["evolution", "complete", "v1.2.0-rc.2", "--status", "fail"])
        .clean()
        .stdout_has("Evolution v1.2.0-rc.2 of BUG-7: fail");
    let j = t
        .run(&["evolution", "show", "v1.2.0-rc.1", "--json"])
        .clean()
        .json();
    assert_eq!(j["evolution"]["status"], "pass");
    assert_eq!(j["evolution"]["completed_at"], NOW_STORED);
    let j = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["gate"]["changes"][0]["proven"], true);
    assert_eq!(j["gate"]["changes"][1]["proven"], false);
    let list = t.run(&["generation", "list", "--json"]).clean().json();
    assert_eq!(list["generations"][0]["proven"], 1);
    assert_eq!(list["generations"][0]["evolutions"], 2);
    // A finished evolution stays finished.
    t.refused(
        &["evolution", "complete", "v1.2.0-rc.1", "--status", "fail"],
        1,
        &["already complete"],
    );
    // --status is checked by clap: usage error.
    t.refused(
        &["evolution", "complete", "v1.2.0-rc.2", "--status", "maybe"],
        2,
        &["maybe"],
    );
    // Only the owner may complete an evolution.
    t.run(&["evolution", "start", "v1.2.0", "--change", "BUG-7"])
        .clean();
    let before = t.snapshot();
    t.run_env(
        &["evolution", "complete", "v1.2.0-rc.3", "--status", "pass"],
        &[("GRYT_USERNAME", "mallory")],
    )
    .err(1, &["belongs to alice"]);
    before.assert_same(&t.snapshot(), "complete by another user");
}
