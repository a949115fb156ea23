//! The pager for long human output on a terminal, like git's: the plan is decided at
//! start-up ([`super::term::pager_plan`]), a command that prints a listing asks for it
//! ([`super::Ui::page`]), and the pager starts with the first line written. `less` gets
//! `LESS=FRX` (unless `LESS` is set), so output that fits on one screen is simply printed.
//! A pager that cannot be started leaves the output on stdout.

use super::term::PagerPlan;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

struct State {
    plan: Option<PagerPlan>,
    armed: bool,
    child: Option<Child>,
}

static STATE: Mutex<State> = Mutex::new(State {
    plan: None,
    armed: false,
    child: None,
});

/// The pager this process may use (none: never page).
pub fn configure(plan: Option<PagerPlan>) {
    if let Ok(mut s) = STATE.lock() {
        s.plan = plan;
    }
}

/// Output from now on goes through the pager, if there is one.
pub fn arm() {
    if let Ok(mut s) = STATE.lock() {
        s.armed = s.plan.is_some();
    }
}

/// Writes one line: to the pager when one is armed (started on first use), else to stdout.
pub fn write_line(text: &str) {
    if let Ok(mut s) = STATE.lock() {
        if s.armed && s.child.is_none() {
            s.armed = false;
            s.child = s.plan.as_ref().and_then(start);
        }
        if let Some(stdin) = s.child.as_mut().and_then(|c| c.stdin.as_mut()) {
            // The user may quit the pager before the end: a closed pipe is no error.
            let _ = writeln!(stdin, "{text}");
            return;
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Closes the pager's input and waits for the user to leave it.
pub fn finish() {
    let child = STATE.lock().ok().and_then(|mut s| s.child.take());
    if let Some(mut c) = child {
        drop(c.stdin.take());
        let _ = c.wait();
    }
}

/// Whether `command` needs a shell (quotes, variables, pipes...) rather than being a
/// program and plain arguments.
fn needs_shell(command: &str) -> bool {
    command
        .chars()
        .any(|c| "\"'\\$`|&;<>()*?[]{}~#=".contains(c))
}

/// Starts the pager; `None` when it cannot be started.
fn start(plan: &PagerPlan) -> Option<Child> {
    let mut cmd = if needs_shell(&plan.command) {
        let mut c = Command::new("sh");
        c.arg("-c").arg(&plan.command);
        c
    } else {
        // Started directly, so a missing program is known here and the output falls
        // back to stdout instead of vanishing into a shell that could not find it.
        let mut words = plan.command.split_whitespace();
        let mut c = Command::new(words.next()?);
        c.args(words);
        c
    };
    if let Some(less) = plan.less_env {
        cmd.env("LESS", less);
    }
    cmd.stdin(Stdio::piped()).spawn().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_commands_start_without_a_shell() {
        assert!(!needs_shell("less"));
        assert!(!needs_shell("less -S"));
        assert!(needs_shell("less | tee x"));
        assert!(needs_shell("PAGER_OPT=1 less"));
        assert!(needs_shell("\"my pager\""));
    }

    #[test]
    fn a_missing_pager_is_not_started() {
        let plan = PagerPlan {
            command: "gryt-no-such-pager-program".into(),
            less_env: None,
        };
        assert!(start(&plan).is_none());
    }
}
