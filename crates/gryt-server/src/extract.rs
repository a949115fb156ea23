//! What a request brings, read and checked before a handler runs: the body (bounded),
//! its JSON, `If-Match`, the query string, and the sender (Basic or HMAC, verified over
//! the body's exact bytes).

use crate::app::{App, Shared};
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::idem;
use crate::metrics::SignatureRefusal;
use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use gryt_core::api::ErrorCode;
use serde::Deserialize;
use std::collections::HashMap;

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

pub fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
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

/// A request body that is not read through [`Authed`] (signup) must be plain JSON:
/// [`check_content_type`] and no `Content-Encoding`. Anything else is 415.
pub(crate) fn check_body_headers(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    if let Some(enc) = headers.get(header::CONTENT_ENCODING) {
        let e = enc.to_str().unwrap_or("").trim();
        if !e.eq_ignore_ascii_case("identity") {
            return Err(unsupported(format!(
                "Content-Encoding '{}' is not supported here: send the body uncompressed",
                shown(enc)
            )));
        }
    }
    check_content_type(headers, body)
}

fn unsupported(detail: String) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        detail,
    )
}

fn shown(v: &HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes())
        .chars()
        .take(64)
        .collect::<String>()
}

/// A request body must be JSON: `Content-Type: application/json` (or `*/*+json`). Anything
/// else is 415, so that a form body is not misread, and a browser's cross-site "simple"
/// request (text/plain, a form, no type at all) cannot reach a handler.
pub(crate) fn check_content_type(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
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

/// An authenticated request with its body. HMAC is verified over the bytes as sent; a body
/// sent with `Content-Encoding: zstd|gzip` is then decoded (see [`crate::decompress`]), and
/// `body` holds the decoded bytes.
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
    pub(crate) fn request_hash(&self) -> String {
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
pub(crate) async fn read_body(
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
        let encoding = crate::decompress::encoding(&headers)?;
        check_content_type(&headers, &body)?;
        let (body, reservation) = decoded(encoding, body, reservation, app.body_limit).await?;
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

/// The body decoded (a compressed one off the async runtime when it is large); the decoded
/// bytes join the raw ones in `reservation` until the request ends.
async fn decoded(
    encoding: crate::decompress::Encoding,
    raw: Bytes,
    mut reservation: crate::net::BodyReservation,
    limit: usize,
) -> Result<(Bytes, crate::net::BodyReservation), ApiError> {
    use crate::decompress::{decode, Encoding};
    if encoding == Encoding::Identity || raw.is_empty() {
        return Ok((raw, reservation));
    }
    if raw.len() <= 16 * 1024 {
        let out = decode(encoding, &raw, limit, &mut reservation)?;
        return Ok((Bytes::from(out), reservation));
    }
    tokio::task::spawn_blocking(move || {
        let out = decode(encoding, &raw, limit, &mut reservation)?;
        Ok((Bytes::from(out), reservation))
    })
    .await
    .map_err(|_| ApiError::internal("decompressing the body failed"))?
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
        let now = auth::check_timestamp(h.timestamp)
            .inspect_err(|_| app.metrics.signature_refused(SignatureRefusal::Timestamp))?;
        // The key from memory when read recently, else from the database (one blocking hop).
        let material = match app.keys.get(h.key_id) {
            Some(k) => k,
            None => {
                let (key, key_id) = (app.key.clone(), h.key_id.to_string());
                let k = app
                    .db
                    .run(move |c| auth::load_key(c, &key, &key_id))
                    .await
                    .inspect_err(|e| {
                        // Unknown or revoked; a database failure is not the client's.
                        if e.status == StatusCode::UNAUTHORIZED {
                            app.metrics.signature_refused(SignatureRefusal::Key);
                        }
                    })?;
                app.keys.put(h.key_id, k.clone());
                k
            }
        };
        auth::check_key_live(&material, now)
            .inspect_err(|_| app.metrics.signature_refused(SignatureRefusal::Key))?;
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
        // limited client cannot probe the cache of recent logins either); a login beyond
        // the checks allowed under way waits here for an earlier one to end.
        let attempt = app.limiter.begin(ip, user).await?;
        if let Some((p, hash)) = app.cache.get(user, pass) {
            // One quick read: the user may have been disabled or removed, or given another
            // password, by `gryt server user ...` (another process) since.
            let cached = p.clone();
            if app
                .db
                .run(move |c| auth::still_allowed(c, &cached, &hash))
                .await?
            {
                attempt.succeeded();
                return Ok(HeadAuth::Done(p));
            }
            app.cache.forget(user, pass);
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
        let hash = found.as_ref().map(|(_, h)| h.clone()).unwrap_or_default();
        let (u, p) = (user.to_string(), pass.to_string());
        let principal = tokio::task::spawn_blocking(move || auth::check_basic(found, &u, &p))
            .await
            .map_err(|_| ApiError::internal("password check failed"))??;
        attempt.succeeded();
        app.cache.put(user, pass, principal.clone(), hash);
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
        auth::verify_hmac(&material, &h, method, path_q, body)
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
        .map_err(|_| ApiError::internal("signature check failed"))?
    };
    let verified =
        verified.inspect_err(|_| app.metrics.signature_refused(SignatureRefusal::Signature))?;
    if let Err(e) = app.replay.record(key_id, &verified).await {
        app.keys.forget(key_id);
        if e.status == StatusCode::UNAUTHORIZED {
            // auth::ReplayLog::record refuses a signature seen before, or a key revoked or
            // expired by the time the signature is recorded.
            let why = if e.detail.contains("replay") {
                SignatureRefusal::Replay
            } else {
                SignatureRefusal::Key
            };
            app.metrics.signature_refused(why);
        }
        return Err(e);
    }
    Ok(verified.principal)
}

pub(crate) fn query_map(uri: &Uri) -> Result<HashMap<String, String>, ApiError> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad_request(format!("Bad query string: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gryt_core::api::GenerationCreate;

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
        // Through `Authed`, the encoding is decoded instead (see `decompress`).
        assert!(check_content_type(&h, b"{}").is_ok());
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
