//! `gryt team ...`: teams (being written).
use crate::context::Context;
use crate::error::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// List your teams.
    List,
}

pub fn dispatch(_ctx: &Context, _cmd: TeamCommand) -> Result<i32> {
    Ok(0)
}
