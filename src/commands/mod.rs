//! Command-line parsing and dispatch. One file per command group; each file holds the
//! argument structs (whose doc comments are the help text) and its `cmd_*` functions.

pub mod check;
pub mod cloud;
pub mod completions;
pub mod config;
#[cfg(feature = "server")]
pub mod demo;
pub mod evolution;
pub mod generation;
pub mod init;
pub mod man;
pub mod promote;
pub mod render;
pub mod run;
pub mod sync;
pub mod team;

use crate::context::Context;
use crate::error::Result;
use clap::{CommandFactory, Parser, Subcommand};
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
    /// When to colour output: auto (on a terminal, unless NO_COLOR or CLICOLOR=0 say
    /// otherwise, or CLICOLOR_FORCE forces it), always, never.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: crate::ui::term::ColorChoice,
    /// Never send output through a pager (GRYT_PAGER, PAGER, default `less`).
    #[arg(long, global = true)]
    pub no_pager: bool,
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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Write man pages (gryt.1 and one per subcommand) to DIR, or print gryt.1.
    Man(man::ManArgs),
}

/// The whole command line definition, with the exit codes at the end of `--help`.
pub fn cli_command() -> clap::Command {
    Cli::command().after_long_help(crate::error::exit_code_help())
}

/// A value parser that lists its values (in help, completions and man pages) but takes any
/// text, so the rule that checks the value (in gryt-core) refuses a wrong one with its own
/// message, hint and exit code.
#[derive(Debug, Clone)]
pub struct Listed(Vec<&'static str>);

pub fn listed<const N: usize>(values: [&'static str; N]) -> Listed {
    Listed(values.to_vec())
}

impl clap::builder::TypedValueParser for Listed {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            self.0.iter().map(|v| clap::builder::PossibleValue::new(*v)),
        ))
    }
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
        Command::Completions(args) => completions::cmd_completions(ctx, args),
        Command::Man(args) => man::cmd_man(ctx, args),
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

    /// Every argument and option of every command (`gryt server`'s too) that is not hidden,
    /// and every command, has a description.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            // clap's derive gives an argument without a doc comment an empty help text.
            let said = |h: Option<&clap::builder::StyledStr>| {
                h.is_some_and(|h| !h.to_string().trim().is_empty())
            };
            let path = format!("{path} {}", cmd.get_name());
            if !said(cmd.get_about()) && !said(cmd.get_long_about()) {
                missing.push(format!("{path} (the command)"));
            }
            for arg in cmd.get_arguments() {
                let auto = matches!(
                    arg.get_action(),
                    clap::ArgAction::Help
                        | clap::ArgAction::HelpShort
                        | clap::ArgAction::HelpLong
                        | clap::ArgAction::Version
                );
                if !auto
                    && !arg.is_hide_set()
                    && !said(arg.get_help())
                    && !said(arg.get_long_help())
                {
                    missing.push(format!("{path}: {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut cmd = cli_command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, "", &mut missing);
        #[cfg(feature = "server")]
        assert!(
            cmd.find_subcommand("server")
                .is_some_and(|s| s.get_subcommands().count() > 0),
            "the walk covers `gryt server`'s subcommands"
        );
        assert!(
            missing.is_empty(),
            "without help text:\n{}",
            missing.join("\n")
        );
    }

    /// Options that take one of a fixed set of values list them.
    #[test]
    fn enumerated_options_list_their_values() {
        let cmd = cli_command();
        let values = |path: &[&str], arg: &str| -> Vec<String> {
            let mut c = &cmd;
            for p in path {
                c = c.find_subcommand(p).expect("a subcommand");
            }
            let a = c
                .get_arguments()
                .find(|a| a.get_id() == arg)
                .expect("the argument");
            a.get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect()
        };
        assert_eq!(
            values(&["generation", "add-change"], "change_type"),
            ["add", "fix", "refine", "remove"]
        );
        assert_eq!(
            values(&["evolution", "complete"], "status"),
            ["pass", "fail"]
        );
        assert_eq!(values(&[], "color"), ["auto", "always", "never"]);
        assert_eq!(
            values(&["completions"], "shell"),
            ["bash", "elvish", "fish", "powershell", "zsh"]
        );
    }
}
