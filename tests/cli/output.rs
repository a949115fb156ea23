//! Output discipline: --json, --quiet, no colour, help and usage errors.

use super::harness::{prove_all, repo_with_draft, Workspace};

#[test]
fn quiet_prints_only_results_and_errors() {
    let t = Workspace::local_repo();
    for args in [
        &["generation", "new", "v1.0.0", "--quiet"][..],
        &[
            "-q",
            "generation",
            "add-change",
            "v1.0.0",
            "--id",
            "FEAT-1",
            "--type",
            "add",
            "--title",
            "x",
        ],
        &["-q", "evolution", "start", "v1.0.0", "--change", "FEAT-1"],
        &[
            "-q",
            "evolution",
            "complete",
            "v1.0.0-rc.1",
            "--status",
            "pass",
        ],
        &["-q", "promote", "v1.0.0"],
        &["-q", "config", "team", "core"],
    ] {
        let out = t.run(args);
        out.clean();
        assert_eq!(out.stdout, "", "{out:?}");
    }
    // Requested data is still printed.
    t.run(&["-q", "config", "team"]).clean().stdout_has("core");
    t.run(&["-q", "generation", "list"])
        .clean()
        .stdout_has("v1.0.0");
    t.run(&["generation", "show", "-q", "v1.0.0"])
        .clean()
        .stdout_has("Generation v1.0.0 (promoted)");
    // And errors too.
    t.run(&["-q", "generation", "new", "banana"])
        .err(1, &["banana"]);
    let q = Workspace::local();
    let out = q.run(&["init", "-q"]);
    out.clean();
    assert_eq!(out.stdout, "");
}

#[test]
fn json_on_every_read_and_write_command() {
    let t = repo_with_draft();
    prove_all(&t, "v1.2.0");
    // Every --json output is a single JSON document on stdout with nothing on stderr.
    for args in [
        &["generation", "list", "--json"][..],
        &["generation", "show", "v1.2.0", "--json"],
        &["evolution", "list", "--json"],
        &["evolution", "list", "v1.2.0", "--json"],
        &["evolution", "show", "v1.2.0-rc.1", "--json"],
        &["config", "--json"],
        &["config", "username", "--json"],
        &["generation", "new", "v2.0.0", "--json"],
        &[
            "generation",
            "add-change",
            "v2.0.0",
            "--id",
            "A-1",
            "--type",
            "fix",
            "--title",
            "t",
            "--json",
        ],
        &["generation", "remove-change", "v2.0.0", "A-1", "--json"],
        &["generation", "rename", "v2.0.0", "v2.0.1", "--json"],
        &["generation", "update", "v2.0.1", "--json"],
        &["generation", "delete", "v2.0.1", "--json"],
        &["promote", "v1.2.0", "--json"],
    ] {
        let out = t.run(args);
        out.clean();
        let j = out.json();
        assert!(j.is_object(), "{out:?}");
    }
    let j = t
        .run(&["generation", "new", "v3.0.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["version"], "v3.0.0");
    let j = t
        .run(&["generation", "delete", "v3.0.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["version"], "v3.0.0");
    let j = Workspace::local().run(&["init", "--json"]).clean().json();
    assert!(j["gryt_dir"].as_str().is_some_and(|s| s.ends_with(".gryt")));
}

#[test]
fn no_colour_and_no_escape_codes() {
    let t = repo_with_draft();
    for args in [
        &["generation", "list"][..],
        &["generation", "show", "v1.2.0"],
        &["evolution", "list"],
    ] {
        let out = t.run(args);
        out.clean();
        assert!(!out.stdout.contains('\x1b'), "{out:?}");
    }
    let out = t.run(&["generation", "show", "v9.0.0"]);
    out.err(1, &["v9.0.0"]);
    assert!(!out.stderr.contains('\x1b'), "{out:?}");
}

#[test]
fn help_version_and_usage_errors() {
    let t = Workspace::local();
    let out = t.run(&["--help"]);
    out.clean().stdout_has("Usage: gryt");
    for sub in [
        "init",
        "generation",
        "evolution",
        "run",
        "promote",
        "config",
    ] {
        assert!(out.stdout.contains(sub), "{out:?}");
    }
    t.run(&["--version"]).clean().stdout_has("gryt ");
    t.run(&["generation", "--help"])
        .clean()
        .stdout_has("add-change");
    for (args, needle) in [
        (&["frobnicate"][..], "frobnicate"),
        (&[], "Usage"),
        (&["generation", "new"], "<VERSION>"),
        (
            &["generation", "add-change", "v1.0.0", "--id", "A-1"],
            "--type",
        ),
        (&["evolution", "start", "v1.0.0"], "--change"),
        (&["generation", "list", "--bogus"], "--bogus"),
    ] {
        let out = t.run(args);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains(needle), "{out:?}");
        assert_eq!(out.stdout, "", "{out:?}");
    }
}

#[test]
fn json_errors_are_one_object_on_stdout_for_every_command() {
    let t = repo_with_draft();
    let cases: [(&[&str], i32, &str, &str); 6] = [
        (
            &["generation", "show", "v9.9.9", "--json"],
            1,
            "error",
            "v9.9.9",
        ),
        (
            &["--json", "evolution", "show", "v1.2.0-rc.7"],
            1,
            "error",
            "not found",
        ),
        (
            &["generation", "new", "banana", "--json"],
            1,
            "error",
            "banana",
        ),
        (&["run", "nope", "--json"], 1, "error", "nope"),
        // Usage errors clap finds, before any command runs.
        (
            &["generation", "frobnicate", "--json"],
            2,
            "usage",
            "frobnicate",
        ),
        (
            &["--json", "evolution", "start", "v1.2.0"],
            2,
            "usage",
            "--change",
        ),
    ];
    for (args, code, kind, needle) in cases {
        let out = t.run(args);
        assert_eq!(out.code, code, "{out:?}");
        let j = out.json();
        let e = &j["error"];
        assert_eq!(e["kind"], kind, "{out:?}");
        assert_eq!(e["exit_code"], code, "{out:?}");
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains(needle)),
            "{out:?}"
        );
        assert!(e.get("hint").is_some(), "{out:?}");
        // The human form stays on stderr.
        assert!(out.stderr.to_lowercase().contains("error"), "{out:?}");
    }
    // A hint travels in the object.
    let out = t.run(&["evolution", "show", "nobody", "--json"]);
    assert!(out.json()["error"]["hint"]
        .as_str()
        .is_some_and(|h| h.contains("gryt evolution list")));
    // A refused promotion reports its gate and the error in one document.
    let out = t.run(&["promote", "v1.2.0", "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    let j = out.json();
    assert_eq!(j["gate"]["ready"], false, "{out:?}");
    assert_eq!(j["error"]["kind"], "error", "{out:?}");
    assert_eq!(j["error"]["exit_code"], 1, "{out:?}");
    // Without --json, stdout stays empty on errors.
    let out = t.run(&["generation", "show", "v9.9.9"]);
    out.err(1, &["v9.9.9"]);
    assert_eq!(out.stdout, "");
}

#[test]
fn escape_sequences_in_records_are_rendered_visibly() {
    let t = repo_with_draft();
    let title = "Login \u{1b}]0;pwned\u{7}\u{1b}[2J now";
    let desc = "desc \u{1b}[31mred\u{9b}1m \u{202e}txt";
    t.run(&["generation", "new", "v2.0.0", "-d", desc]).clean();
    t.run(&[
        "generation",
        "add-change",
        "v2.0.0",
        "--id",
        "FEAT-9",
        "--type",
        "add",
        "--title",
        title,
    ])
    .clean();
    for args in [
        &["generation", "show", "v2.0.0"][..],
        &["generation", "list"],
        &["sync", "status", "v2.0.0"],
    ] {
        let out = t.run(args);
        for raw in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
            assert!(
                !out.stdout.contains(raw) && !out.stderr.contains(raw),
                "{raw:?} printed raw by {args:?}\n{out:?}"
            );
        }
        if args[1] != "list" {
            out.stdout_has("Login ^[]0;pwned^G^[[2J now");
        }
    }
    t.run(&["generation", "show", "v2.0.0"])
        .stdout_has("desc ^[[31mred\\u{9b}1m \\u{202e}txt");
    // Errors and hints too: a version naming an escape.
    let out = t.run(&["generation", "show", "v1\u{1b}[2J"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!out.stderr.contains('\u{1b}'), "{out:?}");
    // JSON keeps the exact text.
    let j = t
        .run(&["generation", "show", "v2.0.0", "--json"])
        .clean()
        .json();
    assert_eq!(j["generation"]["changes"][0]["title"], title);
    assert_eq!(j["generation"]["description"], desc);
}
