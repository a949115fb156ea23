//! All terminal output goes through here: tables, JSON, messages, errors and colour.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use crate::error::GrytError;
use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub json: bool,
    pub quiet: bool,
    pub color: bool,
    pub tty: bool,
}

impl Ui {
    pub fn new(json: bool, quiet: bool, color_allowed: bool) -> Ui {
        let tty = std::io::stdout().is_terminal();
        Ui {
            json,
            quiet,
            color: tty && color_allowed,
            tty,
        }
    }

    /// Data the user asked for: always printed.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`gryt ... | head`) is not an error worth a panic.
        let _ = writeln!(out, "{text}");
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
            eprintln!("{text}");
        }
    }

    pub fn warn(&self, text: &str) {
        eprintln!("{} {text}", self.paint("Warning:", "33"));
    }

    pub fn json<T: Serialize>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => self.data(&s),
            Err(e) => self.error(&GrytError::error(format!("cannot render JSON: {e}"))),
        }
    }

    pub fn error(&self, e: &GrytError) {
        let color = self.color && std::io::stderr().is_terminal();
        let label = if color {
            "\x1b[31mError:\x1b[0m"
        } else {
            "Error:"
        };
        eprintln!("{label} {}", e.message);
        if let Some(h) = &e.hint {
            let label = if color {
                "\x1b[36mHint:\x1b[0m"
            } else {
                "Hint:"
            };
            eprintln!("{label} {h}");
        }
    }

    /// Wraps `text` in an ANSI colour when colour is on.
    pub fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Colours a status word: green for done/pass, yellow for pending, red for fail.
    pub fn status(&self, s: &str) -> String {
        let code = match s {
            "promoted" | "pass" | "synced" | "proven" | "yes" => "32",
            "fail" | "failed" | "conflict" | "timed_out" | "no" => "31",
            "draft" | "pending" | "running" | "not_synced" | "syncing" => "33",
            _ => return s.to_string(),
        };
        self.paint(s, code)
    }

    pub fn table(&self, header: &[&str]) -> Table {
        let mut t = Table::new();
        t.load_style(if self.tty {
            presets::UTF8_HORIZONTAL_ONLY
        } else {
            presets::NOTHING
        });
        t.set_content_arrangement(if self.tty {
            ContentArrangement::Dynamic
        } else {
            ContentArrangement::Disabled
        });
        if !self.color {
            t.force_no_tty();
        }
        t.set_header(header.iter().copied());
        t
    }

    pub fn print_table(&self, t: &Table) {
        self.data(&t.to_string());
    }
}
