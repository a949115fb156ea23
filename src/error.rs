//! The CLI's one error type, [`CliError`]: a kind (which alone decides the exit code, in
//! [`Kind::exit_code`]), a message, hints, and the lower-level error it came from (its source
//! chain); and the exit-code table itself ([`EXIT_CODES`]; README "Exit codes" and
//! docs/cli.md show it). Commands return `Result<(), CliError>`: a command that has already
//! said everything and only needs a non-zero exit code returns [`CliError::exit`].

use crate::git::GitError;
use crate::pipeline::PipelineError;
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
         failed, I/O, a server certificate this machine does not trust",
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

/// The lower-level error a [`CliError`] came from.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    pub message: String,
    /// What the user can do, most specific first (git's or the pipeline runner's own hint
    /// before the command's); each is printed on a `Hint:` line.
    pub hints: Vec<String>,
    /// The error this one wraps, if any (see [`std::error::Error::source`]).
    source: Option<Source>,
    /// The command has already reported everything (its output says why): nothing more is
    /// printed, and only the exit code of `kind` remains.
    pub reported: bool,
}

pub type Result<T> = std::result::Result<T, CliError>;

impl CliError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
            hints: Vec::new(),
            source: None,
            reported: false,
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Kind::Error, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    /// A command that printed its whole outcome and exits with `kind`'s code (a failed
    /// pipeline, `gryt sync status` with conflicts): no error message follows.
    pub fn exit(kind: Kind) -> Self {
        CliError {
            reported: true,
            ..Self::new(kind, "")
        }
    }

    /// Adds a hint after those already there.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Replaces the hints with this one (when the caller knows the better next step).
    #[must_use]
    pub fn only_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints = vec![hint.into()];
        self
    }

    /// Keeps `source` as the error this one came from.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The exit code of this error (its kind's; see [`Kind::exit_code`]).
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }

    /// The hints as one line (JSON's `hint`), `None` when there is none.
    pub fn hint_text(&self) -> Option<String> {
        (!self.hints.is_empty()).then(|| self.hints.join(" "))
    }

    /// `{"kind", "message", "hint", "exit_code"}`: the error under `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind.name(),
            "message": self.message,
            "hint": self.hint_text(),
            "exit_code": self.exit_code(),
        })
    }

    /// Wraps any lower-level failure (I/O, SQLite) with what we were doing.
    pub fn io(context: impl fmt::Display, err: impl fmt::Display) -> Self {
        Self::error(format!("{context}: {err}"))
    }

    /// A failed git call (an `anyhow` error from git.rs): `message` names what failed; git's
    /// own hint (a [`GitError`]'s) comes first, and the git error is kept as the source.
    pub fn git(message: impl Into<String>, err: anyhow::Error) -> Self {
        let git_hint = err.downcast_ref::<GitError>().and_then(|g| g.hint.clone());
        let mut e = Self::error(message);
        if let Some(h) = git_hint {
            e = e.hint(h);
        }
        e.with_source(err)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<CoreError> for CliError {
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
        let mut out = CliError::new(kind, e.message);
        if let Some(h) = e.hint {
            out = out.hint(h);
        }
        out
    }
}

impl From<PipelineError> for CliError {
    fn from(e: PipelineError) -> Self {
        let mut out = CliError::error(e.message);
        if let Some(h) = e.hint {
            out = out.hint(h);
        }
        out
    }
}

impl From<rusqlite::Error> for CliError {
    fn from(e: rusqlite::Error) -> Self {
        CliError::error(format!("database error: {e}")).with_source(e)
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
    fn hints_keep_their_order_and_the_source_is_kept() {
        let git = anyhow::Error::new(crate::git::GitError {
            message: "git says no".into(),
            hint: Some("set user.email".into()),
        });
        let e = CliError::git("Tagging v1.0.0 failed", git).hint("or promote with --no-tag");
        assert_eq!(e.hints, vec!["set user.email", "or promote with --no-tag"]);
        assert_eq!(
            e.to_json()["hint"],
            serde_json::json!("set user.email or promote with --no-tag")
        );
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("git says no"));
        assert_eq!(CliError::exit(Kind::Attention).exit_code(), 3);
        assert!(CliError::exit(Kind::Error).reported);
    }

    #[test]
    fn json_errors_carry_kind_message_hint_and_code() {
        let e = CliError::new(Kind::Unreachable, "no server").hint("later");
        assert_eq!(
            e.to_json(),
            serde_json::json!({"kind": "unreachable", "message": "no server", "hint": "later", "exit_code": 4})
        );
        assert_eq!(
            CliError::usage("bad").to_json()["hint"],
            serde_json::Value::Null
        );
    }
}
