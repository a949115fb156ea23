//! The CLI's error type: a kind (which decides the exit code), a message and a hint, and the
//! exit-code table itself ([`EXIT_CODES`]; README "Exit codes" and docs/cli.md show it).

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
    /// Sync needs attention: conflict, refused work, version taken.
    Attention,
    #[allow(dead_code)]
    /// The cloud could not be reached; work was kept pending.
    Unreachable,
    /// `gryt run` was stopped by this signal (SIGINT 2, SIGTERM 15).
    Interrupted(i32),
}

/// The exit-code table: (code, kind, meaning). The same in every execution mode; README
/// "Exit codes" and docs/cli.md carry it (a test checks they match).
pub const EXIT_CODES: &[(&str, &str, &str)] = &[
    (
        "0",
        "-",
        "done: the command's own work succeeded (for `gryt run`: the pipeline passed). Work \
         automatic sync could not deliver is kept pending and a `Note:` on stderr says so",
    ),
    (
        "1",
        "error",
        "a rule (immutable, duplicate, bad version or id), not found, gate failed, pipeline \
         failed, I/O",
    ),
    (
        "2",
        "usage",
        "the command line is wrong, or names nothing unambiguously",
    ),
    (
        "3",
        "attention",
        "sync needs attention: conflict, work the server refused, version taken (from `sync` \
         commands and cloud-first `promote`; from any command with `--strict-sync`; behind \
         only with `sync status --exit-code`)",
    ),
    (
        "4",
        "unreachable",
        "the cloud could not be reached, work kept pending (from commands that need the \
         server; from any command with `--strict-sync`)",
    ),
    (
        "130, 143",
        "interrupted",
        "`gryt run` stopped by SIGINT (Ctrl-C) or SIGTERM: the run is recorded as cancelled, \
         the evolution stays open",
    ),
];

/// [`EXIT_CODES`] as a Markdown table (as README and docs/cli.md show it).
#[cfg(test)]
pub fn exit_code_table() -> String {
    let mut t = String::from("| code | kind | meaning |\n| --- | --- | --- |\n");
    for (code, kind, meaning) in EXIT_CODES {
        t.push_str(&format!("| {code} | {kind} | {meaning} |\n"));
    }
    t
}

/// [`EXIT_CODES`] as plain text, for `gryt --help`.
pub fn exit_code_help() -> String {
    let mut t = String::from("Exit codes (the same in every mode):\n");
    for (code, _, meaning) in EXIT_CODES {
        t.push_str(&format!("  {code:<9}{meaning}\n"));
    }
    t
}

impl Kind {
    /// The exit code of each kind (the one mapping; see [`EXIT_CODES`]).
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Error => 1,
            Kind::Usage => 2,
            Kind::Attention => 3,
            Kind::Unreachable => 4,
            Kind::Interrupted(signal) => 128 + signal,
        }
    }

    /// The kind's name in `{"error": {"kind": ...}}` and [`EXIT_CODES`].
    pub fn name(self) -> &'static str {
        match self {
            Kind::Error => "error",
            Kind::Usage => "usage",
            Kind::Attention => "attention",
            Kind::Unreachable => "unreachable",
            Kind::Interrupted(_) => "interrupted",
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

    /// `{"kind", "message", "hint", "exit_code"}`: the error under `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind.name(),
            "message": self.message,
            "hint": self.hint,
            "exit_code": self.kind.exit_code(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_a_row_of_the_table() {
        for kind in [
            Kind::Error,
            Kind::Usage,
            Kind::Attention,
            Kind::Unreachable,
            Kind::Interrupted(2),
            Kind::Interrupted(15),
        ] {
            let code = kind.exit_code().to_string();
            assert!(
                EXIT_CODES
                    .iter()
                    .any(|(c, k, _)| *k == kind.name() && c.split(", ").any(|x| x == code)),
                "{kind:?}"
            );
        }
        assert_eq!(Kind::Interrupted(2).exit_code(), 130);
        assert_eq!(Kind::Interrupted(15).exit_code(), 143);
    }

    #[test]
    fn the_docs_show_the_table() {
        let table = exit_code_table();
        for (name, text) in [
            ("README.md", include_str!("../README.md")),
            ("docs/cli.md", include_str!("../docs/cli.md")),
        ] {
            assert!(
                text.contains(&table),
                "{name} does not hold the exit-code table; it should read:\n{table}"
            );
        }
    }

    #[test]
    fn json_errors_carry_kind_message_hint_and_code() {
        let e = GrytError::new(Kind::Unreachable, "no server").hint("later");
        assert_eq!(
            e.to_json(),
            serde_json::json!({"kind": "unreachable", "message": "no server", "hint": "later", "exit_code": 4})
        );
        assert_eq!(
            GrytError::usage("bad").to_json()["hint"],
            serde_json::Value::Null
        );
    }
}
