//! All terminal output goes through here: tables, JSON, messages, errors and colour.
//!
//! Human output never carries a control character it did not put there itself: text from
//! records (titles, descriptions, names, a server's answers) may hold escape sequences, and
//! every human path ([`Ui::data`], [`Ui::info`], [`Ui::note`], [`Ui::warn`], [`Ui::error`]) renders
//! them visibly with [`visible`] (`ESC` as `^[`, BEL as `^G`, C1 and bidirectional-override
//! characters as `\u{..}`); only gryt's own colour codes pass, and only when colour is on.
//! Pipeline step output ([`Ui::step_output`]) also keeps the steps' colour codes (SGR) and
//! renders everything else visibly. JSON output is printed exactly (JSON escapes control
//! characters itself).
//!
//! With `--json`, a command's JSON document is held until the command ends ([`Ui::finish`]),
//! so a failure can be reported in the same document: `{"error": {"kind", "message", "hint",
//! "exit_code"}}` on its own, or beside what the command had already reported.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod pager;
pub mod progress;
pub mod prompt;
pub mod table;
pub mod term;
pub mod time;

use crate::error::CliError;
use serde::Serialize;
use std::borrow::Cow;

use std::sync::Mutex;

/// The JSON document of this command, printed by [`Ui::finish`].
static PENDING_JSON: Mutex<Option<String>> = Mutex::new(None);

/// The SGR codes gryt itself paints with (bold, red, green, yellow, cyan, reset).
const OWN_SGR: [&str; 6] = ["1", "31", "32", "33", "36", "0"];

/// Which escape sequences [`visible`] lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// None: every control character is rendered visibly.
    Nothing,
    /// gryt's own colour codes (`ESC [ 1|31|32|33|36|0 m`).
    OwnColours,
    /// Any SGR (colour/style) sequence `ESC [ digits;... m`, as test tools print them.
    AnyColour,
}

/// Renders control characters visibly: C0 controls and DEL in caret notation (`^[`, `^G`,
/// `^?`), C1 controls, bidirectional overrides and zero-width characters as `\u{..}`.
/// Newlines and tabs stay. `keep` says which colour sequences pass unchanged.
pub fn visible(text: &str, keep: Keep) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\u{1b}' {
            if let Some(len) = sgr_len(rest, keep) {
                out.push_str(&rest[..len]);
                rest = &rest[len..];
                continue;
            }
        }
        if needs_escape(c) {
            match c {
                '\0'..='\u{1f}' => {
                    out.push('^');
                    out.push(char::from(c as u8 + 0x40));
                }
                '\u{7f}' => out.push_str("^?"),
                _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// The length of the SGR sequence at the start of `s` when `keep` lets it through.
fn sgr_len(s: &str, keep: Keep) -> Option<usize> {
    if keep == Keep::Nothing {
        return None;
    }
    let body = s.strip_prefix("\u{1b}[")?;
    let end = body.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
    if !body[end..].starts_with('m') || end > 32 {
        return None;
    }
    let params = &body[..end];
    if keep == Keep::OwnColours && !OWN_SGR.contains(&params) {
        return None;
    }
    Some(2 + end + 1)
}

#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub json: bool,
    pub quiet: bool,
    /// Colour on stdout.
    pub color: bool,
    /// Colour on stderr (messages, errors, hints).
    pub color_err: bool,
    /// Stdout is a terminal.
    pub tty: bool,
    /// The width tables wrap to (`COLUMNS`, else the terminal's); none: no wrapping.
    pub width: Option<u16>,
}

impl Ui {
    /// The output of this process: `--json`, `--quiet`, `--color`, the terminal variables
    /// (read by the caller) and what the streams are.
    pub fn new(
        json: bool,
        quiet: bool,
        choice: term::ColorChoice,
        env: &term::TermEnv,
        terminal: term::Terminal,
    ) -> Ui {
        Ui {
            json,
            quiet,
            color: term::color_enabled(choice, env, terminal.stdout),
            color_err: term::color_enabled(choice, env, terminal.stderr),
            tty: terminal.stdout,
            width: term::table_width(env, terminal.width),
        }
    }

    /// Human output from here on goes through the pager, when one is configured (a
    /// terminal, not `--json`, not `--no-pager`).
    pub fn page(&self) {
        if !self.json {
            pager::arm();
        }
    }

    /// What passes [`visible`] in gryt's own human output.
    fn keep(&self) -> Keep {
        if self.color {
            Keep::OwnColours
        } else {
            Keep::Nothing
        }
    }

    /// Data the user asked for: always printed (control characters rendered visibly).
    pub fn data(&self, text: &str) {
        raw_stdout(&visible(text, self.keep()));
    }

    /// A document gryt generated itself (a completion script, a man page): printed exactly,
    /// even with --quiet.
    pub fn document(&self, text: &str) {
        raw_stdout(text.strip_suffix('\n').unwrap_or(text));
    }

    /// A line of a pipeline step's output, on stdout (`to_stderr` false) or stderr: the
    /// step's colour codes pass, other control characters are rendered visibly.
    pub fn step_output(&self, text: &str, to_stderr: bool) {
        let text = visible(text, Keep::AnyColour);
        if to_stderr {
            eprintln!("{text}");
        } else {
            raw_stdout(&text);
        }
    }

    /// A status message: suppressed by --quiet and in JSON mode.
    pub fn info(&self, text: &str) {
        if !self.quiet && !self.json {
            self.data(text);
        }
    }

    /// A message on stderr that is not an error (streamed pipeline output, warnings).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{}", visible(text, self.keep()));
        }
    }

    /// `Note: TEXT` on stderr, even with --quiet: something the user should know that is
    /// not an error (work kept pending).
    pub fn notice(&self, text: &str) {
        eprintln!(
            "{} {}",
            self.paint_err("Note:", "36"),
            visible(text, Keep::Nothing)
        );
    }

    pub fn warn(&self, text: &str) {
        eprintln!(
            "{} {}",
            self.paint_err("Warning:", "33"),
            visible(text, Keep::Nothing)
        );
    }

    /// A command's JSON document: held until [`Ui::finish`] prints it (a second document
    /// first prints the one before).
    pub fn json<T: Serialize>(&self, value: &T) {
        let rendered = serde_json::to_string_pretty(value).map(time::normalize_json);
        match rendered {
            Ok(s) => {
                let previous = match PENDING_JSON.lock() {
                    Ok(mut slot) => slot.replace(s),
                    Err(_) => Some(s),
                };
                if let Some(p) = previous {
                    raw_stdout(&p);
                }
            }
            Err(e) => self.error(&CliError::error(format!("cannot render JSON: {e}"))),
        }
    }

    /// The end of a command: prints its JSON document, and its error (as
    /// `{"error": {...}}` on stdout with `--json`, merged into the document when there is
    /// one; as `Error:`/`Hint:` lines on stderr always).
    pub fn finish(&self, error: Option<&CliError>) {
        let pending = PENDING_JSON.lock().ok().and_then(|mut slot| slot.take());
        match (error, self.json) {
            (None, _) | (Some(_), false) => {
                if let Some(p) = pending {
                    raw_stdout(&p);
                }
            }
            (Some(e), true) => {
                let mut doc = pending
                    .as_deref()
                    .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
                    .filter(|v| v.is_object() && v.get("error").is_none())
                    .unwrap_or_else(|| {
                        if let Some(p) = &pending {
                            raw_stdout(p);
                        }
                        serde_json::json!({})
                    });
                doc["error"] = e.to_json();
                match serde_json::to_string_pretty(&doc) {
                    Ok(s) => raw_stdout(&s),
                    Err(_) => raw_stdout(&e.to_json().to_string()),
                }
            }
        }
        if let Some(e) = error {
            self.error(e);
        }
    }

    /// An error on stderr: `Error: MESSAGE` and, when there is one, `Hint: HINT`.
    pub fn error(&self, e: &CliError) {
        let color = self.color_err;
        let label = if color {
            "\x1b[31mError:\x1b[0m"
        } else {
            "Error:"
        };
        eprintln!("{label} {}", visible(&e.message, Keep::Nothing));
        for h in &e.hints {
            let label = if color {
                "\x1b[36mHint:\x1b[0m"
            } else {
                "Hint:"
            };
            eprintln!("{label} {}", visible(h, Keep::Nothing));
        }
    }

    /// Wraps `text` in an ANSI colour when colour is on.
    pub fn paint(&self, text: &str, code: &str) -> String {
        paint(self.color, text, code)
    }

    /// [`Ui::paint`] for text on stderr.
    fn paint_err(&self, text: &str, code: &str) -> String {
        paint(self.color_err, text, code)
    }

    /// Colours a status word: green for done/pass, yellow for pending, red for fail.
    pub fn status(&self, s: &str) -> String {
        match status_color(s) {
            Some(c) => self.paint(s, c.sgr()),
            None => s.to_string(),
        }
    }

    /// A table cell holding a status word, coloured like [`Ui::status`].
    pub fn status_cell(&self, s: &str) -> table::Cell {
        table::Cell::colored(s, status_color(s))
    }

    /// A table laid out for this output (the terminal's width, colour, rules on a terminal).
    pub fn table(&self, header: &[&str]) -> table::Table {
        table::Table::new(
            table::Layout {
                width: self.width,
                color: self.color,
                rules: self.tty,
            },
            header,
        )
    }

    /// Prints a table (through the pager on a terminal).
    pub fn print_table(&self, t: &table::Table) {
        self.page();
        // Cell text was made visible before it was measured; the colour codes are the
        // table's own.
        raw_stdout(&t.render());
    }

    /// A time for a human table: relative to now ("3 minutes ago").
    pub fn when(&self, at: &str, now: chrono::DateTime<chrono::Utc>) -> String {
        time::ago(at, now)
    }
}

fn paint(on: bool, text: &str, code: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The colour of a status word, if it has one.
fn status_color(s: &str) -> Option<table::Color> {
    use table::Color::*;
    match s {
        "promoted" | "pass" | "synced" | "proven" | "yes" | "active" => Some(Green),
        "fail" | "failed" | "conflict" | "timed_out" | "no" | "revoked" => Some(Red),
        "draft" | "pending" | "running" | "not_synced" | "syncing" | "cancelled" => Some(Yellow),
        _ => None,
    }
}

impl table::Color {
    /// The SGR code of [`Ui::paint`] (one of gryt's own, which [`visible`] lets through).
    fn sgr(self) -> &'static str {
        match self {
            table::Color::Green => "32",
            table::Color::Red => "31",
            table::Color::Yellow => "33",
        }
    }
}

/// `n` and the noun in the right number: "1 change", "2 changes", "0 changes".
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `{"error": {...}}` on stdout, for errors found before a command could start.
pub fn print_json_error(e: &CliError) {
    let doc = serde_json::json!({ "error": e.to_json() });
    raw_stdout(&serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string()));
}

/// Writes a line to stdout as it is. A closed pipe (`gryt ... | head`) is not an error worth
/// a panic.
fn raw_stdout(text: &str) {
    pager::write_line(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(plural(1u32, "change", "changes"), "1 change");
        assert_eq!(plural(0u32, "change", "changes"), "0 changes");
        assert_eq!(plural(2u64, "request", "requests"), "2 requests");
    }

    #[test]
    fn control_characters_are_rendered_visibly() {
        assert_eq!(visible("plain text", Keep::Nothing), "plain text");
        assert!(matches!(visible("plain", Keep::Nothing), Cow::Borrowed(_)));
        assert_eq!(
            visible("a\u{1b}]0;pwned\u{7}b", Keep::Nothing),
            "a^[]0;pwned^Gb"
        );
        assert_eq!(visible("x\ry\u{7f}", Keep::Nothing), "x^My^?");
        assert_eq!(
            visible("two\nlines\tand tab", Keep::Nothing),
            "two\nlines\tand tab"
        );
        assert_eq!(visible("\u{9b}31m", Keep::Nothing), "\\u{9b}31m");
        assert_eq!(visible("abc\u{202e}fed", Keep::Nothing), "abc\\u{202e}fed");
        assert_eq!(visible("\0", Keep::Nothing), "^@");
    }

    #[test]
    fn colour_sequences_pass_only_when_kept() {
        let red = "\u{1b}[31mfail\u{1b}[0m";
        assert_eq!(visible(red, Keep::OwnColours), red);
        assert_eq!(visible(red, Keep::Nothing), "^[[31mfail^[[0m");
        // Colours gryt does not use, cursor movement and screen clearing are not kept.
        assert_eq!(visible("\u{1b}[8mhidden", Keep::OwnColours), "^[[8mhidden");
        assert_eq!(visible("\u{1b}[2J", Keep::AnyColour), "^[[2J");
        assert_eq!(visible("\u{1b}[1;32mok", Keep::AnyColour), "\u{1b}[1;32mok");
        assert_eq!(visible("\u{1b}[", Keep::AnyColour), "^[[");
        assert_eq!(visible("\u{1b}", Keep::AnyColour), "^[");
    }
}
