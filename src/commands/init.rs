use crate::context::Context;
use crate::error::{CliError, Result};
use crate::repo::Repo;
use crate::store::Store;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  gryt init
  gryt init path/to/project")]
pub struct InitArgs {
    /// Where to create the repository (default: the current directory). Git is optional.
    pub path: Option<PathBuf>,
}

fn ctx_repo_at(root: &std::path::Path) -> Result<Repo> {
    let root = std::fs::canonicalize(root)
        .map_err(|e| CliError::io(format!("cannot use {}", root.display()), e))?;
    Ok(Repo { root })
}

pub fn cmd_init(ctx: &Context, args: InitArgs) -> Result<()> {
    // Like `git -C DIR`, the directory given with -C must exist (PATH may be new).
    if !ctx.cwd.is_dir() {
        return Err(CliError::error(format!(
            "cannot use directory {}: it does not exist",
            ctx.cwd.display()
        )));
    }
    let root = match args.path {
        Some(p) if p.is_absolute() => p,
        Some(p) => ctx.cwd.join(p),
        None => ctx.cwd.clone(),
    };
    let gryt = root.join(crate::repo::DIR);
    if gryt.is_dir() && std::fs::symlink_metadata(gryt.join("gryt.db")).is_err() {
        // A clone of a repository whose `.gryt/` is committed: nothing to create (any
        // command builds the local database from the committed contracts).
        let repo = ctx_repo_at(&root)?;
        if ctx.ui.json {
            ctx.ui.json(&serde_json::json!({
                "root": repo.root, "gryt_dir": repo.gryt_dir(), "already_initialized": true
            }));
        } else {
            ctx.ui.info(&format!(
                "{} is already a gryt repository; nothing to do (the local database is built from the committed contracts on first use)",
                repo.gryt_dir().display()
            ));
        }
        return Ok(());
    }
    let repo = Repo::create_layout(&root)?;
    if let Err(e) = Store::create(&repo.db_path()) {
        // Leave nothing half-made behind.
        let _ = std::fs::remove_dir_all(repo.gryt_dir());
        return Err(e);
    }
    // The repository's own scope on the server, committed so every clone shares it.
    let origin = crate::git::origin_url(&repo.root);
    let dir_name = repo
        .root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let project = crate::config::project_name(origin.as_deref(), &dir_name);
    if let Some(p) = &project {
        let path = repo.config_path();
        let written = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                use std::io::Write;
                writeln!(f, "project: \"{p}\"")
            });
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(repo.gryt_dir());
            return Err(CliError::io(format!("cannot write {}", path.display()), e));
        }
    }
    if ctx.ui.json {
        ctx.ui.json(
            &serde_json::json!({ "root": repo.root, "gryt_dir": repo.gryt_dir(), "project": project }),
        );
    } else {
        ctx.ui.info(&format!(
            "Initialized gryt repository in {}",
            repo.gryt_dir().display()
        ));
        match &project {
            Some(p) => ctx.ui.info(&format!(
                "Project: {p} (from {}; change it with `gryt config project NAME`)",
                if origin.is_some() {
                    "the git remote origin"
                } else {
                    "the directory name"
                }
            )),
            None => ctx.ui.warn(
                "no project name found: set one with `gryt config project NAME` before syncing",
            ),
        }
        ctx.ui
            .info("Next: `gryt generation new v0.1.0` to write your first release contract.");
    }
    Ok(())
}
