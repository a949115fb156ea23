//! The account routes of the gryt server API, one typed method per route: accounts, whoami,
//! API keys, teams and members. Requests and answers are gryt-core's wire types (the server
//! writes the same ones), so no shape of these routes is declared in the CLI.

use super::{routes, Remote, RemoteError, Route};
use gryt_core::api::{
    AccountCreated, ApiKeyCreate, ApiKeyCreated, ApiKeyInfo, ApiKeyList, ApiKeyRevoked, Data,
    MemberAdd, MemberAdded, MemberList, MemberRemoved, Said, SignupRequest, Team, TeamCreate,
    TeamCreated, TeamList, TeamMember, Username,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

impl Remote {
    /// Sends `body` (if any) as JSON on `route` and decodes the 2xx answer as `T`.
    fn typed<B: Serialize, T: DeserializeOwned>(
        &self,
        route: &Route,
        body: Option<&B>,
    ) -> Result<T, RemoteError> {
        let raw = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| RemoteError::Encode(e.to_string()))?),
            None => None,
        };
        self.call_route(route, raw.as_deref(), &[])
    }

    /// `POST /api/v1/accounts/create` (no credentials needed).
    pub fn create_account(&self, req: &SignupRequest) -> Result<AccountCreated, RemoteError> {
        let said: Said<AccountCreated> = self.typed(&routes::create_account(), Some(req))?;
        Ok(said.data)
    }

    /// `GET /api/v1/accounts/me`: the account behind these credentials. A server without
    /// the route answers 404.
    pub fn whoami(&self) -> Result<Username, RemoteError> {
        let me: Data<Username> = self.typed::<(), _>(&routes::whoami(), None)?;
        Ok(me.data)
    }

    /// `GET /api/v1/api-keys`: the caller's keys (never their secrets).
    pub fn api_keys(&self) -> Result<Vec<ApiKeyInfo>, RemoteError> {
        let list: Data<ApiKeyList> = self.typed::<(), _>(&routes::api_keys(), None)?;
        Ok(list.data.api_keys)
    }

    /// `POST /api/v1/api-keys`: the new key with its secret (shown only this once).
    pub fn create_api_key(&self, req: &ApiKeyCreate) -> Result<ApiKeyCreated, RemoteError> {
        let created: Data<ApiKeyCreated> = self.typed(&routes::create_api_key(), Some(req))?;
        Ok(created.data)
    }

    /// `DELETE /api/v1/api-keys/{key_id}`
    pub fn revoke_api_key(&self, key_id: &str) -> Result<ApiKeyRevoked, RemoteError> {
        let said: Said<ApiKeyRevoked> =
            self.typed::<(), _>(&routes::delete_api_key(key_id), None)?;
        Ok(said.data)
    }

    /// `GET /api/v1/teams`: the teams the caller belongs to.
    pub fn teams(&self) -> Result<Vec<Team>, RemoteError> {
        let list: Data<TeamList> = self.typed::<(), _>(&routes::teams(), None)?;
        Ok(list.data.teams)
    }

    /// `POST /api/v1/teams`: the caller becomes the new team's owner.
    pub fn create_team(&self, req: &TeamCreate) -> Result<TeamCreated, RemoteError> {
        self.typed(&routes::create_team(), Some(req))
    }

    /// `GET /api/v1/teams/{team_id}/members`
    pub fn team_members(&self, team_id: &str) -> Result<Vec<TeamMember>, RemoteError> {
        let list: Data<MemberList> = self.typed::<(), _>(&routes::team_members(team_id), None)?;
        Ok(list.data.members)
    }

    /// `POST /api/v1/teams/{team_id}/members` (the owner only).
    pub fn add_team_member(
        &self,
        team_id: &str,
        req: &MemberAdd,
    ) -> Result<MemberAdded, RemoteError> {
        let said: Said<MemberAdded> = self.typed(&routes::add_team_member(team_id), Some(req))?;
        Ok(said.data)
    }

    /// `DELETE /api/v1/teams/{team_id}/members/{username}` (the owner, or oneself).
    pub fn remove_team_member(
        &self,
        team_id: &str,
        username: &str,
    ) -> Result<MemberRemoved, RemoteError> {
        let said: Said<MemberRemoved> =
            self.typed::<(), _>(&routes::remove_team_member(team_id, username), None)?;
        Ok(said.data)
    }
}
