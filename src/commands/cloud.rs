//! `gryt cloud ...`: accounts on the gryt server: signup, login, logout, whoami, API keys.
//!
//! Credentials are stored in the user's config dir, never in the repository: in the
//! credentials file (mode 0600 in a 0700 directory, whatever the umask), bound to the server
//! they were checked with, with the account name that server knows (who you are); the
//! server becomes the default `gryt_url` of the global config. A password is never stored:
//! a password login creates an API key on the server and stores that key. CI may supply them through
//! `GRYT_URL`, `GRYT_API_KEY_ID` and `GRYT_API_KEY_SECRET` instead. No secret is ever printed,
//! except the answer to `gryt cloud api-keys create`, which exists to show it once.

use crate::config::{self as cfg, Config, Source};
use crate::context::Context;
use crate::error::{CliError, Result};
use crate::ops::account::{self, no_url, Login, Secret, Status};
use crate::ui::prompt::{read_line, read_secret};
use clap::{Args, Subcommand, ValueEnum};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::io::IsTerminal;

#[derive(Debug, Subcommand)]
pub enum CloudCommand {
    /// Create an account on a gryt server (when the server allows signup).
    Signup(SignupArgs),
    /// Check credentials with the server, then store them in your config dir (secrets in the
    /// credentials file, mode 0600; never in the repository). A password is never stored:
    /// it creates an API key on the server, and that key is stored.
    Login(LoginArgs),
    /// Forget the credentials stored for the server (the server URL stays), revoking the API
    /// key a password login created (best effort).
    Logout,
    /// Show the server, the user and the auth method, and whether the server accepts them.
    Whoami,
    /// Create, list and revoke API keys (for CI and HMAC-signed requests).
    #[command(subcommand)]
    ApiKeys(ApiKeysCommand),
    /// Bind this workspace to the server gryt_url now names (after the server moved).
    Bind,
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
    /// A username and password, used once to create an API key that is stored instead.
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
    #[arg(long, value_name = "SECRET", conflicts_with = "secret_key_stdin", value_parser = secret_arg)]
    pub secret_key: Option<SecretString>,
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

/// An argument that is a secret: held as a [`SecretString`] from parsing on, so a Debug
/// print of the arguments never shows it.
fn secret_arg(s: &str) -> std::result::Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
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
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Args)]
pub struct ApiKeyRevokeArgs {
    /// The key id, as `gryt cloud api-keys list` shows it.
    pub key_id: String,
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// The password an API key command needs when the stored login is an API key (an API key
/// cannot create keys or revoke another key); asked for on a terminal, never stored.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Your account's name for the password (default: the account recorded at login).
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// Read your password from the first line of standard input instead of a prompt.
    #[arg(long)]
    pub password_stdin: bool,
}

pub fn dispatch(ctx: &Context, cmd: CloudCommand) -> Result<()> {
    match cmd {
        CloudCommand::Signup(a) => cmd_signup(ctx, a),
        CloudCommand::Login(a) => cmd_login(ctx, a),
        CloudCommand::Logout => cmd_logout(ctx),
        CloudCommand::Whoami => cmd_whoami(ctx),
        CloudCommand::ApiKeys(ApiKeysCommand::Create(a)) => cmd_api_key_create(ctx, a),
        CloudCommand::ApiKeys(ApiKeysCommand::List) => cmd_api_key_list(ctx),
        CloudCommand::ApiKeys(ApiKeysCommand::Revoke(a)) => cmd_api_key_revoke(ctx, a),
        CloudCommand::Bind => cmd_bind(ctx),
    }
}

// ---------------------------------------------------------------- shared helpers

/// The layered configuration, with the repository's `.gryt/config` when inside one.
pub(crate) fn load_config(ctx: &Context) -> Result<Config> {
    let repo = ctx.repo().ok();
    let config = Config::load(&ctx.env, repo.as_ref().map(|r| r.config_path()).as_deref())?;
    config.print_warnings(&ctx.ui);
    Ok(config)
}

/// The server URL from `--url` or the configuration, checked and without a trailing `/`.
/// A URL holding a user name or password is refused (it would be stored and shown).
fn server_url(given: Option<&str>, config: &Config) -> Result<String> {
    let url = match given {
        Some(u) => u.trim().to_string(),
        None => {
            let url = cfg::strip_userinfo(config.get("gryt_url").ok_or_else(no_url)?);
            // A password goes to a server the repository names only when the user says so.
            if config.source("gryt_url") == Some(Source::Repository) && !config.is_own_url(&url) {
                return Err(CliError::usage(format!(
                    "The server {url} comes only from the repository's .gryt/config; nothing was sent"
                ))
                .hint(format!(
                    "if you trust it, name it yourself: `gryt cloud login --url {url}`"
                )));
            }
            url
        }
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

fn cmd_signup(ctx: &Context, a: SignupArgs) -> Result<()> {
    let config = load_config(ctx)?;
    let url = server_url(a.url.as_deref(), &config)?;
    let username = match a.username {
        Some(u) => u,
        None if !a.password_stdin && std::io::stdin().is_terminal() => {
            read_line("Username", false)?
        }
        None => {
            return Err(CliError::usage("--username is needed")
                .hint("gryt cloud signup --username NAME --password-stdin < password-file"))
        }
    };
    let password = if a.password_stdin {
        read_secret("password")?
    } else {
        let p = read_secret("Password")?;
        if std::io::stdin().is_terminal()
            && read_secret("Password again")?.expose_secret() != p.expose_secret()
        {
            return Err(CliError::usage("The passwords do not match"));
        }
        p
    };
    account::signup(&url, &username, &password)?;
    if ctx.ui.json {
        ctx.ui
            .json(&json!({ "created": true, "username": username, "url": url }));
    } else {
        ctx.ui.info(&format!("Created account {username} on {url}"));
        ctx.ui.info(&format!(
            "Log in with `gryt cloud login --url {url} --username {username}`"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- login

fn cmd_login(ctx: &Context, a: LoginArgs) -> Result<()> {
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
                    CliError::usage("--password-stdin goes with --method password")
                        .hint("use --secret-key-stdin to read an API key secret"),
                );
            }
            let key_id = a.key_id.ok_or_else(|| {
                CliError::usage("--method api-key needs --key-id ID").hint(
                    "gryt cloud login --method api-key --key-id ID --secret-key-stdin < secret-file",
                )
            })?;
            let secret = match a.secret_key {
                Some(s) if !s.expose_secret().is_empty() => s,
                Some(_) => return Err(CliError::usage("The API key secret is empty")),
                None => read_secret("API key secret")?,
            };
            Login {
                url,
                username: a.username,
                secret: Secret::ApiKey { key_id, secret },
            }
        }
        Method::Password => {
            if a.key_id.is_some() || a.secret_key.is_some() || a.secret_key_stdin {
                return Err(CliError::usage(
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
                        return Err(CliError::usage("--username is needed")
                            .hint("gryt cloud login --username NAME --password-stdin"))
                    }
                },
            };
            let password = read_secret(if a.password_stdin {
                "password"
            } else {
                "Password"
            })?;
            Login {
                url,
                username: Some(username.clone()),
                secret: Secret::Password { username, password },
            }
        }
    };
    let done = account::login(&ctx.env, &login)?;

    let who = done.account.clone().or_else(|| login.username.clone());
    let key_id = done.created_key.as_deref().or(login.key_id());
    let how = match (&done.created_key, login.key_id()) {
        (Some(id), _) => format!("password; stored a new API key {id}, not the password"),
        (None, Some(id)) => format!("API key {id}"),
        (None, None) => "password".to_string(),
    };
    if ctx.ui.json {
        ctx.ui.json(&json!({
            "url": login.url,
            "username": who,
            "method": login.method(),
            "api_key_id": key_id,
            "api_key_created": done.created_key.is_some(),
        }));
    } else {
        match &who {
            Some(u) => ctx
                .ui
                .info(&format!("Logged in to {} as {u} ({how})", login.url)),
            None => ctx.ui.info(&format!("Logged in to {} ({how})", login.url)),
        }
    }
    for n in &done.notes {
        ctx.ui.notice(n);
    }
    for w in &done.warnings {
        ctx.ui.warn(w);
    }
    warn_overrides(ctx, &login);
    Ok(())
}

/// Warns when the environment or the repository overrides what `login` stored.
fn warn_overrides(ctx: &Context, login: &Login) {
    let Ok(config) = load_config(ctx) else {
        return;
    };
    let src = config.source("gryt_url");
    if matches!(src, Some(Source::Environment | Source::Repository))
        && config.get("gryt_url").and_then(cfg::server_key) != cfg::server_key(&login.url)
    {
        ctx.ui.warn(&format!(
            "gryt_url from the {} names another server, which these credentials are not sent to",
            source_name(src)
        ));
    }
    if let Some(c) = config
        .get("gryt_url")
        .and_then(|u| config.credentials_for(u))
    {
        if c.from == cfg::CredFrom::Environment {
            ctx.ui.warn(
                "credentials from the environment (GRYT_API_KEY_*/GRYT_PASSWORD) take precedence over the stored login",
            );
        }
    }
}

// ---------------------------------------------------------------- logout

fn cmd_logout(ctx: &Context) -> Result<()> {
    let config = load_config(ctx)?;
    let done = account::logout(&ctx.env, &config)?;
    let removed = &done.removed;
    if ctx.ui.json {
        ctx.ui
            .json(&json!({ "removed": removed, "revoked_api_key": done.revoked }));
    } else if removed.is_empty() {
        ctx.ui.info("No stored credentials to remove");
    } else {
        ctx.ui
            .info(&format!("Logged out: removed {}", removed.join(", ")));
        if let Some(id) = &done.revoked {
            ctx.ui.info(&format!(
                "Revoked the API key {id} that `gryt cloud login` created"
            ));
        }
    }
    for w in &done.warnings {
        ctx.ui.warn(w);
    }
    let env_keys: Vec<&str> = cfg::KEYS
        .iter()
        .filter(|k| {
            matches!(k.name, "api_key_id" | "api_key_secret" | "password") && ctx.env.is_set(k.env)
        })
        .map(|k| k.env)
        .collect();
    if !env_keys.is_empty() {
        ctx.ui.warn(&format!(
            "{} still set in the environment and used",
            env_keys.join(", ")
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- whoami

fn cmd_whoami(ctx: &Context) -> Result<()> {
    let config = load_config(ctx)?;
    let who = account::whoami(&config)?;
    let url = &who.url;
    let from = |f: cfg::CredFrom| match f {
        cfg::CredFrom::Login => {
            "in the credentials file, bound to this server by `gryt cloud login`"
        }
        cfg::CredFrom::Environment => "from the environment",
        cfg::CredFrom::Legacy => "from the credentials file",
    };
    let (method, detail) = match &who.creds {
        Some(c) => match &c.key_id {
            Some(id) => ("api-key", format!("API key {id} ({})", from(c.from))),
            None => ("password", format!("password ({})", from(c.from))),
        },
        None => ("none", "none (not logged in to this server)".to_string()),
    };
    let user_from = if who.creds.is_some() {
        "the login for this server"
    } else {
        source_name(config.source("username"))
    };
    let state = who.status.as_str();
    if ctx.ui.json {
        ctx.ui.json(&json!({
            "url": url,
            "url_source": config.source("gryt_url"),
            "username": who.user,
            "auth": method,
            "api_key_id": who.creds.as_ref().and_then(|c| c.key_id.as_deref()),
            "server": state,
            "server_username": who.server_user,
        }));
    } else {
        ctx.ui.data(&format!(
            "Server:  {url} ({})",
            source_name(config.source("gryt_url"))
        ));
        ctx.ui.data(&format!(
            "User:    {} ({user_from})",
            who.user.as_deref().unwrap_or("-"),
        ));
        ctx.ui.data(&format!("Auth:    {detail}"));
        if let Some(name) = &who.server_user {
            ctx.ui
                .data(&format!("Account: {name} (as the server knows it)"));
        }
        let code = if who.status == Status::Accepted {
            "32"
        } else {
            "31"
        };
        let why = match who.status {
            Status::Accepted => "the server accepts the credentials",
            Status::Refused => "the server refuses the credentials",
            Status::Unreachable => "the server cannot be reached",
            Status::Untrusted => "the server's certificate is not trusted",
            Status::NotLoggedIn => "no credentials are configured",
            Status::Error => "the server's answer was not understood",
        };
        ctx.ui
            .data(&format!("Status:  {} ({why})", ctx.ui.paint(state, code)));
    }
    match who.problem {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------- api keys

/// The password for an API key command that an API key may not run (`what`), when the
/// stored login is an API key or `--password-stdin` is given; `None` to use the stored
/// credentials.
fn password_for(
    config: &Config,
    a: PasswordArgs,
    what: &str,
    needed: bool,
) -> Result<Option<account::Password>> {
    let signing = account::signing_key(config);
    let asked = a.password_stdin || (needed && signing.is_some());
    if !asked {
        return Ok(None);
    }
    let username = a
        .username
        .or_else(|| signing.and_then(|(_, acct)| acct))
        .unwrap_or_else(|| config.configured_username());
    let password = if a.password_stdin {
        read_secret("password")?
    } else if std::io::stdin().is_terminal() {
        read_secret(&format!("Password of {username} (to {what}; not stored)"))?
    } else {
        return Err(CliError::usage(format!(
            "To {what}, gryt needs your password: the stored login is an API key, which cannot {what}"
        ))
        .hint("give the password on standard input with --password-stdin (it is used for this request only, never stored)"));
    };
    Ok(Some(account::Password { username, password }))
}

fn cmd_api_key_create(ctx: &Context, a: ApiKeyCreateArgs) -> Result<()> {
    let config = load_config(ctx)?;
    let password = password_for(&config, a.password, "create API keys", true)?;
    let k = account::create_api_key(&config, a.name, a.expires_in_days, password)?;
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
    Ok(())
}

fn cmd_api_key_list(ctx: &Context) -> Result<()> {
    let keys = account::list_api_keys(&load_config(ctx)?)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "api_keys": keys }));
        return Ok(());
    }
    if keys.is_empty() {
        ctx.ui.info("No API keys");
        return Ok(());
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
    Ok(())
}

fn cmd_api_key_revoke(ctx: &Context, a: ApiKeyRevokeArgs) -> Result<()> {
    let config = load_config(ctx)?;
    // A key may revoke itself; revoking another one needs the password.
    let other = account::signing_key(&config).is_some_and(|(k, _)| k != a.key_id);
    let password = password_for(&config, a.password, "revoke another API key", other)?;
    let signing = account::revoke_api_key(&config, &a.key_id, password)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "key_id": a.key_id, "revoked": true }));
    } else {
        ctx.ui.info(&format!("Revoked API key {}", a.key_id));
    }
    if signing {
        ctx.ui.warn(
            "that is the key gryt signs with: log in again with `gryt cloud login` or another key",
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- bind

/// Records the server `gryt_url` now names as the one this workspace syncs with: for a
/// server that moved. Only with credentials for it (nothing is bound blindly).
fn cmd_bind(ctx: &Context) -> Result<()> {
    let ws = ctx.open()?;
    let (key, before) = account::bind(&ws, &ctx.now())?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "server": key, "previous": before }));
    } else {
        match before {
            Some(b) if b != key => ctx
                .ui
                .info(&format!("This workspace now syncs with {key} (was {b})")),
            _ => ctx.ui.info(&format!("This workspace syncs with {key}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn a_secret_given_as_an_argument_is_never_debug_printed() {
        let cli = crate::commands::Cli::try_parse_from([
            "gryt",
            "cloud",
            "login",
            "--key-id",
            "gk_1",
            "--secret-key",
            "arg-secret-4",
        ])
        .unwrap();
        let printed = format!("{cli:?}");
        assert!(printed.contains("gk_1"), "{printed}");
        assert!(!printed.contains("arg-secret-4"), "{printed}");
        let crate::commands::Command::Cloud(CloudCommand::Login(a)) = cli.command else {
            panic!("not a login: {printed}");
        };
        assert_eq!(
            a.secret_key.as_ref().map(|s| s.expose_secret()),
            Some("arg-secret-4")
        );
    }
}
