//! Pipeline runs: push and read.

use crate::app::Shared;
use crate::extract::{parse_json, Authed};
use crate::handlers::Answer;
use crate::logic;
use axum::extract::{Path, State};

pub(crate) async fn push_pipeline_run(State(app): State<Shared>, req: Authed) -> Answer {
    // Read straight into typed fields (never a JSON tree): a run of several MiB costs
    // about its own size in memory.
    let body: gryt_core::api::PipelineRunPush = parse_json(&req.body)?;
    app.mutate_req(&req, move |c, u| logic::push_pipeline_run(c, u, body))
        .await
}

pub(crate) async fn get_pipeline_run(
    State(app): State<Shared>,
    Path(id): Path<String>,
    req: Authed,
) -> Answer {
    app.read(&req.user, move |c, u| logic::get_pipeline_run(c, u, &id))
        .await
}
