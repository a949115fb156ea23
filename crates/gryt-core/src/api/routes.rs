//! Every route of the API: the path pattern the server routes on (axum's `{name}` syntax)
//! and, next to it, the function a client builds the request line with. A unit test checks
//! that each builder's path matches its pattern. Path segments taken from users are
//! percent-encoded by the builders.

use std::fmt::Display;

pub const HEALTHZ: &str = "/healthz";
/// The process serves (no database touched).
pub const LIVEZ: &str = "/livez";
/// The database answers and its schema is current.
pub const READYZ: &str = "/readyz";
/// Prometheus text exposition.
pub const METRICS: &str = "/metrics";
/// The OpenAPI document of every route.
pub const OPENAPI: &str = "/api/v1/openapi.json";
pub const GENERATIONS: &str = "/api/v1/generations";
pub const GENERATION: &str = "/api/v1/generations/{id}";
pub const GENERATION_PROMOTE: &str = "/api/v1/generations/{id}/promote";
pub const EVOLUTIONS: &str = "/api/v1/evolutions";
pub const EVOLUTION: &str = "/api/v1/evolutions/{id}";
pub const PIPELINE_RUNS: &str = "/api/v1/pipeline-runs";
pub const PIPELINE_RUN: &str = "/api/v1/pipeline-runs/{pipeline_id}";
pub const ACCOUNT_CREATE: &str = "/api/v1/accounts/create";
pub const ACCOUNT_CHANGE_PASSWORD: &str = "/api/v1/accounts/change-password";
pub const ACCOUNT_ME: &str = "/api/v1/accounts/me";
pub const API_KEYS: &str = "/api/v1/api-keys";
pub const API_KEY: &str = "/api/v1/api-keys/{key_id}";
pub const TEAMS: &str = "/api/v1/teams";
pub const TEAM: &str = "/api/v1/teams/{id}";
pub const TEAM_MEMBERS: &str = "/api/v1/teams/{id}/members";
pub const TEAM_MEMBER: &str = "/api/v1/teams/{id}/members/{username}";
pub const SYNC_HEAD: &str = "/api/v1/sync/head";
pub const SYNC_CHANGES: &str = "/api/v1/sync/changes";
pub const SYNC_BATCH: &str = "/api/v1/sync/batch";

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

/// `s` with every byte outside `A-Z a-z 0-9 - _ . ~` written as `%XX`.
pub fn urlencode(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `GET /healthz`.
pub fn healthz() -> Route {
    route("GET", HEALTHZ)
}

/// `GET /livez`.
pub fn livez() -> Route {
    route("GET", LIVEZ)
}

/// `GET /readyz`.
pub fn readyz() -> Route {
    route("GET", READYZ)
}

/// `GET /metrics`.
pub fn metrics() -> Route {
    route("GET", METRICS)
}

/// `GET /api/v1/openapi.json`.
pub fn openapi() -> Route {
    route("GET", OPENAPI)
}

/// `GET /api/v1/generations` (`query` starts with `?`, or is empty).
pub fn generations(query: &str) -> Route {
    route("GET", format!("{GENERATIONS}{query}"))
}

/// `POST /api/v1/generations`.
pub fn create_generation() -> Route {
    route("POST", GENERATIONS)
}

/// `GET /api/v1/generations/{id}`.
pub fn generation(id: impl Display) -> Route {
    route("GET", format!("{GENERATIONS}/{id}"))
}

/// `PATCH /api/v1/generations/{id}`.
pub fn update_generation(id: impl Display) -> Route {
    route("PATCH", format!("{GENERATIONS}/{id}"))
}

/// `DELETE /api/v1/generations/{id}`.
pub fn delete_generation(id: impl Display) -> Route {
    route("DELETE", format!("{GENERATIONS}/{id}"))
}

/// `POST /api/v1/generations/{id}/promote`.
pub fn promote_generation(id: impl Display) -> Route {
    route("POST", format!("{GENERATIONS}/{id}/promote"))
}

/// `GET /api/v1/evolutions` (`query` starts with `?`, or is empty).
pub fn evolutions(query: &str) -> Route {
    route("GET", format!("{EVOLUTIONS}{query}"))
}

/// `POST /api/v1/evolutions`.
pub fn create_evolution() -> Route {
    route("POST", EVOLUTIONS)
}

/// `GET /api/v1/evolutions/{id}`.
pub fn evolution(id: impl Display) -> Route {
    route("GET", format!("{EVOLUTIONS}/{id}"))
}

/// `PATCH /api/v1/evolutions/{id}`.
pub fn update_evolution(id: impl Display) -> Route {
    route("PATCH", format!("{EVOLUTIONS}/{id}"))
}

/// `DELETE /api/v1/evolutions/{id}`.
pub fn delete_evolution(id: impl Display) -> Route {
    route("DELETE", format!("{EVOLUTIONS}/{id}"))
}

/// `POST /api/v1/pipeline-runs`.
pub fn push_pipeline_run() -> Route {
    route("POST", PIPELINE_RUNS)
}

/// `GET /api/v1/pipeline-runs/{pipeline_id}`.
pub fn pipeline_run(pipeline_id: &str) -> Route {
    route("GET", format!("{PIPELINE_RUNS}/{}", urlencode(pipeline_id)))
}

/// `POST /api/v1/accounts/create` (signup).
pub fn create_account() -> Route {
    route("POST", ACCOUNT_CREATE)
}

/// `POST /api/v1/accounts/change-password`.
pub fn change_password() -> Route {
    route("POST", ACCOUNT_CHANGE_PASSWORD)
}

/// `GET /api/v1/accounts/me` (who the credentials belong to).
pub fn whoami() -> Route {
    route("GET", ACCOUNT_ME)
}

/// `GET /api/v1/api-keys`.
pub fn api_keys() -> Route {
    route("GET", API_KEYS)
}

/// `POST /api/v1/api-keys`.
pub fn create_api_key() -> Route {
    route("POST", API_KEYS)
}

/// `DELETE /api/v1/api-keys/{key_id}`.
pub fn delete_api_key(key_id: &str) -> Route {
    route("DELETE", format!("{API_KEYS}/{}", urlencode(key_id)))
}

/// `GET /api/v1/teams`.
pub fn teams() -> Route {
    route("GET", TEAMS)
}

/// `POST /api/v1/teams`.
pub fn create_team() -> Route {
    route("POST", TEAMS)
}

/// `GET /api/v1/teams/{id}`.
pub fn team(team: &str) -> Route {
    route("GET", format!("{TEAMS}/{}", urlencode(team)))
}

/// `DELETE /api/v1/teams/{id}`.
pub fn delete_team(team: &str) -> Route {
    route("DELETE", format!("{TEAMS}/{}", urlencode(team)))
}

/// `GET /api/v1/teams/{id}/members`.
pub fn team_members(team: &str) -> Route {
    route("GET", format!("{TEAMS}/{}/members", urlencode(team)))
}

/// `POST /api/v1/teams/{id}/members`.
pub fn add_team_member(team: &str) -> Route {
    route("POST", format!("{TEAMS}/{}/members", urlencode(team)))
}

/// `DELETE /api/v1/teams/{id}/members/{username}`.
pub fn remove_team_member(team: &str, username: &str) -> Route {
    route(
        "DELETE",
        format!(
            "{TEAMS}/{}/members/{}",
            urlencode(team),
            urlencode(username)
        ),
    )
}

/// `GET /api/v1/sync/head`, in a scope (`scope` is a query starting with `?`, or empty).
pub fn sync_head(scope: &str) -> Route {
    route("GET", format!("{SYNC_HEAD}{scope}"))
}

/// `GET /api/v1/sync/changes`: the feed after `since`, at most `limit` records (`scope` is
/// a query continuation starting with `&`, or empty).
pub fn sync_changes(since: i64, limit: i64, scope: &str) -> Route {
    route(
        "GET",
        format!("{SYNC_CHANGES}?since={since}&limit={limit}{scope}"),
    )
}

/// `POST /api/v1/sync/batch`.
pub fn sync_batch() -> Route {
    route("POST", SYNC_BATCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `path` (its query left out) is matched by the axum `pattern`: literal
    /// segments equal, each `{name}` one non-empty segment without a `/`.
    fn matches(pattern: &str, path: &str) -> bool {
        let path = path.split('?').next().unwrap_or("");
        let (p, s): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
        p.len() == s.len()
            && p.iter().zip(&s).all(|(p, s)| {
                if p.starts_with('{') && p.ends_with('}') {
                    !s.is_empty()
                } else {
                    p == s
                }
            })
    }

    #[test]
    fn every_builder_matches_its_pattern() {
        let cases: Vec<(&str, Route)> = vec![
            (HEALTHZ, healthz()),
            (LIVEZ, livez()),
            (READYZ, readyz()),
            (METRICS, metrics()),
            (OPENAPI, openapi()),
            (GENERATIONS, generations("?project=p&version=v1.0.0")),
            (GENERATIONS, create_generation()),
            (GENERATION, generation(12)),
            (GENERATION, update_generation(12)),
            (GENERATION, delete_generation(12)),
            (GENERATION_PROMOTE, promote_generation(12)),
            (EVOLUTIONS, evolutions("?generation_id=12")),
            (EVOLUTIONS, create_evolution()),
            (EVOLUTION, evolution(5)),
            (EVOLUTION, update_evolution(5)),
            (EVOLUTION, delete_evolution(5)),
            (PIPELINE_RUNS, push_pipeline_run()),
            (PIPELINE_RUN, pipeline_run("run/1")),
            (ACCOUNT_CREATE, create_account()),
            (ACCOUNT_CHANGE_PASSWORD, change_password()),
            (ACCOUNT_ME, whoami()),
            (API_KEYS, api_keys()),
            (API_KEYS, create_api_key()),
            (API_KEY, delete_api_key("gk_1")),
            (TEAMS, teams()),
            (TEAMS, create_team()),
            (TEAM, team("t 1")),
            (TEAM, delete_team("t1")),
            (TEAM_MEMBERS, team_members("t1")),
            (TEAM_MEMBERS, add_team_member("t1")),
            (TEAM_MEMBER, remove_team_member("t/1", "a b")),
            (SYNC_HEAD, sync_head("?team_id=t")),
            (SYNC_CHANGES, sync_changes(3, 100, "&project=p")),
            (SYNC_BATCH, sync_batch()),
        ];
        for (pattern, r) in &cases {
            assert!(
                matches(pattern, &r.path),
                "{} {} vs {pattern}",
                r.method,
                r.path
            );
        }
        // The matcher itself tells paths apart.
        assert!(!matches(TEAM_MEMBERS, "/api/v1/teams/t1"));
        assert!(!matches(GENERATION, "/api/v1/generations/"));
        assert!(!matches(GENERATION_PROMOTE, "/api/v1/evolutions/1/promote"));
    }

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
