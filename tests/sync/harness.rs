//! Sync helpers on top of the shared layer (`tests/support/`): a team of developers on one
//! server, each with a workspace synced with it.

pub use crate::support::fake::Fake;
pub use crate::support::proxy::Proxy;
pub use crate::support::server::{Backend, Cloud};
pub use crate::support::{change_ids, finish, password_of, Workspace};
use std::path::Path;

/// A repository synced with `cloud` as `name` in `team`, logged in with `gryt cloud login`
/// (the password makes an API key; the key is stored).
pub fn join(cloud: &Cloud, name: &str, team: &str) -> Workspace {
    Workspace::bare(name).join(&cloud.url(), Some(team))
}

/// A teammate's clone of `origin` (a git URL or path) in the working directory, logged in
/// to `cloud`, and no `gryt init`.
pub fn clone_of(cloud: &Cloud, name: &str, origin: &Path) -> Workspace {
    Workspace::bare(name).clone_of(&cloud.url(), origin)
}

/// A server (SQLite) with users `names` (the first owns the team) and one workspace each.
pub fn team_of(names: &[&str]) -> (Cloud, String, Vec<Workspace>) {
    team_on(Backend::Sqlite, names)
}

/// As [`team_of`], with the server on `backend`.
pub fn team_on(backend: Backend, names: &[&str]) -> (Cloud, String, Vec<Workspace>) {
    let cloud = Cloud::with_team_on(backend, names, "release-team");
    let team = cloud.team.clone();
    let devs = names.iter().map(|n| join(&cloud, n, &team)).collect();
    (cloud, team, devs)
}
