//! Accounts, API keys, teams and members, and whoami.
//!
//! The answers that carry a `message` are [`Said`] envelopes. Their fields are declared in
//! the order the server has always written them (alphabetical), so the bytes on the wire are
//! those of earlier servers.

use serde::{Deserialize, Serialize};

/// `{"data": ..., "message": "..."}`: an answer with a sentence for people.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "Said_{T}"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Said<T> {
    pub data: T,
    pub message: String,
}

/// `POST /api/v1/accounts/create`
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignupRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/accounts/change-password`
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /api/v1/api-keys`
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyCreate {
    pub name: String,
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// An API key as listed (never with its secret).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub key_id: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// The answer to `POST /api/v1/api-keys`: the only time the secret is shown.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyCreated {
    pub key_id: String,
    pub secret: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// `POST /api/v1/teams`
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamCreate {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub team_id: String,
    pub name: String,
    pub description: Option<String>,
    pub member_count: i64,
    pub owner: String,
    pub created_at: String,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamMember {
    pub username: String,
    pub role: String,
    pub added_at: String,
}

/// `POST /api/v1/teams/{id}/members`
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberAdd {
    pub username: String,
}

/// The answer to `POST /api/v1/accounts/create` (in a [`Said`]).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountCreated {
    pub id: i64,
    pub username: String,
}

/// Who is asking: `GET /api/v1/accounts/me` (in a `Data`), and the answer to
/// `POST /api/v1/accounts/change-password` (in a [`Said`]).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Username {
    pub username: String,
}

/// `GET /api/v1/api-keys` (in a `Data`).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyInfo>,
}

/// The answer to `DELETE /api/v1/api-keys/{key_id}` (in a [`Said`]).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRevoked {
    pub key_id: String,
    pub revoked: bool,
}

/// The answer to `POST /api/v1/teams`: the team, a sentence, and its id once more at the
/// top (as the reference cloud answers).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamCreated {
    pub data: Team,
    pub message: String,
    pub team_id: String,
}

/// `GET /api/v1/teams` (in a `Data`).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamList {
    pub teams: Vec<Team>,
}

/// The answer to `DELETE /api/v1/teams/{id}` (in a [`Said`]).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamDeleted {
    pub deleted: bool,
    pub team_id: String,
}

/// `GET /api/v1/teams/{id}/members` (in a `Data`).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberList {
    pub members: Vec<TeamMember>,
}

/// The answer to `POST /api/v1/teams/{id}/members` (in a [`Said`]): a [`TeamMember`]
/// written with its fields in alphabetical order.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberAdded {
    pub added_at: String,
    pub role: String,
    pub username: String,
}

/// The answer to `DELETE /api/v1/teams/{id}/members/{username}` (in a [`Said`]).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRemoved {
    pub removed: bool,
    pub username: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Data;

    /// The typed answers write the bytes the server wrote with JSON literals before.
    #[test]
    fn answers_keep_their_bytes() {
        let s = |v: &dyn erased::Json| v.json();
        assert_eq!(
            s(&Said {
                data: AccountCreated {
                    id: 3,
                    username: "ann".into()
                },
                message: "Account ann created".into(),
            }),
            r#"{"data":{"id":3,"username":"ann"},"message":"Account ann created"}"#
        );
        assert_eq!(
            s(&Data {
                data: Username {
                    username: "ann".into()
                }
            }),
            r#"{"data":{"username":"ann"}}"#
        );
        assert_eq!(
            s(&Said {
                data: ApiKeyRevoked {
                    key_id: "gk_1".into(),
                    revoked: true
                },
                message: "API key revoked".into(),
            }),
            r#"{"data":{"key_id":"gk_1","revoked":true},"message":"API key revoked"}"#
        );
        assert_eq!(
            s(&Said {
                data: MemberAdded {
                    added_at: "t".into(),
                    role: "member".into(),
                    username: "bob".into(),
                },
                message: "Added bob".into(),
            }),
            r#"{"data":{"added_at":"t","role":"member","username":"bob"},"message":"Added bob"}"#
        );
        assert_eq!(
            s(&Said {
                data: TeamDeleted {
                    deleted: true,
                    team_id: "t1".into()
                },
                message: "Team deleted".into(),
            }),
            r#"{"data":{"deleted":true,"team_id":"t1"},"message":"Team deleted"}"#
        );
        assert_eq!(
            s(&Said {
                data: MemberRemoved {
                    removed: true,
                    username: "bob".into()
                },
                message: "Removed bob".into(),
            }),
            r#"{"data":{"removed":true,"username":"bob"},"message":"Removed bob"}"#
        );
    }

    mod erased {
        pub trait Json {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Json for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }
}
