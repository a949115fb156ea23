//! The hermetic test environment: the real `gryt` binary, a temporary HOME and config
//! dir, a cleared environment, a fixed clock, and assertions on exit code, stdout and
//! stderr together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixed instant every command sees (`GRYT_NOW`).
pub const NOW: &str = "2026-01-02T03:04:05Z";
/// How `NOW` is stored in records.
pub const NOW_STORED: &str = "2026-01-02T03:04:05.000000Z";
/// The configured user (`USER`).
pub const USER: &str = "alice";

pub use crate::command::{finish, Out};

/// A temporary directory used as HOME, holding the config dir (`config/`) and a
/// working directory (`work/`) where commands run.
pub struct TestEnv {
    dir: tempfile::TempDir,
}

impl TestEnv {
    /// An empty environment: no repository yet.
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("gryt-cli-")
            .tempdir()
            .expect("temp dir");
        // Canonical paths: error messages name canonical paths (macOS /var -> /private/var).
        std::fs::create_dir_all(dir.path().join("work")).expect("work dir");
        TestEnv { dir }
    }

    /// A fresh repository in `work/` (no git).
    pub fn init() -> TestEnv {
        let t = TestEnv::new();
        t.run(&["init"]).clean();
        t
    }

    /// A fresh repository inside a git repository with one commit.
    pub fn init_git() -> TestEnv {
        let t = TestEnv::new();
        t.git(&["init", "-q", "-b", "main"]);
        std::fs::write(t.root().join("README"), "hello\n").expect("write README");
        t.git(&["add", "README"]);
        t.git(&["commit", "-q", "-m", "first"]);
        t.run(&["init"]).clean();
        t
    }

    /// A copy of this environment's files in a new temporary directory.
    pub fn duplicate(&self) -> TestEnv {
        let t = TestEnv::new();
        copy_tree(self.home(), t.home());
        t
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_dir(&self) -> PathBuf {
        self.home().join("config")
    }

    /// The working directory, where `gryt init` made the repository.
    pub fn root(&self) -> PathBuf {
        std::fs::canonicalize(self.home().join("work")).expect("canonical work dir")
    }

    pub fn gryt_dir(&self) -> PathBuf {
        self.root().join(".gryt")
    }

    pub fn db(&self) -> PathBuf {
        self.gryt_dir().join("gryt.db")
    }

    pub fn contract(&self, version: &str) -> PathBuf {
        self.gryt_dir()
            .join("generations")
            .join(format!("{version}.yaml"))
    }

    pub fn read_contract(&self, version: &str) -> String {
        read(&self.contract(version))
    }

    pub fn write_contract(&self, version: &str, text: &str) {
        write(&self.contract(version), text);
    }

    pub fn write_pipeline(&self, name: &str, text: &str) {
        write(
            &self
                .gryt_dir()
                .join("pipelines")
                .join(format!("{name}.yaml")),
            text,
        );
    }

    /// A `gryt` command with the hermetic environment, run in `dir`.
    pub fn command_in(&self, dir: &Path) -> Command {
        let mut c = crate::command::hermetic(self.home(), USER);
        c.env("GRYT_NOW", NOW)
            // git, should a command call it, must not read the developer's settings.
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.com")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.com")
            .current_dir(dir);
        c
    }

    /// Runs `gryt ARGS` in the repository root.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(&self.root(), &[], args)
    }

    /// Runs `gryt ARGS` in `dir`.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Out {
        self.run_with(dir, &[], args)
    }

    /// Runs `gryt ARGS` in the root with extra environment variables.
    pub fn run_env(&self, vars: &[(&str, &str)], args: &[&str]) -> Out {
        self.run_with(&self.root(), vars, args)
    }

    pub fn run_with(&self, dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Out {
        let mut c = self.command_in(dir);
        c.args(args);
        for (k, v) in vars {
            c.env(k, v);
        }
        finish("", args, c.output().expect("run gryt"))
    }

    /// Runs git in the repository root; it must succeed. Returns its stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_command(args).output().expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// git in the repository root with a cleared environment and a fixed identity and date.
    pub fn git_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.com")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
            .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
            .current_dir(self.root())
            .args(args);
        c
    }

    /// Everything a command could change, read through gryt itself and from disk: the
    /// generation and evolution listings, every generation's `show --json`, every
    /// evolution's `show --json` (with its runs), every file under `.gryt/` but the
    /// database, and the git tags.
    pub fn snapshot(&self) -> Snapshot {
        let mut views = BTreeMap::new();
        let list = self.run(&["generation", "list", "--json"]);
        list.clean();
        let list_json = list.json();
        for g in list_json["generations"].as_array().expect("generations") {
            let v = g["version"].as_str().expect("version").to_string();
            let show = self.run(&["generation", "show", &v, "--json"]);
            show.clean();
            views.insert(format!("generation show {v}"), show.stdout.clone());
        }
        views.insert("generation list".into(), list.stdout.clone());
        let evs = self.run(&["evolution", "list", "--json"]);
        evs.clean();
        for e in evs.json()["evolutions"].as_array().expect("evolutions") {
            let id = e["evolution_id"].as_str().expect("id").to_string();
            let show = self.run(&["evolution", "show", &id, "--json"]);
            show.clean();
            views.insert(format!("evolution show {id}"), show.stdout.clone());
        }
        views.insert("evolution list".into(), evs.stdout.clone());
        if self.root().join(".git").exists() {
            views.insert("git tags".into(), self.git(&["tag", "-l"]));
        }
        Snapshot {
            views,
            files: self.files(),
        }
    }

    /// Every file under `.gryt/` except the database and its journals, with its bytes.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        collect_files(&self.gryt_dir(), &self.gryt_dir(), &mut files);
        files.retain(|k, _| !k.starts_with("gryt.db"));
        files
    }

    /// Runs `args`, expects the error, and checks that nothing changed.
    #[track_caller]
    pub fn refused(&self, args: &[&str], code: i32, needles: &[&str]) -> Out {
        let before = self.snapshot();
        let out = self.run(args);
        out.err(code, needles);
        let after = self.snapshot();
        before.assert_same(&after, &format!("{out:?}"));
        out
    }
}

/// What a repository holds, for "nothing changed" assertions.
#[derive(PartialEq, Eq)]
pub struct Snapshot {
    pub views: BTreeMap<String, String>,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Snapshot {
    /// Names what differs between two snapshots, if anything.
    pub fn diff(&self, after: &Snapshot) -> Option<String> {
        if self == after {
            return None;
        }
        let mut out = String::new();
        let keys: std::collections::BTreeSet<&String> =
            self.views.keys().chain(after.views.keys()).collect();
        for k in keys {
            let (a, b) = (self.views.get(k), after.views.get(k));
            if a != b {
                out.push_str(&format!(
                    "view {k} changed:\n--- before:\n{}\n--- after:\n{}\n",
                    a.map_or("(absent)", |s| s),
                    b.map_or("(absent)", |s| s)
                ));
            }
        }
        let keys: std::collections::BTreeSet<&String> =
            self.files.keys().chain(after.files.keys()).collect();
        for k in keys {
            let (a, b) = (self.files.get(k), after.files.get(k));
            if a != b {
                out.push_str(&format!(
                    "file .gryt/{k} changed:\n--- before:\n{}\n--- after:\n{}\n",
                    a.map_or("(absent)".into(), |s| String::from_utf8_lossy(s)),
                    b.map_or("(absent)".into(), |s| String::from_utf8_lossy(s))
                ));
            }
        }
        Some(out)
    }

    #[track_caller]
    pub fn assert_same(&self, after: &Snapshot, context: &str) {
        if let Some(d) = self.diff(after) {
            panic!("the repository changed:\n{d}\nafter:\n{context}");
        }
    }
}

fn collect_files(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let path = e.expect("dir entry").path();
        if path.is_dir() {
            collect_files(base, &path, out);
        } else {
            let rel = path
                .strip_prefix(base)
                .expect("under base")
                .to_string_lossy()
                .into_owned();
            out.insert(rel, std::fs::read(&path).expect("read file"));
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("dir entry");
        let target = to.join(e.file_name());
        let ft = e.file_type().expect("file type");
        if ft.is_dir() {
            copy_tree(&e.path(), &target);
        } else if ft.is_file() {
            std::fs::copy(e.path(), &target).expect("copy file");
        }
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn write(path: &Path, text: &str) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).expect("create parent");
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Writes an executable script.
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A repository with a draft v1.2.0 holding FEAT-101 (add) and BUG-7 (fix).
pub fn repo_with_draft() -> TestEnv {
    let t = TestEnv::init();
    t.run(&["generation", "new", "v1.2.0", "-d", "Spring release"])
        .clean();
    add_change(&t, "v1.2.0", "FEAT-101", "add", "OAuth2 login");
    add_change(&t, "v1.2.0", "BUG-7", "fix", "Session timeout");
    t
}

pub fn add_change(t: &TestEnv, version: &str, id: &str, kind: &str, title: &str) {
    t.run(&[
        "generation",
        "add-change",
        version,
        "--id",
        id,
        "--type",
        kind,
        "--title",
        title,
    ])
    .clean();
}

/// Proves every change of `version` with a passing evolution.
pub fn prove_all(t: &TestEnv, version: &str) {
    let show = t.run(&["generation", "show", version, "--json"]);
    for c in show.ok().json()["generation"]["changes"]
        .as_array()
        .expect("changes")
    {
        let id = c["id"].as_str().expect("id");
        let ev = t
            .run(&["evolution", "start", version, "--change", id, "--json"])
            .ok()
            .json();
        let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
        t.run(&["evolution", "complete", &tag, "--status", "pass"])
            .clean();
    }
}
