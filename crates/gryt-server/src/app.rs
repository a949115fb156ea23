//! HTTP: the router, the authenticating extractor, idempotent mutation, every handler.

use crate::accounts;
use crate::auth::{self, CredentialCache, Principal, ServerKey};
use crate::db::{transaction, Conn, Db, TxMode};
use crate::error::{ApiError, Resp};
use crate::idem::{self, Claim};
use crate::logic::{self, ListFilter};
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use gryt_core::api::ErrorCode;
use gryt_core::api::{
    ApiKeyCreate, BatchOp, BatchOpKind, ChangePasswordRequest, Data, EvolutionCreate,
    EvolutionPatch, GenerationCreate, GenerationPatch, MemberAdd, PromoteRequest, Said,
    SignupRequest, TeamCreate, Username,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
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
}

pub type Shared = Arc<App>;

/// Maximum operations in one batch request.
pub const MAX_BATCH: usize = 500;

/// The deepest JSON nesting a request may carry. Records are answered inside envelopes a
/// few levels deeper (`{"data":{"items":[{"record":...`), so anything the parser's own limit
/// (128) let through could be stored yet never read back by a client.
pub const MAX_JSON_DEPTH: usize = 64;

/// What a byte scan of a JSON body finds that the parser would accept but the server must
/// not: nesting deeper than [`MAX_JSON_DEPTH`], and a NUL character (`\u0000`) in a string,
/// which PostgreSQL cannot store in a text column (strings are skipped for nesting).
#[derive(Debug, Default, PartialEq)]
struct JsonScan {
    too_deep: bool,
    nul: bool,
}

fn scan_json(body: &[u8]) -> JsonScan {
    let mut scan = JsonScan::default();
    let (mut depth, mut in_string) = (0usize, false);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        i += 1;
        if in_string {
            if b == b'\\' {
                if body.get(i) == Some(&b'u') && body.get(i + 1..i + 5) == Some(b"0000") {
                    scan.nul = true;
                }
                i += 1;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    scan.too_deep = true;
                    return scan;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    scan
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("A JSON request body is required"));
    }
    let scan = scan_json(body);
    if scan.too_deep {
        return Err(ApiError::bad_request(format!(
            "The JSON body is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
        )));
    }
    let value = serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::invalid(format!("Invalid request body: {e}")),
            _ => ApiError::bad_request(format!("Malformed JSON: {e}")),
        }
    })?;
    if scan.nul {
        return Err(ApiError::invalid(
            "Text may not contain NUL characters (\\u0000)",
        ));
    }
    Ok(value)
}

fn parse_if_match(h: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = h.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| ApiError::bad_request("If-Match is not readable"))?
        .trim();
    if s == "*" {
        return Ok(None);
    }
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::bad_request("If-Match must be a record's ETag, such as \"3\""))
}

/// A request body must be plain JSON: `Content-Type: application/json` (or `*/*+json`) and
/// no `Content-Encoding` (the server does not decompress). Anything else is 415, so that a
/// compressed or form body is not misread, and a browser's cross-site "simple" request
/// (text/plain, a form, no type at all) cannot reach a handler.
fn check_body_headers(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let unsupported = |detail: String| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            detail,
        )
    };
    let shown = |v: &HeaderValue| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(64)
            .collect::<String>()
    };
    if let Some(enc) = headers.get(header::CONTENT_ENCODING) {
        let e = enc.to_str().unwrap_or("").trim();
        if !e.eq_ignore_ascii_case("identity") {
            return Err(unsupported(format!(
                "Content-Encoding '{}' is not supported: send the body uncompressed",
                shown(enc)
            )));
        }
    }
    if body.is_empty() {
        return Ok(());
    }
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported(
            "A request body needs Content-Type: application/json".to_string(),
        ));
    };
    let mime = ct
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(unsupported(format!(
            "Content-Type '{}' is not supported: send JSON with Content-Type: application/json",
            shown(ct)
        )))
    }
}

/// An authenticated request with its raw body (HMAC is verified over these exact bytes).
pub struct Authed {
    pub user: Principal,
    pub body: Bytes,
    pub method: String,
    pub path_q: String,
    pub idem: Option<String>,
    pub if_match: Option<i64>,
    /// The body's bytes counted against the server's memory budget while this lives.
    _reservation: Option<crate::net::BodyReservation>,
}

impl Authed {
    fn request_hash(&self) -> String {
        crate::util::sha256_hex(&[self.method.as_bytes(), self.path_q.as_bytes(), &self.body])
    }
}

/// A refusal from the authenticating extractor: problem+json, with Retry-After when the
/// client is told to wait.
pub struct Refusal(pub auth::Refused);

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal(e.into())
    }
}

impl From<auth::Refused> for Refusal {
    fn from(r: auth::Refused) -> Self {
        Refusal(r)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.0.error.status;
        let mut r = self.0.error.to_resp().into_response();
        let retry = match (self.0.retry_after, status) {
            (Some(secs), _) => Some(secs),
            (None, StatusCode::TOO_MANY_REQUESTS) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// Reads and discards up to `max` bytes of a body that will not be used.
async fn drain(body: axum::body::Body, max: usize) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0usize;
    while seen <= max {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(d) = frame.data_ref() {
                    seen = seen.saturating_add(d.len());
                }
            }
            _ => break,
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TooLarge,
        format!("The request body is larger than the limit of {limit} bytes"),
    )
}

/// The raw body, bounded by the configured limit (413 beyond it) and by the server's
/// budget of body bytes in memory (429 for one address holding too much, 503 for the
/// server as a whole); the bytes stay reserved while the returned reservation lives. An
/// oversized body is drained (up to four times the limit, not kept) so the client gets to
/// read the 413.
async fn read_body(
    req: Request,
    app: &App,
) -> Result<(Bytes, crate::net::BodyReservation), ApiError> {
    use http_body_util::BodyExt;
    let limit = app.body_limit;
    let ip = crate::net::peer_ip(req.extensions());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let mut reservation = app.bodies.start(ip);
    let mut body = req.into_body();
    if let Some(n) = declared {
        if n > limit {
            drain(body, limit.saturating_mul(4)).await;
            return Err(too_large(limit));
        }
        if let Err(e) = reservation.grow(n) {
            // An authenticated client: its body is read and thrown away (never kept), so
            // that it gets to read the answer.
            drain(body, n).await;
            return Err(e);
        }
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(ApiError::bad_request("The request body could not be read"));
        };
        if let Some(d) = frame.data_ref() {
            seen = seen.saturating_add(d.len());
            if seen <= limit {
                if !matches!(declared, Some(n) if seen <= n) {
                    // A chunked body (or one longer than declared) reserves as it arrives.
                    reservation.grow(d.len())?;
                }
                buf.extend_from_slice(d);
            } else if seen > limit.saturating_mul(4) {
                break;
            }
        }
    }
    if seen > limit {
        return Err(too_large(limit));
    }
    Ok((Bytes::from(buf), reservation))
}

impl FromRequest<Shared> for Authed {
    type Rejection = Refusal;

    async fn from_request(req: Request, app: &Shared) -> Result<Self, Refusal> {
        let method = req.method().as_str().to_string();
        let path_q = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| req.uri().path().to_string());
        let headers = req.headers().clone();
        let ip = crate::net::peer_ip(req.extensions());
        let early = async {
            let idem = match headers.get("idempotency-key") {
                Some(v) => {
                    let k = v
                        .to_str()
                        .map_err(|_| ApiError::bad_request("Idempotency-Key is not readable"))?
                        .to_string();
                    idem::validate_key(&k)?;
                    Some(k)
                }
                None => None,
            };
            let if_match = parse_if_match(&headers)?;
            // A NUL decoded from the URL would reach the database as a parameter
            // (PostgreSQL refuses it in text): no id, name or filter contains one.
            if path_q.contains("%00") {
                return Err(
                    ApiError::bad_request("The URL may not contain NUL characters (%00)").into(),
                );
            }
            // Authentication from the headers alone, before a byte of the body is read.
            let stage = authenticate_head(app, &headers, ip).await?;
            Ok::<_, auth::Refused>((idem, if_match, stage))
        };
        // Refused from the headers: the body is never read (what already arrived with the
        // head is discarded by the connection; the rest is not waited for).
        let (idem, if_match, stage) = early.await?;
        let (body, reservation) = read_body(req, app).await?;
        let user = match stage {
            HeadAuth::Done(p) => p,
            HeadAuth::Hmac {
                material,
                key_id,
                timestamp,
                signature,
            } => {
                verify_signed_body(
                    app, material, &key_id, &timestamp, &signature, &method, &path_q, &body,
                )
                .await?
            }
        };
        check_body_headers(&headers, &body)?;
        // The body stays in memory while the handler runs; the reservation is released
        // when the extractor's result is dropped (see `Authed::_reservation`).
        Ok(Authed {
            user,
            body,
            method,
            path_q,
            idem,
            if_match,
            _reservation: Some(reservation),
        })
    }
}

/// What the headers alone establish about a request's sender.
enum HeadAuth {
    /// A password login, checked (the body is not needed).
    Done(Principal),
    /// An API key that exists, is live and whose timestamp is fresh: the signature over the
    /// body is checked once the body is read.
    Hmac {
        material: auth::KeyMaterial,
        key_id: String,
        timestamp: String,
        signature: String,
    },
}

async fn authenticate_head(
    app: &Shared,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
) -> Result<HeadAuth, auth::Refused> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "Authentication required: HTTP Basic or an HMAC-signed request",
        )
        .into());
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("Unreadable Authorization header"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("hmac") {
        let h = auth::parse_hmac(rest).ok_or_else(|| {
            ApiError::unauthorized(
                "Malformed HMAC header: expected HMAC key_id:timestamp:signature",
            )
        })?;
        let now = auth::check_timestamp(h.timestamp)?;
        // The key from memory when read recently, else from the database (one blocking hop).
        let material = match app.keys.get(h.key_id) {
            Some(k) => k,
            None => {
                let (key, key_id) = (app.key.clone(), h.key_id.to_string());
                let k = app
                    .db
                    .run(move |c| auth::load_key(c, &key, &key_id))
                    .await?;
                app.keys.put(h.key_id, k.clone());
                k
            }
        };
        auth::check_key_live(&material, now)?;
        Ok(HeadAuth::Hmac {
            material,
            key_id: h.key_id.to_string(),
            timestamp: h.timestamp.to_string(),
            signature: h.signature.to_string(),
        })
    } else if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| ApiError::unauthorized("Malformed Basic credentials"))?;
        let text = String::from_utf8(raw)
            .map_err(|_| ApiError::unauthorized("Malformed Basic credentials"))?;
        let (user, pass) = text
            .split_once(':')
            .ok_or_else(|| ApiError::unauthorized("Malformed Basic credentials"))?;
        // Failed logins are limited per address and per account before anything else (a
        // limited client cannot probe the cache of recent logins either).
        let attempt = app.limiter.begin(ip, user)?;
        if let Some(p) = app.cache.get(user, pass) {
            attempt.succeeded();
            return Ok(HeadAuth::Done(p));
        }
        let u = user.to_string();
        let found = if user.contains('\0') {
            // No user name holds a NUL (and PostgreSQL cannot look one up): unknown user.
            None
        } else {
            app.db.run(move |c| auth::lookup_user(c, &u)).await?
        };
        // Argon2 runs off the database pool, at most a few at a time (19 MiB each), so
        // password guessing cannot starve the database of connections or the host of memory.
        let _slot = app
            .hashing
            .acquire()
            .await
            .map_err(|_| ApiError::internal("shutting down"))?;
        let (u, p) = (user.to_string(), pass.to_string());
        let principal = tokio::task::spawn_blocking(move || auth::check_basic(found, &u, &p))
            .await
            .map_err(|_| ApiError::internal("password check failed"))??;
        attempt.succeeded();
        app.cache.put(user, pass, principal.clone());
        Ok(HeadAuth::Done(principal))
    } else {
        Err(ApiError::unauthorized("Unsupported authorization scheme: use Basic or HMAC").into())
    }
}

/// Checks an HMAC signature over the body just read, then records it (replays refused).
#[allow(clippy::too_many_arguments)]
async fn verify_signed_body(
    app: &Shared,
    material: auth::KeyMaterial,
    key_id: &str,
    timestamp: &str,
    signature: &str,
    method: &str,
    path_q: &str,
    body: &Bytes,
) -> Result<Principal, ApiError> {
    // HMAC over a small body is microseconds; a large one is hashed off the runtime.
    let verified = if body.len() <= 64 * 1024 {
        let h = auth::HmacHeader {
            key_id,
            timestamp,
            signature,
        };
        auth::verify_hmac(&material, &h, method, path_q, body)?
    } else {
        let (key_id, ts, sig) = (
            key_id.to_string(),
            timestamp.to_string(),
            signature.to_string(),
        );
        let (method, path_q, body) = (method.to_string(), path_q.to_string(), body.clone());
        tokio::task::spawn_blocking(move || {
            let h = auth::HmacHeader {
                key_id: &key_id,
                timestamp: &ts,
                signature: &sig,
            };
            auth::verify_hmac(&material, &h, &method, &path_q, &body)
        })
        .await
        .map_err(|_| ApiError::internal("signature check failed"))??
    };
    if let Err(e) = app.replay.record(key_id, &verified).await {
        app.keys.forget(key_id);
        return Err(e);
    }
    Ok(verified.principal)
}

impl App {
    /// Runs a read in one read transaction (one snapshot).
    async fn read<F>(&self, user: &Principal, f: F) -> Resp
    where
        F: FnOnce(&mut dyn Conn, &Principal) -> Result<Resp, ApiError> + Send + 'static,
    {
        let user = user.clone();
        self.db
            .run(move |c| transaction(c, TxMode::Read, |c| f(c, &user)))
            .await
            .unwrap_or_else(|e| e.to_resp())
    }

    /// Runs a write in one transaction, honouring an idempotency key.
    async fn mutate<F>(
        self: &Arc<Self>,
        user: &Principal,
        key: Option<String>,
        hash: String,
        path_team: Option<String>,
        f: F,
    ) -> Resp
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
    async fn mutate_sealed<F>(
        self: &Arc<Self>,
        user: &Principal,
        key: Option<String>,
        hash: String,
        path_team: Option<String>,
        seal: bool,
        f: F,
    ) -> Resp
    where
        F: FnOnce(&mut dyn Conn, &Principal) -> Result<Resp, ApiError> + Send + 'static,
    {
        let app = self.clone();
        let user = user.clone();
        tokio::spawn(async move { app.mutate_unit(user, key, hash, path_team, seal, f).await })
            .await
            .unwrap_or_else(|_| ApiError::internal("the request's work stopped").to_resp())
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
                .run_write(move |c| transaction(c, TxMode::Write, |c| f(c, &user)))
                .await;
            if done.is_ok() {
                self.db.health().write_succeeded();
            }
            return done.unwrap_or_else(|e| e.to_resp());
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
            })
            .await;
        match result {
            Ok(r) => {
                self.db.health().write_succeeded();
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

    async fn mutate_req<F>(self: &Arc<Self>, req: &Authed, f: F) -> Resp
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

fn query_map(uri: &Uri) -> Result<HashMap<String, String>, ApiError> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad_request(format!("Bad query string: {e}")))
}

macro_rules! tryr {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return ApiError::from(e).to_resp(),
        }
    };
}

// ---------------------------------------------------------------- handlers

/// 200 when the database answers a read and nothing says it is damaged or refuses writes;
/// 503 (problem body, `Retry-After`) otherwise. Cheap: one small read transaction, plus what
/// the pool saw of earlier requests (see [`crate::db::Health`]); the full page check runs
/// once, at startup.
async fn healthz(State(app): State<Shared>) -> Resp {
    let probe = app
        .db
        .run(|c| {
            transaction(c, TxMode::Read, |c| {
                c.query("SELECT MAX(version) FROM schema_migrations", &[])
                    .map_err(ApiError::from)
            })
        })
        .await;
    let problem = match probe {
        Err(_) => Some("The database does not answer".to_string()),
        Ok(_) => app
            .db
            .health()
            .problem()
            .map(|p| format!("The database is not healthy: {p}")),
    };
    match problem {
        None => Resp {
            status: 200,
            body: r#"{"status":"ok"}"#.to_string(),
            etag: None,
        },
        Some(detail) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            detail,
        )
        .to_resp(),
    }
}

async fn list_generations(State(app): State<Shared>, uri: Uri, req: Authed) -> Resp {
    let q = tryr!(query_map(&uri));
    let f = ListFilter {
        team_id: q.get("team_id").cloned(),
        project: q.get("project").cloned(),
        version: q.get("version").cloned(),
    };
    app.read(&req.user, move |c, u| logic::list_generations(c, u, &f))
        .await
}

async fn create_generation(State(app): State<Shared>, req: Authed) -> Resp {
    let body: GenerationCreate = tryr!(parse_json(&req.body));
    app.mutate_req(&req, move |c, u| logic::create_generation(c, u, body))
        .await
}

async fn get_generation(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    let id = tryr!(logic::parse_id(&id, "Generation"));
    app.read(&req.user, move |c, u| logic::get_generation(c, u, id))
        .await
}

async fn patch_generation(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    let id = tryr!(logic::parse_id(&id, "Generation"));
    let body: GenerationPatch = tryr!(parse_json(&req.body));
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| logic::patch_generation(c, u, id, m, body))
        .await
}

async fn delete_generation(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    let id = tryr!(logic::parse_id(&id, "Generation"));
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| logic::delete_generation(c, u, id, m))
        .await
}

async fn promote_generation(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Resp {
    let id = tryr!(logic::parse_id(&id, "Generation"));
    let body = tryr!(promote_request(&req.body));
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| {
        logic::promote_generation(c, u, id, m, body)
    })
    .await
}

/// The optional body of a promotion: none (the reference client's) or a [`PromoteRequest`].
fn promote_request(body: &[u8]) -> Result<PromoteRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PromoteRequest::default());
    }
    logic::validate_promote_request(parse_json(body)?)
}

async fn list_evolutions(State(app): State<Shared>, uri: Uri, req: Authed) -> Resp {
    let q = tryr!(query_map(&uri));
    let g = q.get("generation_id").cloned();
    app.read(&req.user, move |c, u| {
        logic::list_evolutions(c, u, g.as_deref())
    })
    .await
}

async fn create_evolution(State(app): State<Shared>, req: Authed) -> Resp {
    let body: EvolutionCreate = tryr!(parse_json(&req.body));
    app.mutate_req(&req, move |c, u| logic::create_evolution(c, u, body))
        .await
}

async fn get_evolution(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    let id = tryr!(logic::parse_id(&id, "Evolution"));
    app.read(&req.user, move |c, u| logic::get_evolution(c, u, id))
        .await
}

async fn patch_evolution(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    let id = tryr!(logic::parse_id(&id, "Evolution"));
    let body: EvolutionPatch = tryr!(parse_json(&req.body));
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| logic::patch_evolution(c, u, id, m, body))
        .await
}

async fn delete_evolution(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    let id = tryr!(logic::parse_id(&id, "Evolution"));
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| logic::delete_evolution(c, u, id, m))
        .await
}

async fn push_pipeline_run(State(app): State<Shared>, req: Authed) -> Resp {
    // Read straight into typed fields (never a JSON tree): a run of several MiB costs
    // about its own size in memory.
    let body: gryt_core::api::PipelineRunPush = tryr!(parse_json(&req.body));
    app.mutate_req(&req, move |c, u| logic::push_pipeline_run(c, u, body))
        .await
}

async fn get_pipeline_run(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    app.read(&req.user, move |c, u| logic::get_pipeline_run(c, u, &id))
        .await
}

async fn sync_head(
    State(app): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    req: Authed,
) -> Response {
    let q = match query_map(&uri) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let team = q.get("team_id").cloned();
    let user = req.user.clone();
    let head = app
        .db
        .run(move |c| logic::sync_head(c, &user, team.as_deref()))
        .await;
    let head = match head {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    let etag = format!("\"{head}\"");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    if matches {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        return r;
    }
    match logic::sync_head_resp(head) {
        Ok(r) => Resp {
            etag: Some(etag),
            ..r
        }
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn sync_changes(State(app): State<Shared>, uri: Uri, req: Authed) -> Resp {
    let q = tryr!(query_map(&uri));
    let num = |name: &str, default: i64| -> Result<i64, ApiError> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be a non-negative integer"))
            }),
        }
    };
    let since = tryr!(num("since", 0));
    let limit = tryr!(num("limit", 500));
    if !(1..=logic::MAX_PAGE).contains(&limit) {
        return ApiError::bad_request(format!(
            "limit must be between 1 and {} (records per page)",
            logic::MAX_PAGE
        ))
        .to_resp();
    }
    let team = q.get("team_id").cloned();
    let project = q.get("project").cloned();
    app.read(&req.user, move |c, u| {
        logic::sync_changes(c, u, team.as_deref(), project.as_deref(), since, limit)
    })
    .await
}

/// One unit of work run inside a write transaction.
type WriteFn = Box<dyn FnOnce(&mut dyn Conn, &Principal) -> Result<Resp, ApiError> + Send>;

/// A batch request as received: each operation kept as its raw JSON text (a slice of the
/// request body), so no JSON tree of the body is ever built.
#[derive(Deserialize)]
struct RawBatch<'a> {
    #[serde(borrow)]
    operations: Vec<&'a RawValue>,
}

/// One batch operation, its body still raw JSON text: it is read straight into the typed
/// request of its route (fields no route reads are skipped, never held).
#[derive(Deserialize)]
struct RawOp<'a> {
    op: String,
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    if_match: Option<i64>,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default, borrow)]
    body: Option<&'a RawValue>,
}

fn batch_op_fn(op: RawOp<'_>) -> Result<WriteFn, ApiError> {
    let Some(kind) = BatchOpKind::from_name(&op.op) else {
        return Err(ApiError::invalid(format!(
            "Unknown batch operation '{}'",
            op.op.chars().take(40).collect::<String>()
        )));
    };
    let body = op.body.map(|r| r.get().as_bytes());
    let id = || {
        op.id
            .ok_or_else(|| ApiError::invalid(format!("{kind} needs an id")))
    };
    let needed = || body.ok_or_else(|| ApiError::invalid(format!("{kind} needs a body")));
    let m = op.if_match;
    Ok(match kind {
        BatchOpKind::CreateGeneration => {
            let b: GenerationCreate = parse_json(needed()?)?;
            Box::new(move |c, u| logic::create_generation(c, u, b))
        }
        BatchOpKind::UpdateGeneration => {
            let id = id()?;
            let b: GenerationPatch = parse_json(needed()?)?;
            Box::new(move |c, u| logic::patch_generation(c, u, id, m, b))
        }
        BatchOpKind::DeleteGeneration => {
            let id = id()?;
            Box::new(move |c, u| logic::delete_generation(c, u, id, m))
        }
        BatchOpKind::PromoteGeneration => {
            let id = id()?;
            let b = match body {
                None => PromoteRequest::default(),
                Some(raw) => promote_request(raw)?,
            };
            Box::new(move |c, u| logic::promote_generation(c, u, id, m, b))
        }
        BatchOpKind::CreateEvolution => {
            let b: EvolutionCreate = parse_json(needed()?)?;
            Box::new(move |c, u| logic::create_evolution(c, u, b))
        }
        BatchOpKind::UpdateEvolution => {
            let id = id()?;
            let b: EvolutionPatch = parse_json(needed()?)?;
            Box::new(move |c, u| logic::patch_evolution(c, u, id, m, b))
        }
        BatchOpKind::DeleteEvolution => {
            let id = id()?;
            Box::new(move |c, u| logic::delete_evolution(c, u, id, m))
        }
    })
}

/// The request fingerprint of one batch operation: SHA-256 over its bytes as received
/// (marked `b2:`, so it is told apart from the form used before, see [`legacy_op_hash`]).
fn op_hash(raw: &[u8]) -> String {
    format!("b2:{}", crate::util::sha256_hex(&[b"batch", raw]))
}

/// The fingerprint servers before `b2:` stored for a batch operation: SHA-256 over the
/// operation re-encoded from a JSON tree. Computed only when a key stored in that form
/// meets a retry (keys live 24 hours), for that one operation.
fn legacy_op_hash(raw: &[u8]) -> Option<String> {
    let op: BatchOp = serde_json::from_slice(raw).ok()?;
    let text = serde_json::to_string(&op).ok()?;
    Some(crate::util::sha256_hex(&[b"batch", text.as_bytes()]))
}

/// One prepared batch operation: its key, request hash, where its bytes are in the
/// request body, and its work (or why it cannot run).
struct Prepared {
    key: Option<String>,
    hash: String,
    raw: std::ops::Range<usize>,
    work: Result<WriteFn, ApiError>,
}

/// Runs every operation in ONE write transaction (one commit for the whole push), each
/// inside its own savepoint: a failed operation is rolled back alone and answers what the
/// single route would; the others stay.
fn run_batch(
    c: &mut dyn Conn,
    user: &Principal,
    body: &[u8],
    ops: Vec<Prepared>,
) -> Result<Vec<Resp>, ApiError> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let work = match op.work {
            Ok(w) => w,
            Err(e) => {
                out.push(e.to_resp());
                continue;
            }
        };
        c.batch("SAVEPOINT gryt_op")?;
        if let Some(key) = &op.key {
            let raw = body.get(op.raw.clone()).unwrap_or_default();
            let legacy = || legacy_op_hash(raw);
            match idem::claim_compat(c, user.user_id, key, &op.hash, &legacy) {
                Ok(Claim::Fresh) => {}
                Ok(Claim::Replay(r)) => {
                    let r = match idem::reauthorize(c, user, &r, None) {
                        Ok(()) => r,
                        Err(e) if e.status.is_server_error() => {
                            c.batch("ROLLBACK TO SAVEPOINT gryt_op; RELEASE SAVEPOINT gryt_op")?;
                            return Err(e);
                        }
                        Err(e) => e.to_resp(),
                    };
                    c.batch("RELEASE SAVEPOINT gryt_op")?;
                    out.push(r);
                    continue;
                }
                Err(e) => {
                    c.batch("ROLLBACK TO SAVEPOINT gryt_op; RELEASE SAVEPOINT gryt_op")?;
                    if e.status.is_server_error() {
                        return Err(e);
                    }
                    out.push(e.to_resp());
                    continue;
                }
            }
        }
        match work(c, user) {
            Ok(r) => {
                if let Some(key) = &op.key {
                    idem::finish(c, user.user_id, key, &r)?;
                }
                c.batch("RELEASE SAVEPOINT gryt_op")?;
                out.push(r);
            }
            Err(e) => {
                c.batch("ROLLBACK TO SAVEPOINT gryt_op; RELEASE SAVEPOINT gryt_op")?;
                if e.status.is_server_error() {
                    return Err(e);
                }
                let r = e.to_resp();
                if let Some(key) = &op.key {
                    // Remember the refusal too, as the single route does.
                    if let Claim::Fresh = idem::claim(c, user.user_id, key, &op.hash)? {
                        idem::finish(c, user.user_id, key, &r)?;
                    }
                }
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// The operations of a batch body, typed; the body is never held as a JSON tree.
fn prepare_batch(body: &[u8]) -> Result<Vec<Prepared>, ApiError> {
    let batch: RawBatch<'_> = parse_json(body)?;
    if batch.operations.len() > MAX_BATCH {
        return Err(ApiError::invalid(format!(
            "A batch may hold at most {MAX_BATCH} operations"
        )));
    }
    let start = body.as_ptr() as usize;
    let mut ops = Vec::with_capacity(batch.operations.len());
    for raw in batch.operations {
        let text = raw.get();
        // Where the operation's text lies in the body (it is a slice of it).
        let from = (text.as_ptr() as usize).saturating_sub(start);
        let op: RawOp<'_> = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))?;
        let key = op.idempotency_key.clone();
        let work = match &key {
            Some(k) => idem::validate_key(k).and_then(|()| batch_op_fn(op)),
            None => batch_op_fn(op),
        };
        ops.push(Prepared {
            key,
            hash: op_hash(text.as_bytes()),
            raw: from..from + text.len(),
            work,
        });
    }
    Ok(ops)
}

async fn sync_batch(State(app): State<Shared>, req: Authed) -> Resp {
    let ops = tryr!(prepare_batch(&req.body));
    let user = req.user.clone();
    let body = req.body.clone();
    let results = app
        .db
        .run_write(move |c| transaction(c, TxMode::Write, |c| run_batch(c, &user, &body, ops)))
        .await;
    if results.is_ok() {
        app.db.health().write_succeeded();
    }
    match results {
        Ok(rs) => batch_answer(rs),
        Err(e) => e.to_resp(),
    }
}

/// `{"data": {"results": [{"status": S, "body": B}, ...]}}`, each body the single route's
/// answer as it was encoded (written into the answer, not parsed into a tree again).
fn batch_answer(rs: Vec<Resp>) -> Resp {
    use std::fmt::Write;
    let size: usize = rs.iter().map(|r| r.body.len() + 32).sum();
    let mut out = String::with_capacity(size + 32);
    out.push_str(r#"{"data":{"results":["#);
    for (i, r) in rs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let body = match serde_json::from_str::<&RawValue>(&r.body) {
            Ok(v) => v.get(),
            Err(_) => "null",
        };
        let _ = write!(out, r#"{{"status":{},"body":{}}}"#, r.status, body);
    }
    out.push_str("]}}");
    Resp {
        status: 200,
        body: out,
        etag: None,
    }
}

async fn signup(State(app): State<Shared>, req: Request) -> Resp {
    if !app.allow_signup {
        return ApiError::forbidden(
            "Signup is disabled on this server; an administrator adds users with `gryt server user add`",
        )
        .to_resp();
    }
    let headers = req.headers().clone();
    let (body, _reservation) = tryr!(read_body(req, &app).await);
    tryr!(check_body_headers(&headers, &body));
    let s: SignupRequest = tryr!(parse_json(&body));
    tryr!(auth::validate_username(&s.username));
    tryr!(auth::validate_password(&s.password));
    let pw = s.password.clone();
    let Ok(_slot) = app.hashing.acquire().await else {
        return ApiError::internal("shutting down").to_resp();
    };
    let hash = match tokio::task::spawn_blocking(move || auth::hash_password(&pw)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return e.to_resp(),
        Err(_) => return ApiError::internal("hashing failed").to_resp(),
    };
    let name = s.username.clone();
    app.db
        .run_write(move |c| {
            transaction(c, TxMode::Write, |c| {
                let id = accounts::create_user(c, &name, &hash)?;
                accounts::signup_resp(id, &name)
            })
        })
        .await
        .unwrap_or_else(|e| e.to_resp())
}

async fn change_password(State(app): State<Shared>, req: Authed) -> Resp {
    let body: ChangePasswordRequest = tryr!(parse_json(&req.body));
    tryr!(auth::validate_password(&body.new_password));
    let uid = req.user.user_id;
    let stored = tryr!(
        app.db
            .run(move |c| accounts::password_hash_of(c, uid))
            .await
    );
    let (cur, new) = (body.current_password.clone(), body.new_password.clone());
    let Ok(slot) = app.hashing.acquire().await else {
        return ApiError::internal("shutting down").to_resp();
    };
    let checked = tokio::task::spawn_blocking(move || {
        if auth::verify_password(&stored, &cur) {
            auth::hash_password(&new).map(Some)
        } else {
            Ok(None)
        }
    })
    .await;
    let hash = match checked {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => {
            return ApiError::forbidden("The current password is not correct").to_resp()
        }
        Ok(Err(e)) => return e.to_resp(),
        Err(_) => return ApiError::internal("hashing failed").to_resp(),
    };
    drop(slot);
    let r = app
        .mutate_req(&req, move |c, u| {
            accounts::set_password_hash(c, u.user_id, &hash)?;
            Resp::json(
                200,
                &Said {
                    data: Username {
                        username: u.username.clone(),
                    },
                    message: "Password changed".to_string(),
                },
            )
        })
        .await;
    app.cache.clear();
    r
}

async fn create_api_key(State(app): State<Shared>, req: Authed) -> Resp {
    let body: ApiKeyCreate = tryr!(parse_json(&req.body));
    tryr!(accounts::needs_password(&req.user, "create API keys"));
    tryr!(body.check_limits());
    let key = app.key.clone();
    // The answer carries the new secret: its idempotent copy is kept encrypted.
    app.mutate_sealed(
        &req.user,
        req.idem.clone(),
        req.request_hash(),
        None,
        true,
        move |c, u| {
            let k = accounts::create_api_key(c, &key, u.user_id, &body.name, body.expires_in_days)?;
            Resp::json(201, &Data { data: k })
        },
    )
    .await
}

/// Who is asking (gryt's extension of the API): the account behind the password or the API
/// key, so `gryt cloud whoami` can name the owner of a key.
async fn whoami(req: Authed) -> Resp {
    tryr!(Resp::json(
        200,
        &Data {
            data: Username {
                username: req.user.username
            }
        }
    ))
}

async fn list_api_keys(State(app): State<Shared>, req: Authed) -> Resp {
    app.read(&req.user, accounts::list_api_keys).await
}

async fn revoke_api_key(
    State(app): State<Shared>,
    Path(key_id): Path<String>,
    req: Authed,
) -> Resp {
    // Every signature is checked against the key's revocation when it is recorded; this only
    // frees the memory.
    app.keys.forget(&key_id);
    app.mutate_req(&req, move |c, u| {
        // A key may revoke itself (a leaked key can be retired with its own signature);
        // revoking any other key needs the password.
        if u.api_key.as_deref() != Some(key_id.as_str()) {
            accounts::needs_password(u, "revoke another API key")?;
        }
        accounts::revoke_api_key(c, &key_id, Some(u.user_id))
    })
    .await
}

async fn create_team(State(app): State<Shared>, req: Authed) -> Resp {
    let body: TeamCreate = tryr!(parse_json(&req.body));
    tryr!(body.check_limits());
    app.mutate_req(&req, move |c, u| {
        accounts::create_team(c, u, &body.name, body.description)
    })
    .await
}

async fn list_teams(State(app): State<Shared>, req: Authed) -> Resp {
    app.read(&req.user, accounts::list_teams).await
}

async fn get_team(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    app.read(&req.user, move |c, u| accounts::get_team(c, u, &id))
        .await
}

async fn delete_team(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    app.mutate_req(&req, move |c, u| accounts::delete_team(c, u, &id))
        .await
}

async fn list_members(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    app.read(&req.user, move |c, u| accounts::list_members(c, u, &id))
        .await
}

async fn add_member(State(app): State<Shared>, Path(id): Path<String>, req: Authed) -> Resp {
    let body: MemberAdd = tryr!(parse_json(&req.body));
    app.mutate_req(&req, move |c, u| {
        accounts::add_member(c, u, &id, &body.username)
    })
    .await
}

async fn remove_member(
    State(app): State<Shared>,
    Path((id, username)): Path<(String, String)>,
    req: Authed,
) -> Resp {
    app.mutate_req(&req, move |c, u| {
        accounts::remove_member(c, u, &id, &username)
    })
    .await
}

async fn not_found(uri: Uri) -> Resp {
    ApiError::not_found(format!(
        "No route for {}",
        uri.path().chars().take(200).collect::<String>()
    ))
    .to_resp()
}

async fn method_not_allowed() -> Resp {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "Method not allowed on this route",
    )
    .to_resp()
}

/// Gives framework-made error answers (a timeout's 408, ...) our problem+json body.
pub async fn problem_for_bare_errors(r: Response) -> Response {
    let status = r.status();
    if (status.is_client_error() || status.is_server_error())
        && !r.headers().contains_key(header::CONTENT_TYPE)
    {
        let detail = match status {
            StatusCode::REQUEST_TIMEOUT => "The request took too long and was stopped".to_string(),
            other => other.canonical_reason().unwrap_or("Error").to_string(),
        };
        return ApiError::new(status, ErrorCode::Http, detail).into_response();
    }
    r
}

/// Every route of the API, on the path patterns of [`gryt_core::api::routes`].
pub fn router(app: Shared) -> Router {
    use gryt_core::api::routes;
    Router::new()
        .route(routes::HEALTHZ, get(healthz))
        .route(
            routes::GENERATIONS,
            get(list_generations).post(create_generation),
        )
        .route(
            routes::GENERATION,
            get(get_generation)
                .patch(patch_generation)
                .delete(delete_generation),
        )
        .route(routes::GENERATION_PROMOTE, post(promote_generation))
        .route(
            routes::EVOLUTIONS,
            get(list_evolutions).post(create_evolution),
        )
        .route(
            routes::EVOLUTION,
            get(get_evolution)
                .patch(patch_evolution)
                .delete(delete_evolution),
        )
        .route(routes::PIPELINE_RUNS, post(push_pipeline_run))
        .route(routes::PIPELINE_RUN, get(get_pipeline_run))
        .route(routes::ACCOUNT_CREATE, post(signup))
        .route(routes::ACCOUNT_CHANGE_PASSWORD, post(change_password))
        .route(routes::ACCOUNT_ME, get(whoami))
        .route(routes::API_KEYS, get(list_api_keys).post(create_api_key))
        .route(routes::API_KEY, axum::routing::delete(revoke_api_key))
        .route(routes::TEAMS, get(list_teams).post(create_team))
        .route(routes::TEAM, get(get_team).delete(delete_team))
        .route(routes::TEAM_MEMBERS, get(list_members).post(add_member))
        .route(routes::TEAM_MEMBER, axum::routing::delete(remove_member))
        .route(routes::SYNC_HEAD, get(sync_head))
        .route(routes::SYNC_CHANGES, get(sync_changes))
        .route(routes::SYNC_BATCH, post(sync_batch))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bare_framework_errors_get_a_problem_body() {
        let bare = StatusCode::REQUEST_TIMEOUT.into_response();
        let r = problem_for_bare_errors(bare).await;
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], 408);
        assert!(v["detail"].as_str().unwrap().contains("too long"));
        // Our own answers pass through untouched.
        let ours = ApiError::not_found("x").into_response();
        let r = problem_for_bare_errors(ours).await;
        let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"detail\":\"x\""));
    }

    #[test]
    fn json_errors_are_400_or_422() {
        let e = parse_json::<GenerationCreate>(b"{oops").err().unwrap();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = parse_json::<GenerationCreate>(br#"{"version": 3}"#)
            .err()
            .unwrap();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let e = parse_json::<GenerationCreate>(b"  ").err().unwrap();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn json_scan_depth_and_nul() {
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert!(scan_json(deep.as_bytes()).too_deep);
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(scan_json(ok.as_bytes()), JsonScan::default());
        let in_string = format!(r#"{{"t": "{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
        assert_eq!(scan_json(in_string.as_bytes()), JsonScan::default());
        let e = parse_json::<serde_json::Value>(deep.as_bytes())
            .err()
            .unwrap();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(scan_json(br#"["a\u0000b"]"#).nul);
        // An escaped backslash followed by "u0000" is text, not a NUL.
        assert!(!scan_json(br#"["a\\u0000b"]"#).nul);
        let e = parse_json::<serde_json::Value>(br#"{"t": "\u0000"}"#)
            .err()
            .unwrap();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let v: serde_json::Value = parse_json(br#"{"t": "\\u0000"}"#).unwrap();
        assert_eq!(v["t"], "\\u0000");
    }

    #[test]
    fn body_headers() {
        let mut h = HeaderMap::new();
        assert!(check_body_headers(&h, b"").is_ok());
        assert_eq!(
            check_body_headers(&h, b"{}").err().unwrap().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/problem+json",
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ok));
            assert!(check_body_headers(&h, b"{}").is_ok(), "{ok}");
        }
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(check_body_headers(&h, b"{}").is_err());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(check_body_headers(&h, b"{}").is_err());
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(check_body_headers(&h, b"{}").is_ok());
    }

    #[test]
    fn if_match_values() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_if_match(&h).unwrap(), None);
        for (v, want) in [
            ("\"3\"", Some(3)),
            ("W/\"4\"", Some(4)),
            ("5", Some(5)),
            ("*", None),
        ] {
            h.insert(header::IF_MATCH, HeaderValue::from_static(v));
            assert_eq!(parse_if_match(&h).unwrap(), want, "{v}");
        }
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"abc\""));
        assert!(parse_if_match(&h).is_err());
    }
}
