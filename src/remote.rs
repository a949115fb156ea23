//! The HTTP client of the gryt server API: authentication (HMAC exactly as the reference
//! client signs, or Basic), bounded reads, clear errors for garbage answers, and retries of
//! transient failures with capped exponential backoff and full jitter, honouring
//! `Retry-After`. 400, 401, 403, 404, 409, 412 and 422 are never retried.

use crate::error::{GrytError, Kind};
use gryt_core::wire::ErrorBody;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use sha2::Sha256;
use std::io::Read;
use std::time::Duration;

/// The largest response body gryt reads (a page of the change feed is far smaller).
pub const MAX_BODY: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
pub enum Auth {
    None,
    Basic { username: String, password: String },
    Hmac { key_id: String, secret: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, even in debug output.
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Basic { username, .. } => write!(f, "Auth::Basic({username}, ********)"),
            Auth::Hmac { key_id, .. } => write!(f, "Auth::Hmac({key_id}, ********)"),
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a request did not produce a usable answer.
#[derive(Debug, Clone)]
pub enum RemoteError {
    /// No connection, a timeout, or a transient status that outlived the retries.
    Unreachable(String),
    /// The server answered with an error status.
    Http { status: u16, detail: String },
    /// The server answered something that is not the API (HTML, bad JSON, too large).
    Garbage(String),
}

pub struct Remote {
    pub base: String,
    auth: Auth,
    http: reqwest::blocking::Client,
    /// How many attempts a transient failure gets (1 = no retry).
    pub attempts: u32,
    /// The base of the backoff between attempts, in milliseconds.
    pub backoff_base_ms: u64,
    pub requests: std::cell::Cell<u64>,
    pub bytes: std::cell::Cell<u64>,
}

fn iso_now() -> String {
    // The reference client's format: ISO-8601 with offset, no fraction when it is zero.
    let now = chrono::Utc::now();
    if now.timestamp_subsec_micros() == 0 {
        now.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        now.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// The reference client's HMAC signature: hex(HMAC-SHA256(secret, METHOD\npath\nts\nbody)).
pub fn sign(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    body: &[u8],
) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => return String::new(),
    };
    mac.update(method.to_ascii_uppercase().as_bytes());
    mac.update(b"\n");
    mac.update(path_and_query.as_bytes());
    mac.update(b"\n");
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn jitter(max_ms: u64) -> u64 {
    if max_ms == 0 {
        return 0;
    }
    let b = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) % (max_ms + 1)
}

/// Full-jitter backoff: a random wait in [0, min(cap, base * 2^attempt)].
pub fn backoff(attempt: u32, base_ms: u64, cap_ms: u64) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << attempt.min(20));
    Duration::from_millis(jitter(exp.min(cap_ms)))
}

impl Remote {
    pub fn new(base: &str, auth: Auth) -> Result<Remote, GrytError> {
        Remote::with_limits(base, auth, crate::config::HttpLimits::default())
    }

    /// A client with the request timeout and the number of attempts of `limits`.
    pub fn with_limits(
        base: &str,
        auth: Auth,
        limits: crate::config::HttpLimits,
    ) -> Result<Remote, GrytError> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(GrytError::error(format!("Invalid gryt_url '{base}'"))
                .hint("use a URL such as https://gryt.example.com"));
        }
        // rustls needs a process-wide crypto provider; installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(limits.timeout.min(Duration::from_secs(5)))
            .timeout(limits.timeout)
            .user_agent(concat!("gryt/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GrytError::error(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Remote {
            base,
            auth,
            http,
            attempts: limits.attempts,
            backoff_base_ms: limits.backoff_base_ms,
            requests: std::cell::Cell::new(0),
            bytes: std::cell::Cell::new(0),
        })
    }

    pub fn has_credentials(&self) -> bool {
        !matches!(self.auth, Auth::None)
    }

    /// One attempt.
    pub fn send_once(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<(Response, Option<u64>), RemoteError> {
        let url = format!("{}{}", self.base, path_and_query);
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| RemoteError::Garbage(format!("bad method {method}: {e}")))?;
        let mut req = self.http.request(m, &url);
        let raw = body.unwrap_or(b"");
        match &self.auth {
            Auth::None => {}
            Auth::Basic { username, password } => {
                req = req.basic_auth(username, Some(password));
            }
            Auth::Hmac { key_id, secret } => {
                let ts = iso_now();
                let sig = sign(secret, method, path_and_query, &ts, raw);
                req = req.header("Authorization", format!("HMAC {key_id}:{ts}:{sig}"));
            }
        }
        if body.is_some() {
            req = req
                .header("Content-Type", "application/json")
                .body(raw.to_vec());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.requests.set(self.requests.get() + 1);
        let resp = req.send().map_err(|e| {
            RemoteError::Unreachable(format!("cannot reach {}: {}", self.base, root_cause(&e)))
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut buf = Vec::new();
        resp.take(MAX_BODY + 1).read_to_end(&mut buf).map_err(|e| {
            RemoteError::Unreachable(format!("the connection to {} broke: {e}", self.base))
        })?;
        if buf.len() as u64 > MAX_BODY {
            return Err(RemoteError::Garbage(format!(
                "the server's answer is larger than {} MiB",
                MAX_BODY / 1024 / 1024
            )));
        }
        self.bytes.set(self.bytes.get() + buf.len() as u64);
        Ok((Response { status, body: buf }, retry_after))
    }

    /// Sends with retries of transient failures; returns any final answer (2xx or error
    /// status) as a `Response`, or `Unreachable`.
    pub fn send(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<Response, RemoteError> {
        let mut attempt = 0;
        loop {
            let outcome = self.send_once(method, path_and_query, body, headers);
            let transient = match &outcome {
                Err(RemoteError::Unreachable(_)) => true,
                Ok((r, _)) => matches!(r.status, 429 | 502 | 503 | 504),
                Err(_) => false,
            };
            attempt += 1;
            if !transient || attempt >= self.attempts {
                return match outcome {
                    Ok((r, _)) if matches!(r.status, 429 | 502 | 503 | 504) => {
                        Err(RemoteError::Unreachable(format!(
                            "the server at {} is unavailable (HTTP {})",
                            self.base, r.status
                        )))
                    }
                    Ok((r, _)) => Ok(r),
                    Err(e) => Err(e),
                };
            }
            let wait = match &outcome {
                Ok((_, Some(secs))) => Duration::from_secs((*secs).min(30)),
                _ => backoff(attempt, self.backoff_base_ms, 5_000),
            };
            std::thread::sleep(wait);
        }
    }

    /// Sends and decodes a 2xx JSON answer; error statuses become `RemoteError::Http`.
    pub fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> Result<T, RemoteError> {
        let r = self.send(method, path_and_query, body, headers)?;
        if !(200..300).contains(&r.status) {
            return Err(http_error(&r));
        }
        decode(&r.body)
    }
}

pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, RemoteError> {
    serde_json::from_slice(body).map_err(|e| {
        let start: String = String::from_utf8_lossy(&body[..body.len().min(60)])
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        RemoteError::Garbage(format!(
            "the server's answer is not the gryt API ({e}; it starts with {start:?})"
        ))
    })
}

pub fn http_error(r: &Response) -> RemoteError {
    let body: Option<ErrorBody> = serde_json::from_slice(&r.body).ok();
    let detail = match &body {
        Some(b) => b.detail.clone(),
        None => {
            // Maybe `{"detail": "..."}` alone (the reference cloud's shape).
            serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
                .unwrap_or_else(|| format!("HTTP {} with no error detail", r.status))
        }
    };
    RemoteError::Http {
        status: r.status,
        detail,
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl From<RemoteError> for GrytError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::Unreachable(msg) => GrytError::new(Kind::Unreachable, format!("Cloud unreachable: {msg}"))
                .hint("your work is kept locally as pending; `gryt sync push` delivers it when the server is back"),
            RemoteError::Http { status: 401, detail, .. } => {
                GrytError::error(format!("The server refused the credentials: {detail}"))
                    .hint("log in again with `gryt cloud login`")
            }
            RemoteError::Http { status, detail, .. } => {
                GrytError::error(format!("The server answered {status}: {detail}"))
            }
            RemoteError::Garbage(msg) => GrytError::error(format!("Bad answer from the server: {msg}"))
                .hint("check gryt_url: it must point at a gryt server"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // Computed independently with Python's hmac module:
        // hmac.new(b"s3cret", b"POST\n/api/v1/generations\n2026-11-22T01:52:05.251312+00:00\n{}", sha256).hexdigest()
        let sig = sign(
            "s3cret",
            "post",
            "/api/v1/generations",
            "2026-11-22T01:52:05.251312+00:00",
            b"{}",
        );
        assert_eq!(
            sig,
            "484885713d95d24de88cda8208c73beedb413d2760a8b26fee5a696df0bb3c32"
        );
        assert_eq!(
            sig,
            sign(
                "s3cret",
                "POST",
                "/api/v1/generations",
                "2026-11-22T01:52:05.251312+00:00",
                b"{}"
            )
        );
        assert_ne!(
            sig,
            sign(
                "s3cret",
                "POST",
                "/api/v1/generations",
                "2026-11-22T01:52:05.251312+00:00",
                b"{ }"
            )
        );
    }

    #[test]
    fn backoff_is_capped() {
        for attempt in 0..40 {
            assert!(backoff(attempt, 200, 5_000) <= Duration::from_millis(5_000));
        }
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let a = Auth::Hmac {
            key_id: "k1".into(),
            secret: "topsecret".into(),
        };
        assert!(!format!("{a:?}").contains("topsecret"));
        let b = Auth::Basic {
            username: "u".into(),
            password: "pw123".into(),
        };
        assert!(!format!("{b:?}").contains("pw123"));
    }
}
