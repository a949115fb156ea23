//! The process environment, the working directory and the wall clock: every read of them
//! in the CLI is here (clippy.toml's `disallowed-methods`, allowed on these functions only).

use super::KEYS;
use crate::error::{CliError, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The wall clock. Commands use [`Env::now`] (which honours `GRYT_NOW`); this is for the
/// timestamps of code without an environment at hand (HTTP signatures, retry dates, run
/// times). Every clock read of the CLI goes through here or [`Env::now`] (clippy.toml).
#[allow(clippy::disallowed_methods)]
pub fn wall_clock() -> DateTime<Utc> {
    Utc::now()
}

/// The process's working directory (read once, at start-up, for [`crate::context::Context`]).
#[allow(clippy::disallowed_methods)]
pub fn process_current_dir() -> std::io::Result<PathBuf> {
    std::env::current_dir()
}

/// The process environment, captured once at start-up. The secret variables
/// (`GRYT_API_KEY_SECRET`, `GRYT_PASSWORD`) are held apart as [`SecretString`]s, so no Debug
/// print of the environment (or of a `Context` holding it) shows them.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretString>,
}

impl Env {
    #[allow(clippy::disallowed_methods)] // The one read of the process environment.
    pub fn from_process() -> Env {
        // Non-UTF-8 variables are ignored rather than trusted half-way.
        Env::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// An environment of the given variables, the secret ones held apart.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Env {
        let mut env = Env::default();
        for (k, v) in vars {
            if KEYS.iter().any(|info| info.secret && info.env == k) {
                env.secrets.insert(k, SecretString::from(v));
            } else {
                env.vars.insert(k, v);
            }
        }
        env
    }

    /// A variable that is set and not empty (never a secret one: see [`Env::secret`]).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A secret variable (`GRYT_API_KEY_SECRET`, `GRYT_PASSWORD`) that is set and not empty.
    pub fn secret(&self, key: &str) -> Option<&SecretString> {
        self.secrets
            .get(key)
            .filter(|v| !v.expose_secret().is_empty())
    }

    /// Whether a variable, secret or not, is set and not empty.
    pub fn is_set(&self, key: &str) -> bool {
        self.get(key).is_some() || self.secret(key).is_some()
    }

    /// The directory holding the global config and the credentials file.
    pub fn config_dir(&self) -> Result<PathBuf> {
        if let Some(dir) = self.get("GRYT_CONFIG_DIR") {
            return Ok(PathBuf::from(dir));
        }
        dirs::config_dir().map(|d| d.join("gryt")).ok_or_else(|| {
            CliError::error("Cannot find the user's configuration directory")
                .hint("set GRYT_CONFIG_DIR to a directory gryt may use")
        })
    }

    /// Now, or the fixed instant in `GRYT_NOW` (RFC 3339) that tests use.
    pub fn now(&self) -> DateTime<Utc> {
        self.get("GRYT_NOW")
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(wall_clock)
    }

    pub fn now_string(&self) -> String {
        self.now().to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// The variables of terminal output (colour, pager, width) for `ui::term`.
    pub fn term(&self) -> crate::ui::term::TermEnv {
        crate::ui::term::TermEnv::from_lookup(|k| self.get(k))
    }

    pub fn editor(&self) -> Option<String> {
        self.get("VISUAL")
            .or_else(|| self.get("EDITOR"))
            .map(str::to_string)
    }

    pub fn user(&self) -> Option<&str> {
        self.get("USER").or_else(|| self.get("USERNAME"))
    }
}
