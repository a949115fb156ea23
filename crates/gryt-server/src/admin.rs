//! Administration on the server's database without HTTP (`gryt server user add`, ...).
//! Each call runs on a thread of its own, so it is safe to call from async code too.

use crate::accounts;
use crate::db::{transaction, Db, TxMode};
use crate::error::ApiError;
use crate::ServerConfig;
use gryt_core::api::ApiKeyCreated;

fn on_own_thread<T: Send>(f: impl FnOnce() -> anyhow::Result<T> + Send) -> anyhow::Result<T> {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!("the administration task panicked")),
    })
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!(e.detail)
}

/// Adds a user (with their personal scope); returns the user's id.
pub fn add_user(config: &ServerConfig, username: &str, password: &str) -> anyhow::Result<i64> {
    crate::auth::validate_username(username).map_err(api)?;
    crate::auth::validate_password(password).map_err(api)?;
    on_own_thread(|| {
        let hash = crate::auth::hash_password(password).map_err(api)?;
        let db = Db::open_blocking(&config.database)?;
        db.run_blocking(|c| {
            transaction(c, TxMode::Write, |c| {
                accounts::create_user(c, username, &hash)
            })
        })
        .map_err(api)
    })
}

/// Creates an API key for `username`; the secret is in the answer and nowhere else.
pub fn create_api_key(
    config: &ServerConfig,
    username: &str,
    name: &str,
    expires_in_days: Option<i64>,
) -> anyhow::Result<ApiKeyCreated> {
    on_own_thread(|| {
        let key = config.resolve_key()?;
        let db = Db::open_blocking(&config.database)?;
        db.run_blocking(|c| {
            transaction(c, TxMode::Write, |c| {
                let uid = accounts::user_id(c, username)?
                    .ok_or_else(|| ApiError::not_found(format!("User {username} not found")))?;
                accounts::create_api_key(c, &key, uid, name, expires_in_days)
            })
        })
        .map_err(api)
    })
}

/// Revokes an API key by id.
pub fn revoke_api_key(config: &ServerConfig, key_id: &str) -> anyhow::Result<()> {
    on_own_thread(|| {
        let db = Db::open_blocking(&config.database)?;
        db.run_blocking(|c| {
            transaction(c, TxMode::Write, |c| {
                accounts::revoke_api_key(c, key_id, None)
            })
        })
        .map(|_| ())
        .map_err(api)
    })
}

/// Every user that has not been removed (see [`accounts::list_users`]).
pub fn list_users(config: &ServerConfig) -> anyhow::Result<Vec<accounts::UserSummary>> {
    on_own_thread(|| {
        let db = Db::open_blocking(&config.database)?;
        db.run_blocking(|c| {
            transaction(c, TxMode::Read, |c| {
                accounts::list_users(c, crate::util::now_unix())
            })
        })
        .map_err(api)
    })
}

/// Every API key, or those of `username` (never a secret).
pub fn list_api_keys(
    config: &ServerConfig,
    username: Option<&str>,
) -> anyhow::Result<Vec<accounts::KeySummary>> {
    on_own_thread(|| {
        let db = Db::open_blocking(&config.database)?;
        db.run_blocking(|c| transaction(c, TxMode::Read, |c| accounts::list_keys(c, username)))
            .map_err(api)
    })
}

/// Sets a user's password (checked like a new account's). A running server takes it from
/// its next request: a remembered login is checked against the stored hash.
pub fn set_password(config: &ServerConfig, username: &str, password: &str) -> anyhow::Result<()> {
    crate::auth::validate_password(password).map_err(api)?;
    on_own_thread(|| {
        let hash = crate::auth::hash_password(password).map_err(api)?;
        let db = Db::open_blocking(&config.database)?;
        db.run_blocking(|c| {
            transaction(c, TxMode::Write, |c| {
                accounts::set_password(c, username, &hash)
            })
        })
        .map_err(api)
    })
}

/// Disables (`true`) or enables (`false`) a user.
pub fn set_disabled(
    config: &ServerConfig,
    username: &str,
    disabled: bool,
) -> anyhow::Result<accounts::Changed> {
    on_own_thread(|| {
        let db = Db::open_blocking(&config.database)?;
        db.run_blocking(|c| {
            transaction(c, TxMode::Write, |c| {
                accounts::set_disabled(c, username, disabled)
            })
        })
        .map_err(api)
    })
}

/// Removes a user (see [`accounts::remove_user`]).
pub fn remove_user(config: &ServerConfig, username: &str) -> anyhow::Result<accounts::RemovedUser> {
    on_own_thread(|| {
        let db = Db::open_blocking(&config.database)?;
        db.run_blocking(|c| transaction(c, TxMode::Write, |c| accounts::remove_user(c, username)))
            .map_err(api)
    })
}

/// What `gryt server backup` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backup {
    /// The SQLite database was copied: its size in pages and bytes.
    Written { pages: u64, bytes: u64 },
    /// The database is PostgreSQL: pg_dump is the tool; nothing was written.
    Postgres,
}

/// Copies the server's SQLite database to `dest` (a new file, 0600) while it may be
/// serving; a PostgreSQL database is left to pg_dump.
pub fn backup(config: &ServerConfig, dest: &std::path::Path) -> anyhow::Result<Backup> {
    let url = config.database.as_str();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Backup::Postgres);
    }
    let Some(path) = url.strip_prefix("sqlite:") else {
        anyhow::bail!(
            "unsupported database URL '{}': use sqlite:PATH or postgres://...",
            url.chars().take(80).collect::<String>()
        );
    };
    let path = path.strip_prefix("//").unwrap_or(path);
    let (pages, bytes) = crate::db::sqlite::backup(path, dest)?;
    Ok(Backup::Written { pages, bytes })
}
