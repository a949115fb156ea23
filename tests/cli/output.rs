//! Output discipline: --json, --quiet, no colour, help and usage errors.

use super::harness::{prove_all, repo_with_draft, TestEnv};

#[test]
fn quiet_prints_only_results_and_errors() {
    let t = TestEnv::init();
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
    let q = TestEnv::new();
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
    let j = TestEnv::new().run(&["init", "--json"]).clean().json();
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
    let t = TestEnv::new();
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
