//! Connecting to the configured gryt server: the URL, the credentials bound to it, the
//! scope (team, project) this workspace syncs, and the server the workspace is bound to.

use crate::client::{Auth, Remote};
use crate::config::{self as cfg, Config, ExecutionMode, Source};
use crate::context::Workspace;
use crate::error::{CliError, Result};
use gryt_core::api::routes::urlencode;

/// The sync-metadata key holding the server (its `server_key`) a workspace syncs with.
pub const SERVER_META: &str = "server";

/// The server to sync with and the scope (team, project) this workspace syncs.
pub struct Cloud {
    pub remote: Remote,
    pub team: Option<String>,
    pub project: String,
}

/// The configured server with the credentials bound to it (none when the user never logged
/// in to it), for account commands that need no scope. `None` when no `gryt_url` is set.
pub fn server(config: &Config) -> Result<Option<Remote>> {
    let Some(url) = config.get("gryt_url") else {
        return Ok(None);
    };
    // User information in a URL is never sent (nor shown): credentials come only from the
    // credentials file or the environment, bound to their server.
    let url = cfg::strip_userinfo(url);
    let auth = config
        .credentials_for(&url)
        .map(|c| c.auth)
        .unwrap_or(Auth::None);
    Ok(Some(Remote::with_limits(&url, auth, config.http_limits())?))
}

/// The error for a server without credentials: nothing is sent to it.
pub fn not_logged_in(config: &Config, url: &str) -> CliError {
    let url = cfg::redact_url(url);
    let why = if config.source("gryt_url") == Some(Source::Repository) && !config.is_own_url(&url) {
        format!(
            "Not logged in to {url} (named by the repository's .gryt/config); nothing was sent to it: credentials go only to the server they were stored for"
        )
    } else {
        format!("Not logged in to {url}; nothing was sent to it")
    };
    CliError::error(why).hint(format!(
        "if you trust that server, log in with `gryt cloud login --url {}`, or set GRYT_URL, GRYT_API_KEY_ID and GRYT_API_KEY_SECRET",
        cfg::strip_userinfo(&url)
    ))
}

impl Cloud {
    /// `None` when no `gryt_url` is configured: every mode then behaves as local. A
    /// repository without a `project` is refused: it would mix its releases with others'.
    pub fn from_config(config: &Config) -> Result<Option<Cloud>> {
        let Some(remote) = server(config)? else {
            return Ok(None);
        };
        let project = config.get("project").ok_or_else(|| {
            CliError::error(
                "This repository has no project: gryt would not know which releases on the server are its own",
            )
            .hint("name it once with `gryt config project NAME` (e.g. org/app), commit .gryt/config, then sync again")
        })?;
        Ok(Some(Cloud {
            remote,
            team: config.get("team").map(str::to_string),
            project: project.to_string(),
        }))
    }

    /// The cloud a workspace syncs with, checked before anything is sent: the scope is set,
    /// there are credentials for this server, and the server is the one the workspace is
    /// bound to (recorded when it first answered a pull). A repository that names another server than
    /// the recorded one is refused, naming both: it is never followed silently.
    /// [`Cloud::for_workspace`], refusing a workspace with no server configured.
    pub fn required(ws: &Workspace) -> Result<Cloud> {
        Cloud::for_workspace(ws)?.ok_or_else(|| {
            CliError::error("No gryt server is configured")
                .hint("log in with `gryt cloud login --url URL`, or set `gryt config gryt_url URL`")
        })
    }

    pub fn for_workspace(ws: &Workspace) -> Result<Option<Cloud>> {
        let Some(cloud) = Cloud::from_config(&ws.config)? else {
            return Ok(None);
        };
        if !cloud.remote.has_credentials() {
            return Err(not_logged_in(&ws.config, &cloud.remote.base));
        }
        let Some(key) = cfg::server_key(&cloud.remote.base) else {
            return Ok(Some(cloud));
        };
        let conn = &ws.store.conn;
        match crate::store::sync::get_meta(conn, SERVER_META)? {
            // Not bound yet: `bind_after_pull` records the server once it answered.
            None => {}
            Some(bound) if bound == key => {}
            // The user's own configuration (global gryt_url, GRYT_URL) is followed; a URL
            // only the repository names is not.
            Some(bound)
                if ws.config.source("gryt_url") == Some(Source::Repository)
                    && !ws.config.is_own_url(&cloud.remote.base) =>
            {
                return Err(CliError::error(format!(
                    "This workspace syncs with {bound}, but the repository's .gryt/config now names {key}; nothing was sent"
                ))
                .hint(format!(
                    "if the change is unexpected, restore gryt_url in .gryt/config (`gryt config gryt_url {bound}`); if the server really moved, log in to it and run `gryt cloud bind`"
                )));
            }
            Some(_) => {}
        }
        Ok(Some(cloud))
    }

    /// `?team_id=..&project=..` (or `&...` when `first` is false) for the scope.
    pub fn scope_query(&self, first: bool) -> String {
        let mut q = String::new();
        let mut sep = if first { '?' } else { '&' };
        if let Some(t) = &self.team {
            q.push(sep);
            q.push_str("team_id=");
            q.push_str(&urlencode(t));
            sep = '&';
        }
        q.push(sep);
        q.push_str("project=");
        q.push_str(&urlencode(&self.project));
        q
    }
}

/// After a pull the server answered: binds a workspace not bound yet to this server.
pub fn bind_after_pull(conn: &rusqlite::Connection, cloud: &Cloud) -> Result<()> {
    let Some(key) = cfg::server_key(&cloud.remote.base) else {
        return Ok(());
    };
    if crate::store::sync::get_meta(conn, SERVER_META)?.is_none() {
        let now = crate::config::wall_clock().to_rfc3339();
        crate::store::sync::set_meta(conn, SERVER_META, &key, &now)?;
    }
    Ok(())
}

/// The cloud to use for automatic sync in this mode, if any.
pub fn for_mode(ws: &Workspace) -> Result<Option<Cloud>> {
    match ws.config.execution_mode() {
        ExecutionMode::Local => Ok(None),
        ExecutionMode::Hybrid | ExecutionMode::Cloud => Cloud::for_workspace(ws),
    }
}

/// The account name the server knows for these credentials (`GET /api/v1/accounts/me`),
/// asked once and cached in `<config dir>/accounts` (mode 0600). `None` when the server
/// cannot say (unreachable, or a server without that route).
pub fn account_of(config: &Config, url: &str, auth: &Auth) -> Option<String> {
    let Auth::Hmac { key_id, .. } = auth else {
        return None;
    };
    let server = cfg::server_key(url)?;
    let cache_key = format!("{server} {key_id}");
    let cache = config.config_dir().map(|d| d.join("accounts"));
    if let Some(path) = &cache {
        if let Some(name) = cfg::read_file(path)
            .ok()
            .and_then(|m| m.get(&cache_key).cloned())
        {
            return Some(name);
        }
    }
    let remote = Remote::with_limits(url, auth.clone(), config.http_limits()).ok()?;
    let name = account_name(&remote)?;
    if let Some(path) = &cache {
        // A cache: failing to write it only means asking again next time.
        let _ = cfg::write_key(path, &cache_key, Some(&name), 0o600);
    }
    Some(name)
}

/// The account behind the remote's credentials, as the server names it.
pub fn account_name(remote: &Remote) -> Option<String> {
    let me = remote.whoami().ok()?;
    Some(me.username).filter(|s| !s.is_empty())
}
