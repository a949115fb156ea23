//! `GET /metrics`: the Prometheus text exposition, to the peers the server's
//! [`MetricsAccess`](crate::metrics::MetricsAccess) allows.

use crate::app::Shared;
use crate::db::{transaction, TxMode};
use crate::error::ApiError;
use crate::metrics::{DbFigures, MetricsAccess};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gryt_core::api::ErrorCode;

pub(crate) async fn metrics(State(app): State<Shared>, req: Request) -> Response {
    let peer = crate::net::peer_ip(req.extensions());
    if !app.metrics_access.allows(peer) {
        return match app.metrics_access {
            MetricsAccess::Off => ApiError::not_found("No route for /metrics").into_response(),
            _ => ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "Metrics are served to loopback addresses only (gryt server --metrics everyone)",
            )
            .into_response(),
        };
    }
    // One small read: the feed head. A database that does not answer shows as
    // gryt_database_up 0; the scrape itself still succeeds.
    let head = app
        .db
        .run(|c| {
            transaction(c, TxMode::Read, |c| {
                c.query_one("SELECT COALESCE(MAX(seq), 0) FROM scopes", &[])?
                    .int(0)
                    .map_err(ApiError::from)
            })
        })
        .await
        .ok();
    let figures = DbFigures {
        feed_head: head,
        pool: app.db.pool_use(),
    };
    let mut r = (StatusCode::OK, app.metrics.render(&figures)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}
