//! `gryt team ...`: teams on the gryt server. A team is a shared sync scope; its owner adds
//! and removes members. TEAM may be a team id or, when it is not one, a team's name.

use super::cloud::{call, connect};
use crate::client::{routes, Remote};
use crate::context::Context;
use crate::error::{CliError, Result};
use clap::{Args, Subcommand};
use gryt_core::wire::{Data, MemberAdd, Team, TeamCreate, TeamMember};
use serde::Deserialize;
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

#[derive(Deserialize)]
struct TeamList {
    teams: Vec<Team>,
}

#[derive(Deserialize)]
struct MemberList {
    members: Vec<TeamMember>,
}

#[derive(Deserialize)]
struct Created {
    team_id: String,
    #[serde(default)]
    data: Option<Team>,
}

fn list_teams(remote: &Remote) -> Result<Vec<Team>> {
    let list: Data<TeamList> = call(remote, routes::teams(), None)?;
    Ok(list.data.teams)
}

/// The team id for TEAM: itself when it is a UUID, else the id of your team of that name.
fn resolve(remote: &Remote, team: &str) -> Result<String> {
    if uuid::Uuid::parse_str(team).is_ok() {
        return Ok(team.to_string());
    }
    list_teams(remote)?
        .into_iter()
        .find(|t| t.name == team)
        .map(|t| t.team_id)
        .ok_or_else(|| {
            CliError::error(format!("No team {team} among your teams"))
                .hint("`gryt team list` shows your teams and their ids")
        })
}

fn cmd_create(ctx: &Context, a: CreateArgs) -> Result<()> {
    let remote = connect(ctx)?;
    let body = serde_json::to_value(TeamCreate {
        name: a.name.clone(),
        description: a.description,
    })
    .map_err(|e| CliError::error(format!("cannot encode the request: {e}")))?;
    let created: Created = call(&remote, routes::create_team(), Some(&body))?;
    if ctx.ui.json {
        match &created.data {
            Some(t) => ctx.ui.json(t),
            None => ctx
                .ui
                .json(&json!({ "team_id": created.team_id, "name": a.name })),
        }
    } else {
        ctx.ui.info(&format!("Created team {} with id:", a.name));
        ctx.ui.data(&created.team_id);
    }
    Ok(())
}

fn cmd_list(ctx: &Context) -> Result<()> {
    let remote = connect(ctx)?;
    let teams = list_teams(&remote)?;
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
    let remote = connect(ctx)?;
    let id = resolve(&remote, &a.team)?;
    let list: Data<MemberList> = call(&remote, routes::team_members(&id), None)?;
    let members = list.data.members;
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
    let remote = connect(ctx)?;
    let id = resolve(&remote, &a.team)?;

    let body = serde_json::to_value(MemberAdd {
        username: a.username.clone(),
    })
    .map_err(|e| CliError::error(format!("cannot encode the request: {e}")))?;
    let _: serde_json::Value = call(&remote, routes::add_team_member(&id), Some(&body))?;
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
    let remote = connect(ctx)?;
    let id = resolve(&remote, &a.team)?;
    let _: serde_json::Value = call(&remote, routes::remove_team_member(&id, &a.username), None)?;
    if ctx.ui.json {
        ctx.ui
            .json(&json!({ "team_id": id, "username": a.username, "removed": true }));
    } else {
        ctx.ui
            .info(&format!("Removed {} from team {}", a.username, a.team));
    }
    Ok(())
}
