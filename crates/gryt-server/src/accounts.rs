//! Users, API keys and teams (also used by the administration commands).

use crate::auth::{hash_password, validate_password, validate_username, Principal, ServerKey};
use crate::db::{Conn, Val};
use crate::error::{ApiError, Resp};
use crate::util::now_rfc3339;
use gryt_core::api::ErrorCode;
use gryt_core::api::{
    AccountCreated, ApiKeyCreated, ApiKeyInfo, ApiKeyList, ApiKeyRevoked, Data, MemberAdded,
    MemberList, MemberRemoved, Said, Team, TeamCreated, TeamDeleted, TeamList, TeamMember,
};

/// Creates a user and their personal scope. `password_hash` comes from [`hash_password`]
/// (computed before the transaction: Argon2 is slow on purpose).
pub fn create_user(c: &mut dyn Conn, username: &str, password_hash: &str) -> Result<i64, ApiError> {
    validate_username(username)?;
    if let Some(r) = c.query_opt(
        "SELECT removed_at FROM users WHERE username = ?1",
        &[Val::from(username)],
    )? {
        // A removed user's name stays taken: the records they made carry it.
        let removed = if r.opt_text(0)?.is_some() {
            " (a removed user's name is not given again)"
        } else {
            ""
        };
        return Err(ApiError::conflict(
            ErrorCode::AlreadyExists,
            format!("User {username} already exists{removed}"),
        ));
    }
    let id = crate::logic::new_record_id(c, "users")?;
    c.exec(
        "INSERT INTO users (id, username, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        &[
            Val::Int(id),
            Val::from(username),
            Val::from(password_hash),
            Val::from(now_rfc3339()),
        ],
    )?;
    c.exec(
        "INSERT INTO scopes (user_id, seq) VALUES (?1, 0)",
        &[Val::Int(id)],
    )?;
    Ok(id)
}

pub fn signup_resp(id: i64, username: &str) -> Result<Resp, ApiError> {
    Resp::json(
        201,
        &Said {
            data: AccountCreated {
                id,
                username: username.to_string(),
            },
            message: format!("Account {username} created"),
        },
    )
}

/// The id of a user that exists and has not been removed (a disabled user has one).
pub fn user_id(c: &mut dyn Conn, username: &str) -> Result<Option<i64>, ApiError> {
    Ok(
        match c.query_opt(
            "SELECT id FROM users WHERE username = ?1 AND removed_at IS NULL",
            &[Val::from(username)],
        )? {
            Some(r) => Some(r.int(0)?),
            None => None,
        },
    )
}

pub fn password_hash_of(c: &mut dyn Conn, user_id: i64) -> Result<String, ApiError> {
    Ok(c.query_one(
        "SELECT password_hash FROM users WHERE id = ?1",
        &[Val::Int(user_id)],
    )?
    .text(0)?)
}

pub fn set_password_hash(c: &mut dyn Conn, user_id: i64, hash: &str) -> Result<(), ApiError> {
    c.exec(
        "UPDATE users SET password_hash = ?1 WHERE id = ?2",
        &[Val::from(hash), Val::Int(user_id)],
    )?;
    Ok(())
}

pub fn validate_new_password(p: &str) -> Result<String, ApiError> {
    validate_password(p)?;
    hash_password(p)
}

/// Refuses an action that needs the account's password when the request is signed by an API
/// key. A key cannot create keys (a key with an expiry could otherwise mint one without,
/// that outlives its revocation), revoke another key, or delete a team: a stolen key can
/// neither entrench itself nor destroy the owner's teams.
pub fn needs_password(user: &Principal, action: &str) -> Result<(), ApiError> {
    match &user.api_key {
        None => Ok(()),
        Some(_) => Err(ApiError::forbidden(format!(
            "An API key cannot {action}; sign in with your username and password for that"
        ))
        .with_hint(Some(
            "use HTTP Basic (gryt cloud login --method password), then try again".to_string(),
        ))),
    }
}

/// Creates an API key; the secret is returned once and stored only encrypted.
pub fn create_api_key(
    c: &mut dyn Conn,
    key: &ServerKey,
    user_id: i64,
    name: &str,
    expires_in_days: Option<i64>,
) -> Result<ApiKeyCreated, ApiError> {
    if name.trim().is_empty() || name.chars().count() > gryt_core::limits::API_KEY_NAME {
        return Err(ApiError::invalid(format!(
            "name: an API key name is 1 to {} characters",
            gryt_core::limits::API_KEY_NAME
        )));
    }
    let expires_at = match expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(
            (chrono::Utc::now() + chrono::Duration::days(d))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        ),
        Some(_) => {
            return Err(ApiError::invalid(
                "expires_in_days must be between 1 and 3650",
            ))
        }
    };
    let id_bytes =
        crate::util::random_bytes::<8>().map_err(|_| ApiError::internal("no randomness"))?;
    let secret_bytes =
        crate::util::random_bytes::<32>().map_err(|_| ApiError::internal("no randomness"))?;
    let key_id = format!("gk_{}", hex::encode(id_bytes));
    let secret = hex::encode(secret_bytes);
    let enc = key.encrypt(&secret, &key_id)?;
    let created_at = now_rfc3339();
    c.exec(
        "INSERT INTO api_keys (key_id, user_id, name, secret_enc, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            Val::from(&key_id),
            Val::Int(user_id),
            Val::from(name),
            Val::from(enc),
            Val::from(&created_at),
            Val::from(expires_at.clone()),
        ],
    )?;
    Ok(ApiKeyCreated {
        key_id,
        secret,
        name: name.to_string(),
        created_at,
        expires_at,
    })
}

pub fn list_api_keys(c: &mut dyn Conn, user: &Principal) -> Result<Resp, ApiError> {
    let rows = c.query(
        "SELECT key_id, name, created_at, expires_at, revoked_at FROM api_keys WHERE user_id = ?1 ORDER BY created_at",
        &[Val::Int(user.user_id)],
    )?;
    let mut keys = Vec::new();
    for r in rows {
        keys.push(ApiKeyInfo {
            key_id: r.text(0)?,
            name: r.text(1)?,
            created_at: r.text(2)?,
            expires_at: r.opt_text(3)?,
            revoked_at: r.opt_text(4)?,
        });
    }
    Resp::json(
        200,
        &Data {
            data: ApiKeyList { api_keys: keys },
        },
    )
}

/// Revokes a key; `owner` limits it to that user's keys (None: the administrator).
pub fn revoke_api_key(
    c: &mut dyn Conn,
    key_id: &str,
    owner: Option<i64>,
) -> Result<Resp, ApiError> {
    let r = c.query_opt(
        "SELECT user_id, revoked_at FROM api_keys WHERE key_id = ?1",
        &[Val::from(key_id)],
    )?;
    let not_found = || {
        ApiError::not_found(format!(
            "API key {} not found",
            key_id.chars().take(64).collect::<String>()
        ))
    };
    let Some(r) = r else { return Err(not_found()) };
    if owner.is_some_and(|o| r.int(0).ok() != Some(o)) {
        return Err(not_found());
    }
    if r.opt_text(1)?.is_none() {
        c.exec(
            "UPDATE api_keys SET revoked_at = ?1 WHERE key_id = ?2",
            &[Val::from(now_rfc3339()), Val::from(key_id)],
        )?;
    }
    Resp::json(
        200,
        &Said {
            data: ApiKeyRevoked {
                key_id: key_id.to_string(),
                revoked: true,
            },
            message: "API key revoked".to_string(),
        },
    )
}

// ---------------------------------------------------------------- administration

/// A user as `gryt server user list` shows it (removed users are not listed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserSummary {
    pub username: String,
    pub created_at: String,
    /// When an administrator disabled the user; `None` while the user may log in.
    pub disabled_at: Option<String>,
    /// API keys neither revoked nor expired.
    pub active_keys: u64,
}

/// An API key as `gryt server api-key list` shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeySummary {
    pub key_id: String,
    pub name: String,
    pub username: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// When the key last signed an accepted request (`None`: never, or before the server
    /// recorded it).
    pub last_used_at: Option<String>,
}

/// What removing a user did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemovedUser {
    pub username: String,
    /// API keys revoked by the removal (those already revoked are not counted).
    pub keys_revoked: u64,
    /// The teams the user was a member of and no longer is.
    pub teams_left: Vec<String>,
}

/// Whether an administrator's change found the user already in the asked state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Yes,
    AlreadySo,
}

fn no_such_user(username: &str) -> ApiError {
    ApiError::not_found(format!(
        "User {} not found",
        username.chars().take(64).collect::<String>()
    ))
}

/// Every user that has not been removed, by name, with its number of live API keys
/// (`now`: Unix seconds, to tell expired keys).
pub fn list_users(c: &mut dyn Conn, now: i64) -> Result<Vec<UserSummary>, ApiError> {
    let rows = c.query(
        "SELECT u.username, u.created_at, u.disabled_at, k.key_id, k.expires_at \
         FROM users u LEFT JOIN api_keys k ON k.user_id = u.id AND k.revoked_at IS NULL \
         WHERE u.removed_at IS NULL ORDER BY u.username",
        &[],
    )?;
    let mut out: Vec<UserSummary> = Vec::new();
    for r in rows {
        let username = r.text(0)?;
        if out.last().map(|u| u.username.as_str()) != Some(username.as_str()) {
            out.push(UserSummary {
                username,
                created_at: r.text(1)?,
                disabled_at: r.opt_text(2)?,
                active_keys: 0,
            });
        }
        let live = match (r.opt_text(3)?, r.opt_text(4)?) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(_), Some(exp)) => crate::auth::expires_after(&exp, now),
        };
        if let (true, Some(u)) = (live, out.last_mut()) {
            u.active_keys += 1;
        }
    }
    Ok(out)
}

/// Every API key (of `username` only, when given), oldest first.
pub fn list_keys(c: &mut dyn Conn, username: Option<&str>) -> Result<Vec<KeySummary>, ApiError> {
    let rows = match username {
        Some(name) => {
            let uid = user_id(c, name)?.ok_or_else(|| no_such_user(name))?;
            c.query(
                "SELECT k.key_id, k.name, u.username, k.created_at, k.expires_at, k.revoked_at, \
                 k.last_used_at FROM api_keys k JOIN users u ON u.id = k.user_id \
                 WHERE k.user_id = ?1 ORDER BY k.created_at, k.key_id",
                &[Val::Int(uid)],
            )?
        }
        None => c.query(
            "SELECT k.key_id, k.name, u.username, k.created_at, k.expires_at, k.revoked_at, \
             k.last_used_at FROM api_keys k JOIN users u ON u.id = k.user_id \
             ORDER BY k.created_at, k.key_id",
            &[],
        )?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(KeySummary {
            key_id: r.text(0)?,
            name: r.text(1)?,
            username: r.text(2)?,
            created_at: r.text(3)?,
            expires_at: r.opt_text(4)?,
            revoked_at: r.opt_text(5)?,
            last_used_at: r.opt_text(6)?,
        });
    }
    Ok(out)
}

/// Sets a user's password hash (from [`hash_password`], computed before the transaction).
pub fn set_password(c: &mut dyn Conn, username: &str, hash: &str) -> Result<(), ApiError> {
    let n = c.exec(
        "UPDATE users SET password_hash = ?1 WHERE username = ?2 AND removed_at IS NULL",
        &[Val::from(hash), Val::from(username)],
    )?;
    if n == 0 {
        return Err(no_such_user(username));
    }
    Ok(())
}

/// Disables (`disabled`) or enables a user. A disabled user's password logins and API keys
/// are refused at every request (see `crate::auth`), like a wrong password or signature.
pub fn set_disabled(c: &mut dyn Conn, username: &str, disabled: bool) -> Result<Changed, ApiError> {
    let uid = user_id(c, username)?.ok_or_else(|| no_such_user(username))?;
    let n = if disabled {
        c.exec(
            "UPDATE users SET disabled_at = ?1 WHERE id = ?2 AND disabled_at IS NULL",
            &[Val::from(now_rfc3339()), Val::Int(uid)],
        )?
    } else {
        c.exec(
            "UPDATE users SET disabled_at = NULL WHERE id = ?1 AND disabled_at IS NOT NULL",
            &[Val::Int(uid)],
        )?
    };
    Ok(if n == 0 {
        Changed::AlreadySo
    } else {
        Changed::Yes
    })
}

/// Removes a user: their API keys are revoked, their team memberships end, and they can no
/// longer log in. The row stays as a tombstone: the records they created stay with their
/// teams (and their personal scope's records stay in the database, reachable by nobody), and
/// the name is never given to a new user. A user who owns a live team is refused: the team
/// would be left without an owner.
pub fn remove_user(c: &mut dyn Conn, username: &str) -> Result<RemovedUser, ApiError> {
    let uid = user_id(c, username)?.ok_or_else(|| no_such_user(username))?;
    let owned: Vec<String> = c
        .query(
            "SELECT name FROM teams WHERE owner_id = ?1 AND deleted = 0 ORDER BY name",
            &[Val::Int(uid)],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<_, _>>()?;
    if !owned.is_empty() {
        return Err(ApiError::conflict(
            ErrorCode::Owner,
            format!(
                "User {username} owns the team(s) {}: removing them would leave the team(s) \
                 without an owner. The owner deletes each team first (gryt team delete), or \
                 disable the user instead (gryt server user disable {username})",
                owned.join(", ")
            ),
        ));
    }
    let teams_left: Vec<String> = c
        .query(
            "SELECT t.name FROM team_members m JOIN teams t ON t.id = m.team_pk \
             WHERE m.user_id = ?1 AND t.deleted = 0 ORDER BY t.name",
            &[Val::Int(uid)],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<_, _>>()?;
    let now = now_rfc3339();
    c.exec(
        "DELETE FROM team_members WHERE user_id = ?1",
        &[Val::Int(uid)],
    )?;
    let keys_revoked = c.exec(
        "UPDATE api_keys SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
        &[Val::from(&now), Val::Int(uid)],
    )?;
    // Not a PHC string: no password verifies against it, even if a lookup missed the tombstone.
    c.exec(
        "UPDATE users SET removed_at = ?1, password_hash = '!removed' WHERE id = ?2",
        &[Val::from(&now), Val::Int(uid)],
    )?;
    Ok(RemovedUser {
        username: username.to_string(),
        keys_revoked,
        teams_left,
    })
}

// ---------------------------------------------------------------- teams

fn team_row(c: &mut dyn Conn, user: &Principal, team_id: &str) -> Result<(i64, i64), ApiError> {
    let r = c.query_opt(
        "SELECT t.id, t.owner_id FROM teams t JOIN team_members m ON m.team_pk = t.id AND m.user_id = ?2 \
         WHERE t.team_id = ?1 AND t.deleted = 0",
        &[Val::from(team_id), Val::Int(user.user_id)],
    )?;
    match r {
        Some(r) => Ok((r.int(0)?, r.int(1)?)),
        None => Err(ApiError::not_found(format!(
            "Team {} not found",
            team_id.chars().take(64).collect::<String>()
        ))),
    }
}

fn team_info(c: &mut dyn Conn, pk: i64) -> Result<Team, ApiError> {
    let r = c.query_one(
        "SELECT t.team_id, t.name, t.description, u.username, t.created_at, \
         (SELECT COUNT(*) FROM team_members m WHERE m.team_pk = t.id) \
         FROM teams t JOIN users u ON u.id = t.owner_id WHERE t.id = ?1",
        &[Val::Int(pk)],
    )?;
    Ok(Team {
        team_id: r.text(0)?,
        name: r.text(1)?,
        description: r.opt_text(2)?,
        owner: r.text(3)?,
        created_at: r.text(4)?,
        member_count: r.int(5)?,
    })
}

pub fn create_team(
    c: &mut dyn Conn,
    user: &Principal,
    name: &str,
    description: Option<String>,
) -> Result<Resp, ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::invalid("name: a team name may not be empty"));
    }
    gryt_core::api::TeamCreate {
        name: name.to_string(),
        description: description.clone(),
    }
    .check_limits()?;
    // Names are unique among one owner's live teams: another user's team of that name is
    // neither refused nor revealed.
    if c.query_opt(
        "SELECT id FROM teams WHERE owner_id = ?1 AND name = ?2 AND deleted = 0",
        &[Val::Int(user.user_id), Val::from(name)],
    )?
    .is_some()
    {
        return Err(ApiError::conflict(
            ErrorCode::AlreadyExists,
            format!("Team {name} already exists (you own a team of that name)"),
        ));
    }
    let team_id = uuid::Uuid::new_v4().to_string();
    let now = now_rfc3339();
    let pk = c
        .query_one(
            "INSERT INTO teams (team_id, name, description, owner_id, created_at, deleted) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0) RETURNING id",
            &[
                Val::from(&team_id),
                Val::from(name),
                Val::from(description),
                Val::Int(user.user_id),
                Val::from(&now),
            ],
        )?
        .int(0)?;
    c.exec(
        "INSERT INTO team_members (team_pk, user_id, role, added_at) VALUES (?1, ?2, 'owner', ?3)",
        &[Val::Int(pk), Val::Int(user.user_id), Val::from(&now)],
    )?;
    c.exec(
        "INSERT INTO scopes (team_pk, seq) VALUES (?1, 0)",
        &[Val::Int(pk)],
    )?;
    let t = team_info(c, pk)?;
    Resp::json(
        201,
        &TeamCreated {
            data: t,
            message: format!("Team {name} created"),
            team_id,
        },
    )
}

pub fn list_teams(c: &mut dyn Conn, user: &Principal) -> Result<Resp, ApiError> {
    let rows = c.query(
        "SELECT t.id FROM teams t JOIN team_members m ON m.team_pk = t.id \
         WHERE m.user_id = ?1 AND t.deleted = 0 ORDER BY t.id",
        &[Val::Int(user.user_id)],
    )?;
    let mut teams = Vec::new();
    for r in rows {
        teams.push(team_info(c, r.int(0)?)?);
    }
    Resp::json(
        200,
        &Data {
            data: TeamList { teams },
        },
    )
}

pub fn get_team(c: &mut dyn Conn, user: &Principal, team_id: &str) -> Result<Resp, ApiError> {
    let (pk, _) = team_row(c, user, team_id)?;
    let t = team_info(c, pk)?;
    Resp::json(200, &Data { data: t })
}

pub fn delete_team(c: &mut dyn Conn, user: &Principal, team_id: &str) -> Result<Resp, ApiError> {
    let (pk, owner) = team_row(c, user, team_id)?;
    if owner != user.user_id {
        return Err(ApiError::forbidden("Only the team's owner may delete it"));
    }
    needs_password(user, "delete a team")?;
    c.exec(
        "UPDATE teams SET deleted = 1 WHERE id = ?1",
        &[Val::Int(pk)],
    )?;
    Resp::json(
        200,
        &Said {
            data: TeamDeleted {
                deleted: true,
                team_id: team_id.to_string(),
            },
            message: "Team deleted".to_string(),
        },
    )
}

pub fn list_members(c: &mut dyn Conn, user: &Principal, team_id: &str) -> Result<Resp, ApiError> {
    let (pk, _) = team_row(c, user, team_id)?;
    let rows = c.query(
        "SELECT u.username, m.role, m.added_at FROM team_members m JOIN users u ON u.id = m.user_id \
         WHERE m.team_pk = ?1 ORDER BY m.added_at, u.username",
        &[Val::Int(pk)],
    )?;
    let mut members = Vec::new();
    for r in rows {
        members.push(TeamMember {
            username: r.text(0)?,
            role: r.text(1)?,
            added_at: r.text(2)?,
        });
    }
    Resp::json(
        200,
        &Data {
            data: MemberList { members },
        },
    )
}

pub fn add_member(
    c: &mut dyn Conn,
    user: &Principal,
    team_id: &str,
    username: &str,
) -> Result<Resp, ApiError> {
    gryt_core::limits::text("username", username, gryt_core::limits::NAME)?;
    // Only the owner learns whether a user name exists: a non-member gets 404 for the team
    // and a member 403, before the name is looked up.
    let (pk, owner) = team_row(c, user, team_id)?;
    if owner != user.user_id {
        return Err(ApiError::forbidden("Only the team's owner may add members"));
    }
    let uid = user_id(c, username)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "User {} not found",
            username.chars().take(64).collect::<String>()
        ))
    })?;
    if c.query_opt(
        "SELECT role FROM team_members WHERE team_pk = ?1 AND user_id = ?2",
        &[Val::Int(pk), Val::Int(uid)],
    )?
    .is_some()
    {
        return Err(ApiError::conflict(
            ErrorCode::AlreadyExists,
            format!("User {username} is already a member (already exists)"),
        ));
    }
    let now = now_rfc3339();
    c.exec(
        "INSERT INTO team_members (team_pk, user_id, role, added_at) VALUES (?1, ?2, 'member', ?3)",
        &[Val::Int(pk), Val::Int(uid), Val::from(&now)],
    )?;
    Resp::json(
        201,
        &Said {
            data: MemberAdded {
                added_at: now,
                role: "member".to_string(),
                username: username.to_string(),
            },
            message: format!("Added {username}"),
        },
    )
}

pub fn remove_member(
    c: &mut dyn Conn,
    user: &Principal,
    team_id: &str,
    username: &str,
) -> Result<Resp, ApiError> {
    let (pk, owner) = team_row(c, user, team_id)?;
    let uid = user_id(c, username)?;
    let is_self = uid == Some(user.user_id);
    if owner != user.user_id && !is_self {
        return Err(ApiError::forbidden(
            "Only the team's owner may remove other members",
        ));
    }
    if uid == Some(owner) {
        return Err(ApiError::conflict(
            ErrorCode::Owner,
            "The team's owner cannot leave the team; delete it instead",
        ));
    }
    let n = match uid {
        Some(uid) => c.exec(
            "DELETE FROM team_members WHERE team_pk = ?1 AND user_id = ?2",
            &[Val::Int(pk), Val::Int(uid)],
        )?,
        None => 0,
    };
    if n == 0 {
        return Err(ApiError::not_found(format!(
            "{} is not a member of this team",
            username.chars().take(64).collect::<String>()
        )));
    }
    Resp::json(
        200,
        &Said {
            data: MemberRemoved {
                removed: true,
                username: username.to_string(),
            },
            message: format!("Removed {username}"),
        },
    )
}
