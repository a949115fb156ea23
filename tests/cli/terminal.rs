//! Terminal conventions through the real binary: colour (`--color`, `NO_COLOR`,
//! `CLICOLOR_FORCE`, `CLICOLOR`), tables that line up with colour on and never split a word,
//! no pager into a pipe, completion scripts and man pages, relative times, one JSON time
//! format, the change id spelled `--change` with the old spellings kept.
//!
//! The hermetic environment sets `NO_COLOR=1`; an empty `NO_COLOR` (which must do nothing)
//! takes it back.

use super::harness::{add_change, repo_with_draft, write_script, Workspace};
use crate::support::{gryt_bin, Out};

/// A repository whose tables have long words and a description that must wrap.
fn repo_with_tables() -> Workspace {
    let t = repo_with_draft();
    t.run(&[
        "generation",
        "new",
        "v10.20.30-rc.40",
        "-d",
        "A release whose description is long enough to wrap at sixty columns for sure",
    ])
    .clean();
    add_change(&t, "v10.20.30-rc.40", "LONGFEATURE-12345", "refine", "x");
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    t.run(&["evolution", "complete", "v1.2.0-rc.1", "--status", "pass"])
        .clean();
    t
}

/// `text` without SGR colour sequences.
fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\u{1b}[") {
        out.push_str(&rest[..at]);
        let body = &rest[at + 2..];
        let end = body
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .expect("a complete escape sequence");
        assert_eq!(&body[end..end + 1], "m", "only colour sequences: {text:?}");
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every word of every line with the column it starts at.
fn words_at(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_whitespace() {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            out.push((n, start, chars[start..i].iter().collect()));
        }
    }
    out
}

fn colour_on(out: &Out) -> bool {
    out.stdout.contains('\u{1b}')
}

#[test]
fn coloured_tables_line_up_like_plain_ones_and_keep_words_whole() {
    let t = repo_with_tables();
    for columns in ["40", "60", "80", "200"] {
        for args in [
            &["generation", "list"][..],
            &["evolution", "list"],
            &["generation", "show", "v1.2.0"],
        ] {
            let plain = t.run_env(args, &[("COLUMNS", columns)]);
            plain.clean();
            let coloured = t.run_env(
                args,
                &[
                    ("COLUMNS", columns),
                    ("NO_COLOR", ""),
                    ("CLICOLOR_FORCE", "1"),
                ],
            );
            coloured.clean();
            assert!(colour_on(&coloured), "colour forced on\n{coloured:?}");
            assert!(!colour_on(&plain), "{plain:?}");
            assert_eq!(
                words_at(&strip_sgr(&coloured.stdout)),
                words_at(&plain.stdout),
                "COLUMNS={columns}: the coloured table's columns differ\n{coloured:?}\n{plain:?}"
            );
            let words: Vec<String> = words_at(&plain.stdout)
                .into_iter()
                .map(|(_, _, w)| w)
                .collect();
            let whole: &[&str] = match args[0] {
                "generation" if args[1] == "list" => {
                    &["v10.20.30-rc.40", "not_synced", "Evolutions", "Description"]
                }
                "generation" => &["FEAT-101", "proven:", "unproven:"],
                _ => &["v1.2.0-rc.1", "FEAT-101", "pass"],
            };
            for w in whole {
                assert!(
                    words.iter().any(|x| x == w),
                    "COLUMNS={columns}: {w} was split\n{plain:?}"
                );
            }
            for part in ["pas", "not_syn", "v10.20.30-", "Evolutio"] {
                assert!(
                    !words.iter().any(|x| x == part),
                    "COLUMNS={columns}: a split word {part}\n{plain:?}"
                );
            }
        }
    }
    // At 80 columns the long description wraps between words instead of widening the
    // table past the terminal (at 60 the words alone need 70 columns: they stay whole).
    let list = t.run_env(&["generation", "list"], &[("COLUMNS", "80")]);
    for line in list.stdout.lines() {
        assert!(line.chars().count() <= 80, "{line:?}\n{list:?}");
    }
    assert!(list.stdout.lines().count() > 3, "{list:?}");
}

#[test]
fn colour_follows_the_flag_then_the_environment() {
    let t = repo_with_draft();
    let list = ["generation", "list"];
    // (arguments before the command, variables, colour expected) — stdout is a pipe.
    type Vars = &'static [(&'static str, &'static str)];
    let cases: &[(&[&str], Vars, bool)] = &[
        (&[], &[], false),
        (&["--color", "always"], &[], true),
        (&["--color=always"], &[("NO_COLOR", "1")], true),
        (
            &["--color", "never"],
            &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")],
            false,
        ),
        (
            &["--color", "auto"],
            &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")],
            true,
        ),
        // NO_COLOR, when not empty, beats CLICOLOR_FORCE.
        (&[], &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")], false),
        // An empty NO_COLOR does nothing.
        (&[], &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "yes")], true),
        (&[], &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "0")], false),
        // CLICOLOR=1 does not colour a pipe; CLICOLOR_FORCE beats CLICOLOR=0.
        (&[], &[("NO_COLOR", ""), ("CLICOLOR", "1")], false),
        (
            &[],
            &[("NO_COLOR", ""), ("CLICOLOR", "0"), ("CLICOLOR_FORCE", "1")],
            true,
        ),
    ];
    for (flags, vars, expected) in cases {
        let args: Vec<&str> = flags.iter().chain(list.iter()).copied().collect();
        let out = t.run_env(&args, vars);
        out.clean();
        assert_eq!(colour_on(&out), *expected, "{flags:?} {vars:?}\n{out:?}");
    }
    // Errors on stderr follow the same rules.
    let err = t.run(&["--color", "always", "generation", "show", "v9.9.9"]);
    assert!(err.stderr.starts_with("\u{1b}[31mError:"), "{err:?}");
    let err = t.run(&["--color", "never", "generation", "show", "v9.9.9"]);
    err.err(1, &["v9.9.9"]);
    // A bad value is a usage error listing the choices.
    t.run(&["--color", "sometimes", "generation", "list"])
        .err(2, &["always", "never", "auto"]);
}

#[test]
fn output_into_a_pipe_never_pages() {
    let t = repo_with_draft();
    let marker = t.home().join("pager-ran");
    let pager = t.home().join("pager.sh");
    write_script(
        &pager,
        &format!("#!/bin/sh\ntouch '{}'\ncat\n", marker.display()),
    );
    let pager = pager.display().to_string();
    for args in [
        &["generation", "list"][..],
        &["generation", "show", "v1.2.0"],
        &["generation", "list", "--json"],
    ] {
        for var in ["GRYT_PAGER", "PAGER"] {
            let out = t.run_env(args, &[(var, pager.as_str())]);
            out.clean();
            assert!(out.stdout.contains("v1.2.0"), "{out:?}");
            assert!(!marker.exists(), "{var} started for a pipe\n{out:?}");
        }
    }
    // --no-pager is accepted everywhere.
    t.run(&["--no-pager", "generation", "list"])
        .clean()
        .stdout_has("v1.2.0");
}

/// On a terminal (a pty made by util-linux `script`), listings go through the pager, with
/// `LESS=FRX` when `LESS` is unset; `--no-pager`, `--json` and a pager that cannot start
/// leave the output on the terminal.
#[test]
fn a_terminal_pages_through_the_configured_pager() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        crate::support::note("util-linux `script` is not installed: no pty to page on");
        return;
    }
    let t = repo_with_draft();
    let pager = t.home().join("pager.sh");
    write_script(
        &pager,
        "#!/bin/sh\necho \"PAGER LESS=$LESS\"\nsed 's/^/PAGED|/'\n",
    );
    let pager = pager.display().to_string();
    let on_tty = |gryt_args: &str, vars: &[(&str, &str)]| -> Out {
        let mut c = t.program_in("script", &t.root());
        c.envs(vars.iter().copied())
            .args(["-qec", &format!("\"$GRYT\" {gryt_args}"), "/dev/null"]);
        c.env("GRYT", gryt_bin());
        t.run_command(c, &["(on a pty)", gryt_args], None)
    };
    let paged = on_tty("generation list", &[("GRYT_PAGER", pager.as_str())]);
    paged.ok();
    assert!(paged.stdout.contains("PAGER LESS=FRX"), "{paged:?}");
    assert!(
        paged
            .stdout
            .lines()
            .any(|l| l.starts_with("PAGED|") && l.contains("v1.2.0")),
        "{paged:?}"
    );
    // PAGER when GRYT_PAGER is unset; LESS as the user set it.
    let paged = on_tty(
        "generation show v1.2.0",
        &[("PAGER", pager.as_str()), ("LESS", "-R")],
    );
    assert!(paged.stdout.contains("PAGER LESS=-R"), "{paged:?}");
    assert!(
        paged.stdout.contains("PAGED|Generation v1.2.0"),
        "{paged:?}"
    );
    for (args, vars) in [
        (
            "--no-pager generation list",
            vec![("GRYT_PAGER", pager.as_str())],
        ),
        (
            "generation list --json",
            vec![("GRYT_PAGER", pager.as_str())],
        ),
        (
            "generation list",
            vec![("GRYT_PAGER", "/nonexistent/pager")],
        ),
        ("generation list", vec![("GRYT_PAGER", "cat")]),
    ] {
        let out = on_tty(args, &vars);
        out.ok();
        assert!(!out.stdout.contains("PAGED|"), "{args} {vars:?}\n{out:?}");
        assert!(out.stdout.contains("v1.2.0"), "{args} {vars:?}\n{out:?}");
    }
}

#[test]
fn completion_scripts_load() {
    let t = Workspace::local();
    let bash = t.run(&["completions", "bash"]);
    bash.clean().stdout_has("complete");
    let mut c = t.program_in("bash", &t.root());
    c.args([
        "-c",
        "source <(\"$0\" completions bash) && complete -p gryt",
        gryt_bin(),
    ]);
    let loaded = t.run_command(c, &["(bash) source <(gryt completions bash)"], None);
    loaded.clean().stdout_has("gryt");
    // Subcommands and listed values are in the script.
    for word in [
        "generation",
        "add-change",
        "--change",
        "refine",
        "completions",
    ] {
        bash.stdout_has(word);
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = t.run(&["completions", shell]);
        out.clean();
        assert!(out.stdout.contains("gryt"), "{out:?}");
    }
    for shell in ["zsh", "fish"] {
        if std::process::Command::new(shell)
            .arg("--version")
            .output()
            .is_err()
        {
            crate::support::note(&format!(
                "{shell} is not installed: its script is not loaded"
            ));
            continue;
        }
        let load = match shell {
            "zsh" => "autoload -U compinit && compinit -u && source <(\"$0\" completions zsh)",
            _ => "\"$0\" completions fish | source && complete -c gryt | head -1",
        };
        let mut c = t.program_in(shell, &t.root());
        c.args(["-c", load, gryt_bin()]);
        t.run_command(c, &[shell], None).ok();
    }
    t.run(&["completions", "tcsh"]).err(2, &["bash"]);
}

#[test]
fn man_pages_are_written_and_render() {
    let t = Workspace::local();
    let page = t.run(&["man"]);
    page.clean();
    assert!(
        page.stdout.starts_with(".ie") || page.stdout.contains(".TH gryt"),
        "{page:?}"
    );
    let dir = t.home().join("man1");
    let dir_arg = dir.display().to_string();
    let wrote = t.run(&["man", &dir_arg]);
    wrote.clean().stdout_has("man pages");
    for name in [
        "gryt.1",
        "gryt-generation.1",
        "gryt-generation-add-change.1",
        "gryt-sync-pull.1",
        "gryt-completions.1",
        "gryt-man.1",
    ] {
        assert!(dir.join(name).is_file(), "{name} missing\n{wrote:?}");
    }
    // `man -l` renders it when man is installed (groff otherwise).
    let page_file = dir.join("gryt-generation-add-change.1");
    let page_arg = page_file.display().to_string();
    let rendered = if std::process::Command::new("man").arg("-w").output().is_ok() {
        let mut c = t.program_in("man", &t.root());
        c.env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .args(["-l", &page_arg]);
        t.run_command(c, &["(man -l)"], None)
    } else {
        let mut c = t.program_in("groff", &t.root());
        c.args(["-man", "-Tutf8", &page_arg]);
        t.run_command(c, &["(groff)"], None)
    };
    rendered.ok();
    for needle in ["add-change", "--change", "--type", "refine", "Examples"] {
        assert!(
            rendered.stdout.contains(needle),
            "the rendered page lacks {needle}\n{rendered:?}"
        );
    }
}

#[test]
fn the_change_id_is_spelled_change_and_the_old_spellings_still_work() {
    let t = repo_with_draft();
    // The old spellings: `add-change --id`, `remove-change VERSION ID`.
    t.run(&[
        "generation",
        "add-change",
        "v1.2.0",
        "--id",
        "OLD-1",
        "--type",
        "fix",
        "--title",
        "x",
    ])
    .clean();
    t.run(&["generation", "remove-change", "v1.2.0", "OLD-1"])
        .clean()
        .stdout_has("Removed OLD-1");
    // The one spelling.
    t.run(&[
        "generation",
        "add-change",
        "v1.2.0",
        "--change",
        "NEW-1",
        "--type",
        "fix",
        "--title",
        "x",
    ])
    .clean();
    t.run(&["generation", "remove-change", "v1.2.0", "--change", "NEW-1"])
        .clean()
        .stdout_has("Removed NEW-1");
    t.run(&["generation", "remove-change", "v1.2.0"])
        .err(2, &["--change"]);
    // Help shows only --change; --type lists its values.
    let help = t.run(&["generation", "add-change", "--help"]);
    help.clean()
        .stdout_has("--change <ID>")
        .stdout_has("add, fix, refine, remove");
    assert!(!help.stdout.contains("--id"), "{help:?}");
    let help = t.run(&["generation", "remove-change", "--help"]);
    help.clean().stdout_has("--change <ID>");
    // A wrong type is still gryt's own error (exit 1, with the values).
    t.run(&[
        "generation",
        "add-change",
        "v1.2.0",
        "--change",
        "X-1",
        "--type",
        "feature",
        "--title",
        "x",
    ])
    .err(1, &["Unknown change type 'feature'"]);
}

#[test]
fn human_tables_show_relative_times_and_json_one_format() {
    let t = repo_with_draft();
    t.run(&["evolution", "start", "v1.2.0", "--change", "FEAT-101"])
        .clean();
    // The clock moved three hours and two days on.
    let later = [("GRYT_NOW", "2026-01-04T06:04:05Z")];
    t.run_env(&["evolution", "list"], &later)
        .clean()
        .stdout_has("2 days ago");
    t.run_env(&["generation", "show", "v1.2.0"], &later)
        .clean()
        .stdout_has("by alice (2 days ago)");
    let j = t
        .run(&["generation", "show", "v1.2.0", "--json"])
        .ok()
        .json();
    let mut times = Vec::new();
    collect_times(&j, &mut times);
    assert!(times.len() >= 3, "{j:#}");
    for (k, v) in &times {
        assert!(
            v.ends_with('Z') && v.len() == "2026-01-02T03:04:05.000000Z".len(),
            "{k}: {v} is not RFC 3339 UTC with Z and microseconds"
        );
    }
}

fn collect_times(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match v.as_str() {
                    Some(s) if k == "at" || k.ends_with("_at") => {
                        out.push((k.clone(), s.to_string()))
                    }
                    _ => collect_times(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_times(v, out)),
        _ => {}
    }
}

#[test]
fn global_flags_act_where_they_are_offered() {
    let t = Workspace::local_repo();
    // `config KEY VALUE`: --json reports what was set; -q prints nothing.
    let j = t.run(&["config", "team", "core", "--json"]).clean().json();
    assert_eq!(j["key"], "team");
    assert_eq!(j["value"], "core");
    assert_eq!(j["source"], "repository");
    let j = t
        .run(&["config", "team", "--unset", "--json"])
        .clean()
        .json();
    assert_eq!(j["removed"], true);
    let q = t.run(&["-q", "config", "team", "core"]);
    q.clean();
    assert_eq!(q.stdout, "");
    // Plurals.
    t.run(&["generation", "new", "v1.0.0"]).clean();
    add_change(&t, "v1.0.0", "ONE-1", "add", "only one");
    t.run(&["generation", "update", "v1.0.0"])
        .clean()
        .stdout_has("(1 change)");
    t.run(&["check"])
        .clean()
        .stdout_has("Checked 1 file: all valid.");
}

/// A cloud-first promotion takes the server's promotion time, which the server writes with
/// `+00:00`; the record's JSON still shows every time one way.
#[test]
fn json_times_after_a_cloud_promotion_use_one_format() {
    let cloud = crate::support::server::Cloud::with_users(&["alice"]);
    let t = Workspace::local().join(&cloud.url(), None);
    t.run(&["generation", "new", "v1.0.0"]).ok();
    add_change(&t, "v1.0.0", "FEAT-1", "add", "x");
    t.run(&["evolution", "start", "v1.0.0", "--change", "FEAT-1"])
        .ok();
    t.run(&["evolution", "complete", "v1.0.0-rc.1", "--status", "pass"])
        .ok();
    t.run(&["promote", "v1.0.0"]).ok();
    t.run(&["sync", "pull"]).ok();
    for args in [
        &["generation", "show", "v1.0.0", "--json"][..],
        &["generation", "list", "--json"],
        &["evolution", "list", "--json"],
        &["sync", "log", "--json"],
    ] {
        let j = t.run(args).ok().json();
        let mut times = Vec::new();
        collect_times(&j, &mut times);
        assert!(!times.is_empty(), "{args:?}: {j:#}");
        for (k, v) in &times {
            assert!(
                v.ends_with('Z') && v.len() == "2026-01-02T03:04:05.000000Z".len(),
                "{args:?}: {k} = {v}\n{j:#}"
            );
        }
    }
}
