//! Credentials: the credentials file (`<config dir>/credentials`, mode 0600 in a 0700
//! directory) and the credentials sent to a server, held as [`SecretString`]s.

use super::{server_key, Config, Env};
use crate::client::Auth;
use crate::error::{CliError, Result};
use crate::yaml;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What [`Config::get`] and [`Config::entries`] give for a secret key: its value lives only
/// in the credentials (as a [`SecretString`]), handed out by [`Config::credentials_for`].
pub const SECRET_MASK: &str = "********";

/// The unbound secrets of one place (the environment, or the top of the credentials file).
#[derive(Debug, Clone, Default)]
pub(super) struct Unbound {
    pub(super) api_key_secret: Option<SecretString>,
    pub(super) password: Option<SecretString>,
}

impl Unbound {
    pub(super) fn from_map(map: &BTreeMap<String, String>) -> Unbound {
        Unbound {
            api_key_secret: map.get("api_key_secret").cloned().map(SecretString::from),
            password: map.get("password").cloned().map(SecretString::from),
        }
    }
}

/// A login `gryt cloud login` stored for one server.
#[derive(Debug, Clone, Default)]
pub(super) struct StoredLogin {
    api_key_id: Option<String>,
    api_key_secret: Option<SecretString>,
    username: Option<String>,
    password: Option<SecretString>,
    account: Option<String>,
}

impl StoredLogin {
    pub(super) fn from_map(map: &BTreeMap<String, String>) -> StoredLogin {
        StoredLogin {
            api_key_id: map.get("api_key_id").cloned(),
            api_key_secret: map.get("api_key_secret").cloned().map(SecretString::from),
            username: map.get("username").cloned(),
            password: map.get("password").cloned().map(SecretString::from),
            account: map.get("account").cloned(),
        }
    }
}

/// A warning for each server whose stored login is a password (written by `gryt cloud
/// login` of older versions; today's stores an API key instead). The password keeps
/// working until the next login there replaces it.
pub(super) fn stored_password_warnings(servers: &BTreeMap<String, StoredLogin>) -> Vec<String> {
    servers
        .iter()
        .filter(|(_, s)| s.password.is_some() && s.api_key_secret.is_none())
        .map(|(server, _)| {
            format!(
                "the credentials file holds your password for {server}, stored by an older gryt; replace it with an API key: `gryt cloud login --url {server}`"
            )
        })
        .collect()
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

pub fn credentials_path(env: &Env) -> Result<PathBuf> {
    Ok(env.config_dir()?.join("credentials"))
}

impl Config {
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

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

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
}
