//! Command-line parsing and dispatch. One file per command group; each file holds the
//! argument structs (whose doc comments are the help text) and its `cmd_*` functions.

pub mod check;
pub mod cloud;
pub mod config;
#[cfg(feature = "server")]
pub mod demo;
pub mod evolution;
pub mod generation;
pub mod init;
pub mod promote;
pub mod render;
pub mod run;
pub mod sync;
pub mod team;

use crate::context::Context;
use crate::error::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// gryt: contract-based releases. A generation is a release contract (a version and the
/// changes it must deliver); an evolution is one proof of one change; a generation is
/// promoted once every change is proven.
#[derive(Debug, Parser)]
#[command(name = "gryt", version, max_term_width = 100)]
pub struct Cli {
    /// Run as if gryt was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Print machine-readable JSON (read commands and results).
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only results and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Fail a command that succeeded when its automatic sync could not deliver (exit 4
    /// unreachable, 3 needs attention) instead of noting that the work is kept pending.
    #[arg(
        long,
        global = true,
        env = "GRYT_STRICT_SYNC",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub strict_sync: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a gryt repository (.gryt/) in PATH or the current directory.
    Init(init::InitArgs),
    /// Define and inspect release contracts.
    #[command(subcommand, visible_alias = "gen")]
    Generation(generation::GenerationCommand),
    /// Start, list and complete proofs of changes.
    #[command(subcommand, visible_alias = "evo")]
    Evolution(evolution::EvolutionCommand),
    /// Run a pipeline from .gryt/pipelines/ and record its result on an evolution.
    Run(run::RunArgs),
    /// Promote a generation whose every change is proven (final; tags it in git).
    Promote(promote::PromoteArgs),
    /// Show or set configuration.
    Config(config::ConfigArgs),
    /// Accounts on the gryt server: signup, login, logout, whoami, API keys.
    #[command(subcommand)]
    Cloud(cloud::CloudCommand),
    /// Teams on the gryt server.
    #[command(subcommand)]
    Team(team::TeamCommand),
    /// Sync with the gryt server: pull, push, status, push-evolutions, log, resolve, watch.
    #[command(subcommand)]
    Sync(sync::SyncCommand),
    /// Check contract and pipeline files (for pre-commit hooks and CI); read-only.
    Check(check::CheckArgs),
    /// Run gryt's self-hostable sync server, or administer its database.
    #[cfg(feature = "server")]
    Server(gryt_server::cli::ServerArgs),
    /// Walk through gryt end to end in a temporary directory, printing every command.
    #[cfg(feature = "server")]
    Demo(demo::DemoArgs),
}

/// What automatic sync a command needs (see ops/autosync.rs).
fn hook_of(command: &Command) -> crate::ops::autosync::Hook {
    use crate::ops::autosync::Hook;
    use evolution::EvolutionCommand as E;
    use generation::GenerationCommand as G;
    let read = Hook {
        pre_pull: true,
        writes: false,
        evolution_result: false,
    };
    let write = Hook {
        pre_pull: true,
        writes: true,
        evolution_result: false,
    };
    match command {
        Command::Generation(G::List | G::Show(_) | G::Export(_)) => read,
        Command::Generation(G::Promote(_)) => Hook::NONE,
        Command::Generation(_) => write,
        Command::Evolution(E::List(_) | E::Show(_)) => read,
        Command::Evolution(E::Start(_)) => write,
        Command::Evolution(E::Complete(_) | E::Cancel(_)) | Command::Run(_) => Hook {
            evolution_result: true,
            ..write
        },
        _ => Hook::NONE,
    }
}

pub fn dispatch(ctx: &Context, command: Command) -> Result<()> {
    let hook = hook_of(&command);
    crate::ops::autosync::before(ctx, hook);
    let result = run_command(ctx, command);
    crate::ops::autosync::after(ctx, hook, result)
}

fn run_command(ctx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Init(args) => init::cmd_init(ctx, args),
        Command::Generation(cmd) => generation::dispatch(ctx, cmd),
        Command::Evolution(cmd) => evolution::dispatch(ctx, cmd),
        Command::Run(args) => run::cmd_run(ctx, args),
        Command::Promote(args) => promote::cmd_promote(ctx, args),
        Command::Config(args) => config::cmd_config(ctx, args),
        #[cfg(feature = "server")]
        Command::Demo(args) => demo::cmd_demo(ctx, args),
        Command::Check(args) => check::cmd_check(ctx, args),
        Command::Cloud(cmd) => cloud::dispatch(ctx, cmd),
        Command::Team(cmd) => team::dispatch(ctx, cmd),
        Command::Sync(cmd) => sync::dispatch(ctx, cmd),
        #[cfg(feature = "server")]
        Command::Server(mut args) => {
            args.json = ctx.ui.json;
            match gryt_server::cli::run(args) {
                Ok(0) => Ok(()),
                // The server's commands report their own outcome; a non-zero code is a
                // failure, 2 a usage one (`backup` of a PostgreSQL database: pg_dump's work).
                Ok(2) => Err(crate::error::CliError::exit(crate::error::Kind::Usage)),
                Ok(_) => Err(crate::error::CliError::exit(crate::error::Kind::Error)),
                Err(e) => Err(crate::error::CliError::error(format!("{e:#}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
