//! `GET /healthz`, `GET /livez`, `GET /readyz`.

use crate::app::Shared;
use crate::db::{transaction, TxMode};
use crate::error::{ApiError, Resp};
use crate::handlers::Answer;
use axum::extract::State;
use axum::http::StatusCode;
use gryt_core::api::ErrorCode;

/// 200 when the database answers a read and nothing says it is damaged or refuses writes;
/// 503 (problem body, `Retry-After`) otherwise. Cheap: one small read transaction, plus what
/// the pool saw of earlier requests (see [`crate::db::Health`]); the full page check runs
/// once, at startup.
pub(crate) async fn healthz(State(app): State<Shared>) -> Answer {
    let probe = app
        .db
        .run(|c| {
            transaction(c, TxMode::Read, |c| {
                c.query("SELECT MAX(version) FROM schema_migrations", &[])
                    .map_err(ApiError::from)
            })
        })
        .await;
    let problem = match probe {
        Err(_) => Some("The database does not answer".to_string()),
        Ok(_) => app
            .db
            .health()
            .problem()
            .map(|p| format!("The database is not healthy: {p}")),
    };
    match problem {
        None => Ok(Resp {
            status: 200,
            body: r#"{"status":"ok"}"#.to_string(),
            etag: None,
        }),
        Some(detail) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            detail,
        )),
    }
}

/// `GET /livez`: 200 while the process serves requests. The database is not touched, so a
/// supervisor restarts the process only when it no longer answers at all.
pub(crate) async fn livez() -> Resp {
    Resp {
        status: 200,
        body: r#"{"status":"ok"}"#.to_string(),
        etag: None,
    }
}

/// `GET /readyz`: 200 when the database answers a query and its schema is at the version
/// this server was built for; 503 (problem body, `Retry-After`) otherwise, so a load
/// balancer sends no traffic to a server whose database is gone or not yet migrated.
pub(crate) async fn readyz(State(app): State<Shared>) -> Answer {
    let probe = app
        .db
        .run(|c| {
            transaction(c, TxMode::Read, |c| {
                c.query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    &[],
                )?
                .int(0)
                .map_err(ApiError::from)
            })
        })
        .await;
    let want = crate::db::migrate::latest_version();
    let problem = match probe {
        Err(_) => "The database does not answer".to_string(),
        Ok(v) if v == want => {
            return Ok(Resp {
                status: 200,
                body: r#"{"status":"ready"}"#.to_string(),
                etag: None,
            })
        }
        Ok(v) => format!("The database schema is at version {v}; this server needs {want}"),
    };
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unavailable,
        problem,
    ))
}
