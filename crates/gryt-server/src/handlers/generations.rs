//! Generations: list, create, read, edit, delete, promote.

use crate::app::Shared;
use crate::error::ApiError;
use crate::extract::{parse_json, query_map, Authed};
use crate::handlers::Answer;
use crate::logic::{self, ListFilter};
use axum::extract::{Path, State};
use axum::http::Uri;
use gryt_core::api::{GenerationCreate, GenerationPatch, PromoteRequest};

pub(crate) async fn list_generations(State(app): State<Shared>, uri: Uri, req: Authed) -> Answer {
    let q = query_map(&uri)?;
    let f = ListFilter {
        team_id: q.get("team_id").cloned(),
        project: q.get("project").cloned(),
        version: q.get("version").cloned(),
    };
    app.read(&req.user, move |c, u| logic::list_generations(c, u, &f))
        .await
}

pub(crate) async fn create_generation(State(app): State<Shared>, req: Authed) -> Answer {
    let body: GenerationCreate = parse_json(&req.body)?;
    app.mutate_req(&req, move |c, u| logic::create_generation(c, u, body))
        .await
}

pub(crate) async fn get_generation(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    let id = logic::parse_id(&id, "Generation")?;
    app.read(&req.user, move |c, u| logic::get_generation(c, u, id))
        .await
}

pub(crate) async fn patch_generation(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    let id = logic::parse_id(&id, "Generation")?;
    let body: GenerationPatch = parse_json(&req.body)?;
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| logic::patch_generation(c, u, id, m, body))
        .await
}

pub(crate) async fn delete_generation(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    let id = logic::parse_id(&id, "Generation")?;
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| logic::delete_generation(c, u, id, m))
        .await
}

pub(crate) async fn promote_generation(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    let id = logic::parse_id(&id, "Generation")?;
    let body = promote_request(&req.body)?;
    let m = req.if_match;
    app.mutate_req(&req, move |c, u| {
        logic::promote_generation(c, u, id, m, body)
    })
    .await
}

/// The optional body of a promotion: none (the reference client's) or a [`PromoteRequest`].
pub(crate) fn promote_request(body: &[u8]) -> Result<PromoteRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(PromoteRequest::default());
    }
    logic::validate_promote_request(parse_json(body)?)
}
