//! `gryt init`, repository discovery and `-C DIR`.

use super::harness::{Workspace, NOW_STORED};

#[test]
fn init_creates_the_layout_without_git() {
    let t = Workspace::local();
    let out = t.run(&["init"]);
    out.clean().stdout_has(&format!(
        "Initialized gryt repository in {}",
        t.gryt_dir().display()
    ));
    let g = t.gryt_dir();
    assert!(g.join("gryt.db").is_file());
    assert!(g.join("config").is_file());
    assert!(g.join("generations").is_dir());
    assert!(g.join("pipelines").is_dir());
    assert!(g.join(".gitignore").is_file());
    assert!(!t.root().join(".git").exists(), "init must not create git");
    t.run(&["generation", "list", "--json"])
        .clean()
        .stdout_has("\"generations\": []");
}

#[test]
fn init_refuses_an_existing_repository() {
    let t = Workspace::local_repo();
    let before = t.snapshot();
    t.run(&["init"]).err(1, &["already exists"]);
    before.assert_same(&t.snapshot(), "second init");
}

#[test]
fn init_at_a_path_and_with_dash_c() {
    let t = Workspace::local();
    // `gryt init PATH`, PATH relative to the current directory and not existing yet.
    t.run(&["init", "projects/app"]).clean();
    let app = t.root().join("projects/app");
    assert!(app.join(".gryt/gryt.db").is_file());
    assert!(!t.gryt_dir().exists(), "init PATH must not touch the cwd");
    // -C DIR acts as if started there.
    t.run(&["-C", "projects/app", "generation", "new", "1.0.0"])
        .clean();
    assert!(app.join(".gryt/generations/v1.0.0.yaml").is_file());
    t.run(&["-C", app.to_str().expect("utf-8"), "generation", "list"])
        .clean()
        .stdout_has("v1.0.0");
    // -C with init.
    t.run(&["-C", "other", "init"])
        .err(1, &["other", "does not exist"]);
    assert!(!t.root().join("other").exists());
    std::fs::create_dir(t.root().join("other")).expect("mkdir");
    t.run(&["-C", "other", "init"]).clean();
    assert!(t.root().join("other/.gryt/gryt.db").is_file());
}

#[test]
fn commands_discover_the_repository_from_a_subdirectory() {
    let t = Workspace::local_repo();
    let deep = t.root().join("src/a/b");
    std::fs::create_dir_all(&deep).expect("mkdir");
    t.run_in(&deep, &["generation", "new", "v2.0.0"]).clean();
    assert!(t.contract("v2.0.0").is_file());
    let list = t.run_in(&deep, &["generation", "list", "--json"]);
    let j = list.clean().json();
    assert_eq!(j["generations"][0]["version"], "v2.0.0");
    assert_eq!(j["generations"][0]["created_at"], NOW_STORED);
    // A nested repository wins over its parent, like git.
    t.run_in(&deep, &["init"]).clean();
    t.run_in(&deep, &["generation", "list", "--json"])
        .clean()
        .stdout_has("\"generations\": []");
}

#[test]
fn init_inside_git_keeps_the_database_out_of_git() {
    let t = Workspace::local_git_repo();
    t.run(&["generation", "new", "v1.0.0"]).clean();
    let status = t.git(&["status", "--porcelain", "--untracked-files=all"]);
    assert!(status.contains(".gryt/.gitignore"), "{status}");
    assert!(status.contains(".gryt/config"), "{status}");
    assert!(status.contains(".gryt/generations/v1.0.0.yaml"), "{status}");
    assert!(!status.contains("gryt.db"), "{status}");
    for ignored in [".gryt/gryt.db", ".gryt/gryt.db-wal", ".gryt/credentials"] {
        t.git(&["check-ignore", "-q", ignored]);
    }
}
