//! Team use cases on the configured gryt server: create, list, members, add and remove a
//! member. A team is named by its id or, when that is not a UUID, by its name among the
//! caller's teams.

use super::account::{connect, remote_err};
use crate::client::Remote;
use crate::config::Config;
use crate::error::{CliError, Result};
use gryt_core::api::{MemberAdd, Team, TeamCreate, TeamCreated, TeamMember};

fn list(remote: &Remote) -> Result<Vec<Team>> {
    remote.teams().map_err(|e| remote_err(&remote.base, e))
}

/// The team id for `team`: itself when it is a UUID, else the id of the caller's team of
/// that name.
fn resolve(remote: &Remote, team: &str) -> Result<String> {
    if uuid::Uuid::parse_str(team).is_ok() {
        return Ok(team.to_string());
    }
    list(remote)?
        .into_iter()
        .find(|t| t.name == team)
        .map(|t| t.team_id)
        .ok_or_else(|| {
            CliError::error(format!("No team {team} among your teams"))
                .hint("`gryt team list` shows your teams and their ids")
        })
}

/// Creates a team; the caller becomes its owner.
pub fn create(config: &Config, name: &str, description: Option<String>) -> Result<TeamCreated> {
    let remote = connect(config)?;
    remote
        .create_team(&TeamCreate {
            name: name.to_string(),
            description,
        })
        .map_err(|e| remote_err(&remote.base, e))
}

/// The teams the caller belongs to.
pub fn teams(config: &Config) -> Result<Vec<Team>> {
    list(&connect(config)?)
}

/// A team's id and members.
pub fn members(config: &Config, team: &str) -> Result<(String, Vec<TeamMember>)> {
    let remote = connect(config)?;
    let id = resolve(&remote, team)?;
    let members = remote
        .team_members(&id)
        .map_err(|e| remote_err(&remote.base, e))?;
    Ok((id, members))
}

/// Adds `username` to a team (the owner only). Returns the team id.
pub fn add_member(config: &Config, team: &str, username: &str) -> Result<String> {
    let remote = connect(config)?;
    let id = resolve(&remote, team)?;
    remote
        .add_team_member(
            &id,
            &MemberAdd {
                username: username.to_string(),
            },
        )
        .map_err(|e| remote_err(&remote.base, e))?;
    Ok(id)
}

/// Removes `username` from a team (the owner, or oneself). Returns the team id.
pub fn remove_member(config: &Config, team: &str, username: &str) -> Result<String> {
    let remote = connect(config)?;
    let id = resolve(&remote, team)?;
    remote
        .remove_team_member(&id, username)
        .map_err(|e| remote_err(&remote.base, e))?;
    Ok(id)
}
