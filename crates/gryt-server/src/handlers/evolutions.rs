//! Evolutions: list, create, read, complete, delete.

use crate::app::Shared;
use crate::extract::{parse_json, query_map, Authed};
use crate::handlers::Answer;
use crate::logic;
use axum::extract::{Path, State};
use axum::http::Uri;
use gryt_core::api::{EvolutionCreate, EvolutionPatch};

pub(crate) async fn list_evolutions(State(app): State<Shared>, uri: Uri, req: Authed) -> Answer {
    let q = query_map(&uri)?;
    let g = q.get("generation_id").cloned();
    app.read(&req.user, move |c, u| {
        logic::list_evolutions(c, u, g.as_deref())
    })
    .await
}

pub(crate) async fn create_evolution(State(app): State<Shared>, req: Authed) -> Answer {
    let body: EvolutionCreate = parse_json(&req.body)?;
    app.mutate_req(&req, move |c, u| logic::create_evolution(c, u, body))
        .await
}

pub(crate) async fn get_evolution(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    let id = logic::parse_id(&id, "Evolution")?;
    app.read(&req.user, move |c, u| logic::get_evolution(c, u, id))
        .await
}

pub(crate) async fn patch_evolution(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    let id = logic::parse_id(&id, "Evolution")?;
    let body: EvolutionPatch = parse_json(&req.body)?;
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| logic::patch_evolution(c, u, id, m, body))
        .await
}

pub(crate) async fn delete_evolution(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    let id = logic::parse_id(&id, "Evolution")?;
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| logic::delete_evolution(c, u, id, m))
        .await
}
