//! Account use cases on the configured gryt server: signup, login (checked with the server,
//! then stored bound to it), logout, whoami, API keys, and binding a workspace to a server
//! that moved. Requests go through the typed client (`client/accounts.rs`); the credentials
//! file is read and written through `config`.

use crate::client::cloud::{not_logged_in, server};
use crate::client::{Auth, Remote, RemoteError};
use crate::config::{self as cfg, Config, CredFrom, Env};
use crate::context::Workspace;
use crate::error::{CliError, Kind, Result};
use gryt_core::api::{ApiKeyCreate, ApiKeyCreated, ApiKeyInfo, SignupRequest};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;

/// The error for a command that needs a server when none is configured.
pub fn no_url() -> CliError {
    CliError::error("No gryt server is configured (gryt_url is not set)")
        .hint("log in with `gryt cloud login --url https://gryt.example.com`, or set GRYT_URL")
}

/// A client for the configured server with the credentials bound to it; refused (nothing
/// sent) without credentials for it.
pub(crate) fn connect(config: &Config) -> Result<Remote> {
    let remote = server(config)?.ok_or_else(no_url)?;
    if !remote.has_credentials() {
        return Err(not_logged_in(config, &remote.base));
    }
    Ok(remote)
}

/// Maps a failed request of an account command to the CLI error (the generic mapping's
/// hint about pending work does not apply to these commands).
pub(crate) fn remote_err(base: &str, e: RemoteError) -> CliError {
    match e {
        RemoteError::Unreachable(msg) => {
            CliError::new(Kind::Unreachable, format!("Cloud unreachable: {msg}")).hint(format!(
                "check that the server at {base} is running and that gryt_url is right"
            ))
        }
        other => other.into(),
    }
}

// ---------------------------------------------------------------- signup

/// Creates the account `username` on the server at `url` (no credentials needed).
pub fn signup(url: &str, username: &str, password: &SecretString) -> Result<()> {
    let remote = Remote::new(url, Auth::None)?;
    remote
        .create_account(&SignupRequest {
            username: username.to_string(),
            password: password.expose_secret().to_string(),
        })
        .map_err(|e| remote_err(&remote.base, e))?;
    Ok(())
}

// ---------------------------------------------------------------- login

/// The secret a login presents (held as a [`SecretString`]: never Debug-printed).
pub enum Secret {
    /// An API key: every request is signed with HMAC-SHA256.
    ApiKey {
        key_id: String,
        secret: SecretString,
    },
    /// A username and password: HTTP Basic.
    Password {
        username: String,
        password: SecretString,
    },
}

/// What `gryt cloud login` checks with the server and then stores.
pub struct Login {
    /// The server, checked and without a trailing `/`.
    pub url: String,
    /// The user name given (always set for a password login).
    pub username: Option<String>,
    pub secret: Secret,
}

impl Login {
    /// `api-key` or `password`, as `--method` and `--json` name them.
    pub fn method(&self) -> &'static str {
        match self.secret {
            Secret::ApiKey { .. } => "api-key",
            Secret::Password { .. } => "password",
        }
    }

    pub fn key_id(&self) -> Option<&str> {
        match &self.secret {
            Secret::ApiKey { key_id, .. } => Some(key_id),
            Secret::Password { .. } => None,
        }
    }

    fn auth(&self) -> Auth {
        match &self.secret {
            Secret::ApiKey { key_id, secret } => Auth::Hmac {
                key_id: key_id.clone(),
                secret: secret.clone(),
            },
            Secret::Password { username, password } => Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            },
        }
    }
}

/// Checks a login with its server, then stores it (see [`store_login`]). Returns the account
/// name the server knows (`None` from a server that cannot say).
pub fn login(env: &Env, login: &Login) -> Result<Option<String>> {
    let account = verify_login(login)?;
    store_login(env, login, account.as_deref())?;
    Ok(account)
}

/// Asks the server whether it accepts the credentials (listing one's API keys needs any
/// valid login and changes nothing), then which account they belong to (`None` from a
/// server without `GET /api/v1/accounts/me`).
fn verify_login(login: &Login) -> Result<Option<String>> {
    let remote = Remote::new(&login.url, login.auth())?;
    match remote.api_keys() {
        Ok(_) => Ok(crate::client::cloud::account_name(&remote)),
        Err(RemoteError::Http {
            status: 401 | 403,
            detail,
        }) => {
            let what = match login.secret {
                Secret::ApiKey { .. } => "this API key",
                Secret::Password { .. } => "this username and password",
            };
            Err(CliError::error(format!(
                "Login failed: the server at {} refused {what} ({detail})",
                login.url
            ))
            .hint("nothing was stored; check the credentials and try again"))
        }
        Err(e) => Err(remote_err(&login.url, e)),
    }
}

/// Stores a checked login in the credentials file, bound to its server (with the account
/// name the server knows), and makes that server the global `gryt_url`. Unbound secrets of
/// older versions are moved under the server they were used with (the global `gryt_url`),
/// so they keep going only there.
fn store_login(env: &Env, login: &Login, account: Option<&str>) -> Result<()> {
    let creds_path = cfg::credentials_path(env)?;
    let global = cfg::global_config_path(env)?;
    let global_map = cfg::read_file(&global)?;
    let mut creds = cfg::read_credentials(&creds_path)?;
    let key = cfg::server_key(&login.url).ok_or_else(|| {
        CliError::usage(format!(
            "Invalid gryt_url '{}'",
            cfg::redact_url(&login.url)
        ))
    })?;
    let (legacy, servers) = &mut creds;
    if !legacy.is_empty() {
        let old_url = global_map.get("gryt_url").and_then(|u| cfg::server_key(u));
        if let Some(old) = old_url.filter(|o| *o != key && !servers.contains_key(o)) {
            let mut entry = BTreeMap::new();
            if let Some(p) = legacy.get("password") {
                entry.insert("password".to_string(), p.clone());
                let user = global_map
                    .get("username")
                    .cloned()
                    .or_else(|| env.user().map(str::to_string));
                if let Some(u) = user {
                    entry.insert("username".to_string(), u);
                }
            }
            if let (Some(s), Some(id)) =
                (legacy.get("api_key_secret"), global_map.get("api_key_id"))
            {
                entry.insert("api_key_secret".to_string(), s.clone());
                entry.insert("api_key_id".to_string(), id.clone());
            }
            servers.insert(old, entry);
        }
        legacy.remove("password");
        legacy.remove("api_key_secret");
    }
    let mut entry = BTreeMap::new();
    match &login.secret {
        Secret::ApiKey { key_id, secret } => {
            entry.insert("api_key_id".to_string(), key_id.clone());
            entry.insert(
                "api_key_secret".to_string(),
                secret.expose_secret().to_string(),
            );
        }
        Secret::Password { username, password } => {
            entry.insert("username".to_string(), username.clone());
            entry.insert("password".to_string(), password.expose_secret().to_string());
        }
    }
    if let Some(a) = account {
        entry.insert("account".to_string(), a.to_string());
    }
    servers.insert(key, entry);
    cfg::write_credentials(&creds_path, &creds)?;
    // The key id now lives with its server; the global one was for unbound secrets.
    cfg::write_key(&global, "api_key_id", None, 0o644)?;
    cfg::write_key(&global, "gryt_url", Some(&login.url), 0o644)?;
    Ok(())
}

// ---------------------------------------------------------------- logout

/// Forgets the credentials stored for the configured server (and the unbound ones, when it
/// is the user's own server). Returns what was removed, in words.
pub fn logout(env: &Env, config: &Config) -> Result<Vec<String>> {
    let creds_path = cfg::credentials_path(env)?;
    let global = cfg::global_config_path(env)?;
    let mut creds = cfg::read_credentials(&creds_path)?;
    let mut removed: Vec<String> = Vec::new();
    let url = config.get("gryt_url").map(cfg::strip_userinfo);
    if let Some(key) = url.as_deref().and_then(cfg::server_key) {
        if creds.1.remove(&key).is_some() {
            removed.push(format!("the login for {key}"));
        }
    }
    // Unbound secrets belong to the user's own server.
    if url.as_deref().is_none_or(|u| config.is_own_url(u)) {
        for k in ["api_key_secret", "password"] {
            if creds.0.remove(k).is_some() {
                removed.push(k.to_string());
            }
        }
        if cfg::read_file(&global)?.contains_key("api_key_id") {
            cfg::write_key(&global, "api_key_id", None, 0o644)?;
            removed.push("api_key_id".to_string());
        }
    }
    if !removed.is_empty() {
        cfg::write_credentials(&creds_path, &creds)?;
    }
    Ok(removed)
}

// ---------------------------------------------------------------- whoami

/// What the server said about the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotLoggedIn,
    Accepted,
    Refused,
    Unreachable,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotLoggedIn => "not logged in",
            Status::Accepted => "accepted",
            Status::Refused => "refused",
            Status::Unreachable => "unreachable",
            Status::Error => "error",
        }
    }
}

/// The credentials whoami found for the server (never their secret).
pub struct CredsShown {
    /// The API key id; `None` for a password.
    pub key_id: Option<String>,
    pub from: CredFrom,
}

/// Who you are on the configured server, and whether it accepts the credentials.
pub struct Whoami {
    /// The server, fit to show.
    pub url: String,
    pub creds: Option<CredsShown>,
    /// Who you are: with credentials, the recorded account (or the Basic user name, or
    /// what the server says); without, the configured name.
    pub user: Option<String>,
    /// The account name the server gave, when it was asked.
    pub server_user: Option<String>,
    pub status: Status,
    /// The error the command ends with (`None` when the server accepts the credentials).
    pub problem: Option<CliError>,
}

/// Asks the configured server about the credentials bound to it.
pub fn whoami(config: &Config) -> Result<Whoami> {
    let remote = server(config)?.ok_or_else(no_url)?;
    let url = cfg::redact_url(&remote.base);
    let creds = config.credentials_for(&remote.base);
    let shown = creds.as_ref().and_then(|c| match &c.auth {
        Auth::Hmac { key_id, .. } => Some(CredsShown {
            key_id: Some(key_id.clone()),
            from: c.from,
        }),
        Auth::Basic { .. } => Some(CredsShown {
            key_id: None,
            from: c.from,
        }),
        Auth::None => None,
    });
    // Who you are without asking the server twice: the account recorded at login, the
    // Basic user name, else (an API key with no recorded name) what the server says below.
    let known = creds.as_ref().and_then(|c| match (&c.account, &c.auth) {
        (Some(a), _) => Some(a.clone()),
        (None, Auth::Basic { username, .. }) => Some(username.clone()),
        _ => None,
    });
    // gryt's server names the account behind the credentials; the reference server has no
    // such route (404), so any authenticated read checks the credentials there.
    let check: Option<std::result::Result<Option<String>, RemoteError>> =
        if remote.has_credentials() {
            Some(match remote.whoami() {
                Err(RemoteError::Http { status: 404, .. }) => remote.api_keys().map(|_| None),
                other => other.map(|me| Some(me.username)),
            })
        } else {
            None
        };
    let server_user = match &check {
        Some(Ok(name)) => name.clone(),
        _ => None,
    };
    let user = if creds.is_some() {
        known.or_else(|| server_user.clone())
    } else {
        Some(config.configured_username())
    };
    let (status, problem) = match check {
        None => (Status::NotLoggedIn, Some(not_logged_in(config, &url))),
        Some(Ok(_)) => (Status::Accepted, None),
        Some(Err(RemoteError::Http {
            status: 401 | 403,
            detail,
        })) => (
            Status::Refused,
            Some(
                CliError::error(format!("The server refused the credentials: {detail}"))
                    .hint(format!("log in again with `gryt cloud login --url {url}`")),
            ),
        ),
        Some(Err(e)) => {
            let e = remote_err(&url, e);
            let status = if e.kind == Kind::Unreachable {
                Status::Unreachable
            } else {
                Status::Error
            };
            (status, Some(e))
        }
    };
    Ok(Whoami {
        url,
        creds: shown,
        user,
        server_user,
        status,
        problem,
    })
}

// ---------------------------------------------------------------- api keys

pub fn create_api_key(
    config: &Config,
    name: String,
    expires_in_days: Option<i64>,
) -> Result<ApiKeyCreated> {
    let remote = connect(config)?;
    remote
        .create_api_key(&ApiKeyCreate {
            name,
            expires_in_days,
        })
        .map_err(|e| remote_err(&remote.base, e))
}

pub fn list_api_keys(config: &Config) -> Result<Vec<ApiKeyInfo>> {
    let remote = connect(config)?;
    remote.api_keys().map_err(|e| remote_err(&remote.base, e))
}

/// Revokes an API key. Returns whether it is the key gryt itself signs with.
pub fn revoke_api_key(config: &Config, key_id: &str) -> Result<bool> {
    let remote = connect(config)?;
    remote
        .revoke_api_key(key_id)
        .map_err(|e| remote_err(&remote.base, e))?;
    Ok(config
        .get("gryt_url")
        .and_then(|u| config.credentials_for(u))
        .is_some_and(|c| matches!(&c.auth, Auth::Hmac { key_id: k, .. } if k == key_id)))
}

// ---------------------------------------------------------------- bind

/// Records the server `gryt_url` now names as the one this workspace syncs with (for a
/// server that moved), only with credentials for it. Returns (the server, the one before).
pub fn bind(ws: &Workspace, now: &str) -> Result<(String, Option<String>)> {
    let remote = server(&ws.config)?.ok_or_else(no_url)?;
    if !remote.has_credentials() {
        return Err(not_logged_in(&ws.config, &remote.base));
    }
    let key = cfg::server_key(&remote.base).ok_or_else(|| {
        CliError::error(format!(
            "Invalid gryt_url '{}'",
            cfg::redact_url(&remote.base)
        ))
    })?;
    let before = super::sync::bind_to(ws, &key, now)?;
    Ok((key, before))
}
