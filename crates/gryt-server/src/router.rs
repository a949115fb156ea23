//! Every route of the API, on the path patterns of `gryt_core::api::routes`, and the
//! answers for what no route takes.

use crate::app::Shared;
use crate::error::{ApiError, Resp};
use crate::handlers::{
    accounts, api_keys, evolutions, generations, health, metrics, pipeline_runs, sync, teams,
};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use gryt_core::api::ErrorCode;

async fn not_found(uri: Uri) -> Resp {
    ApiError::not_found(format!(
        "No route for {}",
        uri.path().chars().take(200).collect::<String>()
    ))
    .to_resp()
}

async fn method_not_allowed() -> Resp {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "Method not allowed on this route",
    )
    .to_resp()
}

/// Gives framework-made error answers (a timeout's 408, ...) our problem+json body.
pub async fn problem_for_bare_errors(r: Response) -> Response {
    let status = r.status();
    if (status.is_client_error() || status.is_server_error())
        && !r.headers().contains_key(header::CONTENT_TYPE)
    {
        let detail = match status {
            StatusCode::REQUEST_TIMEOUT => "The request took too long and was stopped".to_string(),
            other => other.canonical_reason().unwrap_or("Error").to_string(),
        };
        return ApiError::new(status, ErrorCode::Http, detail).into_response();
    }
    r
}

/// Every route of the API, on the path patterns of [`gryt_core::api::routes`].
pub fn router(app: Shared) -> Router {
    use gryt_core::api::routes;
    Router::new()
        .route(routes::HEALTHZ, get(health::healthz))
        .route(routes::LIVEZ, get(health::livez))
        .route(routes::READYZ, get(health::readyz))
        .route(routes::METRICS, get(metrics::metrics))
        .route(
            routes::GENERATIONS,
            get(generations::list_generations).post(generations::create_generation),
        )
        .route(
            routes::GENERATION,
            get(generations::get_generation)
                .patch(generations::patch_generation)
                .delete(generations::delete_generation),
        )
        .route(
            routes::GENERATION_PROMOTE,
            post(generations::promote_generation),
        )
        .route(
            routes::EVOLUTIONS,
            get(evolutions::list_evolutions).post(evolutions::create_evolution),
        )
        .route(
            routes::EVOLUTION,
            get(evolutions::get_evolution)
                .patch(evolutions::patch_evolution)
                .delete(evolutions::delete_evolution),
        )
        .route(
            routes::PIPELINE_RUNS,
            post(pipeline_runs::push_pipeline_run),
        )
        .route(routes::PIPELINE_RUN, get(pipeline_runs::get_pipeline_run))
        .route(routes::ACCOUNT_CREATE, post(accounts::signup))
        .route(
            routes::ACCOUNT_CHANGE_PASSWORD,
            post(accounts::change_password),
        )
        .route(routes::ACCOUNT_ME, get(accounts::whoami))
        .route(
            routes::API_KEYS,
            get(api_keys::list_api_keys).post(api_keys::create_api_key),
        )
        .route(
            routes::API_KEY,
            axum::routing::delete(api_keys::revoke_api_key),
        )
        .route(
            routes::TEAMS,
            get(teams::list_teams).post(teams::create_team),
        )
        .route(
            routes::TEAM,
            get(teams::get_team).delete(teams::delete_team),
        )
        .route(
            routes::TEAM_MEMBERS,
            get(teams::list_members).post(teams::add_member),
        )
        .route(
            routes::TEAM_MEMBER,
            axum::routing::delete(teams::remove_member),
        )
        .route(routes::SYNC_HEAD, get(sync::sync_head))
        .route(routes::SYNC_CHANGES, get(sync::sync_changes))
        .route(routes::SYNC_BATCH, post(sync::sync_batch))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bare_framework_errors_get_a_problem_body() {
        let bare = StatusCode::REQUEST_TIMEOUT.into_response();
        let r = problem_for_bare_errors(bare).await;
        assert_eq!(r.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], 408);
        assert!(v["detail"].as_str().unwrap().contains("too long"));
        // Our own answers pass through untouched.
        let ours = ApiError::not_found("x").into_response();
        let r = problem_for_bare_errors(ours).await;
        let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"detail\":\"x\""));
    }
}
