//! What every command needs: the environment, the output, the working directory, and
//! (lazily) the repository, its database and its configuration.

use crate::config::{Config, Env};
use crate::error::Result;
use crate::repo::Repo;
use crate::store::Store;
use crate::ui::Ui;
use std::path::PathBuf;

pub struct Context {
    pub env: Env,
    pub ui: Ui,
    /// The directory commands act from (`-C DIR`, else the current directory).
    pub cwd: PathBuf,
    /// `--strict-sync`: an automatic sync that could not deliver fails the command (3/4).
    pub strict_sync: bool,
}

/// An opened repository.
pub struct Workspace {
    pub repo: Repo,
    pub store: Store,
    pub config: Config,
}

impl Context {
    pub fn repo(&self) -> Result<Repo> {
        Repo::discover(&self.cwd)
    }

    pub fn open(&self) -> Result<Workspace> {
        let repo = self.repo()?;
        let config = Config::load(&self.env, Some(&repo.config_path()))?;
        config.print_warnings(&self.ui);
        let db = repo.db_path();
        let store = if std::fs::symlink_metadata(&db).is_err() {
            // A clone: `.gryt/` came from git without the database (a local cache). Build
            // it from the committed contracts.
            crate::contracts::create_database(&repo, &self.now(), &config.username(), &self.ui)?
        } else {
            Store::open(&db)?
        };
        Ok(Workspace {
            repo,
            store,
            config,
        })
    }

    pub fn now(&self) -> String {
        self.env.now_string()
    }
}

/// A fresh client id.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Random bits for code names.
pub fn random_bits() -> u64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[8], b[9]])
}
