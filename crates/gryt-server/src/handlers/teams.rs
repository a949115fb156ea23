//! Teams and their members.

use crate::accounts;
use crate::app::Shared;
use crate::extract::{parse_json, Authed};
use crate::handlers::Answer;
use axum::extract::{Path, State};
use gryt_core::api::{MemberAdd, TeamCreate};

pub(crate) async fn create_team(State(app): State<Shared>, req: Authed) -> Answer {
    let body: TeamCreate = parse_json(&req.body)?;
    body.check_limits()?;
    app.mutate_req(&req, move |c, u| {
        accounts::create_team(c, u, &body.name, body.description)
    })
    .await
}

pub(crate) async fn list_teams(State(app): State<Shared>, req: Authed) -> Answer {
    app.read(&req.user, accounts::list_teams).await
}

pub(crate) async fn get_team(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    app.read(&req.user, move |c, u| accounts::get_team(c, u, &id))
        .await
}

pub(crate) async fn delete_team(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    app.mutate_req(&req, move |c, u| accounts::delete_team(c, u, &id))
        .await
}

pub(crate) async fn list_members(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    app.read(&req.user, move |c, u| accounts::list_members(c, u, &id))
        .await
}

pub(crate) async fn add_member(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    let body: MemberAdd = parse_json(&req.body)?;
    app.mutate_req(&req, move |c, u| {
        accounts::add_member(c, u, &id, &body.username)
    })
    .await
}

pub(crate) async fn remove_member(
    State(app): State<Shared>,
    Path((id, username)): Path<(String, String)>,
    req: Authed,
) -> Answer {
    app.mutate_req(&req, move |c, u| {
        accounts::remove_member(c, u, &id, &username)
    })
    .await
}
