//! `gryt sync ...` (being written).
use crate::context::Context;
use crate::error::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Pull what changed on the server.
    Pull,
}

pub fn dispatch(_ctx: &Context, _cmd: SyncCommand) -> Result<i32> {
    Ok(0)
}
