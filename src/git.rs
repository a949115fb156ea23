//! The little gryt needs from git: detecting a work tree and writing the annotated release tag on
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
    create_annotated_tag_with_env(dir, tag, message, &[])
}

fn create_annotated_tag_with_env(
    dir: &Path,
    tag: &str,
    message: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<()> {
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
