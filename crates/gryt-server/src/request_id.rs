//! Around every request: its id (`X-Request-Id`, the client's when well-formed, else a new
//! one) echoed in the answer's header and in a problem body's `request_id`, the request
//! counted in [`crate::metrics`], and one log line (method, route pattern, status, latency,
//! request id; never the raw path, a query value, a header or a body).

use crate::app::Shared;
use crate::metrics::{method_label, UNMATCHED};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use gryt_core::api::ErrorCode;
use std::time::Instant;

/// The header that carries a request's id, both ways.
pub const HEADER: &str = "x-request-id";
/// The longest id taken from a client.
pub const MAX_LEN: usize = 128;
/// The largest problem body given a `request_id` (a problem body is small; a 412's
/// `current` record is bounded by the record limits, far below this).
const MAX_PROBLEM_BODY: usize = 16 * 1024 * 1024;

/// A request's id, in the request's extensions for handlers that log.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client's id when it is 1 to [`MAX_LEN`] visible ASCII characters, else `None`.
pub fn well_formed(v: Option<&HeaderValue>) -> Option<String> {
    let b = v?.as_bytes();
    let ok = !b.is_empty() && b.len() <= MAX_LEN && b.iter().all(|c| (0x21..0x7f).contains(c));
    // Visible ASCII only, so the bytes are valid UTF-8.
    ok.then(|| String::from_utf8_lossy(b).into_owned())
}

/// A new id: 32 lowercase hex digits (a random UUID).
pub fn generate() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `body` (a JSON object) with a `request_id` member added before its closing brace, and
/// its `code`; `None` when the body is not a JSON object. A body that has a `request_id`
/// already is left as it is.
pub fn with_request_id(body: &[u8], id: &str) -> Option<(Vec<u8>, Option<String>)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    let code = obj.get("code").and_then(|c| c.as_str()).map(str::to_string);
    if obj.contains_key("request_id") {
        return Some((body.to_vec(), code));
    }
    let end = body.iter().rposition(|b| *b == b'}')?;
    let id = serde_json::to_string(id).ok()?;
    let mut out = Vec::with_capacity(body.len() + id.len() + 16);
    out.extend_from_slice(&body[..end]);
    if !obj.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(b"\"request_id\":");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&body[end..]);
    Some((out, code))
}

fn is_problem(r: &Response) -> bool {
    r.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"))
}

/// The middleware (see the module's documentation).
pub async fn observe(State(app): State<Shared>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = well_formed(req.headers().get(HEADER)).unwrap_or_else(generate);
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_string(), |m| m.as_str().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    let mut lost_race = false;
    if is_problem(&resp) {
        let (mut parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_PROBLEM_BODY)
            .await
            .unwrap_or_default();
        let body = match with_request_id(&bytes, &id) {
            Some((b, code)) => {
                lost_race = code.as_deref() == Some(ErrorCode::AlreadyPromoted.as_str());
                b
            }
            None => bytes.to_vec(),
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        resp = Response::from_parts(parts, Body::from(body));
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    let status = resp.status().as_u16();
    let latency = start.elapsed();
    app.metrics
        .request(&route, method, status, latency, lost_race);
    tracing::info!(
        target: "gryt_server::request",
        method,
        route = %route,
        status,
        latency_ms = latency.as_secs_f64() * 1000.0,
        request_id = %id,
        "request"
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_taken_only_when_well_formed() {
        let h = |s: &[u8]| HeaderValue::from_bytes(s).ok();
        assert_eq!(
            well_formed(h(b"abc-123").as_ref()).as_deref(),
            Some("abc-123")
        );
        let longest = "x".repeat(MAX_LEN);
        assert_eq!(
            well_formed(h(longest.as_bytes()).as_ref()),
            Some(longest.clone())
        );
        for bad in [
            "x".repeat(MAX_LEN + 1).into_bytes(),
            b"has space".to_vec(),
            b"tab\there".to_vec(),
            "caf\u{e9}".as_bytes().to_vec(),
            vec![0x80, 0x41],
        ] {
            assert_eq!(well_formed(h(&bad).as_ref()), None, "{bad:?}");
        }
        assert_eq!(well_formed(None), None);
        let g = generate();
        assert_eq!(g.len(), 32);
        assert_eq!(well_formed(h(g.as_bytes()).as_ref()), Some(g));
    }

    #[test]
    fn problem_bodies_get_the_id_and_keep_their_members() {
        let body = br#"{"type":"t","status":409,"detail":"d","code":"already_promoted"}"#;
        let (out, code) = with_request_id(body, "r\"1").unwrap();
        assert_eq!(code.as_deref(), Some("already_promoted"));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["request_id"], "r\"1");
        assert_eq!(v["detail"], "d");
        assert_eq!(v["status"], 409);
        let (out, _) = with_request_id(b"{}\n", "a").unwrap();
        assert_eq!(out, b"{\"request_id\":\"a\"}\n");
        let (out, _) = with_request_id(br#"{"request_id":"x"}"#, "a").unwrap();
        assert_eq!(out, br#"{"request_id":"x"}"#);
        assert!(with_request_id(b"[1]", "a").is_none());
        assert!(with_request_id(b"not json", "a").is_none());
    }
}
