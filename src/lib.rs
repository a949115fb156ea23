//! gryt: contract-based releases, as a library. The `gryt` binary (src/main.rs) calls
//! [`run`]; fuzz targets and tests use the modules directly instead of including sources.
//!
//! Layers (docs/architecture.md, "CLI modules"): commands parse arguments and render; ops
//! hold the use cases; the store holds the SQL; the client holds the HTTP; ui holds output.

// Environment, working-directory and wall-clock reads live in config/env.rs only (clippy.toml
// lists the methods; the workspace allows them elsewhere, e.g. in tests and the server).
#![warn(clippy::disallowed_methods)]

mod client;
mod commands;
mod config;
mod context;
mod contracts;
pub mod error;
mod fsutil;
mod git;
mod ops;
mod pipeline;
mod repo;
pub mod store;
mod ui;
pub mod yaml;

#[cfg(test)]
mod layering;

use clap::FromArgMatches;
use context::Context;
use error::CliError;

/// Parses the command line, runs the command and returns the documented exit code.
pub fn run() -> i32 {
    let env = config::Env::from_process();
    let cli = match commands::cli_command()
        .try_get_matches()
        .and_then(|m| commands::Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (2);
            // with --json a usage error is also the JSON error object on stdout.
            if e.use_stderr() && json_requested() {
                let (message, hint) = clap_message(&e.to_string());
                let mut err = CliError::usage(message);
                if !hint.is_empty() {
                    err = err.hint(hint);
                }
                ui::print_json_error(&err);
            }
            let _ = e.print();
            return if e.use_stderr() {
                error::Kind::Usage.exit_code()
            } else {
                0
            };
        }
    };
    let terminal = ui::term::Terminal::detect();
    let term_env = env.term();
    let ui = ui::Ui::new(cli.json, cli.quiet, cli.color, &term_env, terminal);
    ui::pager::configure(ui::term::pager_plan(
        &term_env,
        cli.json,
        cli.no_pager,
        terminal.stdout,
    ));
    let cwd = match config::process_current_dir() {
        Ok(d) => d,
        Err(e) => {
            let e = CliError::error(format!("cannot read the current directory: {e}"));
            ui.finish(Some(&e));
            return e.exit_code();
        }
    };
    let cwd = match cli.directory {
        Some(d) if d.is_absolute() => d,
        Some(d) => cwd.join(d),
        None => cwd,
    };
    let ctx = Context {
        env,
        ui,
        cwd,
        strict_sync: cli.strict_sync,
    };
    let code = match commands::dispatch(&ctx, cli.command) {
        Ok(()) => {
            ui.finish(None);
            0
        }
        Err(e) => {
            // A command that reported its own outcome adds no error message.
            ui.finish((!e.reported).then_some(&e));
            e.exit_code()
        }
    };
    ui::pager::finish();
    code
}

/// Whether `--json` is among the arguments (before a `--`), for errors clap found before
/// the command line could be parsed.
fn json_requested() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// Splits clap's rendered error into its first paragraph (without `error: `) and the rest,
/// each on one line.
fn clap_message(rendered: &str) -> (String, String) {
    let text = rendered.trim();
    let text = text.strip_prefix("error: ").unwrap_or(text);
    let (first, rest) = text.split_once("\n\n").unwrap_or((text, ""));
    let one_line = |s: &str| {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    (one_line(first), one_line(rest))
}
