//! `gryt run PIPELINE`: streaming, stored runs, and pass or fail on the evolution.

use super::harness::{repo_with_draft, Workspace};

/// (name, exit code, stdout, stderr) of each stored step of a run.
type StoredStep = (String, Option<i32>, String, String);

fn stored_outputs(t: &Workspace, run_id: &str) -> Vec<StoredStep> {
    let conn =
        rusqlite::Connection::open_with_flags(t.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    let mut stmt = conn
        .prepare(
            "SELECT name, exit_code, stdout, stderr FROM step_outputs \
             WHERE run_id = ?1 ORDER BY position",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([run_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .expect("query");
    rows.collect::<rusqlite::Result<Vec<_>>>().expect("rows")
}

const PASSING: &str = "\
name: ci
env:
  GREETING: hello
steps:
  - name: build
    run: echo \"building $GRYT_EVOLUTION_TAG for $GRYT_CHANGE_ID of $GRYT_VERSION\"
  - name: test
    run: echo \"$GREETING from $(basename \"$PWD\")\" && echo warning-on-stderr >&2
    working_dir: sub
    env:
      GREETING: hi
";

const FAILING: &str = "\
steps:
  - name: build
    run: echo compiled
  - name: test
    run: echo 'assertion failed' && exit 3
  - name: deploy
    run: echo should-not-run
";

#[test]
fn passing_run_records_pass_on_the_evolution_in_progress() {
    let t = repo_with_draft();
    std::fs::create_dir(t.root().join("sub")).expect("mkdir");
    t.write_pipeline("ci", PASSING);
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    let out = t.run(&["run", "ci"]);
    out.ok()
        .stdout_has("Proving v1.2.0-rc.1 (FEAT-101) with pipeline ci")
        .stdout_has("==> build")
        .stdout_has("building v1.2.0-rc.1 for FEAT-101 of v1.2.0")
        .stdout_has("==> test")
        .stdout_has("hi from sub")
        .stdout_has("warning-on-stderr")
        .stdout_has("Pipeline ci: pass")
        .stdout_has("Evolution v1.2.0-rc.1 of FEAT-101: pass");
    // Output streams in step order.
    let pos = |s: &str| out.stdout.find(s).expect(s);
    assert!(pos("==> build") < pos("building v1.2.0") && pos("building v1.2.0") < pos("==> test"));
    assert!(pos("==> test") < pos("hi from sub") && pos("hi from sub") < pos("Pipeline ci: pass"));

    let j = t
        .run(&["evolution", "show", "v1.2.0-rc.1", "--json"])
        .clean()
        .json();
    assert_eq!(j["evolution"]["status"], "pass");
    let runs = j["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["pipeline"], "ci");
    assert_eq!(runs[0]["status"], "pass");
    assert_eq!(j["evolution"]["pipeline_run_id"], runs[0]["run_id"]);
    let steps = runs[0]["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["name"], "build");
    assert_eq!(steps[0]["exit_code"], 0);
    // Each step's output is stored with the run (read straight from the database: the
    // CLI shows exit codes and durations, not the captured text).
    let stored = stored_outputs(&t, runs[0]["run_id"].as_str().expect("run id"));
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].0, "build");
    assert_eq!(stored[0].1, Some(0));
    assert!(stored[0].2.contains("building v1.2.0-rc.1"), "{stored:?}");
    assert!(stored[1].3.contains("warning-on-stderr"), "{stored:?}");
    t.run(&["evolution", "show", "v1.2.0-rc.1"])
        .clean()
        .stdout_has("of pipeline ci: pass")
        .stdout_has("build")
        .stdout_has("exit 0");
    let g = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(g["gate"]["changes"][0]["proven"], true);
}

#[test]
fn failing_step_fails_the_run_and_the_evolution() {
    let t = repo_with_draft();
    t.write_pipeline("ci", FAILING);
    t.run(&["evolution", "start", "v1.2.0", "--change", "BUG-7"])
        .clean();
    let out = t.run(&["run", "ci"]);
    assert_eq!(out.code, 1, "{out:?}");
    out.stdout_has("compiled")
        .stdout_has("assertion failed")
        .stdout_has("--- deploy skipped")
        .stdout_has("Pipeline ci: fail")
        .stdout_has("Evolution v1.2.0-rc.1 of BUG-7: fail");
    assert!(!out.stdout.contains("should-not-run"), "{out:?}");
    let j = t
        .run(&["evolution", "show", "v1.2.0-rc.1", "--json"])
        .clean()
        .json();
    assert_eq!(j["evolution"]["status"], "fail");
    let steps = j["runs"][0]["steps"].as_array().expect("steps").clone();
    let codes: Vec<&serde_json::Value> = steps.iter().map(|s| &s["exit_code"]).collect();
    assert_eq!(
        codes,
        [
            &serde_json::json!(0),
            &serde_json::json!(3),
            &serde_json::Value::Null
        ]
    );
    assert_eq!(steps[2]["status"], "skipped");
    // The evolution is final now: a later run is stored but cannot change it.
    t.write_pipeline("ok", "steps:\n  - name: ok\n    run: \"true\"\n");
    let out = t.run(&["run", "ok", "--evolution", "v1.2.0-rc.1"]);
    out.err(1, &["already complete"]);
    let j = t
        .run(&["evolution", "show", "v1.2.0-rc.1", "--json"])
        .clean()
        .json();
    assert_eq!(j["evolution"]["status"], "fail");
}

#[test]
fn evolution_flag_picks_the_evolution() {
    let t = repo_with_draft();
    t.write_pipeline(
        "ci",
        "steps:\n  - name: t\n    run: echo $GRYT_EVOLUTION_TAG\n",
    );
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    let code = t
        .run(&[
            "evolution",
            "start",
            "v1.2.0",
            "--change",
            "BUG-7",
            "--json",
        ])
        .clean()
        .json()["evolution"]["code_name"]
        .as_str()
        .expect("code name")
        .to_string();
    // Two in progress: the run must be told which.
    let before = t.snapshot();
    t.run(&["run", "ci"])
        .err(2, &["2 evolutions are in progress"])
        .hint("--evolution");
    before.assert_same(&t.snapshot(), "ambiguous run");
    t.run(&["run", "ci", "--evolution", &code])
        .ok()
        .stdout_has("v1.2.0-rc.2")
        .stdout_has("Evolution v1.2.0-rc.2 of BUG-7: pass");
    let j = t.run(&["evolution", "list", "--json"]).clean().json();
    assert_eq!(j["evolutions"][0]["status"], "pending");
    assert_eq!(j["evolutions"][1]["status"], "pass");
    // Now only rc.1 is open: it is picked without --evolution.
    t.run(&["run", "ci"])
        .ok()
        .stdout_has("Evolution v1.2.0-rc.1 of FEAT-101: pass");
    // Unknown evolution.
    t.refused(
        &["run", "ci", "--evolution", "v1.2.0-rc.7"],
        1,
        &["not found"],
    );
}

#[test]
fn run_without_an_evolution_only_stores_the_run() {
    let t = repo_with_draft();
    t.write_pipeline("lint", "steps:\n  - name: lint\n    run: echo linted\n");
    let out = t.run(&["run", "lint"]);
    out.ok()
        .stdout_has("linted")
        .stdout_has("Pipeline lint: pass");
    assert!(!out.stdout.contains("Evolution"), "{out:?}");
    t.write_pipeline("broken", "steps:\n  - name: x\n    run: exit 1\n");
    let out = t.run(&["run", "broken"]);
    assert_eq!(out.code, 1, "{out:?}");
    out.stdout_has("Pipeline broken: fail");
}

#[test]
fn run_json_keeps_stdout_for_the_result() {
    let t = repo_with_draft();
    t.write_pipeline("ci", "steps:\n  - name: t\n    run: echo streamed-line\n");
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    let out = t.run(&["run", "ci", "--json"]);
    out.ok().stderr_has("streamed-line");
    let j = out.json();
    assert_eq!(j["pipeline"], "ci");
    assert_eq!(j["evolution"]["status"], "pass");
    assert_eq!(j["result"]["status"], "pass");
    assert!(j["run_id"].is_string());
    // --quiet: no streamed output, no status lines.
    t.run(&["evolution", "start", "v1.2.0", "--change", "BUG-7"])
        .clean();
    let out = t.run(&["run", "ci", "--quiet"]);
    out.clean();
    assert_eq!(out.stdout, "", "{out:?}");
}

#[test]
fn steps_never_inherit_gryt_credentials() {
    let t = repo_with_draft();
    t.write_pipeline(
        "env",
        "steps:\n  - name: dump\n    run: env\n  - name: explicit\n    run: echo \"set=$GRYT_PASSWORD\"\n    env:\n      GRYT_PASSWORD: from-the-pipeline-file\n",
    );
    let secrets = [
        ("GRYT_API_KEY_SECRET", "sk-super-secret-value"),
        ("GRYT_PASSWORD", "hunter2-password-value"),
        ("GRYT_API_KEY_ID", "key-id-value"),
    ];
    let mut vars = secrets.to_vec();
    vars.push(("SOME_OTHER_VAR", "kept-value"));
    let out = t.run_env(&["run", "env", "--json"], &vars);
    out.ok();
    let j = out.json();
    let dumped = j["result"]["steps"][0]["stdout"].as_str().expect("stdout");
    for (name, value) in secrets {
        assert!(!dumped.contains(name), "{name} reached the step:\n{dumped}");
        assert!(!dumped.contains(value), "{name}'s value reached the step");
        assert!(!out.stderr.contains(value), "{out:?}");
    }
    assert!(dumped.contains("SOME_OTHER_VAR=kept-value"), "{dumped}");
    assert!(dumped.contains("GRYT_STEP=dump"), "{dumped}");
    // A pipeline file may still set one explicitly.
    assert_eq!(
        j["result"]["steps"][1]["stdout"],
        "set=from-the-pipeline-file\n"
    );
}

/// Waits until the step says it started by writing `file` (bounded, so a broken step fails
/// the test instead of hanging it).
fn wait_for_file(path: &std::path::Path) {
    for _ in 0..6000 {
        if path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} never appeared", path.display());
}

fn group_alive(pgid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("kill")
        .success()
}

#[test]
fn a_signal_cancels_the_run_kills_the_steps_group_and_leaves_the_evolution_open() {
    // SIGINT: the step's shell dies, but its background child ignores SIGINT (as shells make
    // background jobs do) and must be killed. SIGTERM: the whole group stops at once.
    let cases = [
        (
            "INT",
            130,
            "SIGINT",
            "echo $$ > step.pid; sleep 60 & touch started; wait",
        ),
        (
            "TERM",
            143,
            "SIGTERM",
            "echo $$ > step.pid; touch started; sleep 60",
        ),
    ];
    for (signal, code, name, script) in cases {
        let t = repo_with_draft();
        t.write_pipeline(
            "slow",
            &format!(
                "steps:\n  - name: wait\n    run: \"{script}\"\n  - name: after\n    run: echo never\n"
            ),
        );
        t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
            .clean();
        let mut cmd = t.command_in(&t.root());
        cmd.args(["run", "slow"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = cmd.spawn().expect("spawn gryt run");
        wait_for_file(&t.root().join("started"));
        let pgid = std::fs::read_to_string(t.root().join("step.pid"))
            .expect("step.pid")
            .trim()
            .to_string();
        assert!(group_alive(&pgid));
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let out = super::harness::finish(
            "",
            &["run", "slow"],
            child.wait_with_output().expect("gryt run"),
        );
        out.fails(code, &[&format!("cancelled by {name}"), "stays open"])
            .hint("gryt run slow")
            .hint("gryt evolution cancel v1.2.0-rc.1");
        assert!(!out.stdout.contains("never"), "{out:?}");
        // Nothing of the step is left running (killed processes may take a moment to be
        // reaped; without the kill, the step's `sleep 60` would outlive this wait).
        let mut gone = false;
        for _ in 0..1000 {
            if !group_alive(&pgid) {
                gone = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(gone, "the step's process group survived");
        // The run is recorded as cancelled; the evolution is still open.
        let j = t
            .run(&["evolution", "show", "v1.2.0-rc.1", "--json"])
            .clean()
            .json();
        assert_eq!(j["evolution"]["status"], "pending", "{j:#}");
        let run = &j["runs"][0];
        assert_eq!(run["status"], "cancelled", "{j:#}");
        assert_eq!(run["steps"][0]["status"], "cancelled", "{j:#}");
        assert_eq!(run["steps"][1]["status"], "skipped", "{j:#}");
        // The next run picks the same evolution and proves it.
        t.write_pipeline("slow", "steps:\n  - name: quick\n    run: echo done\n");
        t.run(&["run", "slow"])
            .ok()
            .stdout_has("Evolution v1.2.0-rc.1 of FEAT-101: pass");
    }
}

#[test]
fn evolution_cancel_ends_an_open_evolution_that_then_proves_nothing() {
    let t = repo_with_draft();
    t.write_pipeline("ci", "steps:\n  - name: ok\n    run: \"true\"\n");
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    // Only its owner may cancel it.
    t.run_env(
        &["evolution", "cancel", "v1.2.0-rc.1"],
        &[("USER", "mallory")],
    )
    .err(1, &["belongs to alice"]);
    let j = t
        .run(&["evolution", "cancel", "v1.2.0-rc.1", "--json"])
        .clean()
        .json();
    assert_eq!(j["evolution"]["status"], "cancelled");
    assert_eq!(j["evolution"]["completed_at"], super::harness::NOW_STORED);
    t.refused(
        &["evolution", "cancel", "v1.2.0-rc.1"],
        1,
        &["already complete (cancelled)"],
    );
    t.refused(
        &["evolution", "complete", "v1.2.0-rc.1", "--status", "pass"],
        1,
        &["already complete"],
    );
    // It is no longer in progress: a run proves nothing, and the gate is not satisfied.
    t.run(&["run", "ci"]).ok();
    let g = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .clean()
        .json();
    assert_eq!(g["gate"]["changes"][0]["proven"], false, "{g:#}");
    t.run(&["evolution", "list"])
        .clean()
        .stdout_has("cancelled");
    // A new evolution proves the change.
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean()
        .stdout_has("v1.2.0-rc.2");
    t.run(&["run", "ci"])
        .ok()
        .stdout_has("Evolution v1.2.0-rc.2 of FEAT-101: pass");
    t.run(&["evolution", "cancel", "v1.2.0-rc.9"])
        .err(1, &["not found"]);
}

#[test]
fn steps_see_the_evolutions_stable_id_and_whether_its_rc_is_provisional() {
    let t = repo_with_draft();
    t.write_pipeline(
        "ids",
        "steps:\n  - name: ids\n    run: echo \"$GRYT_EVOLUTION_ID $GRYT_EVOLUTION_TAG $GRYT_EVOLUTION_PROVISIONAL\"\n",
    );
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
    let id = ev["evolution"]["evolution_id"].as_str().expect("id");
    t.run(&["run", "ids"])
        .ok()
        .stdout_has(&format!("{id} v1.2.0-rc.1 true"));
}

#[test]
fn a_result_that_cannot_be_sent_is_noted_and_fails_only_with_strict_sync() {
    let t = repo_with_draft();
    t.write_pipeline("ci", "steps:\n  - name: ok\n    run: \"true\"\n");
    // A server is named but nobody logged in to it: nothing may be sent there.
    t.run(&["config", "gryt_url", "http://127.0.0.1:9"]).ok();
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .ok()
        .stdout_has("v1.2.0-rc.1 (rc.1, provisional until pushed)");
    t.run(&["run", "ci"])
        .ok()
        .stderr_has("Note: Saved locally, but not synced")
        .stdout_has("Evolution v1.2.0-rc.1 (rc.1, provisional until pushed) of FEAT-101: pass");
    t.run(&["evolution", "start", "v1.2.0", "--change", "BUG-7"])
        .ok();
    let out = t.run(&[
        "--strict-sync",
        "evolution",
        "complete",
        "v1.2.0-rc.2",
        "--status",
        "pass",
    ]);
    out.fails(1, &["Saved locally, but not synced"]);
    // The result itself is recorded either way.
    let j = t.run(&["evolution", "list", "--json"]).ok().json();
    assert_eq!(j["evolutions"][1]["status"], "pass", "{j:#}");
}
