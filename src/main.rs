//! gryt: contract-based releases. `main` parses the command line, runs the command and
//! turns its outcome into the documented exit code.

mod autosync;
mod cli;
mod cloud;
mod config;
mod context;
mod contracts;
mod error;
mod fsutil;
mod git;
mod ops;
mod pipeline;
mod remote;
mod repo;
mod store;
mod sync;
mod syncstore;
mod ui;
mod yaml;

use clap::Parser;
use context::Context;
use error::GrytError;

fn main() {
    std::process::exit(real_main());
}

fn real_main() -> i32 {
    let env = config::Env::from_process();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (2).
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let ui = ui::Ui::new(cli.json, cli.quiet, env.color_allowed());
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            ui.error(&GrytError::error(format!(
                "cannot read the current directory: {e}"
            )));
            return 1;
        }
    };
    let cwd = match cli.directory {
        Some(d) if d.is_absolute() => d,
        Some(d) => cwd.join(d),
        None => cwd,
    };
    let ctx = Context { env, ui, cwd };
    match cli::dispatch(&ctx, cli.command) {
        Ok(code) => code,
        Err(e) => {
            ui.error(&e);
            e.kind.exit_code()
        }
    }
}
