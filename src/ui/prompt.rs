//! Prompts: questions on stderr, answers from standard input.

use crate::error::{CliError, Kind, Result};
use secrecy::SecretString;
use signal_hook::consts::SIGINT;
use std::io::{BufRead, ErrorKind, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Writes a prompt on stderr (never stdout: stdout is for results).
fn prompt(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{text}");
    let _ = err.flush();
}

/// Reads a line typed on the terminal without echo, through rpassword (termios, restored
/// when the read ends). rpassword reads Ctrl-C as a key and raises SIGINT while the terminal
/// is still without echo; a handler that only records the signal lets it restore the
/// terminal first, and the command then ends as interrupted (exit 130).
fn read_hidden(label: &str) -> Result<String> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let handler = signal_hook::flag::register(SIGINT, Arc::clone(&interrupted)).ok();
    let read = rpassword::read_password();
    if let Some(id) = handler {
        signal_hook::low_level::unregister(id);
    }
    let cancelled = matches!(&read, Err(e) if e.kind() == ErrorKind::Interrupted);
    if cancelled || interrupted.load(Ordering::SeqCst) {
        return Err(CliError::new(
            Kind::Interrupted(SIGINT),
            format!("Interrupted while reading the {label}"),
        ));
    }
    match read {
        Ok(line) => Ok(line),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(String::new()),
        Err(e) => Err(CliError::io(format!("cannot read the {label}"), e)),
    }
}

/// Reads a password or secret (see [`read_line`], without echo): held as a [`SecretString`]
/// from here on, so it is never Debug-printed.
pub fn read_secret(label: &str) -> Result<SecretString> {
    read_line(label, true).map(SecretString::from)
}

/// Reads one line from standard input: with a prompt and no echo on a terminal, silently
/// otherwise (`--password-stdin`, pipes). The trailing newline is removed.
pub fn read_line(label: &str, hidden: bool) -> Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        prompt(&format!("{label}: "));
    }
    let line = if tty && hidden {
        let line = read_hidden(label)?;
        if line.is_empty() {
            return Err(CliError::usage(format!("The {label} is empty")));
        }
        line
    } else {
        let mut line = String::new();
        let n = stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::io(format!("cannot read the {label}"), e))?;
        if n == 0 {
            return Err(CliError::usage(format!(
                "No {label} given: standard input is empty"
            )));
        }
        line
    };
    let value = line.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        return Err(CliError::usage(format!("The {label} is empty")));
    }
    Ok(value)
}
