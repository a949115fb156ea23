//! `gryt check [PATH...]`: validates contract and pipeline files for pre-commit hooks and
//! CI. Read-only: it never creates, migrates or writes the database (it works without
//! one, as in a fresh clone), and it writes no file.

use crate::context::Context;
use crate::contracts;
use crate::error::{CliError, Result};
use crate::repo::Repo;
use crate::store::Store;
use crate::ui::plural;
use crate::yaml::ContractFile;
use clap::Args;
use gryt_core::GenerationStatus;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  gryt check                                   # every contract and pipeline
  gryt check .gryt/generations/v1.2.0.yaml
  git diff --cached --name-only | xargs gryt check   # a pre-commit hook")]
pub struct CheckArgs {
    /// Files or directories to check (default: every file in .gryt/generations/ and
    /// .gryt/pipelines/). Other files are ignored, so a hook may pass every staged file.
    pub paths: Vec<PathBuf>,
}

enum FileKind {
    Contract,
    Pipeline,
}

fn kind_of(repo: &Repo, path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    if name.starts_with('.') {
        return None;
    }
    let dir = path.parent()?;
    let same = |d: PathBuf| std::fs::canonicalize(&d).ok() == std::fs::canonicalize(dir).ok();
    if name.ends_with(".yaml") && same(repo.generations_dir()) {
        Some(FileKind::Contract)
    } else if (name.ends_with(".yaml") || name.ends_with(".yml")) && same(repo.pipelines_dir()) {
        Some(FileKind::Pipeline)
    } else {
        None
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| it.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// `path:1:1: message` unless the message already starts with its location.
fn located(shown: &str, message: &str) -> String {
    if message.starts_with(&format!("{shown}:")) {
        message.to_string()
    } else {
        format!("{shown}:1:1: {message}")
    }
}

/// What a promoted copy fixes: the contract and its identity.
fn same_release(a: &ContractFile, b: &ContractFile) -> bool {
    a.spec == b.spec && a.identity == b.identity
}

fn check_contract(
    repo: &Repo,
    db: Option<&Store>,
    path: &Path,
    shown: &str,
) -> std::result::Result<(), String> {
    // The path as given: it may name a file in another work tree of the repository.
    repo.check_generations_dir()
        .map_err(|e| located(shown, &e.message))?;
    let real = std::fs::canonicalize(path).map_err(|e| located(shown, &e.to_string()))?;
    if !real.starts_with(&repo.root) {
        return Err(located(shown, "the file leads outside the repository"));
    }
    let bytes = std::fs::read(path).map_err(|e| located(shown, &format!("cannot read: {e}")))?;
    let shown_path = Path::new(shown);
    let file =
        contracts::read_contract(shown_path, &bytes).map_err(|e| located(shown, &e.message))?;
    let version = file.spec.version.clone();
    let final_msg = |whose: &str| {
        located(
            shown,
            &format!("{version} is promoted ({whose}), and a promoted contract never changes; restore it with `git checkout -- {shown}`"),
        )
    };
    if let Some(rec) = db.and_then(|s| s.generation(&version).ok().flatten()) {
        if rec.status == GenerationStatus::Promoted
            && (file.spec != rec.spec() || file.identity.status != GenerationStatus::Promoted)
        {
            return Err(final_msg("in the database"));
        }
        if rec.status == GenerationStatus::Draft
            && file.identity.status == GenerationStatus::Promoted
        {
            return Err(located(
                shown,
                &format!(
                    "{version} is a draft; only `gryt promote` promotes (remove the status line)"
                ),
            ));
        }
    }
    if let Some(head) = contracts::committed_copy(&repo.root, &real) {
        if let Ok(committed) = contracts::read_contract(shown_path, &head) {
            if committed.identity.status == GenerationStatus::Promoted
                && !same_release(&committed, &file)
            {
                return Err(final_msg("in git HEAD"));
            }
        }
    }
    Ok(())
}

fn check_pipeline(path: &Path, shown: &str) -> std::result::Result<(), String> {
    crate::pipeline::load(path).map(|_| ()).map_err(|e| {
        located(
            shown,
            &e.message.replace(&path.display().to_string(), shown),
        )
    })
}

pub fn cmd_check(ctx: &Context, args: CheckArgs) -> Result<()> {
    let repo = ctx.repo()?;
    let db = Store::open_read_only(&repo.db_path());
    let mut targets = Vec::new();
    if args.paths.is_empty() {
        targets.extend(files_in(&repo.generations_dir()));
        targets.extend(files_in(&repo.pipelines_dir()));
    } else {
        for p in &args.paths {
            let p = if p.is_absolute() {
                p.clone()
            } else {
                ctx.cwd.join(p)
            };
            if p.is_dir() {
                targets.extend(files_in(&p));
            } else {
                targets.push(p);
            }
        }
    }
    let mut checked = 0usize;
    let mut errors = Vec::new();
    for path in targets {
        let Some(kind) = kind_of(&repo, &path) else {
            continue;
        };
        if !path.exists() {
            continue; // deleted (a hook passes removed files too)
        }
        let shown = path
            .strip_prefix(&ctx.cwd)
            .unwrap_or(&path)
            .display()
            .to_string();
        checked += 1;
        let result = match kind {
            FileKind::Contract => check_contract(&repo, db.as_ref(), &path, &shown),
            FileKind::Pipeline => check_pipeline(&path, &shown),
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    if ctx.ui.json {
        ctx.ui
            .json(&serde_json::json!({ "checked": checked, "errors": errors }));
    } else {
        for e in &errors {
            ctx.ui.data(e);
        }
    }
    if errors.is_empty() {
        ctx.ui.info(&format!(
            "Checked {}: all valid.",
            plural(checked as u64, "file", "files")
        ));
        Ok(())
    } else {
        Err(CliError::error(format!(
            "{} of {} failed the check",
            errors.len(),
            plural(checked as u64, "file", "files")
        ))
        .hint("fix each file:line:column above; `gryt check PATH` checks one file"))
    }
}
