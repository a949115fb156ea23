//! The configuration keys gryt knows, where a value came from, the execution modes, and
//! checking a value before it is written (project names included).

use super::url::{has_userinfo, redact_url, strip_userinfo};
use crate::error::{CliError, Result};

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
        help: "password for Basic auth: from GRYT_PASSWORD only, never stored (`gryt cloud login` stores an API key instead)",
    },
];

/// Whether gryt refuses to store a value of `key`: a password (a login creates an API key
/// on the server and stores that instead). Reading and removing it stay possible.
pub fn never_stored(key: &KeyInfo) -> bool {
    key.name == "password"
}

/// The error for storing a value of a [`never_stored`] key; `url` (the configured server,
/// when there is one) is named in the hint.
pub fn store_refused(key: &KeyInfo, url: Option<&str>) -> CliError {
    let url = url.map(strip_userinfo).unwrap_or_else(|| "URL".to_string());
    CliError::usage(format!(
        "gryt never stores a {}: `gryt config {} VALUE` would keep it in plain text",
        key.name, key.name
    ))
    .hint(format!(
        "log in with `gryt cloud login --url {url}` (it creates an API key on the server and stores only that), or set {} in the environment of one command; nothing was changed",
        key.env
    ))
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
