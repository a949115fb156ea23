//! The little gryt needs from git: detecting a work tree, the commit a proof ran on and whether
//! the tree was dirty, ancestry between commits, and writing the annotated release tag on
//! promotion. Everything goes through the `git` executable with `GIT_TERMINAL_PROMPT=0` and
//! standard input closed (or carrying the tag message), so git never waits for the user.
//!
//! Errors are `anyhow` errors wrapping a [`GitError`], which the CLI can downcast to print its
//! message and hint.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use anyhow::Context;

/// A git operation that failed, with an optional next step for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GitError {
    pub message: String,
    pub hint: Option<String>,
}

impl GitError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }

    fn hinted(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    command
}

fn output(mut command: Command) -> anyhow::Result<Output> {
    command.output().map_err(|err| spawn_error(&err).into())
}

fn spawn_error(err: &std::io::Error) -> GitError {
    if err.kind() == std::io::ErrorKind::NotFound {
        GitError::hinted(
            "git is not installed or not on PATH",
            "install git, or promote with --no-tag to skip tagging",
        )
    } else {
        GitError::new(format!("cannot run git: {err}"))
    }
}

fn stderr_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// True when `dir` is inside a git work tree (false when it is not, or git is missing).
pub fn is_git_repo(dir: &Path) -> bool {
    let mut command = git(dir);
    command
        .args(["rev-parse", "--is-inside-work-tree"])
        .stderr(Stdio::null());
    match command.output() {
        Ok(out) => out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "true",
        Err(_) => false,
    }
}

/// The URL of the remote `origin` of the git repository at `dir`, if there is one.
pub fn origin_url(dir: &Path) -> Option<String> {
    let mut command = git(dir);
    command
        .args(["config", "--get", "remote.origin.url"])
        .stderr(Stdio::null());
    let out = command.output().ok()?;
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !url.is_empty()).then_some(url)
}

/// Rejects tag names git would refuse or could read as an option.
fn check_tag_name(dir: &Path, tag: &str) -> anyhow::Result<()> {
    let invalid = || GitError::new(format!("{tag:?} is not a valid git tag name"));
    if tag.is_empty() || tag.starts_with('-') {
        return Err(invalid().into());
    }
    let mut command = git(dir);
    command
        .args(["check-ref-format", &format!("refs/tags/{tag}")])
        .stderr(Stdio::null());
    let out = output(command)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(invalid().into())
    }
}

/// Whether tag `tag` exists in the repository at `dir`.
pub fn tag_exists(dir: &Path, tag: &str) -> anyhow::Result<bool> {
    check_tag_name(dir, tag)?;
    let mut command = git(dir);
    command.args([
        "rev-parse",
        "--quiet",
        "--verify",
        &format!("refs/tags/{tag}"),
    ]);
    let out = output(command)?;
    match out.status.code() {
        Some(0) => Ok(true),
        // `--quiet --verify` exits 1 with no message for a ref that does not exist.
        Some(1) if out.stderr.is_empty() => Ok(false),
        _ => Err(GitError::new(format!(
            "cannot check for tag {tag} in {}: {}",
            dir.display(),
            stderr_text(&out)
        ))
        .into()),
    }
}

/// The commit HEAD points at (full id), `None` outside a work tree or before the first commit.
pub fn head_commit(dir: &Path) -> Option<String> {
    if !is_git_repo(dir) {
        return None;
    }
    let mut command = git(dir);
    command
        .args(["rev-parse", "--quiet", "--verify", "HEAD^{commit}"])
        .stderr(Stdio::null());
    let out = command.output().ok()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(id)
}

/// Whether the work tree has changes not in HEAD: modified or staged tracked files and
/// untracked files git does not ignore, anywhere in the work tree except the paths in
/// `exclude` (relative to `dir`: gryt's own contract files, which gryt itself rewrites).
pub fn is_dirty(dir: &Path, exclude: &[&str]) -> anyhow::Result<bool> {
    let mut command = git(dir);
    command.args(["status", "--porcelain", "--untracked-files=all", "--"]);
    command.arg(":/");
    for e in exclude {
        command.arg(format!(":(exclude){e}"));
    }
    let out = output(command)?;
    if !out.status.success() {
        return Err(GitError::new(format!(
            "cannot read the state of the work tree in {}: {}",
            dir.display(),
            stderr_text(&out)
        ))
        .into());
    }
    Ok(!out.stdout.iter().all(|b| b.is_ascii_whitespace()))
}

/// Whether commit `a` is `b` or one of its ancestors (false for unknown commits).
pub fn is_ancestor(dir: &Path, a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if a.starts_with('-') || b.starts_with('-') {
        return false;
    }
    let mut command = git(dir);
    command
        .args(["merge-base", "--is-ancestor", a, b])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command.output().is_ok_and(|o| o.status.success())
}

/// The commit tag `tag` points at (peeled), if the tag exists.
#[cfg(test)]
pub fn tag_commit(dir: &Path, tag: &str) -> Option<String> {
    check_tag_name(dir, tag).ok()?;
    let mut command = git(dir);
    command
        .args([
            "rev-parse",
            "--quiet",
            "--verify",
            &format!("refs/tags/{tag}^{{commit}}"),
        ])
        .stderr(Stdio::null());
    let out = command.output().ok()?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !id.is_empty()).then_some(id)
}

/// Whether HEAD points at a commit (false in a repository with no commits yet).
fn has_head_commit(dir: &Path) -> anyhow::Result<bool> {
    let mut command = git(dir);
    command
        .args(["rev-parse", "--quiet", "--verify", "HEAD^{commit}"])
        .stderr(Stdio::null());
    Ok(output(command)?.status.success())
}

/// Creates annotated tag `tag` on HEAD with `message` (passed on standard input, kept verbatim
/// apart from surrounding whitespace). Fails if the tag exists, HEAD has no commit, git has no
/// user identity, or git fails for another reason (its stderr is included).
pub fn create_annotated_tag(dir: &Path, tag: &str, message: &str) -> anyhow::Result<()> {
    create_annotated_tag_with_env(dir, tag, message, None, &[])
}

/// Like [`create_annotated_tag`] on commit `commit` instead of HEAD (the commit a promotion
/// checked, whatever HEAD has become since).
pub fn create_annotated_tag_at(
    dir: &Path,
    tag: &str,
    message: &str,
    commit: &str,
) -> anyhow::Result<()> {
    create_annotated_tag_with_env(dir, tag, message, Some(commit), &[])
}

fn create_annotated_tag_with_env(
    dir: &Path,
    tag: &str,
    message: &str,
    commit: Option<&str>,
    env: &[(&str, &str)],
) -> anyhow::Result<()> {
    if commit.is_some_and(|c| c.is_empty() || !c.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(GitError::new(format!("{commit:?} is not a commit id")).into());
    }
    if !is_git_repo(dir) {
        return Err(GitError::hinted(
            format!("{} is not inside a git repository", dir.display()),
            "promote with --no-tag, or run `git init` and commit first",
        )
        .into());
    }
    if !has_head_commit(dir)? {
        return Err(GitError::hinted(
            format!(
                "cannot tag {tag}: the git repository at {} has no commits yet",
                dir.display()
            ),
            "commit your work first (`git commit`), or promote with --no-tag",
        )
        .into());
    }
    if tag_exists(dir, tag)? {
        return Err(GitError::hinted(
            format!("git tag {tag} already exists"),
            format!("inspect it with `git show {tag}`; delete it with `git tag -d {tag}` if it is stale"),
        )
        .into());
    }

    let mut command = git(dir);
    command
        .args([
            "tag",
            "--annotate",
            "--cleanup=whitespace",
            "--file=-",
            "--",
            tag,
        ])
        .args(commit)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|err| spawn_error(&err))?;
    if let Some(mut stdin) = child.stdin.take() {
        // git reads the whole message before writing anything, so this cannot deadlock; a write
        // error (git exited early) shows up in its exit status and stderr below.
        let _ = stdin.write_all(message.as_bytes());
    }
    let out = child
        .wait_with_output()
        .context("waiting for `git tag` to finish")?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = stderr_text(&out);
    if is_identity_error(&stderr) {
        return Err(GitError::hinted(
            format!("cannot create git tag {tag}: git does not know who you are\n{stderr}"),
            "run `git config --global user.name \"Your Name\"` and \
             `git config --global user.email you@example.com`, or promote with --no-tag",
        )
        .into());
    }
    Err(GitError::new(format!("git could not create tag {tag}: {stderr}")).into())
}

fn is_identity_error(stderr: &str) -> bool {
    [
        "Please tell me who you are",
        "unable to auto-detect email address",
        "empty ident name",
        "no email was given",
        "no name was given",
    ]
    .iter()
    .any(|needle| stderr.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A unique temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let unique = crate::context::new_uuid();
            let dir = std::env::temp_dir()
                .join(format!("gryt-git-test-{}-{n}-{unique}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs git in `dir` isolated from the user's and system's configuration.
    fn git_ok(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    const IDENTITY: [&str; 4] = ["-c", "user.name=Test", "-c", "user.email=test@example.com"];

    /// A repository with one commit; `with_identity` also stores the identity in its config.
    fn repo(with_identity: bool) -> TempDir {
        let dir = TempDir::new();
        git_ok(dir.path(), &["init", "-q"]);
        if with_identity {
            git_ok(dir.path(), &["config", "user.name", "Test"]);
            git_ok(dir.path(), &["config", "user.email", "test@example.com"]);
        }
        let mut commit = IDENTITY.to_vec();
        commit.extend(["commit", "-q", "--allow-empty", "-m", "initial"]);
        git_ok(dir.path(), &commit);
        dir
    }

    #[test]
    fn detects_repositories() {
        let r = repo(true);
        assert!(is_git_repo(r.path()));
        std::fs::create_dir_all(r.path().join("sub/dir")).unwrap();
        assert!(is_git_repo(&r.path().join("sub/dir")));
        let plain = TempDir::new();
        assert!(!is_git_repo(plain.path()));
        assert!(!is_git_repo(&plain.path().join("missing")));
    }

    #[test]
    fn creates_an_annotated_tag_once() {
        let r = repo(true);
        assert!(!tag_exists(r.path(), "v1.0.0").unwrap());
        let message = "Release v1.0.0\n\n- FEAT-1 (add): first\n# not a comment\n--option-like\n";
        create_annotated_tag(r.path(), "v1.0.0", message).unwrap();
        assert!(tag_exists(r.path(), "v1.0.0").unwrap());
        assert_eq!(
            git_ok(r.path(), &["cat-file", "-t", "v1.0.0"]).trim(),
            "tag"
        );
        let body = git_ok(
            r.path(),
            &["for-each-ref", "--format=%(contents)", "refs/tags/v1.0.0"],
        );
        assert_eq!(body.trim_end(), message.trim_end());

        let err = create_annotated_tag(r.path(), "v1.0.0", "again").unwrap_err();
        let git_err = err.downcast_ref::<GitError>().unwrap();
        assert!(git_err.message.contains("already exists"), "{err}");
        assert!(git_err.hint.is_some());
    }

    #[test]
    fn commits_dirt_ancestry_and_tags_at_a_commit() {
        let r = repo(true);
        let first = head_commit(r.path()).unwrap();
        assert!(!is_dirty(r.path(), &[]).unwrap());
        std::fs::create_dir_all(r.path().join(".gryt/generations")).unwrap();
        std::fs::write(r.path().join(".gryt/generations/v1.0.0.yaml"), "x").unwrap();
        assert!(is_dirty(r.path(), &[]).unwrap());
        assert!(!is_dirty(r.path(), &[".gryt/generations"]).unwrap());
        std::fs::write(r.path().join("code.rs"), "fn main() {}").unwrap();
        assert!(is_dirty(r.path(), &[".gryt/generations"]).unwrap());
        let mut commit = IDENTITY.to_vec();
        commit.extend(["commit", "-q", "--allow-empty", "-m", "second"]);
        git_ok(r.path(), &commit);
        let second = head_commit(r.path()).unwrap();
        assert_ne!(first, second);
        assert!(is_ancestor(r.path(), &first, &second));
        assert!(!is_ancestor(r.path(), &second, &first));
        assert!(!is_ancestor(r.path(), "0123456789abcdef", &second));
        assert!(!is_ancestor(r.path(), "--help", &second));
        create_annotated_tag_at(r.path(), "v1.0.0", "m", &first).unwrap();
        assert_eq!(
            tag_commit(r.path(), "v1.0.0").as_deref(),
            Some(first.as_str())
        );
        assert!(create_annotated_tag_at(r.path(), "v2.0.0", "m", "--force").is_err());
        let plain = TempDir::new();
        assert_eq!(head_commit(plain.path()), None);
        assert_eq!(tag_commit(plain.path(), "v1.0.0"), None);
    }

    #[test]
    fn tag_names_are_checked() {
        let r = repo(true);
        for bad in ["", "-d", "a..b", "a b", "v1~1", "x:y"] {
            assert!(tag_exists(r.path(), bad).is_err(), "{bad}");
            assert!(create_annotated_tag(r.path(), bad, "m").is_err(), "{bad}");
        }
        assert!(create_annotated_tag(r.path(), "v1.2.0-rc.1", "m").is_ok());
    }

    #[test]
    fn repository_without_commits_is_refused() {
        let dir = TempDir::new();
        git_ok(dir.path(), &["init", "-q"]);
        let err = create_annotated_tag(dir.path(), "v1.0.0", "m").unwrap_err();
        assert!(err.to_string().contains("no commits yet"), "{err}");
    }

    #[test]
    fn outside_a_repository_is_refused() {
        let dir = TempDir::new();
        let err = create_annotated_tag(dir.path(), "v1.0.0", "m").unwrap_err();
        assert!(
            err.to_string().contains("not inside a git repository"),
            "{err}"
        );
        assert!(tag_exists(dir.path(), "v1.0.0").is_err());
    }

    #[test]
    fn missing_identity_is_explained() {
        let r = repo(false);
        let env = [
            ("GIT_CONFIG_GLOBAL", "/dev/null"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", "user.useConfigOnly"),
            ("GIT_CONFIG_VALUE_0", "true"),
            ("GIT_COMMITTER_NAME", ""),
            ("GIT_COMMITTER_EMAIL", ""),
            ("EMAIL", ""),
        ];
        let err = create_annotated_tag_with_env(r.path(), "v1.0.0", "m", None, &env).unwrap_err();
        let git_err = err.downcast_ref::<GitError>().unwrap();
        assert!(
            git_err.message.contains("does not know who you are"),
            "{err}"
        );
        assert!(git_err.hint.as_deref().unwrap().contains("user.email"));
        assert!(!tag_exists(r.path(), "v1.0.0").unwrap());
    }

    #[test]
    fn identity_errors_are_recognised() {
        assert!(is_identity_error(
            "*** Please tell me who you are.\n\nRun\n\n  git config --global user.email"
        ));
        assert!(is_identity_error(
            "fatal: no email was given and auto-detection is disabled"
        ));
        assert!(!is_identity_error("fatal: tag 'v1' already exists"));
    }
}
