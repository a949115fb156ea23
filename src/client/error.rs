//! Why a request did not produce a usable answer ([`RemoteError`]), how the server's error
//! answers are read, and how each becomes the user's error message and hint.

use super::{tls, Response, MAX_BODY};
use crate::error::{CliError, Kind};
use gryt_core::api::ErrorBody;
use serde::de::DeserializeOwned;

/// Why a request did not produce a usable answer.
#[derive(Debug, Clone)]
pub enum RemoteError {
    /// No connection, a timeout, or a transient status that outlived the retries.
    Unreachable(String),
    /// The server answered with an error status.
    Http { status: u16, detail: String },
    /// The server answered something that is not the API (HTML, bad JSON).
    Garbage(String),
    /// The answer is larger than [`MAX_BODY`]; `prefix` holds its first bytes (to name
    /// what was too large).
    TooLarge { prefix: Vec<u8> },
    /// The server answered with a redirect, which gryt never follows.
    Redirect { status: u16, target: String },
    /// The request body could not be written as JSON (nothing was sent).
    Encode(String),
    /// The server's TLS certificate was refused (never retried: it is not an outage).
    Certificate {
        base: String,
        problem: tls::CertificateProblem,
    },
}

/// How many bytes of a too-large answer are kept to name its first record.
pub(super) const PREFIX_KEPT: usize = 4096;

impl RemoteError {
    /// The error as one line of text (no hint).
    pub fn text(&self) -> String {
        match self {
            RemoteError::Http { status, detail } => format!("HTTP {status}: {detail}"),
            RemoteError::Unreachable(m) | RemoteError::Garbage(m) => m.clone(),
            RemoteError::TooLarge { .. } => too_large_text(),
            RemoteError::Redirect { status, target } => redirect_text(*status, target),
            RemoteError::Encode(m) => encode_text(m),
            RemoteError::Certificate { base, problem } => problem.text(base),
        }
    }
}

pub(super) fn too_large_text() -> String {
    format!(
        "the server's answer is larger than {} MiB",
        MAX_BODY / 1024 / 1024
    )
}

pub(super) fn unasked_coding(named: &str) -> String {
    format!("the server answered with Content-Encoding '{named}', which gryt did not ask for")
}

pub(super) fn encode_text(why: &str) -> String {
    format!("cannot encode the request: {why}")
}

pub(super) fn redirect_text(status: u16, target: &str) -> String {
    format!("the server answered with a redirect (HTTP {status}) to {target}; gryt does not follow redirects")
}

/// Names the first record of a too-large change-feed page from its first bytes, e.g.
/// `generation v2.0.0 (server id 7)`; empty when they do not tell.
pub fn first_record_of(prefix: &[u8]) -> String {
    let text = String::from_utf8_lossy(prefix);
    let string_field = |key: &str| -> Option<String> {
        let start = text.find(&format!("\"{key}\":\""))? + key.len() + 4;
        let rest = &text[start..];
        let value: String = rest[..rest.find('"')?]
            .chars()
            .filter(|c| !c.is_control())
            .take(80)
            .collect();
        Some(value)
    };
    let number_field = |key: &str| -> Option<i64> {
        let start = text.find(&format!("\"{key}\":"))? + key.len() + 3;
        let digits: String = text[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let kind = string_field("kind").unwrap_or_else(|| "record".into());
    match (string_field("version"), number_field("id")) {
        (Some(v), Some(id)) => format!("{kind} {v} (server id {id})"),
        (Some(v), None) => format!("{kind} {v}"),
        (None, Some(id)) => format!("{kind} with server id {id}"),
        (None, None) => String::new(),
    }
}

/// `url` with the password of any `user:password@` part masked.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split(':').next().unwrap_or("");
            format!(
                "{}{}:****@{}",
                &url[..scheme_end + 3],
                user,
                &rest[at + 1..]
            )
        }
        None => url.to_string(),
    }
}

/// The password of a `user:password@` part of `url`, if any.
pub(super) fn url_password(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let (_, pw) = userinfo.split_once(':')?;
    Some(pw.to_string()).filter(|p| !p.is_empty())
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

pub(super) fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl From<RemoteError> for CliError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::Unreachable(msg) => CliError::new(Kind::Unreachable, format!("Cloud unreachable: {msg}"))
                .hint("your work is kept locally as pending; `gryt sync push` delivers it when the server is back"),
            RemoteError::Http { status: 401, detail, .. } => {
                CliError::error(format!("The server refused the credentials: {detail}"))
                    .hint("log in again with `gryt cloud login`")
            }
            RemoteError::Http { status, detail, .. } => {
                CliError::error(format!("The server answered {status}: {detail}"))
            }
            RemoteError::Garbage(msg) => CliError::error(format!("Bad answer from the server: {msg}"))
                .hint("check gryt_url: it must point at a gryt server"),
            RemoteError::TooLarge { .. } => CliError::error(format!("Bad answer from the server: {}", too_large_text()))
                .hint("check gryt_url: it must point at a gryt server"),
            RemoteError::Redirect { status, target } => CliError::error(format!(
                "Refused to follow the server: {}",
                redirect_text(status, &target)
            ))
            .hint("set gryt_url to the address that answers itself (`gryt config gryt_url URL`); a redirect could carry your credentials elsewhere"),
            RemoteError::Encode(why) => CliError::error(encode_text(&why)),
            RemoteError::Certificate { base, problem } => problem.into_cli_error(&base),
        }
    }
}
