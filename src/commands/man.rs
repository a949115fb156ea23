//! `gryt man [DIR]`: man pages generated from the command definition (clap_mangen): gryt.1
//! and one page per subcommand (gryt-generation-new.1, ...) in DIR, or gryt.1 on stdout.

use crate::context::Context;
use crate::error::{CliError, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  gryt man | man -l -                        # read gryt(1) now
  gryt man ~/.local/share/man/man1           # install every page for `man gryt-sync-pull`")]
pub struct ManArgs {
    /// Write gryt.1 and a page per subcommand into this directory (created if missing);
    /// without it, print gryt.1 to standard output.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

fn render(cmd: clap::Command) -> Result<(String, Vec<u8>)> {
    let man = clap_mangen::Man::new(cmd);
    let mut page = Vec::new();
    man.render(&mut page)
        .map_err(|e| CliError::error(format!("cannot render a man page: {e}")))?;
    Ok((man.get_filename(), page))
}

/// Every page: the command's own, then its subcommands' (hidden ones and `help` left out).
fn pages(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    out.push(render(cmd.clone())?);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, out)?;
    }
    Ok(())
}

fn the_command() -> clap::Command {
    let mut cmd = super::cli_command().disable_help_subcommand(true);
    // Subcommands get their full names (gryt-generation-new) as the pages' titles.
    cmd.build();
    cmd
}

pub fn cmd_man(ctx: &Context, a: ManArgs) -> Result<()> {
    let cmd = the_command();
    let Some(dir) = a.dir else {
        let (_, page) = render(cmd)?;
        ctx.ui.document(&String::from_utf8_lossy(&page));
        return Ok(());
    };
    let dir = if dir.is_absolute() {
        dir
    } else {
        ctx.cwd.join(dir)
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::io(format!("cannot create {}", dir.display()), e))?;
    let mut all = Vec::new();
    pages(&cmd, &mut all)?;
    let mut written: Vec<PathBuf> = Vec::new();
    for (name, page) in all {
        let path = Path::new(&dir).join(name);
        std::fs::write(&path, page)
            .map_err(|e| CliError::io(format!("cannot write {}", path.display()), e))?;
        written.push(path);
    }
    if ctx.ui.json {
        ctx.ui
            .json(&serde_json::json!({ "dir": dir, "written": written }));
    } else {
        ctx.ui.info(&format!(
            "Wrote {} to {}",
            crate::ui::plural(written.len() as u64, "man page", "man pages"),
            dir.display()
        ));
    }
    Ok(())
}
