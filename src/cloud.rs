//! Connecting to the configured gryt server: the URL, the credentials and the scope.

use crate::config::{Config, ExecutionMode};
use crate::error::Result;
use crate::remote::{Auth, Remote};

/// The server to sync with and the scope (team, project) this workspace syncs.
pub struct Cloud {
    pub remote: Remote,
    pub team: Option<String>,
    pub project: String,
}

impl Cloud {
    /// `None` when no `gryt_url` is configured: every mode then behaves as local.
    pub fn from_config(config: &Config) -> Result<Option<Cloud>> {
        let Some(url) = config.get("gryt_url") else {
            return Ok(None);
        };
        let auth = match (config.get("api_key_id"), config.get("api_key_secret")) {
            (Some(id), Some(secret)) => Auth::Hmac {
                key_id: id.to_string(),
                secret: secret.to_string(),
            },
            _ => match (config.get("username"), config.get("password")) {
                (Some(u), Some(p)) => Auth::Basic {
                    username: u.to_string(),
                    password: p.to_string(),
                },
                _ => Auth::None,
            },
        };
        Ok(Some(Cloud {
            remote: Remote::with_limits(url, auth, config.http_limits())?,
            team: config.get("team").map(str::to_string),
            project: config.get("project").unwrap_or("default").to_string(),
        }))
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

/// The cloud to use for automatic sync in this mode, if any.
pub fn for_mode(config: &Config) -> Result<Option<Cloud>> {
    match config.execution_mode() {
        ExecutionMode::Local => Ok(None),
        ExecutionMode::Hybrid | ExecutionMode::Cloud => Cloud::from_config(config),
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
