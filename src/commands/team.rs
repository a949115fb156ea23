//! `gryt team ...`: teams on the gryt server. A team is a shared sync scope; its owner adds
//! and removes members. TEAM may be a team id or, when it is not one, a team's name.

use super::cloud::load_config;
use crate::context::Context;
use crate::error::Result;
use crate::ops::team;
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team; you become its owner.
    Create(CreateArgs),
    /// List the teams you belong to.
    #[command(visible_alias = "ls")]
    List,
    /// List a team's members and their roles.
    Members(TeamArg),
    /// Add a user to a team (owner only).
    AddMember(MemberArgs),
    /// Remove a user from a team (owner only; anyone may remove themselves).
    RemoveMember(MemberArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The team's name (unique on the server).
    pub name: String,
    /// What the team is for.
    #[arg(short, long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct TeamArg {
    /// The team id (or the team's name).
    #[arg(value_name = "TEAM_ID")]
    pub team: String,
}

#[derive(Debug, Args)]
pub struct MemberArgs {
    /// The team id (or the team's name).
    #[arg(value_name = "TEAM_ID")]
    pub team: String,
    /// The user's name on the server.
    pub username: String,
}

pub fn dispatch(ctx: &Context, cmd: TeamCommand) -> Result<()> {
    match cmd {
        TeamCommand::Create(a) => cmd_create(ctx, a),
        TeamCommand::List => cmd_list(ctx),
        TeamCommand::Members(a) => cmd_members(ctx, a),
        TeamCommand::AddMember(a) => cmd_add_member(ctx, a),
        TeamCommand::RemoveMember(a) => cmd_remove_member(ctx, a),
    }
}

fn cmd_create(ctx: &Context, a: CreateArgs) -> Result<()> {
    let config = load_config(ctx)?;
    let created = team::create(&config, &a.name, a.description)?;
    if ctx.ui.json {
        ctx.ui.json(&created.data);
    } else {
        ctx.ui.info(&format!("Created team {} with id:", a.name));
        ctx.ui.data(&created.team_id);
    }
    Ok(())
}

fn cmd_list(ctx: &Context) -> Result<()> {
    let teams = team::teams(&load_config(ctx)?)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "teams": teams }));
        return Ok(());
    }
    if teams.is_empty() {
        ctx.ui
            .info("You belong to no team; create one with `gryt team create NAME`");
        return Ok(());
    }
    let mut t = ctx
        .ui
        .table(&["Team id", "Name", "Members", "Owner", "Description"]);
    for team in &teams {
        t.add_row(vec![
            team.team_id.clone(),
            team.name.clone(),
            team.member_count.to_string(),
            team.owner.clone(),
            team.description.clone().unwrap_or_default(),
        ]);
    }
    ctx.ui.print_table(&t);
    Ok(())
}

fn cmd_members(ctx: &Context, a: TeamArg) -> Result<()> {
    let (id, members) = team::members(&load_config(ctx)?, &a.team)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "team_id": id, "members": members }));
        return Ok(());
    }
    let mut t = ctx.ui.table(&["Username", "Role", "Added"]);
    for m in &members {
        t.add_row(vec![m.username.clone(), m.role.clone(), m.added_at.clone()]);
    }
    ctx.ui.print_table(&t);
    Ok(())
}

fn cmd_add_member(ctx: &Context, a: MemberArgs) -> Result<()> {
    let id = team::add_member(&load_config(ctx)?, &a.team, &a.username)?;
    if ctx.ui.json {
        ctx.ui
            .json(&json!({ "team_id": id, "username": a.username, "added": true }));
    } else {
        ctx.ui
            .info(&format!("Added {} to team {}", a.username, a.team));
    }
    Ok(())
}

fn cmd_remove_member(ctx: &Context, a: MemberArgs) -> Result<()> {
    let id = team::remove_member(&load_config(ctx)?, &a.team, &a.username)?;
    if ctx.ui.json {
        ctx.ui
            .json(&json!({ "team_id": id, "username": a.username, "removed": true }));
    } else {
        ctx.ui
            .info(&format!("Removed {} from team {}", a.username, a.team));
    }
    Ok(())
}
