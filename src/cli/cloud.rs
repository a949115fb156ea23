//! `gryt cloud ...`: accounts on the gryt server: signup, login, logout, whoami, API keys.
//!
//! Credentials are stored in the user's config dir, never in the repository: `gryt_url`,
//! `username` and `api_key_id` in the global config, `api_key_secret` and `password` in the
//! credentials file (mode 0600 from creation, whatever the umask). CI may supply them through
//! `GRYT_URL`, `GRYT_API_KEY_ID` and `GRYT_API_KEY_SECRET` instead. No secret is ever printed,
//! except the answer to `gryt cloud api-keys create`, which exists to show it once.

use crate::cloud::{urlencode, Cloud};
use crate::config::{self as cfg, Config, Source};
use crate::context::Context;
use crate::error::{GrytError, Kind, Result};
use crate::remote::{Auth, Remote, RemoteError};
use clap::{Args, Subcommand, ValueEnum};
use gryt_core::wire::{ApiKeyCreate, ApiKeyCreated, ApiKeyInfo, Data, SignupRequest};
use serde::Deserialize;
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};

#[derive(Debug, Subcommand)]
pub enum CloudCommand {
    /// Create an account on a gryt server (when the server allows signup).
    Signup(SignupArgs),
    /// Check credentials with the server, then store them in your config dir (secrets in the
    /// credentials file, mode 0600; never in the repository).
    Login(LoginArgs),
    /// Forget the stored API key and password (the server URL and username stay).
    Logout,
    /// Show the server, the user and the auth method, and whether the server accepts them.
    Whoami,
    /// Create, list and revoke API keys (for CI and HMAC-signed requests).
    #[command(subcommand)]
    ApiKeys(ApiKeysCommand),
}

#[derive(Debug, Args)]
pub struct SignupArgs {
    /// The server's base URL (default: the configured gryt_url).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The account's name: letters, digits, '.', '_' and '-' (prompted for on a terminal).
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// Read the password from the first line of standard input instead of a prompt.
    #[arg(long)]
    pub password_stdin: bool,
}

/// How `gryt cloud login` authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// An API key id and secret: every request is signed with HMAC-SHA256.
    ApiKey,
    /// A username and password: HTTP Basic.
    Password,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server's base URL (default: the configured gryt_url).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// How to authenticate (default: api-key when --key-id is given, else password).
    #[arg(long, value_enum)]
    pub method: Option<Method>,
    /// The API key id (with --method api-key).
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    /// The API key secret (prefer --secret-key-stdin: arguments are visible to other users).
    #[arg(long, value_name = "SECRET", conflicts_with = "secret_key_stdin")]
    pub secret_key: Option<String>,
    /// Read the API key secret from the first line of standard input.
    #[arg(long, conflicts_with = "password_stdin")]
    pub secret_key_stdin: bool,
    /// The username (with --method password; default: the configured username).
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// Read the password from the first line of standard input instead of a prompt.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Create an API key and print its id and secret (the secret is shown only this once).
    Create(ApiKeyCreateArgs),
    /// List your API keys (never their secrets).
    #[command(visible_alias = "ls")]
    List,
    /// Revoke an API key: requests signed with it are refused from now on.
    Revoke(ApiKeyRevokeArgs),
}

#[derive(Debug, Args)]
pub struct ApiKeyCreateArgs {
    /// A name that tells you what the key is for, e.g. "ci".
    #[arg(long)]
    pub name: String,
    /// Let the key expire after this many days (1 to 3650; default: never).
    #[arg(long, value_name = "N")]
    pub expires_in_days: Option<i64>,
}

#[derive(Debug, Args)]
pub struct ApiKeyRevokeArgs {
    /// The key id, as `gryt cloud api-keys list` shows it.
    pub key_id: String,
}

pub fn dispatch(ctx: &Context, cmd: CloudCommand) -> Result<i32> {
    match cmd {
        CloudCommand::Signup(a) => cmd_signup(ctx, a),
        CloudCommand::Login(a) => cmd_login(ctx, a),
        CloudCommand::Logout => cmd_logout(ctx),
        CloudCommand::Whoami => cmd_whoami(ctx),
        CloudCommand::ApiKeys(ApiKeysCommand::Create(a)) => cmd_api_key_create(ctx, a),
        CloudCommand::ApiKeys(ApiKeysCommand::List) => cmd_api_key_list(ctx),
        CloudCommand::ApiKeys(ApiKeysCommand::Revoke(a)) => cmd_api_key_revoke(ctx, a),
    }
}

// ---------------------------------------------------------------- shared helpers

/// The layered configuration, with the repository's `.gryt/config` when inside one.
pub(crate) fn load_config(ctx: &Context) -> Result<Config> {
    let repo = ctx.repo().ok();
    Config::load(&ctx.env, repo.as_ref().map(|r| r.config_path()).as_deref())
}

fn no_url() -> GrytError {
    GrytError::error("No gryt server is configured (gryt_url is not set)")
        .hint("log in with `gryt cloud login --url https://gryt.example.com`, or set GRYT_URL")
}

fn not_logged_in(url: &str) -> GrytError {
    GrytError::error(format!("Not logged in to {url}")).hint(format!(
        "log in with `gryt cloud login --url {url}`, or set GRYT_API_KEY_ID and GRYT_API_KEY_SECRET"
    ))
}

/// A client for the configured server with the configured credentials.
pub(crate) fn connect(ctx: &Context) -> Result<Remote> {
    let config = load_config(ctx)?;
    let cloud = Cloud::from_config(&config)?.ok_or_else(no_url)?;
    if !cloud.remote.has_credentials() {
        return Err(not_logged_in(&cloud.remote.base));
    }
    Ok(cloud.remote)
}

/// Maps a failed request of an account command to the CLI error (the generic mapping's
/// hint about pending work does not apply to these commands).
pub(crate) fn remote_err(base: &str, e: RemoteError) -> GrytError {
    match e {
        RemoteError::Unreachable(msg) => {
            GrytError::new(Kind::Unreachable, format!("Cloud unreachable: {msg}")).hint(format!(
                "check that the server at {base} is running and that gryt_url is right"
            ))
        }
        other => other.into(),
    }
}

/// Sends a JSON request and decodes the 2xx answer.
pub(crate) fn call<T: serde::de::DeserializeOwned>(
    remote: &Remote,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<T> {
    let raw = match body {
        Some(b) => Some(
            serde_json::to_vec(b)
                .map_err(|e| GrytError::error(format!("cannot encode the request: {e}")))?,
        ),
        None => None,
    };
    remote
        .call(method, path, raw.as_deref(), &[])
        .map_err(|e| remote_err(&remote.base, e))
}

/// Writes a prompt on stderr (never stdout: stdout is for results).
fn prompt(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{text}");
    let _ = err.flush();
}

/// Turns terminal echo on or off through `stty` (no unsafe code, no extra dependency).
fn set_echo(on: bool) -> bool {
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Reads one line from standard input: with a prompt and no echo on a terminal, silently
/// otherwise (`--password-stdin`, pipes). The trailing newline is removed.
fn read_line(label: &str, hidden: bool) -> Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        prompt(&format!("{label}: "));
    }
    let echo_off = tty && hidden && set_echo(false);
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if echo_off {
        set_echo(true);
        prompt("\n");
    }
    let n = read.map_err(|e| GrytError::io(format!("cannot read the {label}"), e))?;
    if n == 0 {
        return Err(GrytError::usage(format!(
            "No {label} given: standard input is empty"
        )));
    }
    let value = line.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        return Err(GrytError::usage(format!("The {label} is empty")));
    }
    Ok(value)
}

/// The server URL from `--url` or the configuration, checked and without a trailing `/`.
fn server_url(given: Option<&str>, config: &Config) -> Result<String> {
    let url = match given {
        Some(u) => u.trim(),
        None => config.get("gryt_url").ok_or_else(no_url)?,
    };
    let url = url.trim_end_matches('/');
    if let Some(info) = cfg::key_info("gryt_url") {
        cfg::validate_value(info, url)?;
    }
    Ok(url.to_string())
}

fn source_name(s: Option<Source>) -> &'static str {
    match s {
        Some(Source::Default) => "default",
        Some(Source::Global) => "global config",
        Some(Source::Repository) => "repository config",
        Some(Source::Credentials) => "credentials file",
        Some(Source::Environment) => "environment",
        None => "not set",
    }
}

// ---------------------------------------------------------------- signup

fn cmd_signup(ctx: &Context, a: SignupArgs) -> Result<i32> {
    let config = load_config(ctx)?;
    let url = server_url(a.url.as_deref(), &config)?;
    let username = match a.username {
        Some(u) => u,
        None if !a.password_stdin && std::io::stdin().is_terminal() => {
            read_line("Username", false)?
        }
        None => {
            return Err(GrytError::usage("--username is needed")
                .hint("gryt cloud signup --username NAME --password-stdin < password-file"))
        }
    };
    let password = if a.password_stdin {
        read_line("password", true)?
    } else {
        let p = read_line("Password", true)?;
        if std::io::stdin().is_terminal() && read_line("Password again", true)? != p {
            return Err(GrytError::usage("The passwords do not match"));
        }
        p
    };
    let remote = Remote::new(&url, Auth::None)?;
    let body = serde_json::to_value(SignupRequest {
        username: username.clone(),
        password,
    })
    .map_err(|e| GrytError::error(format!("cannot encode the request: {e}")))?;
    let _: serde_json::Value = call(&remote, "POST", "/api/v1/accounts/create", Some(&body))?;
    if ctx.ui.json {
        ctx.ui
            .json(&json!({ "created": true, "username": username, "url": url }));
    } else {
        ctx.ui.info(&format!("Created account {username} on {url}"));
        ctx.ui.info(&format!(
            "Log in with `gryt cloud login --url {url} --username {username}`"
        ));
    }
    Ok(0)
}

// ---------------------------------------------------------------- login

/// What `login` checked with the server and is about to store.
struct Login {
    url: String,
    method: Method,
    username: Option<String>,
    key_id: Option<String>,
    secret: String,
}

fn cmd_login(ctx: &Context, a: LoginArgs) -> Result<i32> {
    let config = load_config(ctx)?;
    let url = server_url(a.url.as_deref(), &config)?;
    let method = a.method.unwrap_or(
        if a.key_id.is_some() || a.secret_key.is_some() || a.secret_key_stdin {
            Method::ApiKey
        } else {
            Method::Password
        },
    );
    let login = match method {
        Method::ApiKey => {
            if a.password_stdin {
                return Err(
                    GrytError::usage("--password-stdin goes with --method password")
                        .hint("use --secret-key-stdin to read an API key secret"),
                );
            }
            let key_id = a.key_id.ok_or_else(|| {
                GrytError::usage("--method api-key needs --key-id ID").hint(
                    "gryt cloud login --method api-key --key-id ID --secret-key-stdin < secret-file",
                )
            })?;
            let secret = match a.secret_key {
                Some(s) if !s.is_empty() => s,
                Some(_) => return Err(GrytError::usage("The API key secret is empty")),
                None => read_line("API key secret", true)?,
            };
            Login {
                url,
                method,
                username: a.username,
                key_id: Some(key_id),
                secret,
            }
        }
        Method::Password => {
            if a.key_id.is_some() || a.secret_key.is_some() || a.secret_key_stdin {
                return Err(GrytError::usage(
                    "--key-id and --secret-key go with --method api-key",
                ));
            }
            let username = match a.username {
                Some(u) => u,
                None => match config.get("username") {
                    Some(u) if config.source("username") != Some(Source::Default) => u.to_string(),
                    _ if !a.password_stdin && std::io::stdin().is_terminal() => {
                        read_line("Username", false)?
                    }
                    Some(u) => u.to_string(),
                    None => {
                        return Err(GrytError::usage("--username is needed")
                            .hint("gryt cloud login --username NAME --password-stdin"))
                    }
                },
            };
            let secret = read_line(
                if a.password_stdin {
                    "password"
                } else {
                    "Password"
                },
                true,
            )?;
            Login {
                url,
                method,
                username: Some(username),
                key_id: None,
                secret,
            }
        }
    };
    verify_login(&login)?;
    store_login(ctx, &login)?;

    let who = login.username.clone().or_else(|| {
        load_config(ctx)
            .ok()
            .and_then(|c| c.get("username").map(str::to_string))
    });
    let how = match (&login.method, &login.key_id) {
        (Method::ApiKey, Some(id)) => format!("API key {id}"),
        _ => "password".to_string(),
    };
    if ctx.ui.json {
        ctx.ui.json(&json!({
            "url": login.url,
            "username": who,
            "method": match login.method { Method::ApiKey => "api-key", Method::Password => "password" },
            "api_key_id": login.key_id,
        }));
    } else {
        match &who {
            Some(u) => ctx
                .ui
                .info(&format!("Logged in to {} as {u} ({how})", login.url)),
            None => ctx.ui.info(&format!("Logged in to {} ({how})", login.url)),
        }
    }
    warn_overrides(ctx, &login);
    Ok(0)
}

/// Asks the server whether it accepts the credentials (listing one's API keys needs any
/// valid login and changes nothing).
fn verify_login(login: &Login) -> Result<()> {
    let auth = match login.method {
        Method::ApiKey => Auth::Hmac {
            key_id: login.key_id.clone().unwrap_or_default(),
            secret: login.secret.clone(),
        },
        Method::Password => Auth::Basic {
            username: login.username.clone().unwrap_or_default(),
            password: login.secret.clone(),
        },
    };
    let remote = Remote::new(&login.url, auth)?;
    match remote.call::<serde_json::Value>("GET", "/api/v1/api-keys", None, &[]) {
        Ok(_) => Ok(()),
        Err(RemoteError::Http {
            status: 401 | 403,
            detail,
            ..
        }) => {
            let what = match login.method {
                Method::ApiKey => "this API key",
                Method::Password => "this username and password",
            };
            Err(GrytError::error(format!(
                "Login failed: the server at {} refused {what} ({detail})",
                login.url
            ))
            .hint("nothing was stored; check the credentials and try again"))
        }
        Err(e) => Err(remote_err(&login.url, e)),
    }
}

/// Stores a checked login: secrets in the credentials file (0600), the rest in the global
/// config. The other method's credentials are removed so the new login is the one used.
fn store_login(ctx: &Context, login: &Login) -> Result<()> {
    let creds = cfg::credentials_path(&ctx.env)?;
    let global = cfg::global_config_path(&ctx.env)?;
    match login.method {
        Method::ApiKey => {
            cfg::write_key(&creds, "api_key_secret", Some(&login.secret), 0o600)?;
            cfg::write_key(&creds, "password", None, 0o600)?;
            cfg::write_key(&global, "api_key_id", login.key_id.as_deref(), 0o644)?;
        }
        Method::Password => {
            cfg::write_key(&creds, "password", Some(&login.secret), 0o600)?;
            cfg::write_key(&creds, "api_key_secret", None, 0o600)?;
            cfg::write_key(&global, "api_key_id", None, 0o644)?;
        }
    }
    cfg::write_key(&global, "gryt_url", Some(&login.url), 0o644)?;
    if let Some(u) = &login.username {
        cfg::write_key(&global, "username", Some(u), 0o644)?;
    }
    Ok(())
}

/// Warns when the environment or the repository overrides what `login` stored.
fn warn_overrides(ctx: &Context, login: &Login) {
    let Ok(config) = load_config(ctx) else {
        return;
    };
    let mut keys = vec!["gryt_url", "api_key_id", "api_key_secret"];
    if login.method == Method::Password {
        keys.push("username");
        keys.push("password");
    }
    for k in keys {
        let src = config.source(k);
        if matches!(src, Some(Source::Environment | Source::Repository)) {
            ctx.ui.warn(&format!(
                "{k} from the {} takes precedence over the stored login",
                source_name(src)
            ));
        }
    }
}

// ---------------------------------------------------------------- logout

fn cmd_logout(ctx: &Context) -> Result<i32> {
    let creds = cfg::credentials_path(&ctx.env)?;
    let global = cfg::global_config_path(&ctx.env)?;
    let mut removed = Vec::new();
    for (path, key, mode) in [
        (&creds, "api_key_secret", 0o600),
        (&creds, "password", 0o600),
        (&global, "api_key_id", 0o644),
    ] {
        if cfg::read_file(path)?.contains_key(key) {
            cfg::write_key(path, key, None, mode)?;
            removed.push(key);
        }
    }
    if ctx.ui.json {
        ctx.ui.json(&json!({ "removed": removed }));
    } else if removed.is_empty() {
        ctx.ui.info("No stored credentials to remove");
    } else {
        ctx.ui
            .info(&format!("Logged out: removed {}", removed.join(", ")));
    }
    let env_keys: Vec<&str> = cfg::KEYS
        .iter()
        .filter(|k| {
            matches!(k.name, "api_key_id" | "api_key_secret" | "password")
                && ctx.env.get(k.env).is_some()
        })
        .map(|k| k.env)
        .collect();
    if !env_keys.is_empty() {
        ctx.ui.warn(&format!(
            "{} still set in the environment and used",
            env_keys.join(", ")
        ));
    }
    Ok(0)
}

// ---------------------------------------------------------------- whoami

fn cmd_whoami(ctx: &Context) -> Result<i32> {
    let config = load_config(ctx)?;
    let cloud = Cloud::from_config(&config)?.ok_or_else(no_url)?;
    let url = cloud.remote.base.clone();
    let user = config.get("username").map(str::to_string);
    let hmac = config.get("api_key_id").is_some() && config.get("api_key_secret").is_some();
    let (method, detail) = if hmac {
        let id = config.get("api_key_id").unwrap_or_default();
        (
            "api-key",
            format!(
                "API key {id} (id from the {}, secret from the {})",
                source_name(config.source("api_key_id")),
                source_name(config.source("api_key_secret"))
            ),
        )
    } else if cloud.remote.has_credentials() {
        (
            "password",
            format!(
                "password (from the {})",
                source_name(config.source("password"))
            ),
        )
    } else {
        ("none", "none (not logged in)".to_string())
    };
    // gryt's server names the account behind the credentials; the reference server has no
    // such route (404), so any authenticated read checks the credentials there.
    let check = if cloud.remote.has_credentials() {
        match cloud
            .remote
            .call::<serde_json::Value>("GET", "/api/v1/accounts/me", None, &[])
        {
            Err(RemoteError::Http { status: 404, .. }) => Some(
                cloud
                    .remote
                    .call::<serde_json::Value>("GET", "/api/v1/api-keys", None, &[]),
            ),
            other => Some(other),
        }
    } else {
        None
    };
    let server_user: Option<String> = match &check {
        Some(Ok(v)) => v["data"]["username"].as_str().map(str::to_string),
        _ => None,
    };
    let (state, problem) = match check {
        None => ("not logged in", Some(not_logged_in(&url))),
        Some(Ok(_)) => ("accepted", None),
        Some(Err(RemoteError::Http {
            status: 401 | 403,
            detail,
            ..
        })) => (
            "refused",
            Some(
                GrytError::error(format!("The server refused the credentials: {detail}"))
                    .hint(format!("log in again with `gryt cloud login --url {url}`")),
            ),
        ),
        Some(Err(e)) => {
            let e = remote_err(&url, e);
            let state = if e.kind == Kind::Unreachable {
                "unreachable"
            } else {
                "error"
            };
            (state, Some(e))
        }
    };
    if ctx.ui.json {
        ctx.ui.json(&json!({
            "url": url,
            "url_source": config.source("gryt_url"),
            "username": user,
            "auth": method,
            "api_key_id": if hmac { config.get("api_key_id") } else { None },
            "server": state,
            "server_username": server_user,
        }));
    } else {
        ctx.ui.data(&format!(
            "Server:  {url} ({})",
            source_name(config.source("gryt_url"))
        ));
        ctx.ui.data(&format!(
            "User:    {} ({})",
            user.as_deref().unwrap_or("-"),
            source_name(config.source("username"))
        ));
        ctx.ui.data(&format!("Auth:    {detail}"));
        if let Some(who) = &server_user {
            ctx.ui
                .data(&format!("Account: {who} (as the server knows it)"));
        }
        let code = if state == "accepted" { "32" } else { "31" };
        let why = match state {
            "accepted" => "the server accepts the credentials",
            "refused" => "the server refuses the credentials",
            "unreachable" => "the server cannot be reached",
            "not logged in" => "no credentials are configured",
            _ => "the server's answer was not understood",
        };
        ctx.ui
            .data(&format!("Status:  {} ({why})", ctx.ui.paint(state, code)));
    }
    match problem {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

// ---------------------------------------------------------------- api keys

#[derive(Deserialize)]
struct ApiKeyList {
    api_keys: Vec<ApiKeyInfo>,
}

fn cmd_api_key_create(ctx: &Context, a: ApiKeyCreateArgs) -> Result<i32> {
    let remote = connect(ctx)?;
    let body = serde_json::to_value(ApiKeyCreate {
        name: a.name,
        expires_in_days: a.expires_in_days,
    })
    .map_err(|e| GrytError::error(format!("cannot encode the request: {e}")))?;
    let created: Data<ApiKeyCreated> = call(&remote, "POST", "/api/v1/api-keys", Some(&body))?;
    let k = created.data;
    if ctx.ui.json {
        ctx.ui.json(&k);
    } else {
        ctx.ui
            .info(&format!("Created API key {} ({})", k.key_id, k.name));
        ctx.ui.data(&format!("Key id:  {}", k.key_id));
        ctx.ui.data(&format!("Secret:  {}", k.secret));
        ctx.ui.data(&format!(
            "Expires: {}",
            k.expires_at.as_deref().unwrap_or("never")
        ));
    }
    ctx.ui.note(&format!(
        "The secret is shown only this once. Use it with `gryt cloud login --method api-key --key-id {} --secret-key-stdin`, or as GRYT_API_KEY_ID and GRYT_API_KEY_SECRET in CI.",
        k.key_id
    ));
    Ok(0)
}

fn cmd_api_key_list(ctx: &Context) -> Result<i32> {
    let remote = connect(ctx)?;
    let list: Data<ApiKeyList> = call(&remote, "GET", "/api/v1/api-keys", None)?;
    let keys = list.data.api_keys;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "api_keys": keys }));
        return Ok(0);
    }
    if keys.is_empty() {
        ctx.ui.info("No API keys");
        return Ok(0);
    }
    let mut t = ctx
        .ui
        .table(&["Key id", "Name", "Created", "Expires", "Status"]);
    for k in &keys {
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        };
        t.add_row(vec![
            k.key_id.clone(),
            k.name.clone(),
            k.created_at.clone(),
            k.expires_at.clone().unwrap_or_else(|| "never".into()),
            status.to_string(),
        ]);
    }
    ctx.ui.print_table(&t);
    Ok(0)
}

fn cmd_api_key_revoke(ctx: &Context, a: ApiKeyRevokeArgs) -> Result<i32> {
    let config = load_config(ctx)?;
    let remote = connect(ctx)?;
    let path = format!("/api/v1/api-keys/{}", urlencode(&a.key_id));
    let _: serde_json::Value = call(&remote, "DELETE", &path, None)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "key_id": a.key_id, "revoked": true }));
    } else {
        ctx.ui.info(&format!("Revoked API key {}", a.key_id));
    }
    if config.get("api_key_id") == Some(a.key_id.as_str()) {
        ctx.ui.warn(
            "that is the key gryt signs with: log in again with `gryt cloud login` or another key",
        );
    }
    Ok(0)
}
