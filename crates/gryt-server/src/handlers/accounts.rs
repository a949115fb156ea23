//! Accounts: signup, password change, whoami.

use crate::app::Shared;
use crate::db::{transaction, TxMode};
use crate::error::{ApiError, Resp};
use crate::extract::{check_body_headers, parse_json, read_body, Authed};
use crate::handlers::Answer;
use crate::{accounts, auth};
use axum::extract::{Request, State};
use gryt_core::api::{ChangePasswordRequest, Data, Said, SignupRequest, Username};

pub(crate) async fn signup(State(app): State<Shared>, req: Request) -> Answer {
    if !app.allow_signup {
        return Err(ApiError::forbidden(
            "Signup is disabled on this server; an administrator adds users with `gryt server user add`",
        ));
    }
    let headers = req.headers().clone();
    let (body, _reservation) = read_body(req, &app).await?;
    check_body_headers(&headers, &body)?;
    let s: SignupRequest = parse_json(&body)?;
    auth::validate_username(&s.username)?;
    auth::validate_password(&s.password)?;
    let pw = s.password.clone();
    let Ok(_slot) = app.hashing.acquire().await else {
        return Err(ApiError::internal("shutting down"));
    };
    let hash = match tokio::task::spawn_blocking(move || auth::hash_password(&pw)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ApiError::internal("hashing failed")),
    };
    let name = s.username.clone();
    app.db
        .run_write(move |c| {
            transaction(c, TxMode::Write, |c| {
                let id = accounts::create_user(c, &name, &hash)?;
                accounts::signup_resp(id, &name)
            })
        })
        .await
}

pub(crate) async fn change_password(State(app): State<Shared>, req: Authed) -> Answer {
    let body: ChangePasswordRequest = parse_json(&req.body)?;
    auth::validate_password(&body.new_password)?;
    let uid = req.user.user_id;
    let stored = app
        .db
        .run(move |c| accounts::password_hash_of(c, uid))
        .await?;
    let (cur, new) = (body.current_password.clone(), body.new_password.clone());
    let Ok(slot) = app.hashing.acquire().await else {
        return Err(ApiError::internal("shutting down"));
    };
    let checked = tokio::task::spawn_blocking(move || {
        if auth::verify_password(&stored, &cur) {
            auth::hash_password(&new).map(Some)
        } else {
            Ok(None)
        }
    })
    .await;
    let hash = match checked {
        Ok(Ok(Some(h))) => h,
        Ok(Ok(None)) => return Err(ApiError::forbidden("The current password is not correct")),
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ApiError::internal("hashing failed")),
    };
    drop(slot);
    let r = app
        .mutate_req(&req, move |c, u| {
            accounts::set_password_hash(c, u.user_id, &hash)?;
            Resp::json(
                200,
                &Said {
                    data: Username {
                        username: u.username.clone(),
                    },
                    message: "Password changed".to_string(),
                },
            )
        })
        .await;
    app.cache.clear();
    r
}

/// Who is asking (gryt's extension of the API): the account behind the password or the API
/// key, so `gryt cloud whoami` can name the owner of a key.
pub(crate) async fn whoami(req: Authed) -> Answer {
    Resp::json(
        200,
        &Data {
            data: Username {
                username: req.user.username,
            },
        },
    )
}
