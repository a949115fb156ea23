//! Every failure answer: problem+json with `detail` (the reference client shows it).

use crate::db::DbError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gryt_core::api::{ErrorBody, ErrorCode};
use gryt_core::{CoreError, ErrorKind};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: String,
    pub hint: Option<String>,
    pub current: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            hint: None,
            current: None,
        }
    }
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid, detail)
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::Malformed, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, detail)
    }
    pub fn conflict(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            detail,
        )
    }
    pub fn stale(current: Value, rev: i64) -> Self {
        let mut e = Self::new(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::Stale,
            format!("The record changed on the server (now at rev {rev}); pull, merge and retry"),
        );
        e.current = Some(current);
        e
    }
    /// The same refusal under a more precise code.
    #[must_use]
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }
    #[must_use]
    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            problem_type: self.code.problem_type(),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            hint: self.hint.clone(),
            current: self.current.clone(),
            // Added by the request middleware (`request_id`), which knows the request.
            request_id: None,
        }
    }

    pub fn to_resp(&self) -> Resp {
        let body = serde_json::to_string(&self.body()).unwrap_or_else(|_| {
            r#"{"type":"about:blank","title":"Error","status":500,"detail":"internal error"}"#
                .to_string()
        });
        Resp {
            status: self.status.as_u16(),
            body,
            etag: None,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Busy(m) => {
                tracing::warn!("database busy: {m}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Busy,
                    "The database is busy; retry shortly",
                )
            }
            DbError::Unavailable(m) => {
                tracing::warn!("database unavailable: {m}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "The database is unavailable; retry shortly",
                )
            }
            DbError::ReadOnly(m) => {
                tracing::error!("database read-only: {m}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "The database does not take writes now; nothing was changed, retry later",
                )
            }
            DbError::Corrupt(m) => {
                tracing::error!("database damaged: {m}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "The server's database is damaged; its operator must restore it",
                )
            }
            DbError::Full(m) => {
                tracing::error!("database full: {m}");
                ApiError::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    ErrorCode::InsufficientStorage,
                    "The server's disk is full; nothing was changed",
                )
            }
            DbError::Unique(m) => {
                tracing::warn!("unexpected unique violation: {m}");
                ApiError::conflict(ErrorCode::AlreadyExists, "The record already exists")
            }
            DbError::Other(m) => {
                tracing::error!("database error: {m}");
                ApiError::internal("Internal database error")
            }
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let (status, code) = match e.kind {
            ErrorKind::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            ErrorKind::AlreadyExists => (StatusCode::CONFLICT, ErrorCode::AlreadyExists),
            ErrorKind::Immutable => (StatusCode::CONFLICT, ErrorCode::Immutable),
            ErrorKind::GateFailed => (StatusCode::CONFLICT, ErrorCode::GateFailed),
            ErrorKind::Forbidden => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
        };
        ApiError::new(status, code, e.message).with_hint(e.hint)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.to_resp().into_response()
    }
}

/// A finished answer: status, JSON body and optional ETag. This is what the idempotency
/// store keeps, so a retry answers byte for byte the same.
#[derive(Debug, Clone, PartialEq)]
pub struct Resp {
    pub status: u16,
    pub body: String,
    pub etag: Option<String>,
}

impl Resp {
    pub fn json<T: serde::Serialize>(status: u16, value: &T) -> Result<Resp, ApiError> {
        let body = serde_json::to_string(value)
            .map_err(|e| ApiError::internal(format!("cannot encode the answer: {e}")))?;
        Ok(Resp {
            status,
            body,
            etag: None,
        })
    }
    #[must_use]
    pub fn with_rev(mut self, rev: i64) -> Self {
        self.etag = Some(format!("\"{rev}\""));
        self
    }
}

impl IntoResponse for Resp {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let ctype = if status.is_client_error() || status.is_server_error() {
            "application/problem+json"
        } else {
            "application/json"
        };
        let mut r = (status, self.body).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        if let Some(tag) = self.etag {
            if let Ok(v) = HeaderValue::from_str(&tag) {
                r.headers_mut().insert(header::ETAG, v);
            }
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"gryt\""),
            );
        }
        r
    }
}
