//! The server's shared state, and the wrapper every handler's work runs in: one
//! transaction per request, an Idempotency-Key honoured around it.

use crate::auth::{self, CredentialCache, Principal, ServerKey};
use crate::db::{transaction, Conn, Db, TxMode};
use crate::error::{ApiError, Resp};
use crate::extract::Authed;
use crate::idem::{self, Claim};
use crate::metrics;
use std::sync::Arc;

/// Everything a handler needs.
pub struct App {
    pub db: Db,
    pub key: ServerKey,
    pub cache: CredentialCache,
    /// API keys read recently (revocation is read when each signature is recorded).
    pub keys: auth::KeyCache,
    pub replay: auth::ReplayLog,
    /// Bounds concurrent Argon2 computations.
    pub hashing: tokio::sync::Semaphore,
    pub allow_signup: bool,
    pub body_limit: usize,
    /// Request-body bytes held in memory, in total and per peer address.
    pub bodies: Arc<crate::net::BodyBudget>,
    /// Failed password logins, per address and per account.
    pub limiter: auth::AuthLimiter,
    /// What `GET /metrics` shows, and who may read it.
    pub metrics: crate::metrics::Metrics,
    pub metrics_access: crate::metrics::MetricsAccess,
}

pub type Shared = Arc<App>;

impl App {
    /// Runs a read in one read transaction (one snapshot).
    pub(crate) async fn read<F>(&self, user: &Principal, f: F) -> Result<Resp, ApiError>
    where
        F: FnOnce(&mut dyn Conn, &Principal) -> Result<Resp, ApiError> + Send + 'static,
    {
        let user = user.clone();
        self.db
            .run(move |c| transaction(c, TxMode::Read, |c| f(c, &user)))
            .await
    }

    /// Runs a write in one transaction, honouring an idempotency key.
    pub(crate) async fn mutate<F>(
        self: &Arc<Self>,
        user: &Principal,
        key: Option<String>,
        hash: String,
        path_team: Option<String>,
        f: F,
    ) -> Result<Resp, ApiError>
    where
        F: FnOnce(&mut dyn Conn, &Principal) -> Result<Resp, ApiError> + Send + 'static,
    {
        self.mutate_sealed(user, key, hash, path_team, false, f)
            .await
    }

    /// As [`App::mutate`]; with `seal`, a success's answer is kept for idempotent replay
    /// encrypted under the server key (it carries a secret, e.g. a new API key's).
    ///
    /// The claim of the idempotency key, the work and the stored answer (or the release of
    /// the claim) run as one task of their own: a client that disconnects, or a request
    /// that times out, drops only the wait for the answer, never leaves a key claimed with
    /// nothing done.
    pub(crate) async fn mutate_sealed<F>(
        self: &Arc<Self>,
        user: &Principal,
        key: Option<String>,
        hash: String,
        path_team: Option<String>,
        seal: bool,
        f: F,
    ) -> Result<Resp, ApiError>
    where
        F: FnOnce(&mut dyn Conn, &Principal) -> Result<Resp, ApiError> + Send + 'static,
    {
        let app = self.clone();
        let user = user.clone();
        tokio::spawn(async move { app.mutate_unit(user, key, hash, path_team, seal, f).await })
            .await
            .map_err(|_| ApiError::internal("the request's work stopped"))
    }

    async fn mutate_unit<F>(
        &self,
        user: Principal,
        key: Option<String>,
        hash: String,
        path_team: Option<String>,
        seal: bool,
        f: F,
    ) -> Resp
    where
        F: FnOnce(&mut dyn Conn, &Principal) -> Result<Resp, ApiError> + Send + 'static,
    {
        let uid = user.user_id;
        let Some(key) = key else {
            let done = self
                .db
                .run_write(move |c| {
                    let (r, promoted) =
                        metrics::counted(|| transaction(c, TxMode::Write, |c| f(c, &user)));
                    r.map(|r| (r, promoted))
                })
                .await;
            return match done {
                Ok((r, promoted)) => {
                    self.db.health().write_succeeded();
                    self.metrics.promoted(promoted);
                    r
                }
                Err(e) => e.to_resp(),
            };
        };
        let (k, claimant) = (key.clone(), user.clone());
        let claimed = self
            .db
            .run_write(move |c| {
                transaction(c, TxMode::Write, |c| {
                    let claim = idem::claim(c, uid, &k, &hash)?;
                    if let Claim::Replay(r) = &claim {
                        // A stored answer is given only to who may still see it.
                        idem::reauthorize(c, &claimant, r, path_team.as_deref())?;
                    }
                    Ok::<Claim, ApiError>(claim)
                })
            })
            .await;
        let aad = format!("idempotency:{uid}:{key}");
        match claimed {
            Err(e) => return e.to_resp(),
            Ok(Claim::Replay(r)) => {
                let Some(sealed) = r.body.strip_prefix(SEALED) else {
                    return r;
                };
                return match self.key.decrypt(sealed, &aad) {
                    Some(body) => Resp { body, ..r },
                    None => {
                        ApiError::internal("cannot decrypt the stored answer (wrong server key?)")
                            .to_resp()
                    }
                };
            }
            Ok(Claim::Fresh) => {}
        }
        let k = key.clone();
        let server_key = self.key.clone();
        let result = self
            .db
            .run_write(move |c| {
                let (r, promoted) = metrics::counted(|| {
                    transaction(c, TxMode::Write, |c| {
                        let r = f(c, &user)?;
                        if seal {
                            let body = format!("{SEALED}{}", server_key.encrypt(&r.body, &aad)?);
                            idem::finish(c, uid, &k, &Resp { body, ..r.clone() })?;
                        } else {
                            idem::finish(c, uid, &k, &r)?;
                        }
                        Ok::<Resp, ApiError>(r)
                    })
                });
                r.map(|r| (r, promoted))
            })
            .await;
        match result {
            Ok((r, promoted)) => {
                self.db.health().write_succeeded();
                self.metrics.promoted(promoted);
                r
            }
            Err(e) => {
                let resp = e.to_resp();
                let stored = resp.clone();
                let server_side = e.status.is_server_error();
                let _ = self
                    .db
                    .run_write(move |c| {
                        transaction(c, TxMode::Write, |c| {
                            if server_side {
                                idem::release(c, uid, &key)
                            } else {
                                idem::finish(c, uid, &key, &stored)
                            }
                        })
                    })
                    .await;
                resp
            }
        }
    }

    pub(crate) async fn mutate_req<F>(
        self: &Arc<Self>,
        req: &Authed,
        f: F,
    ) -> Result<Resp, ApiError>
    where
        F: FnOnce(&mut dyn Conn, &Principal) -> Result<Resp, ApiError> + Send + 'static,
    {
        let path_team = idem::team_in_path(&req.path_q);
        self.mutate(
            &req.user,
            req.idem.clone(),
            req.request_hash(),
            path_team,
            f,
        )
        .await
    }
}

/// Marks a stored idempotent answer kept encrypted (see [`App::mutate_sealed`]).
const SEALED: &str = "sealed:";
