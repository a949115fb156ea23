//! Every route of the gryt server API the CLI calls: one function per route, giving its
//! method and path. No `/api/v1/` path is written anywhere else in the CLI (a unit test in
//! src/layering.rs checks it). Path segments taken from users are percent-encoded here.

use super::cloud::urlencode;

/// One request line of the API: the method and the path with its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: String,
}

fn route(method: &'static str, path: impl Into<String>) -> Route {
    Route {
        method,
        path: path.into(),
    }
}

/// `GET /api/v1/sync/head`, in a scope (`scope` is a query starting with `?`, or empty).
pub fn sync_head(scope: &str) -> Route {
    route("GET", format!("/api/v1/sync/head{scope}"))
}

/// `GET /api/v1/sync/changes`: the feed after `since`, at most `limit` records (`scope` is
/// a query continuation starting with `&`, or empty).
pub fn sync_changes(since: i64, limit: i64, scope: &str) -> Route {
    route(
        "GET",
        format!("/api/v1/sync/changes?since={since}&limit={limit}{scope}"),
    )
}

/// `POST /api/v1/sync/batch`.
pub fn sync_batch() -> Route {
    route("POST", "/api/v1/sync/batch")
}

/// `POST /api/v1/generations/{id}/promote`.
pub fn promote_generation(id: impl std::fmt::Display) -> Route {
    route("POST", format!("/api/v1/generations/{id}/promote"))
}

/// `GET /api/v1/evolutions/{id}`.
pub fn evolution(id: impl std::fmt::Display) -> Route {
    route("GET", format!("/api/v1/evolutions/{id}"))
}

/// `POST /api/v1/accounts/create` (signup).
pub fn create_account() -> Route {
    route("POST", "/api/v1/accounts/create")
}

/// `GET /api/v1/accounts/me` (who the credentials belong to).
pub fn whoami() -> Route {
    route("GET", "/api/v1/accounts/me")
}

/// `GET /api/v1/api-keys`.
pub fn api_keys() -> Route {
    route("GET", "/api/v1/api-keys")
}

/// `POST /api/v1/api-keys`.
pub fn create_api_key() -> Route {
    route("POST", "/api/v1/api-keys")
}

/// `DELETE /api/v1/api-keys/{key_id}`.
pub fn delete_api_key(key_id: &str) -> Route {
    route("DELETE", format!("/api/v1/api-keys/{}", urlencode(key_id)))
}

/// `GET /api/v1/teams`.
pub fn teams() -> Route {
    route("GET", "/api/v1/teams")
}

/// `POST /api/v1/teams`.
pub fn create_team() -> Route {
    route("POST", "/api/v1/teams")
}

/// `GET /api/v1/teams/{team}/members`.
pub fn team_members(team: &str) -> Route {
    route("GET", format!("/api/v1/teams/{}/members", urlencode(team)))
}

/// `POST /api/v1/teams/{team}/members`.
pub fn add_team_member(team: &str) -> Route {
    route("POST", format!("/api/v1/teams/{}/members", urlencode(team)))
}

/// `DELETE /api/v1/teams/{team}/members/{username}`.
pub fn remove_team_member(team: &str, username: &str) -> Route {
    route(
        "DELETE",
        format!(
            "/api/v1/teams/{}/members/{}",
            urlencode(team),
            urlencode(username)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_given_segments_are_percent_encoded() {
        assert_eq!(
            remove_team_member("a b", "x/y").path,
            "/api/v1/teams/a%20b/members/x%2Fy"
        );
        assert_eq!(delete_api_key("k?1").path, "/api/v1/api-keys/k%3F1");
        assert_eq!(
            sync_changes(5, 100, "&project=p").path,
            "/api/v1/sync/changes?since=5&limit=100&project=p"
        );
    }
}
