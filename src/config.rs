//! Layered configuration and the process environment, read in this one place.
//!
//! Layers, lowest first: built-in defaults, the global file
//! (`$GRYT_CONFIG_DIR/config`, else `<user config dir>/gryt/config`), the repository's
//! `.gryt/config`, then `GRYT_*` environment variables. The repository is shared: its layer
//! holds only the shared keys (`gryt_url`, `team`, `project`, `execution_mode`); who you are
//! and your credentials are personal and never come from it.
//!
//! Secrets live only in `<config dir>/credentials` (mode 0600, never in the repository),
//! bound to the server they were stored for: `gryt cloud login` stores them under
//! `servers:` keyed by the server's normalised origin and base path, and they are sent only
//! to that server. Unbound credentials (the top-level `password`/`api_key_secret` of older
//! versions, written by `gryt config --global password -`, and `GRYT_API_KEY_*`/
//! `GRYT_PASSWORD` from the environment) go only to the user's own server: the global
//! `gryt_url` or `GRYT_URL`, never to a URL only the repository names.

use crate::client::Auth;
use crate::error::{CliError, Result};
use crate::yaml;
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
        help: "who you are when no server login names you (global only)",
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
        help: "this repository's project on the server (set by `gryt init`)",
    },
    KeyInfo {
        name: "api_key_id",
        env: "GRYT_API_KEY_ID",
        secret: false,
        help: "API key id for HMAC signing (global only)",
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

/// The keys a repository's committed `.gryt/config` may set: what teammates share.
pub const SHARED_KEYS: &[&str] = &["gryt_url", "team", "project", "execution_mode"];

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

/// What [`Config::get`] and [`Config::entries`] give for a secret key: its value lives only
/// in the credentials (as a [`SecretString`]), handed out by [`Config::credentials_for`].
pub const SECRET_MASK: &str = "********";

/// The unbound secrets of one place (the environment, or the top of the credentials file).
#[derive(Debug, Clone, Default)]
struct Unbound {
    api_key_secret: Option<SecretString>,
    password: Option<SecretString>,
}

impl Unbound {
    fn from_map(map: &BTreeMap<String, String>) -> Unbound {
        Unbound {
            api_key_secret: map.get("api_key_secret").cloned().map(SecretString::from),
            password: map.get("password").cloned().map(SecretString::from),
        }
    }
}

/// A login `gryt cloud login` stored for one server.
#[derive(Debug, Clone, Default)]
struct StoredLogin {
    api_key_id: Option<String>,
    api_key_secret: Option<SecretString>,
    username: Option<String>,
    password: Option<SecretString>,
    account: Option<String>,
}

impl StoredLogin {
    fn from_map(map: &BTreeMap<String, String>) -> StoredLogin {
        StoredLogin {
            api_key_id: map.get("api_key_id").cloned(),
            api_key_secret: map.get("api_key_secret").cloned().map(SecretString::from),
            username: map.get("username").cloned(),
            password: map.get("password").cloned().map(SecretString::from),
            account: map.get("account").cloned(),
        }
    }
}

/// The layered configuration. Secrets are held as [`SecretString`]s only (a Debug print
/// shows them redacted); the layered values show a secret key as [`SECRET_MASK`].
#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, (String, Source)>,
    http: HttpLimits,
    /// The global config file as written (the user's own values).
    global: BTreeMap<String, String>,
    /// Credentials bound to a server (by `gryt cloud login`), by `server_key`.
    servers: BTreeMap<String, StoredLogin>,
    /// Unbound secrets from the top level of the credentials file (older versions).
    legacy: Unbound,
    /// Non-secret `GRYT_*` environment values by key name.
    env: BTreeMap<&'static str, String>,
    /// `GRYT_API_KEY_SECRET` and `GRYT_PASSWORD`.
    env_secrets: Unbound,
    /// `$USER`, the name of last resort.
    os_user: Option<String>,
    config_dir: Option<PathBuf>,
    identity: std::cell::OnceCell<String>,
    /// Problems worth a warning that did not stop loading (e.g. ignored repository keys).
    pub warnings: Vec<String>,
}

/// Credentials chosen for one server, and where they came from.
#[derive(Debug, Clone)]
pub struct Creds {
    pub auth: Auth,
    /// The account name the server knows, when recorded at login.
    pub account: Option<String>,
    pub from: CredFrom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredFrom {
    /// Stored by `gryt cloud login` for this server.
    Login,
    /// `GRYT_API_KEY_ID`/`GRYT_API_KEY_SECRET` or `GRYT_PASSWORD`.
    Environment,
    /// Unbound secrets at the top of the credentials file, bound to the user's own URL.
    Legacy,
}

/// A server's identity for binding credentials: lower-case scheme and host, the port when
/// it is not the scheme's default, and the base path without a trailing `/` (no user
/// information, query or fragment). `None` when `url` is not an http(s) URL.
pub fn server_key(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(strip_userinfo(url.trim()).as_str()).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?.to_ascii_lowercase();
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!(
        "{}://{host}{port}{}",
        u.scheme(),
        u.path().trim_end_matches('/')
    ))
}

/// The byte range of a URL's user information (`user:password`), without the `@`.
fn userinfo_range(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    Some((start, start + at))
}

/// Whether a URL carries user information (`http://user:password@host`).
pub fn has_userinfo(url: &str) -> bool {
    userinfo_range(url).is_some()
}

/// The URL without its user information: gryt never sends credentials a URL carries.
pub fn strip_userinfo(url: &str) -> String {
    match userinfo_range(url) {
        Some((a, b)) => format!("{}{}", &url[..a], &url[b + 1..]),
        None => url.to_string(),
    }
}

/// The URL fit to display: a password inside it is replaced by `****`.
pub fn redact_url(url: &str) -> String {
    match userinfo_range(url) {
        Some((a, b)) => match url[a..b].find(':') {
            Some(c) => format!("{}:****{}", &url[..a + c], &url[b..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Warnings are printed once per process, however often the configuration is loaded.
static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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
                    .hint(format!("remove it there, then log in with `gryt cloud login`, or store it with `gryt config --global {k} -` (reads it from standard input into the credentials file, mode 0600)")));
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

    /// The user name for unbound password credentials.
    fn basic_username(&self) -> Option<String> {
        self.env
            .get("username")
            .or_else(|| self.global.get("username"))
            .or(self.os_user.as_ref())
            .cloned()
    }

    fn unbound(&self, secrets: &Unbound, from: CredFrom) -> Option<Creds> {
        let key_id = self
            .env
            .get("api_key_id")
            .or_else(|| self.global.get("api_key_id"));
        let auth = match (key_id, &secrets.api_key_secret, &secrets.password) {
            (Some(id), Some(s), _) => Auth::Hmac {
                key_id: id.clone(),
                secret: s.clone(),
            },
            (_, _, Some(p)) => Auth::Basic {
                username: self.basic_username()?,
                password: p.clone(),
            },
            _ => return None,
        };
        Some(Creds {
            auth,
            account: None,
            from,
        })
    }

    /// The credentials to send to `url`, if any: the environment's or the unbound stored
    /// ones only when `url` is the user's own server, else those stored for this server.
    pub fn credentials_for(&self, url: &str) -> Option<Creds> {
        let key = server_key(url)?;
        let own = self.is_own_url(url);
        if own {
            if let Some(c) = self.unbound(&self.env_secrets, CredFrom::Environment) {
                return Some(c);
            }
        }
        if let Some(s) = self.servers.get(&key) {
            let account = s.account.clone();
            let auth = match (&s.api_key_id, &s.api_key_secret, &s.username, &s.password) {
                (Some(id), Some(secret), _, _) => Some(Auth::Hmac {
                    key_id: id.clone(),
                    secret: secret.clone(),
                }),
                (_, _, Some(u), Some(p)) => Some(Auth::Basic {
                    username: u.clone(),
                    password: p.clone(),
                }),
                _ => None,
            };
            if let Some(auth) = auth {
                return Some(Creds {
                    auth,
                    account,
                    from: CredFrom::Login,
                });
            }
        }
        if own {
            return self.unbound(&self.legacy, CredFrom::Legacy);
        }
        None
    }
}

/// Reads the credentials file: (unbound top-level secrets, per-server credentials).
pub fn read_credentials(path: &Path) -> Result<yaml::Credentials> {
    match std::fs::read_to_string(path) {
        Ok(text) => yaml::parse_credentials(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(CliError::io(format!("cannot read {}", path.display()), e)),
    }
}

/// Rewrites the credentials file (mode 0600 from creation, in a 0700 directory).
pub fn write_credentials(path: &Path, creds: &yaml::Credentials) -> Result<()> {
    let text = yaml::render_credentials(creds)?;
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    crate::fsutil::write_atomic(path, text.as_bytes(), 0o600)
}

/// Sets (or, with `None`, removes) one unbound secret at the top of the credentials file,
/// keeping the per-server entries.
pub fn write_secret(path: &Path, key: &str, value: Option<&str>) -> Result<()> {
    let mut creds = read_credentials(path)?;
    match value {
        Some(v) => {
            creds.0.insert(key.to_string(), v.to_string());
        }
        None => {
            creds.0.remove(key);
        }
    }
    write_credentials(path, &creds)
}

/// Creates the user's config directory with mode 0700 (whatever the umask) when missing.
pub fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| CliError::io(format!("cannot create {}", dir.display()), e))
}

/// Validates a value before it is written.
pub fn validate_value(key: &KeyInfo, value: &str) -> Result<()> {
    match key.name {
        "execution_mode" if ExecutionMode::parse(value).is_none() => Err(CliError::usage(
            format!("Invalid execution_mode '{value}'"),
        )
        .hint("execution_mode is one of local, hybrid, cloud")),
        "gryt_url" if !(value.starts_with("http://") || value.starts_with("https://")) => {
            Err(CliError::usage(format!("Invalid gryt_url '{}'", redact_url(value)))
                .hint("use a URL such as https://gryt.example.com"))
        }
        "gryt_url" if has_userinfo(value) => Err(CliError::usage(format!(
            "The URL {} holds a user name or password",
            redact_url(value)
        ))
        .hint(format!(
            "give the URL without it ({}) and log in with `gryt cloud login`, which keeps the password in the credentials file",
            strip_userinfo(value)
        ))),
        "project" if !valid_project(value) => Err(CliError::usage(format!(
            "Invalid project '{}'",
            value.chars().take(100).collect::<String>()
        ))
        .hint("a project name is 1 to 100 characters: letters, digits, '.', '_', '-' and '/' (e.g. org/app)")),
        _ if value.contains('\n') => Err(CliError::usage("A config value must be one line")),
        _ => Ok(()),
    }
}

/// A project name the server accepts: 1 to 100 of letters, digits, `.`, `_`, `-`, `/`.
pub fn valid_project(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 100
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
}

/// The project a new repository is named after: the path of its git remote `origin`
/// (`git@host:org/app.git` and `https://host/org/app` give `org/app`; a local path gives
/// its last component), else the directory's name. Characters a project may not hold
/// become `-`; `None` when nothing usable is left.
pub fn project_name(origin: Option<&str>, dir_name: &str) -> Option<String> {
    let from_origin = origin.and_then(|url| {
        let url = url.trim().trim_end_matches('/');
        let url = url.strip_suffix(".git").unwrap_or(url);
        let path = if let Some(i) = url.find("://") {
            let rest = &url[i + 3..];
            if url[..i].eq_ignore_ascii_case("file") {
                rest.rsplit('/').next().unwrap_or("")
            } else {
                rest.split_once('/').map(|(_, p)| p).unwrap_or("")
            }
        } else if let Some((_, path)) = url.split_once(':').filter(|(h, _)| !h.contains('/')) {
            // scp-like `user@host:org/app`
            path
        } else {
            url.rsplit('/').next().unwrap_or("")
        };
        clean_project(path.trim_matches('/'))
    });
    from_origin.or_else(|| clean_project(dir_name))
}

fn clean_project(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-/".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches(['/', '-']).to_string();
    let cleaned = if cleaned.len() > 100 {
        cleaned[cleaned.len() - 100..]
            .trim_start_matches('/')
            .to_string()
    } else {
        cleaned
    };
    valid_project(&cleaned).then_some(cleaned)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The secrets of every place credentials come from: kept usable for requests, never
    /// in a Debug print of the environment, the configuration or the credentials chosen.
    #[test]
    fn secrets_are_never_debug_printed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("credentials"),
            "password: legacy-pw-1\nservers:\n  http://stored.test:1:\n    username: ann\n    password: stored-pw-2\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("config"), "gryt_url: http://own.test:1\n").unwrap();
        let env = Env::from_vars([
            (
                "GRYT_CONFIG_DIR".to_string(),
                dir.path().display().to_string(),
            ),
            ("GRYT_API_KEY_ID".to_string(), "gk_1".to_string()),
            (
                "GRYT_API_KEY_SECRET".to_string(),
                "env-secret-3".to_string(),
            ),
            ("USER".to_string(), "ann".to_string()),
        ]);
        let config = Config::load(&env, None).unwrap();
        let own = config.credentials_for("http://own.test:1").unwrap();
        let stored = config.credentials_for("http://stored.test:1").unwrap();
        let printed = format!("{env:?} {config:?} {own:?} {stored:?}");
        for secret in ["legacy-pw-1", "stored-pw-2", "env-secret-3"] {
            assert!(!printed.contains(secret), "{secret} printed: {printed}");
        }
        // Still there for the requests that need them.
        assert!(
            matches!(&own.auth, Auth::Hmac { key_id, secret } if key_id == "gk_1" && secret.expose_secret() == "env-secret-3")
        );
        assert!(
            matches!(&stored.auth, Auth::Basic { username, password } if username == "ann" && password.expose_secret() == "stored-pw-2")
        );
        assert_eq!(env.get("GRYT_API_KEY_SECRET"), None);
        assert!(env.is_set("GRYT_API_KEY_SECRET"));
        assert_eq!(config.get("api_key_secret"), Some(SECRET_MASK));
        assert_eq!(config.get("password"), Some(SECRET_MASK));
    }

    #[test]
    fn server_keys_normalise_origin_and_base_path() {
        let k = |u| server_key(u).unwrap_or_default();
        assert_eq!(k("HTTP://Gryt.Example.COM:80/"), "http://gryt.example.com");
        assert_eq!(k("https://h:443/api/"), "https://h/api");
        assert_eq!(k("https://h:8443/api"), "https://h:8443/api");
        assert_eq!(k("http://u:pw@h:1/x?q#f"), "http://h:1/x");
        assert_ne!(k("http://h/a"), k("http://h/b"));
        assert_ne!(k("http://h"), k("https://h"));
        assert_eq!(server_key("ftp://h"), None);
        assert_eq!(server_key("not a url"), None);
    }

    #[test]
    fn passwords_in_urls_are_redacted_and_stripped() {
        assert_eq!(redact_url("http://u:pw@h:1/x"), "http://u:****@h:1/x");
        assert_eq!(redact_url("http://u@h/x"), "http://u@h/x");
        assert_eq!(redact_url("http://h/x@y"), "http://h/x@y");
        assert_eq!(strip_userinfo("https://u:p@w@h/x"), "https://h/x");
        assert_eq!(strip_userinfo("http://h:1"), "http://h:1");
        assert!(has_userinfo("http://u:pw@h") && !has_userinfo("http://h/@"));
    }

    #[test]
    fn project_names_come_from_the_origin_else_the_directory() {
        let p = |o: Option<&str>, d| project_name(o, d).unwrap_or_default();
        assert_eq!(p(Some("git@github.com:org/app.git"), "x"), "org/app");
        assert_eq!(p(Some("https://host/org/app"), "x"), "org/app");
        assert_eq!(p(Some("https://host/org/app.git/"), "x"), "org/app");
        assert_eq!(
            p(Some("ssh://git@host:22/group/sub/app.git"), "x"),
            "group/sub/app"
        );
        assert_eq!(p(Some("/srv/git/app.git"), "x"), "app");
        assert_eq!(p(Some("file:///srv/git/app.git"), "x"), "app");
        assert_eq!(p(None, "my app"), "my-app");
        assert_eq!(p(Some("https://host/"), "dir"), "dir");
        assert_eq!(project_name(None, "日本"), None);
        assert!(valid_project(&p(None, &"a".repeat(300))));
    }
}
