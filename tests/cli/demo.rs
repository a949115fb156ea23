//! `gryt demo` end to end: every story runs to exit 0, and the team part starts the way a
//! team does (users added with `gryt server user add`, `gryt cloud login`, `gryt team
//! create`, a teammate's `git clone` of the lead's repository); without git on PATH it says
//! it skips the clone and still completes.

use super::harness::Workspace;
use crate::support::{finish, Out};

fn demo(t: &Workspace, path: Option<&std::path::Path>) -> Out {
    let mut c = t.command_in(&t.root());
    // The demo's servers and sync use the real clock.
    c.env_remove("GRYT_NOW").arg("demo");
    if let Some(p) = path {
        c.env("PATH", p);
    }
    finish("", &["demo"], c.output().expect("run gryt demo"))
}

/// The onboarding and stories the demo must show, in order.
const SHOWN: &[&str] = &[
    "[admin] $ gryt server user add lead --database sqlite:",
    "<<< \"$PASSWORD\"",
    "[lead] $ gryt cloud login --url http://127.0.0.1:",
    "[lead] $ gryt team create release-team",
    "[lead] $ gryt team add-member ",
    "[lead] $ gryt config team ",
    "-- Coordinated release",
    "-- Same version twice",
    "-- Pull never loses local work",
    "-- Offline",
    "Demo complete",
];

fn assert_in_order(out: &Out, needles: &[&str]) {
    let mut at = 0;
    for n in needles {
        match out.stdout[at..].find(n) {
            Some(i) => at += i + n.len(),
            None => panic!("the demo does not show {n:?} (in order)\n{out:?}"),
        }
    }
}

#[test]
fn the_demo_onboards_a_team_with_a_clone_and_runs_every_story() {
    let t = Workspace::local();
    let out = demo(&t, None);
    out.ok();
    assert_in_order(&out, SHOWN);
    assert_in_order(
        &out,
        &[
            "[lead] $ git commit",
            "[alice] $ git clone -q ws-lead ws-alice",
            "[alice] $ gryt cloud login --url",
            "[bob] $ git clone -q ws-lead ws-bob",
        ],
    );
    assert!(!out.stdout.contains("-demo-password"), "no password shown");
}

#[test]
fn without_git_the_demo_says_it_skips_the_clone() {
    let t = Workspace::local();
    // A PATH with a shell (the pipelines' steps run in one) and no git.
    let bin = t.home().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).expect("link sh");
    let out = demo(&t, Some(&bin));
    out.ok();
    assert_in_order(&out, SHOWN);
    assert!(
        out.stdout
            .contains("git is not on PATH: skipping the teammates' `git clone`"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("$ git "), "{out:?}");
}
