//! Finding and creating a gryt repository: the nearest ancestor holding `.gryt/`.

use crate::error::{CliError, Result};
use std::path::{Path, PathBuf};

pub const DIR: &str = ".gryt";

/// A gryt repository: `root` holds `.gryt/`.
#[derive(Debug, Clone)]
pub struct Repo {
    pub root: PathBuf,
}

const GITIGNORE: &str =
    "# Written by `gryt init`. The local database and anything secret stay out of git;\n\
# the YAML contracts (generations/), pipelines/ and config are meant to be committed.\n\
gryt.db\ngryt.db-wal\ngryt.db-shm\ngryt.db-journal\ncredentials\n*.secret\n.*.tmp*\n";

impl Repo {
    pub fn gryt_dir(&self) -> PathBuf {
        self.root.join(DIR)
    }
    pub fn db_path(&self) -> PathBuf {
        self.gryt_dir().join("gryt.db")
    }
    pub fn config_path(&self) -> PathBuf {
        self.gryt_dir().join("config")
    }
    pub fn generations_dir(&self) -> PathBuf {
        self.gryt_dir().join("generations")
    }
    pub fn pipelines_dir(&self) -> PathBuf {
        self.gryt_dir().join("pipelines")
    }
    pub fn generation_file(&self, version: &str) -> PathBuf {
        self.generations_dir().join(format!("{version}.yaml"))
    }

    /// Fails when `path` (which exists) resolves outside the repository: a symlinked
    /// `.gryt/generations` or contract file must not make gryt read or write elsewhere.
    fn ensure_inside(&self, path: &Path) -> Result<()> {
        let real = std::fs::canonicalize(path)
            .map_err(|e| CliError::io(format!("cannot use {}", path.display()), e))?;
        if real.starts_with(&self.root) {
            return Ok(());
        }
        Err(CliError::error(format!(
            "{} leads outside the repository (to {}); gryt does not follow it",
            path.display(),
            real.display()
        ))
        .hint("replace the symbolic link with a directory or file inside the repository"))
    }

    /// The contract file of `version`, checked for reading: it and its directory stay
    /// inside the repository.
    pub fn contract_file_for_read(&self, version: &str) -> Result<PathBuf> {
        let dir = self.generations_dir();
        if dir.exists() {
            self.ensure_inside(&dir)?;
        }
        let path = self.generation_file(version);
        if path.exists() {
            self.ensure_inside(&path)?;
        }
        Ok(path)
    }

    /// The contract file of `version`, checked for writing (its directory is created).
    pub fn contract_file_for_write(&self, version: &str) -> Result<PathBuf> {
        let dir = self.generations_dir();
        if std::fs::symlink_metadata(&dir).is_err() {
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::io(format!("cannot create {}", dir.display()), e))?;
        }
        self.contract_file_for_read(version)
    }

    /// Checks that `.gryt/generations` (when it exists) stays inside the repository.
    pub fn check_generations_dir(&self) -> Result<()> {
        let dir = self.generations_dir();
        if dir.exists() {
            self.ensure_inside(&dir)?;
        }
        Ok(())
    }

    /// Walks up from `start` to the nearest directory holding `.gryt/`.
    pub fn discover(start: &Path) -> Result<Repo> {
        let start = std::fs::canonicalize(start).map_err(|e| {
            CliError::error(format!("cannot use directory {}: {e}", start.display()))
        })?;
        let mut dir: Option<&Path> = Some(&start);
        while let Some(d) = dir {
            if d.join(DIR).is_dir() {
                return Ok(Repo {
                    root: d.to_path_buf(),
                });
            }
            dir = d.parent();
        }
        Err(CliError::error(format!(
            "Not a gryt repository (or any parent up to /): {}",
            start.display()
        ))
        .hint("run `gryt init` to create one here"))
    }

    /// Creates the layout at `root` (which may exist). Fails if `.gryt/` already exists.
    pub fn create_layout(root: &Path) -> Result<Repo> {
        std::fs::create_dir_all(root)
            .map_err(|e| CliError::io(format!("cannot create {}", root.display()), e))?;
        let root = std::fs::canonicalize(root)
            .map_err(|e| CliError::io(format!("cannot use {}", root.display()), e))?;
        let repo = Repo { root };
        if repo.gryt_dir().exists() {
            return Err(CliError::error(format!(
                "A gryt repository already exists in {}",
                repo.root.display()
            )));
        }
        let io =
            |p: &Path, e: std::io::Error| CliError::io(format!("cannot create {}", p.display()), e);
        for d in [
            repo.gryt_dir(),
            repo.generations_dir(),
            repo.pipelines_dir(),
        ] {
            std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
        }
        let gi = repo.gryt_dir().join(".gitignore");
        std::fs::write(&gi, GITIGNORE).map_err(|e| io(&gi, e))?;
        let cfg = repo.config_path();
        std::fs::write(
            &cfg,
            "# gryt repository configuration (committable; secrets never go here).\n# See `gryt config` for keys.\n",
        )
        .map_err(|e| io(&cfg, e))?;
        Ok(repo)
    }
}
