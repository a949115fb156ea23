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
