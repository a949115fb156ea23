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

mod login;
pub use login::*;

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

/// What `gryt cloud logout` did.
pub struct LoggedOut {
    /// What was removed from the credentials, in words.
    pub removed: Vec<String>,
    /// The API key a password login had created, now revoked on the server.
    pub revoked: Option<String>,
    /// Why that key could not be revoked (it was removed here all the same).
    pub warnings: Vec<String>,
}

/// Forgets the credentials stored for the configured server (and the unbound ones, when it
/// is the user's own server). An API key that `gryt cloud login` created from a password
/// is first revoked on the server, with its own signature and a single try (best effort:
/// an unreachable server leaves it valid, and the warning says how to revoke it).
pub fn logout(env: &Env, config: &Config) -> Result<LoggedOut> {
    let creds_path = cfg::credentials_path(env)?;
    let global = cfg::global_config_path(env)?;
    let mut creds = cfg::read_credentials(&creds_path)?;
    let mut removed: Vec<String> = Vec::new();
    let mut revoked = None;
    let mut warnings = Vec::new();
    let url = config.get("gryt_url").map(cfg::strip_userinfo);
    if let (Some(url), Some(key)) = (url.as_deref(), url.as_deref().and_then(cfg::server_key)) {
        if let Some(entry) = creds.1.remove(&key) {
            removed.push(format!("the login for {key}"));
            if let Some((id, secret)) = login_created_key(&entry) {
                match revoke_own_key(url, &id, secret) {
                    Ok(true) => revoked = Some(id),
                    Ok(false) => {}
                    Err(why) => warnings.push(not_revoked(&cfg::redact_url(url), &id, &why)),
                }
            }
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
    Ok(LoggedOut {
        removed,
        revoked,
        warnings,
    })
}

// ---------------------------------------------------------------- whoami

/// What the server said about the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NotLoggedIn,
    Accepted,
    Refused,
    Unreachable,
    /// The server's TLS certificate is not trusted.
    Untrusted,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotLoggedIn => "not logged in",
            Status::Accepted => "accepted",
            Status::Refused => "refused",
            Status::Unreachable => "unreachable",
            Status::Untrusted => "untrusted",
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
            let untrusted = matches!(e, RemoteError::Certificate { .. });
            let e = remote_err(&url, e);
            let status = if untrusted {
                Status::Untrusted
            } else if e.kind == Kind::Unreachable {
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

/// The API key gryt signs with for the configured server, when the credentials are one:
/// (key id, the account recorded at login).
pub fn signing_key(config: &Config) -> Option<(String, Option<String>)> {
    let url = cfg::strip_userinfo(config.get("gryt_url")?);
    let creds = config.credentials_for(&url)?;
    match creds.auth {
        Auth::Hmac { key_id, .. } => Some((key_id, creds.account)),
        _ => None,
    }
}

/// A username and password given for one command (never stored).
pub struct Password {
    pub username: String,
    pub password: SecretString,
}

/// A client for the configured server: with `password` when given (what an API key may
/// not do: create keys, revoke another key), else with the stored credentials.
fn connect_as(config: &Config, password: Option<Password>) -> Result<Remote> {
    let Some(p) = password else {
        return connect(config);
    };
    let url = cfg::strip_userinfo(config.get("gryt_url").ok_or_else(no_url)?);
    let auth = Auth::Basic {
        username: p.username,
        password: p.password,
    };
    Remote::with_limits(&url, auth, config.http_limits())
}

pub fn create_api_key(
    config: &Config,
    name: String,
    expires_in_days: Option<i64>,
    password: Option<Password>,
) -> Result<ApiKeyCreated> {
    let remote = connect_as(config, password)?;
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
pub fn revoke_api_key(config: &Config, key_id: &str, password: Option<Password>) -> Result<bool> {
    let remote = connect_as(config, password)?;
    remote
        .revoke_api_key(key_id)
        .map_err(|e| remote_err(&remote.base, e))?;
    Ok(signing_key(config).is_some_and(|(k, _)| k == key_id))
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
