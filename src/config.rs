//! Layered configuration and the process environment, read in this one place.
//!
//! Layers, lowest first: built-in defaults, the global file
//! (`$GRYT_CONFIG_DIR/config`, else `<user config dir>/gryt/config`), the repository's
//! `.gryt/config`, then `GRYT_*` environment variables. Secrets (`api_key_secret`,
//! `password`) live only in `<config dir>/credentials`, created with mode 0600, never in
//! the repository.

use crate::error::{GrytError, Result};
use crate::yaml;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The process environment, captured once at start-up.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn from_process() -> Env {
        // Non-UTF-8 variables are ignored rather than trusted half-way.
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The directory holding the global config and the credentials file.
    pub fn config_dir(&self) -> Result<PathBuf> {
        if let Some(dir) = self.get("GRYT_CONFIG_DIR") {
            return Ok(PathBuf::from(dir));
        }
        dirs::config_dir().map(|d| d.join("gryt")).ok_or_else(|| {
            GrytError::error("Cannot find the user's configuration directory")
                .hint("set GRYT_CONFIG_DIR to a directory gryt may use")
        })
    }

    /// Now, or the fixed instant in `GRYT_NOW` (RFC 3339) that tests use.
    pub fn now(&self) -> DateTime<Utc> {
        self.get("GRYT_NOW")
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now)
    }

    pub fn now_string(&self) -> String {
        self.now().to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    pub fn color_allowed(&self) -> bool {
        !self.vars.contains_key("NO_COLOR")
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

/// A configuration key gryt knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: &'static str,
    pub env: &'static str,
    pub secret: bool,
    pub help: &'static str,
}

pub const KEYS: &[KeyInfo] = &[
    KeyInfo {
        name: "execution_mode",
        env: "GRYT_EXECUTION_MODE",
        secret: false,
        help: "local | hybrid | cloud (default hybrid)",
    },
    KeyInfo {
        name: "gryt_url",
        env: "GRYT_URL",
        secret: false,
        help: "base URL of the gryt server",
    },
    KeyInfo {
        name: "username",
        env: "GRYT_USERNAME",
        secret: false,
        help: "who you are: owner of your evolutions",
    },
    KeyInfo {
        name: "team",
        env: "GRYT_TEAM",
        secret: false,
        help: "team scope for sync (empty: personal)",
    },
    KeyInfo {
        name: "project",
        env: "GRYT_PROJECT",
        secret: false,
        help: "project within the scope (default 'default')",
    },
    KeyInfo {
        name: "api_key_id",
        env: "GRYT_API_KEY_ID",
        secret: false,
        help: "API key id for HMAC signing",
    },
    KeyInfo {
        name: "api_key_secret",
        env: "GRYT_API_KEY_SECRET",
        secret: true,
        help: "API key secret (stored in the credentials file)",
    },
    KeyInfo {
        name: "password",
        env: "GRYT_PASSWORD",
        secret: true,
        help: "password for Basic auth (stored in the credentials file)",
    },
];

pub fn key_info(name: &str) -> Option<&'static KeyInfo> {
    KEYS.iter().find(|k| k.name == name)
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Default,
    Global,
    Repository,
    Credentials,
    Environment,
}

#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, (String, Source)>,
    http: HttpLimits,
}

/// Limits of the HTTP client, from the environment only (`GRYT_HTTP_TIMEOUT_MS`,
/// `GRYT_HTTP_ATTEMPTS`, `GRYT_HTTP_BACKOFF_MS`): operators and tests tune them; nobody
/// commits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// The whole-request timeout.
    pub timeout: std::time::Duration,
    /// Attempts a transient failure gets (1 = no retry).
    pub attempts: u32,
    /// The base of the exponential backoff between attempts (full jitter, capped at 5 s).
    pub backoff_base_ms: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            timeout: std::time::Duration::from_secs(60),
            attempts: 3,
            backoff_base_ms: 200,
        }
    }
}

impl HttpLimits {
    fn from_env(env: &Env) -> Result<HttpLimits> {
        fn number(
            env: &Env,
            var: &str,
            range: std::ops::RangeInclusive<u64>,
        ) -> Result<Option<u64>> {
            let Some(raw) = env.get(var) else {
                return Ok(None);
            };
            match raw.trim().parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(
                    GrytError::error(format!("Invalid {var} '{raw}'")).hint(format!(
                        "{var} is a whole number from {} to {}",
                        range.start(),
                        range.end()
                    )),
                ),
            }
        }
        let mut limits = HttpLimits::default();
        if let Some(ms) = number(env, "GRYT_HTTP_TIMEOUT_MS", 1..=3_600_000)? {
            limits.timeout = std::time::Duration::from_millis(ms);
        }
        if let Some(n) = number(env, "GRYT_HTTP_ATTEMPTS", 1..=10)? {
            limits.attempts = n as u32;
        }
        if let Some(ms) = number(env, "GRYT_HTTP_BACKOFF_MS", 1..=5_000)? {
            limits.backoff_base_ms = ms;
        }
        Ok(limits)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionMode {
    Local,
    Hybrid,
    Cloud,
}

impl ExecutionMode {
    pub fn parse(s: &str) -> Option<ExecutionMode> {
        match s {
            "local" => Some(ExecutionMode::Local),
            "hybrid" => Some(ExecutionMode::Hybrid),
            "cloud" => Some(ExecutionMode::Cloud),
            _ => None,
        }
    }
}

pub fn global_config_path(env: &Env) -> Result<PathBuf> {
    Ok(env.config_dir()?.join("config"))
}

pub fn credentials_path(env: &Env) -> Result<PathBuf> {
    Ok(env.config_dir()?.join("credentials"))
}

/// Reads a config file: a YAML mapping of keys to scalars. A missing file is empty.
pub fn read_file(path: &Path) -> Result<BTreeMap<String, String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => yaml::parse_config(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(GrytError::io(format!("cannot read {}", path.display()), e)),
    }
}

impl Config {
    /// Loads every layer. `repo_config` is the repository's `.gryt/config`, if any.
    pub fn load(env: &Env, repo_config: Option<&Path>) -> Result<Config> {
        let mut values: BTreeMap<&'static str, (String, Source)> = BTreeMap::new();
        values.insert("execution_mode", ("hybrid".into(), Source::Default));
        values.insert("project", ("default".into(), Source::Default));
        if let Some(user) = env.user() {
            values.insert("username", (user.to_string(), Source::Default));
        }
        let mut layer = |map: BTreeMap<String, String>,
                         source: Source,
                         path: &Path|
         -> Result<()> {
            for (k, v) in map {
                let info = key_info(&k).ok_or_else(|| {
                    GrytError::error(format!(
                        "Unknown configuration key '{k}' in {}",
                        path.display()
                    ))
                    .hint(format!(
                        "known keys: {}",
                        KEYS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                if info.secret && source != Source::Credentials {
                    // The reference client kept secrets in .gryt/config; refuse to read
                    // them from anywhere but the credentials file.
                    return Err(GrytError::error(format!(
                        "{} holds the secret '{k}'; secrets are only read from the credentials file",
                        path.display()
                    ))
                    .hint(format!("remove it there and run `gryt config --global {k} VALUE`, which stores it in the credentials file (mode 0600)")));
                }
                if info.name == "execution_mode" && ExecutionMode::parse(&v).is_none() {
                    // Checked in every file, not only in the layer that wins.
                    return Err(GrytError::error(format!(
                        "Invalid execution_mode '{v}' in {}",
                        path.display()
                    ))
                    .hint("execution_mode is one of local, hybrid, cloud"));
                }
                values.insert(info.name, (v, source));
            }
            Ok(())
        };
        let global = global_config_path(env)?;
        layer(read_file(&global)?, Source::Global, &global)?;
        let creds = credentials_path(env)?;
        layer(read_file(&creds)?, Source::Credentials, &creds)?;
        if let Some(repo) = repo_config {
            layer(read_file(repo)?, Source::Repository, repo)?;
        }
        for k in KEYS {
            if let Some(v) = env.get(k.env) {
                values.insert(k.name, (v.to_string(), Source::Environment));
            }
        }
        let cfg = Config {
            values,
            http: HttpLimits::from_env(env)?,
        };
        if let Some(mode) = cfg.get("execution_mode") {
            if ExecutionMode::parse(mode).is_none() {
                return Err(GrytError::error(format!("Invalid execution_mode '{mode}'"))
                    .hint("execution_mode is one of local, hybrid, cloud"));
            }
        }
        Ok(cfg)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    pub fn source(&self, key: &str) -> Option<Source> {
        self.values.get(key).map(|(_, s)| *s)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&'static str, &str, Source)> {
        self.values.iter().map(|(k, (v, s))| (*k, v.as_str(), *s))
    }

    pub fn execution_mode(&self) -> ExecutionMode {
        self.get("execution_mode")
            .and_then(ExecutionMode::parse)
            .unwrap_or(ExecutionMode::Hybrid)
    }

    pub fn http_limits(&self) -> HttpLimits {
        self.http
    }

    pub fn username(&self) -> String {
        self.get("username").unwrap_or("local").to_string()
    }
}

/// Validates a value before it is written.
pub fn validate_value(key: &KeyInfo, value: &str) -> Result<()> {
    match key.name {
        "execution_mode" if ExecutionMode::parse(value).is_none() => Err(GrytError::usage(
            format!("Invalid execution_mode '{value}'"),
        )
        .hint("execution_mode is one of local, hybrid, cloud")),
        "gryt_url" if !(value.starts_with("http://") || value.starts_with("https://")) => {
            Err(GrytError::usage(format!("Invalid gryt_url '{value}'"))
                .hint("use a URL such as https://gryt.example.com"))
        }
        _ if value.contains('\n') => Err(GrytError::usage("A config value must be one line")),
        _ => Ok(()),
    }
}

/// Sets (or, with `None`, removes) one key in a config file, atomically, creating the
/// file with `mode` when it is new. Secret files are written 0600 from the start.
pub fn write_key(path: &Path, key: &str, value: Option<&str>, mode: u32) -> Result<()> {
    let mut map = read_file(path)?;
    match value {
        Some(v) => {
            map.insert(key.to_string(), v.to_string());
        }
        None => {
            map.remove(key);
        }
    }
    let text = yaml::render_config(&map)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| GrytError::io(format!("cannot create {}", dir.display()), e))?;
    }
    crate::fsutil::write_atomic(path, text.as_bytes(), mode)
}
