//! The CLI's error type: a kind (which decides the exit code), a message and a hint.
//!
//! Exit codes (docs/cli.md): 0 done · 1 error · 2 usage · 3 needs attention ·
//! 4 cloud unreachable.

use gryt_core::{CoreError, ErrorKind as CoreKind};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A rule, a missing record, a failed gate, a failed pipeline, an I/O failure.
    Error,
    /// The command line itself is wrong.
    Usage,
    // Attention and Unreachable are the sync commands' outcomes (docs/cli.md).
    #[allow(dead_code)]
    /// Sync needs attention: behind, conflict, version taken.
    Attention,
    #[allow(dead_code)]
    /// The cloud could not be reached; work was kept pending.
    Unreachable,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Error => 1,
            Kind::Usage => 2,
            Kind::Attention => 3,
            Kind::Unreachable => 4,
        }
    }
}

#[derive(Debug)]
pub struct GrytError {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T> = std::result::Result<T, GrytError>;

impl GrytError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        GrytError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Kind::Error, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Wraps any lower-level failure (I/O, SQLite) with what we were doing.
    pub fn io(context: impl fmt::Display, err: impl fmt::Display) -> Self {
        Self::error(format!("{context}: {err}"))
    }
}

impl fmt::Display for GrytError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GrytError {}

impl From<CoreError> for GrytError {
    fn from(e: CoreError) -> Self {
        // Every domain rule violation is exit code 1; the kind only shapes the wording.
        let kind = match e.kind {
            CoreKind::Invalid
            | CoreKind::NotFound
            | CoreKind::AlreadyExists
            | CoreKind::Immutable
            | CoreKind::GateFailed
            | CoreKind::Forbidden => Kind::Error,
        };
        GrytError {
            kind,
            message: e.message,
            hint: e.hint,
        }
    }
}

impl From<rusqlite::Error> for GrytError {
    fn from(e: rusqlite::Error) -> Self {
        GrytError::error(format!("database error: {e}"))
    }
}
