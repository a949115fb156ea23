//! The change feed (`sync/head`, `sync/changes`) and the batch of writes.

use crate::app::Shared;
use crate::batch::{batch_answer, prepare_batch, run_batch};
use crate::db::{transaction, TxMode};
use crate::error::{ApiError, Resp};
use crate::extract::{query_map, Authed};
use crate::handlers::Answer;
use crate::logic;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

pub(crate) async fn sync_head(
    State(app): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    req: Authed,
) -> Result<Response, ApiError> {
    let q = query_map(&uri)?;
    let team = q.get("team_id").cloned();
    let user = req.user.clone();
    let head = app
        .db
        .run(move |c| logic::sync_head(c, &user, team.as_deref()))
        .await?;
    let etag = format!("\"{head}\"");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    if matches {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        return Ok(r);
    }
    let r = logic::sync_head_resp(head)?;
    Ok(Resp {
        etag: Some(etag),
        ..r
    }
    .into_response())
}

pub(crate) async fn sync_changes(State(app): State<Shared>, uri: Uri, req: Authed) -> Answer {
    let q = query_map(&uri)?;
    let num = |name: &str, default: i64| -> Result<i64, ApiError> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be a non-negative integer"))
            }),
        }
    };
    let since = num("since", 0)?;
    let limit = num("limit", 500)?;
    if !(1..=logic::MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {} (records per page)",
            logic::MAX_PAGE
        )));
    }
    let team = q.get("team_id").cloned();
    let project = q.get("project").cloned();
    app.read(&req.user, move |c, u| {
        logic::sync_changes(c, u, team.as_deref(), project.as_deref(), since, limit)
    })
    .await
}

pub(crate) async fn sync_batch(State(app): State<Shared>, req: Authed) -> Answer {
    let ops = prepare_batch(&req.body)?;
    let user = req.user.clone();
    let body = req.body.clone();
    let results = app
        .db
        .run_write(move |c| {
            let (r, promoted) = crate::metrics::counted(|| {
                transaction(c, TxMode::Write, |c| run_batch(c, &user, &body, ops))
            });
            r.map(|r| (r, promoted))
        })
        .await;
    let (results, promoted) = results?;
    app.db.health().write_succeeded();
    app.metrics.promoted(promoted);
    Ok(batch_answer(results))
}
