//! The domain's error type. Every rule violation is a [`CoreError`] with a kind (which
//! the CLI maps to an exit code and the server to an HTTP status), a message for humans
//! and, where there is an obvious next step, a hint.

use std::fmt;

/// What sort of failure this is; decides the CLI exit code and the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input breaks a format rule (a version, a change id, a change type...).
    Invalid,
    /// The record named does not exist.
    NotFound,
    /// The record already exists (a version, a change id inside a generation).
    AlreadyExists,
    /// The generation is promoted and can never change again.
    Immutable,
    /// Promotion refused: some change has no passing evolution.
    GateFailed,
    /// The caller may not do this to that record (e.g. not the evolution's owner).
    Forbidden,
}

/// A rule violation, with a human message and an optional hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl CoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CoreError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AlreadyExists, message)
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CoreError {}

pub type Result<T> = std::result::Result<T, CoreError>;
