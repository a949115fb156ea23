//! `gryt completions SHELL`: the shell completion script, generated from the command
//! definition (clap_complete), so every command, option and listed value is completed.

use crate::context::Context;
use crate::error::{CliError, Result};
use clap::Args;
use clap_complete::Shell;

#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  source <(gryt completions bash)                       # this bash session
  gryt completions bash > ~/.local/share/bash-completion/completions/gryt
  gryt completions zsh > \"${fpath[1]}/_gryt\"
  gryt completions fish > ~/.config/fish/completions/gryt.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

pub fn cmd_completions(ctx: &Context, a: CompletionsArgs) -> Result<()> {
    let mut cmd = super::cli_command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "gryt", &mut script);
    let script = String::from_utf8(script)
        .map_err(|e| CliError::error(format!("the completion script is not UTF-8: {e}")))?;
    ctx.ui.document(&script);
    Ok(())
}
