//! Every route of the API, on the path patterns of `gryt_core::api::routes`, and the
//! answers for what no route takes.

use crate::app::Shared;
use crate::error::{ApiError, Resp};
use crate::handlers::{
    accounts, api_keys, evolutions, generations, health, metrics, openapi, pipeline_runs, sync,
    teams,
};
use axum::handler::Handler;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
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

/// The request-body codings the server decodes (see [`crate::decompress`]), named on every
/// answer as RFC 7694 allows, so a client knows it may send compressed bodies.
pub const ACCEPTED_ENCODINGS: &str = "zstd, gzip";

/// Adds `Accept-Encoding: zstd, gzip` to an answer (RFC 7694: the codings the server takes
/// in request bodies).
pub async fn advertise_request_encodings(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::ACCEPT_ENCODING,
        header::HeaderValue::from_static(ACCEPTED_ENCODINGS),
    );
    r
}

/// The routes as they are registered: the router, and each route's method and pattern in
/// the order given. The OpenAPI document ([`crate::handlers::openapi`]) is written from the
/// same list, so the two cannot drift apart.
pub struct Routes {
    router: Router<Shared>,
    served: Vec<(Method, &'static str)>,
}

impl Routes {
    /// Adds `handler` for a method (one of [`METHODS`]) on `pattern` (a pattern of
    /// [`gryt_core::api::routes`]).
    fn on<H, T>(
        mut self,
        (method, filter): (Method, MethodFilter),
        pattern: &'static str,
        handler: H,
    ) -> Routes
    where
        H: Handler<T, Shared>,
        T: 'static,
    {
        self.served.push((method, pattern));
        self.router = self.router.route(pattern, on(filter, handler));
        self
    }

    /// Every route's method and pattern.
    pub fn served(&self) -> &[(Method, &'static str)] {
        &self.served
    }
}

const GET: (Method, MethodFilter) = (Method::GET, MethodFilter::GET);
const POST: (Method, MethodFilter) = (Method::POST, MethodFilter::POST);
const PATCH: (Method, MethodFilter) = (Method::PATCH, MethodFilter::PATCH);
const DELETE: (Method, MethodFilter) = (Method::DELETE, MethodFilter::DELETE);
/// The methods routes are registered with (a method and the filter routing on it).
pub const METHODS: [(Method, MethodFilter); 4] = [GET, POST, PATCH, DELETE];

/// Every route of the API, on the path patterns of [`gryt_core::api::routes`].
pub fn routes() -> Routes {
    use gryt_core::api::routes::*;
    Routes {
        router: Router::new(),
        served: Vec::new(),
    }
    .on(GET, HEALTHZ, health::healthz)
    .on(GET, LIVEZ, health::livez)
    .on(GET, READYZ, health::readyz)
    .on(GET, METRICS, metrics::metrics)
    .on(GET, OPENAPI, openapi::openapi)
    .on(GET, GENERATIONS, generations::list_generations)
    .on(POST, GENERATIONS, generations::create_generation)
    .on(GET, GENERATION, generations::get_generation)
    .on(PATCH, GENERATION, generations::patch_generation)
    .on(DELETE, GENERATION, generations::delete_generation)
    .on(POST, GENERATION_PROMOTE, generations::promote_generation)
    .on(GET, EVOLUTIONS, evolutions::list_evolutions)
    .on(POST, EVOLUTIONS, evolutions::create_evolution)
    .on(GET, EVOLUTION, evolutions::get_evolution)
    .on(PATCH, EVOLUTION, evolutions::patch_evolution)
    .on(DELETE, EVOLUTION, evolutions::delete_evolution)
    .on(POST, PIPELINE_RUNS, pipeline_runs::push_pipeline_run)
    .on(GET, PIPELINE_RUN, pipeline_runs::get_pipeline_run)
    .on(POST, ACCOUNT_CREATE, accounts::signup)
    .on(POST, ACCOUNT_CHANGE_PASSWORD, accounts::change_password)
    .on(GET, ACCOUNT_ME, accounts::whoami)
    .on(GET, API_KEYS, api_keys::list_api_keys)
    .on(POST, API_KEYS, api_keys::create_api_key)
    .on(DELETE, API_KEY, api_keys::revoke_api_key)
    .on(GET, TEAMS, teams::list_teams)
    .on(POST, TEAMS, teams::create_team)
    .on(GET, TEAM, teams::get_team)
    .on(DELETE, TEAM, teams::delete_team)
    .on(GET, TEAM_MEMBERS, teams::list_members)
    .on(POST, TEAM_MEMBERS, teams::add_member)
    .on(DELETE, TEAM_MEMBER, teams::remove_member)
    .on(GET, SYNC_HEAD, sync::sync_head)
    .on(GET, SYNC_CHANGES, sync::sync_changes)
    .on(POST, SYNC_BATCH, sync::sync_batch)
}

/// The server's router: [`routes`] with the answers for what no route takes.
pub fn router(app: Shared) -> Router {
    routes()
        .router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_routes_on_its_own_filter() {
        for (m, f) in METHODS {
            assert_eq!(MethodFilter::try_from(m.clone()).unwrap(), f, "{m}");
        }
    }

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
