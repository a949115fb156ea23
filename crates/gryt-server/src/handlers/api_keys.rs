//! API keys: create, list, revoke.

use crate::accounts;
use crate::app::Shared;
use crate::error::Resp;
use crate::extract::{parse_json, Authed};
use crate::handlers::Answer;
use axum::extract::{Path, State};
use gryt_core::api::{ApiKeyCreate, Data};

pub(crate) async fn create_api_key(State(app): State<Shared>, req: Authed) -> Answer {
    let body: ApiKeyCreate = parse_json(&req.body)?;
    accounts::needs_password(&req.user, "create API keys")?;
    body.check_limits()?;
    let key = app.key.clone();
    // The answer carries the new secret: its idempotent copy is kept encrypted.
    app.mutate_sealed(
        &req.user,
        req.idem.clone(),
        req.request_hash(),
        None,
        true,
        move |c, u| {
            let k = accounts::create_api_key(c, &key, u.user_id, &body.name, body.expires_in_days)?;
            Resp::json(201, &Data { data: k })
        },
    )
    .await
}

pub(crate) async fn list_api_keys(State(app): State<Shared>, req: Authed) -> Answer {
    app.read(&req.user, accounts::list_api_keys).await
}

pub(crate) async fn revoke_api_key(
    State(app): State<Shared>,
    Path(key_id): Path<String>,
    req: Authed,
) -> Answer {
    // Every signature is checked against the key's revocation when it is recorded; this only
    // frees the memory.
    app.keys.forget(&key_id);
    app.mutate_req(&req, move |c, u| {
        // A key may revoke itself (a leaked key can be retired with its own signature);
        // revoking any other key needs the password.
        if u.api_key.as_deref() != Some(key_id.as_str()) {
            accounts::needs_password(u, "revoke another API key")?;
        }
        accounts::revoke_api_key(c, &key_id, Some(u.user_id))
    })
    .await
}
