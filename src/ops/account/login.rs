//! `gryt cloud login`: the login checked with its server, then stored bound to it (a
//! password only ever creates the API key that is stored), and the revocation of the key an
//! earlier password login created.

use super::*;

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

/// What a login stored, and what it did besides.
pub struct LoggedIn {
    /// The account name the server knows (`None` from a server that cannot say).
    pub account: Option<String>,
    /// The API key a password login created on the server, now the stored credentials.
    pub created_key: Option<String>,
    /// What else changed, in words (an earlier login's key revoked, passwords older
    /// versions stored removed).
    pub notes: Vec<String>,
    /// What could not be done (best effort): each a warning.
    pub warnings: Vec<String>,
}

/// The marker of a stored API key that `gryt cloud login` created from a password, so
/// that `gryt cloud logout` (or the next login) revokes it.
pub const CREATED_BY_LOGIN: &str = "created_by_login";

/// Checks a login with its server, then stores it (see [`store_login`]). A password is
/// never stored: it authenticates once (HTTP Basic) to create an API key named
/// `gryt login <host> <date>`, and that key is what the credentials file keeps.
pub fn login(env: &Env, login: &Login) -> Result<LoggedIn> {
    let (stored, created_key) = match &login.secret {
        Secret::ApiKey { .. } => (None, None),
        Secret::Password { .. } => {
            let key = key_for_password(env, login)?;
            let id = key.key_id.clone();
            let stored = Login {
                url: login.url.clone(),
                username: login.username.clone(),
                secret: Secret::ApiKey {
                    key_id: key.key_id,
                    secret: SecretString::from(key.secret),
                },
            };
            (Some(stored), Some(id))
        }
    };
    let kept = stored.as_ref().unwrap_or(login);
    let account = match verify_login(kept) {
        Ok(a) => a,
        Err(e) => {
            // The key just made is of no use: take it back (best effort).
            if let Some(id) = &created_key {
                let _ = Remote::new(&login.url, login.auth()).map(|r| r.revoke_api_key(id));
                return Err(e.hint(
                    "the server refused the API key it had just created for this login; HMAC signatures carry the time, so check this machine's clock",
                ));
            }
            return Err(e);
        }
    };
    let Secret::ApiKey { key_id, secret } = &kept.secret else {
        return Err(CliError::error(
            "a password login stores an API key, never the password",
        ));
    };
    let stored = store_login(
        env,
        &kept.url,
        (key_id, secret),
        account.as_deref(),
        created_key.is_some(),
    );
    let mut done = match stored {
        Ok(done) => done,
        Err(e) => {
            // Not stored: the key just made would only linger on the server.
            if let Some(id) = &created_key {
                let _ = revoke_own_key(&kept.url, id, secret.clone());
            }
            return Err(e);
        }
    };
    done.account = account;
    done.created_key = created_key;
    Ok(done)
}

/// The name of the API key a password login creates: `gryt login <host> <date>`.
fn login_key_name(env: &Env) -> String {
    let host = machine_name(env);
    let date = env.now().format("%Y-%m-%d");
    format!("gryt login {host} {date}")
}

/// This machine's name (`HOSTNAME`, else the kernel's), fit for a key name.
fn machine_name(env: &Env) -> String {
    let from_system = || {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
    };
    let raw = env
        .get("HOSTNAME")
        .map(str::to_string)
        .or_else(from_system)
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect();
    if name.is_empty() {
        "unknown-host".to_string()
    } else {
        name
    }
}

/// Creates the API key a password login stores, authenticating with the password once.
fn key_for_password(env: &Env, login: &Login) -> Result<ApiKeyCreated> {
    let remote = Remote::new(&login.url, login.auth())?;
    let req = ApiKeyCreate {
        name: login_key_name(env),
        expires_in_days: None,
    };
    match remote.create_api_key(&req) {
        Ok(k) => Ok(k),
        Err(RemoteError::Http {
            status: 401 | 403,
            detail,
        }) => Err(CliError::error(format!(
            "Login failed: the server at {} refused this username and password ({detail})",
            login.url
        ))
        .hint("nothing was stored; check the credentials and try again")),
        Err(RemoteError::Http {
            status: 404 | 405,
            ..
        }) => Err(CliError::error(format!(
            "The server at {} cannot create API keys, and gryt does not store passwords",
            login.url
        ))
        .hint("log in with an API key made on the server (`gryt cloud login --method api-key`), or give the password in GRYT_PASSWORD for each command")),
        Err(e) => Err(remote_err(&login.url, e)),
    }
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

/// An API key `gryt cloud login` created and stored for a server: (key id, secret).
pub(super) fn login_created_key(
    entry: &BTreeMap<String, String>,
) -> Option<(String, SecretString)> {
    if entry.get(CREATED_BY_LOGIN).map(String::as_str) != Some("true") {
        return None;
    }
    let id = entry.get("api_key_id")?;
    let secret = entry.get("api_key_secret")?;
    Some((id.clone(), SecretString::from(secret.clone())))
}

/// Revokes an API key with its own signature (a key may always revoke itself), trying
/// once. `Ok(false)` when the server no longer accepted the key anyway.
pub(super) fn revoke_own_key(
    url: &str,
    key_id: &str,
    secret: SecretString,
) -> std::result::Result<bool, String> {
    let auth = Auth::Hmac {
        key_id: key_id.to_string(),
        secret,
    };
    let mut remote = Remote::new(url, auth).map_err(|e| e.message)?;
    remote.attempts = 1;
    match remote.revoke_api_key(key_id) {
        Ok(_) => Ok(true),
        Err(RemoteError::Http {
            status: 401 | 404, ..
        }) => Ok(false),
        Err(e) => Err(e.text()),
    }
}

/// The warning for an API key a login created that could not be revoked.
pub(super) fn not_revoked(url: &str, key_id: &str, why: &str) -> String {
    format!(
        "could not revoke the API key {key_id} this machine's login created on {url} ({why}); it stays valid until revoked: `gryt cloud api-keys revoke {key_id}` when logged in there, or `gryt server api-key revoke {key_id}` on the server"
    )
}

/// Stores a checked login in the credentials file, bound to its server (with the account
/// name the server knows), and makes that server the global `gryt_url`. No password is
/// written: passwords older versions stored (the unbound `password`, or one under a
/// server) are removed, with a note saying where to log in again; an unbound API key of
/// older versions is moved under the server it was used with (the global `gryt_url`). The
/// key an earlier password login created for this server is then revoked (best effort).
fn store_login(
    env: &Env,
    url: &str,
    (key_id, secret): (&str, &SecretString),
    account: Option<&str>,
    created_by_login: bool,
) -> Result<LoggedIn> {
    let creds_path = cfg::credentials_path(env)?;
    let global = cfg::global_config_path(env)?;
    let global_map = cfg::read_file(&global)?;
    let mut creds = cfg::read_credentials(&creds_path)?;
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    let key = cfg::server_key(url)
        .ok_or_else(|| CliError::usage(format!("Invalid gryt_url '{}'", cfg::redact_url(url))))?;
    let (legacy, servers) = &mut creds;
    if !legacy.is_empty() {
        let old_url = global_map.get("gryt_url").and_then(|u| cfg::server_key(u));
        if let Some(old) = old_url.filter(|o| *o != key && !servers.contains_key(o)) {
            if legacy.contains_key("password") {
                notes.push(relogin_note(&old));
            }
            if let (Some(s), Some(id)) =
                (legacy.get("api_key_secret"), global_map.get("api_key_id"))
            {
                let mut entry = BTreeMap::new();
                entry.insert("api_key_secret".to_string(), s.clone());
                entry.insert("api_key_id".to_string(), id.clone());
                servers.insert(old, entry);
            }
        }
        legacy.remove("password");
        legacy.remove("api_key_secret");
    }
    // Passwords older versions stored under other servers go too.
    servers.retain(|server, entry| {
        if *server == key || entry.remove("password").is_none() {
            return true;
        }
        entry.remove("username");
        notes.push(relogin_note(server));
        entry.contains_key("api_key_secret")
    });
    let previous = servers.get(&key).and_then(login_created_key);
    let mut entry = BTreeMap::new();
    entry.insert("api_key_id".to_string(), key_id.to_string());
    entry.insert(
        "api_key_secret".to_string(),
        secret.expose_secret().to_string(),
    );
    if created_by_login {
        entry.insert(CREATED_BY_LOGIN.to_string(), "true".to_string());
    }
    if let Some(a) = account {
        entry.insert("account".to_string(), a.to_string());
    }
    servers.insert(key, entry);
    cfg::write_credentials(&creds_path, &creds)?;
    // The key id now lives with its server; the global one was for unbound secrets.
    cfg::write_key(&global, "api_key_id", None, 0o644)?;
    cfg::write_key(&global, "gryt_url", Some(url), 0o644)?;
    // The key the previous login of this machine created is of no use any more.
    if let Some((old_id, old_secret)) = previous.filter(|(id, _)| id != key_id) {
        match revoke_own_key(url, &old_id, old_secret) {
            Ok(true) => notes.push(format!(
                "revoked the API key {old_id} of the previous login"
            )),
            Ok(false) => {}
            Err(why) => warnings.push(not_revoked(url, &old_id, &why)),
        }
    }
    Ok(LoggedIn {
        account: None,
        created_key: None,
        notes,
        warnings,
    })
}

/// The note for a password of an older version removed from the credentials file.
fn relogin_note(server: &str) -> String {
    format!(
        "removed the password an older gryt stored for {server} (gryt no longer stores passwords); log in there again with `gryt cloud login --url {server}`"
    )
}

// ---------------------------------------------------------------- logout
