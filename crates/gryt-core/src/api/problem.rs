//! The body of every non-2xx answer (RFC 9457 problem+json plus `detail`) and its typed
//! machine-readable `code`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// The stable machine-readable kind of a refusal: the problem body's `code`. The
        /// server answers only these; a client reading another server's answer gets
        /// [`ErrorCode::Unknown`] for a code it does not know.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code this build does not know (or none at all).
            #[default]
            Unknown,
        }

        impl ErrorCode {
            /// Every code the server may answer.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it is written on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// The code written on the wire as `s`; [`ErrorCode::Unknown`] for any other.
            pub fn parse(s: &str) -> ErrorCode {
                match s {
                    $($name => ErrorCode::$variant,)*
                    _ => ErrorCode::Unknown,
                }
            }
        }
    };
}

error_codes! {
    /// 422: a field or a rule refuses the request.
    Invalid = "invalid",
    /// 400: the request cannot be read (JSON, a header, the query string).
    Malformed = "malformed",
    NotFound = "not_found",
    AlreadyExists = "already_exists",
    /// 409: a promoted record (or a sealed pipeline run) cannot change.
    Immutable = "immutable",
    /// 409: the generation was promoted by another request first.
    AlreadyPromoted = "already_promoted",
    /// 409: the gate refused a promotion.
    GateFailed = "gate_failed",
    Forbidden = "forbidden",
    /// 412: `If-Match` named an older `rev`; the body's `current` is the record now.
    Stale = "stale",
    Unauthorized = "unauthorized",
    Internal = "internal",
    /// 422: an Idempotency-Key was used before with another request.
    IdempotencyMismatch = "idempotency_mismatch",
    /// 409: the first request with this Idempotency-Key is still running.
    IdempotencyInFlight = "idempotency_in_flight",
    /// 413: a body or a field is larger than its limit.
    TooLarge = "too_large",
    UnsupportedMediaType = "unsupported_media_type",
    MethodNotAllowed = "method_not_allowed",
    /// 409: a team's owner cannot leave it.
    Owner = "owner",
    /// 503: the database is busy (retry shortly).
    Busy = "busy",
    /// 503: the database is unavailable, read-only or damaged.
    Unavailable = "unavailable",
    /// 507: the server's disk is full.
    InsufficientStorage = "insufficient_storage",
    /// 429: too many failed logins.
    TooManyFailures = "too_many_failures",
    /// 429: one address sends too much.
    TooManyRequests = "too_many_requests",
    /// 503: the server holds as many connections as it takes.
    TooManyConnections = "too_many_connections",
    /// An error answer the HTTP framework made (a timeout's 408, ...).
    Http = "http",
    /// 422: a promotion names no proof for one of its changes.
    ProofMissing = "proof_missing",
    /// 422: a named proof is not an evolution of that change in this generation.
    ProofUnknown = "proof_unknown",
    /// 409: a named proof did not pass.
    ProofNotPassed = "proof_not_passed",
    /// 409: a named proof proved the change as it was before it changed.
    ProofStale = "proof_stale",
    /// 409: a later proof of that change on the same commit failed.
    ProofSuperseded = "proof_superseded",
}

impl ErrorCode {
    /// The problem type URI of this code (`https://gryt.dev/problems/not-found`).
    pub fn problem_type(self) -> String {
        format!(
            "https://gryt.dev/problems/{}",
            self.as_str().replace('_', "-")
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(ErrorCode::parse(&s))
    }
}

/// The error body of every non-2xx response: RFC 9457 problem+json fields plus `detail`,
/// which the reference client shows. Optional members carry machine-readable context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable machine-readable kind of the refusal.
    #[serde(default)]
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// On 412: the record as the server holds it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Value>,
    /// The id of the request this answers (its `X-Request-Id`), for matching a report
    /// with the server's log. Absent in bodies from servers that do not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_wire_names() {
        for &c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), c);
        }
        assert_eq!(ErrorCode::parse("no_such_code"), ErrorCode::Unknown);
        assert_eq!(
            ErrorCode::AlreadyPromoted.problem_type(),
            "https://gryt.dev/problems/already-promoted"
        );
    }

    #[test]
    fn a_body_with_an_unknown_or_no_code_still_reads() {
        let b: ErrorBody = serde_json::from_str(
            r#"{"type":"about:blank","title":"Conflict","status":409,"detail":"x","code":"new_kind"}"#,
        )
        .unwrap();
        assert_eq!(b.code, ErrorCode::Unknown);
        let b: ErrorBody =
            serde_json::from_str(r#"{"type":"t","title":"t","status":500,"detail":"d"}"#).unwrap();
        assert_eq!(b.code, ErrorCode::Unknown);
        let b: ErrorBody = serde_json::from_str(
            r#"{"type":"t","title":"t","status":409,"detail":"d","code":"stale"}"#,
        )
        .unwrap();
        assert_eq!(b.code, ErrorCode::Stale);
        assert_eq!(b.request_id, None);
        let b: ErrorBody = serde_json::from_str(
            r#"{"type":"t","title":"t","status":404,"detail":"d","request_id":"abc"}"#,
        )
        .unwrap();
        assert_eq!(b.request_id.as_deref(), Some("abc"));
        assert!(!serde_json::to_string(&ErrorBody {
            request_id: None,
            ..b
        })
        .unwrap()
        .contains("request_id"));
    }
}
