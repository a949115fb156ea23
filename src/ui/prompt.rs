//! Prompts: questions on stderr, answers from standard input.

use crate::error::{CliError, Result};
use std::io::{BufRead, IsTerminal, Write};

/// Writes a prompt on stderr (never stdout: stdout is for results).
fn prompt(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{text}");
    let _ = err.flush();
}

/// Turns terminal echo on or off through `stty` (no unsafe code, no extra dependency).
fn set_echo(on: bool) -> bool {
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Reads one line from standard input: with a prompt and no echo on a terminal, silently
/// otherwise (`--password-stdin`, pipes). The trailing newline is removed.
pub fn read_line(label: &str, hidden: bool) -> Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        prompt(&format!("{label}: "));
    }
    let echo_off = tty && hidden && set_echo(false);
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if echo_off {
        set_echo(true);
        prompt("\n");
    }
    let n = read.map_err(|e| CliError::io(format!("cannot read the {label}"), e))?;
    if n == 0 {
        return Err(CliError::usage(format!(
            "No {label} given: standard input is empty"
        )));
    }
    let value = line.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        return Err(CliError::usage(format!("The {label} is empty")));
    }
    Ok(value)
}
