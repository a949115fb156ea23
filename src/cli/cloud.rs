//! `gryt cloud ...`: accounts on the gryt server (being written).
use crate::context::Context;
use crate::error::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum CloudCommand {
    /// Show who you are logged in as.
    Whoami,
}

pub fn dispatch(_ctx: &Context, _cmd: CloudCommand) -> Result<i32> {
    Ok(0)
}
