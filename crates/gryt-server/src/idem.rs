//! Idempotency keys: a mutating request that carries `Idempotency-Key` is remembered for
//! 24 hours per user. The same key and body answer the stored response; the same key with
//! another body answers 422; a duplicate that arrives while the first is still running 409.
//! The stored answer of a success is written in the same transaction as the write itself.

use crate::db::{Conn, Val};
use crate::error::{ApiError, Resp};
use axum::http::StatusCode;
use gryt_core::api::ErrorCode;

pub const KEEP_SECS: i64 = 24 * 3600;
/// A claim older than this whose request never finished (a crashed process) may be taken over.
const ABANDONED_SECS: i64 = 300;

pub enum Claim {
    /// Go ahead: the key is ours.
    Fresh,
    /// This exact request already ran: answer this.
    Replay(Resp),
}

pub fn validate_key(key: &str) -> Result<(), ApiError> {
    let ok = !key.is_empty() && key.len() <= 200 && key.bytes().all(|b| (0x21..0x7f).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
        ))
    }
}

/// Claims `key` for this request (its own short transaction).
pub fn claim(c: &mut dyn Conn, user_id: i64, key: &str, hash: &str) -> Result<Claim, ApiError> {
    claim_compat(c, user_id, key, hash, &|| None)
}

/// As [`claim`], for a request whose fingerprint had another form before (a batch
/// operation's, see `batch::legacy_op_hash`): a stored fingerprint of the old form (no `b2:`
/// mark) is compared with `legacy()`, computed only then.
pub fn claim_compat(
    c: &mut dyn Conn,
    user_id: i64,
    key: &str,
    hash: &str,
    legacy: &dyn Fn() -> Option<String>,
) -> Result<Claim, ApiError> {
    let now = crate::util::now_unix();
    let inserted = c.exec(
        "INSERT INTO idempotency (user_id, idem_key, request_hash, state, created_at) \
         VALUES (?1, ?2, ?3, 'pending', ?4) ON CONFLICT DO NOTHING",
        &[
            Val::Int(user_id),
            Val::from(key),
            Val::from(hash),
            Val::Int(now),
        ],
    )?;
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let r = c.query_one(
        "SELECT request_hash, state, status, body, etag, created_at FROM idempotency \
         WHERE user_id = ?1 AND idem_key = ?2",
        &[Val::Int(user_id), Val::from(key)],
    )?;
    let created = r.int(5)?;
    let state = r.text(1)?;
    let expired = now - created > KEEP_SECS;
    let abandoned = state == "pending" && now - created > ABANDONED_SECS;
    if expired || abandoned {
        c.exec(
            "UPDATE idempotency SET request_hash = ?1, state = 'pending', status = NULL, body = NULL, \
             etag = NULL, created_at = ?2 WHERE user_id = ?3 AND idem_key = ?4",
            &[Val::from(hash), Val::Int(now), Val::Int(user_id), Val::from(key)],
        )?;
        return Ok(Claim::Fresh);
    }
    let stored = r.text(0)?;
    let same = stored == hash
        || (hash.starts_with("b2:")
            && !stored.starts_with("b2:")
            && legacy().is_some_and(|old| old == stored));
    if !same {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::IdempotencyMismatch,
            "This Idempotency-Key was already used with a different request",
        ));
    }
    if state == "pending" {
        return Err(ApiError::conflict(
            ErrorCode::IdempotencyInFlight,
            "A request with this Idempotency-Key is still being processed; retry later",
        ));
    }
    let status = u16::try_from(r.opt_int(2)?.unwrap_or(500)).unwrap_or(500);
    Ok(Claim::Replay(Resp {
        status,
        body: r.opt_text(3)?.unwrap_or_default(),
        etag: r.opt_text(4)?,
    }))
}

/// The teams a stored answer names: `team_id` at its top level (a new team) or in its
/// `data` object (a record, a deleted team). Other fields are skipped without being kept.
#[derive(serde::Deserialize)]
struct Named {
    team_id: Option<String>,
    data: Option<NamedData>,
}

#[derive(serde::Deserialize)]
struct NamedData {
    team_id: Option<String>,
}

/// Whether `user` may still have a stored success replayed: every team it names (in the
/// answer, or `path_team`, the team the route names) must still be one of theirs. If not,
/// the replay answers what a fresh request would, 404 for the team (never the stored
/// record). Refusals are replayed as stored (they hold no record).
pub fn reauthorize(
    c: &mut dyn Conn,
    user: &crate::auth::Principal,
    stored: &Resp,
    path_team: Option<&str>,
) -> Result<(), ApiError> {
    if !(200..300).contains(&stored.status) {
        return Ok(());
    }
    let mut teams: Vec<String> = path_team.map(str::to_string).into_iter().collect();
    // A sealed answer (an API key's) is not JSON and names no team.
    if let Ok(named) = serde_json::from_str::<Named>(&stored.body) {
        teams.extend(named.team_id);
        teams.extend(named.data.and_then(|d| d.team_id));
    }
    for t in teams {
        crate::logic::resolve_scope(c, user, Some(&t))?;
    }
    Ok(())
}

/// The team a route's path names (`/api/v1/teams/{id}/...`), if any.
pub fn team_in_path(path_q: &str) -> Option<String> {
    let path = path_q.split('?').next().unwrap_or(path_q);
    let rest = path
        .strip_prefix(gryt_core::api::routes::TEAMS)?
        .strip_prefix('/')?;
    let id = rest.split('/').next().unwrap_or("");
    (!id.is_empty()).then(|| id.to_string())
}

/// Records the final answer for the key.
pub fn finish(c: &mut dyn Conn, user_id: i64, key: &str, resp: &Resp) -> Result<(), ApiError> {
    c.exec(
        "UPDATE idempotency SET state = 'done', status = ?1, body = ?2, etag = ?3 \
         WHERE user_id = ?4 AND idem_key = ?5",
        &[
            Val::Int(i64::from(resp.status)),
            Val::from(&resp.body),
            Val::from(resp.etag.clone()),
            Val::Int(user_id),
            Val::from(key),
        ],
    )?;
    Ok(())
}

/// Forgets a claim whose request failed on the server's side (so a retry runs again).
pub fn release(c: &mut dyn Conn, user_id: i64, key: &str) -> Result<(), ApiError> {
    c.exec(
        "DELETE FROM idempotency WHERE user_id = ?1 AND idem_key = ?2 AND state = 'pending'",
        &[Val::Int(user_id), Val::from(key)],
    )?;
    Ok(())
}

/// Drops expired keys and signatures (called periodically).
pub fn sweep(c: &mut dyn Conn) -> Result<(), ApiError> {
    let now = crate::util::now_unix();
    c.exec(
        "DELETE FROM idempotency WHERE created_at < ?1",
        &[Val::Int(now - KEEP_SECS)],
    )?;
    c.exec(
        "DELETE FROM seen_signatures WHERE expires_at < ?1",
        &[Val::Int(now)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{transaction, Db, TxMode};

    #[test]
    fn claims() {
        let dir = std::env::temp_dir().join(format!("gryt-idem-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::open_blocking(&format!("sqlite:{}", dir.join("t.db").display())).unwrap();
        let claim_tx = |key: &str, hash: &str| {
            db.run_blocking(|c| transaction(c, TxMode::Write, |c| claim(c, 1, key, hash)))
        };
        assert!(matches!(claim_tx("k", "h1"), Ok(Claim::Fresh)));
        // A duplicate while the first is in flight.
        let e = claim_tx("k", "h1").err().unwrap();
        assert_eq!(e.code, ErrorCode::IdempotencyInFlight);
        assert_eq!(e.status, StatusCode::CONFLICT);
        // Another request with the same key.
        let e = claim_tx("k", "h2").err().unwrap();
        assert_eq!(e.code, ErrorCode::IdempotencyMismatch);
        // Finished: the stored answer comes back.
        let resp = Resp {
            status: 201,
            body: "{\"data\":1}".into(),
            etag: Some("\"1\"".into()),
        };
        db.run_blocking(|c| finish(c, 1, "k", &resp)).unwrap();
        match claim_tx("k", "h1") {
            Ok(Claim::Replay(r)) => assert_eq!(r, resp),
            _ => panic!("expected a replay"),
        }
        // Keys are per user.
        let other = db.run_blocking(|c| claim(c, 2, "k", "h9"));
        assert!(matches!(other, Ok(Claim::Fresh)));
        // A released claim runs again.
        db.run_blocking(|c| release(c, 2, "k")).unwrap();
        assert!(matches!(
            db.run_blocking(|c| claim(c, 2, "k", "h9")),
            Ok(Claim::Fresh)
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
