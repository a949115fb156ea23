//! The layered configuration: built-in defaults, the global file, the repository's
//! `.gryt/config`, then `GRYT_*` environment variables; the HTTP client's limits; reading
//! and writing config files.

use super::credentials::{read_credentials, stored_password_warnings, StoredLogin, Unbound};
use super::{
    credentials_path, key_info, never_stored, server_key, Env, ExecutionMode, Source, KEYS,
};
use super::{private_dir, SECRET_MASK, SHARED_KEYS};
use crate::client::Auth;
use crate::error::{CliError, Result};
use crate::yaml;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layered configuration. Secrets are held as [`SecretString`]s only (a Debug print
/// shows them redacted); the layered values show a secret key as [`SECRET_MASK`].
#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, (String, Source)>,
    http: HttpLimits,
    /// The global config file as written (the user's own values).
    pub(super) global: BTreeMap<String, String>,
    /// Credentials bound to a server (by `gryt cloud login`), by `server_key`.
    pub(super) servers: BTreeMap<String, StoredLogin>,
    /// Unbound secrets from the top level of the credentials file (older versions).
    pub(super) legacy: Unbound,
    /// Non-secret `GRYT_*` environment values by key name.
    pub(super) env: BTreeMap<&'static str, String>,
    /// `GRYT_API_KEY_SECRET` and `GRYT_PASSWORD`.
    pub(super) env_secrets: Unbound,
    /// `$USER`, the name of last resort.
    pub(super) os_user: Option<String>,
    config_dir: Option<PathBuf>,
    identity: std::cell::OnceCell<String>,
    /// Problems worth a warning that did not stop loading (e.g. ignored repository keys).
    pub warnings: Vec<String>,
}

/// Warnings are printed once per process, however often the configuration is loaded.
static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Limits of the HTTP client, from the environment only (`GRYT_HTTP_TIMEOUT_MS`,
/// `GRYT_HTTP_ATTEMPTS`, `GRYT_HTTP_BACKOFF_MS`, `GRYT_COMPRESSION`): operators and tests
/// tune them; nobody commits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// The whole-request timeout.
    pub timeout: std::time::Duration,
    /// Attempts a transient failure gets (1 = no retry).
    pub attempts: u32,
    /// The base of the exponential backoff between attempts (full jitter, capped at 5 s).
    pub backoff_base_ms: u64,
    /// Compression on the wire (answers asked for as zstd or gzip, batch bodies sent as
    /// zstd to a server that takes them); `GRYT_COMPRESSION=off` turns it off.
    pub compression: bool,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            timeout: std::time::Duration::from_secs(60),
            attempts: 3,
            backoff_base_ms: 200,
            compression: true,
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
                    CliError::error(format!("Invalid {var} '{raw}'")).hint(format!(
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
        if let Some(raw) = env.get("GRYT_COMPRESSION") {
            limits.compression = match raw.trim().to_ascii_lowercase().as_str() {
                "on" | "1" | "true" | "yes" => true,
                "off" | "0" | "false" | "no" => false,
                _ => {
                    return Err(CliError::error(format!("Invalid GRYT_COMPRESSION '{raw}'"))
                        .hint("GRYT_COMPRESSION is `on` (the default) or `off`"))
                }
            };
        }
        Ok(limits)
    }
}

pub fn global_config_path(env: &Env) -> Result<PathBuf> {
    Ok(env.config_dir()?.join("config"))
}

/// Reads a config file: a YAML mapping of keys to scalars. A missing file is empty.
pub fn read_file(path: &Path) -> Result<BTreeMap<String, String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => yaml::parse_config(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(CliError::io(format!("cannot read {}", path.display()), e)),
    }
}

impl Config {
    /// Loads every layer. `repo_config` is the repository's `.gryt/config`, if any.
    pub fn load(env: &Env, repo_config: Option<&Path>) -> Result<Config> {
        let mut values: BTreeMap<&'static str, (String, Source)> = BTreeMap::new();
        let mut warnings = Vec::new();
        values.insert("execution_mode", ("hybrid".into(), Source::Default));
        if let Some(user) = env.user() {
            values.insert("username", (user.to_string(), Source::Default));
        }
        let mut layer = |map: BTreeMap<String, String>,
                         source: Source,
                         path: &Path|
         -> Result<()> {
            for (k, v) in map {
                let info = key_info(&k).ok_or_else(|| {
                    CliError::error(format!(
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
                    return Err(CliError::error(format!(
                        "{} holds the secret '{k}'; secrets are only read from the credentials file",
                        path.display()
                    ))
                    .hint(if never_stored(info) {
                        format!("remove it there, then log in with `gryt cloud login` (it stores an API key, never the password), or set {} in the environment of one command", info.env)
                    } else {
                        format!("remove it there, then log in with `gryt cloud login`, or store it with `gryt config --global {k} -` (reads it from standard input into the credentials file, mode 0600)")
                    }));
                }
                if source == Source::Repository && !SHARED_KEYS.contains(&info.name) {
                    // Who you are is personal: a committed value would make every
                    // teammate someone else. Never trusted, and said so.
                    warnings.push(format!(
                        "ignoring '{k}' in {}: the repository is shared, so it holds only {}; who you are comes from `gryt cloud login` (or `gryt config --global {k} ...`)",
                        path.display(),
                        SHARED_KEYS.join(", ")
                    ));
                    continue;
                }
                if info.name == "execution_mode" && ExecutionMode::parse(&v).is_none() {
                    // Checked in every file, not only in the layer that wins.
                    return Err(CliError::error(format!(
                        "Invalid execution_mode '{v}' in {}",
                        path.display()
                    ))
                    .hint("execution_mode is one of local, hybrid, cloud"));
                }
                let v = if info.secret {
                    SECRET_MASK.to_string()
                } else {
                    v
                };
                values.insert(info.name, (v, source));
            }
            Ok(())
        };
        let global_path = global_config_path(env)?;
        let global = read_file(&global_path)?;
        layer(global.clone(), Source::Global, &global_path)?;
        let creds = credentials_path(env)?;
        let (legacy, servers) = read_credentials(&creds)?;
        let legacy_secrets = Unbound::from_map(&legacy);
        layer(legacy, Source::Credentials, &creds)?;
        let servers = servers
            .iter()
            .map(|(k, m)| (k.clone(), StoredLogin::from_map(m)))
            .collect();
        if let Some(repo) = repo_config {
            layer(read_file(repo)?, Source::Repository, repo)?;
        }
        warnings.extend(stored_password_warnings(&servers));
        let mut env_values = BTreeMap::new();
        let mut env_secrets = Unbound::default();
        for k in KEYS {
            if let Some(v) = env.get(k.env) {
                values.insert(k.name, (v.to_string(), Source::Environment));
                env_values.insert(k.name, v.to_string());
            } else if let Some(v) = env.secret(k.env) {
                values.insert(k.name, (SECRET_MASK.to_string(), Source::Environment));
                match k.name {
                    "api_key_secret" => env_secrets.api_key_secret = Some(v.clone()),
                    _ => env_secrets.password = Some(v.clone()),
                }
            }
        }
        let cfg = Config {
            values,
            http: HttpLimits::from_env(env)?,
            global,
            servers,
            legacy: legacy_secrets,
            env: env_values,
            env_secrets,
            os_user: env.user().map(str::to_string),
            config_dir: env.config_dir().ok(),
            identity: std::cell::OnceCell::new(),
            warnings,
        };
        if let Some(mode) = cfg.get("execution_mode") {
            if ExecutionMode::parse(mode).is_none() {
                return Err(CliError::error(format!("Invalid execution_mode '{mode}'"))
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

    /// The configured name (`username`: environment, global config, else `$USER`),
    /// without asking any server.
    pub fn configured_username(&self) -> String {
        self.get("username").unwrap_or("local").to_string()
    }

    /// Who you are: the owner of your evolutions and the name local ownership checks use.
    /// With credentials for the effective server, the account that server knows (recorded
    /// at login; for an API key from the environment, asked once and cached); else the
    /// configured name.
    pub fn username(&self) -> String {
        self.identity
            .get_or_init(|| {
                self.server_identity()
                    .unwrap_or_else(|| self.configured_username())
            })
            .clone()
    }

    fn server_identity(&self) -> Option<String> {
        let url = self.get("gryt_url")?;
        let creds = self.credentials_for(url)?;
        if let Some(a) = creds.account {
            return Some(a);
        }
        match &creds.auth {
            Auth::Basic { username, .. } => Some(username.clone()),
            Auth::Hmac { .. } => crate::client::cloud::account_of(self, url, &creds.auth),
            Auth::None => None,
        }
    }

    /// Prints the loading warnings (once per process).
    pub fn print_warnings(&self, ui: &crate::ui::Ui) {
        if self.warnings.is_empty() || WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        for w in &self.warnings {
            ui.warn(w);
        }
    }

    pub fn config_dir(&self) -> Option<&Path> {
        self.config_dir.as_deref()
    }

    /// Whether `url` is the user's own server: the global `gryt_url` or `GRYT_URL`.
    pub fn is_own_url(&self, url: &str) -> bool {
        let Some(key) = server_key(url) else {
            return false;
        };
        [self.global.get("gryt_url"), self.env.get("gryt_url")]
            .into_iter()
            .flatten()
            .any(|u| server_key(u).as_deref() == Some(key.as_str()))
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
        // The user's config dir is private (0700); a repository's .gryt/ already exists.
        private_dir(dir)?;
    }
    crate::fsutil::write_atomic(path, text.as_bytes(), mode)
}
