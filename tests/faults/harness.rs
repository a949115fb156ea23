//! Fault-test helpers on top of the shared layer (`tests/support/`): developers whose every
//! command sees the fixed clock, so that repeated failures write identical times and a
//! `State` comparison sees only real changes.

pub use crate::support::fake::{answer, html, json, Fake, Reply};
pub use crate::support::http::problem;
pub use crate::support::proxy::{Fault, Proxy, Seen};
pub use crate::support::server::Cloud;
pub use crate::support::state::State;
pub use crate::support::{change_ids, finish, Out, Workspace, DEAD_URL};

/// An empty workspace of `name` (no repository, no config) with the fixed clock.
pub fn bare(name: &str) -> Workspace {
    Workspace::bare(name).with_clock()
}

/// A repository in the user's personal scope on the server at `url`, logged in there
/// (`gryt cloud login`: an API key bound to `url`). Through a proxy, before any fault.
pub fn join(url: &str, name: &str) -> Workspace {
    bare(name).join(url, None)
}

/// A repository in the user's personal scope on the scripted fake server at `url`, which
/// cannot log anyone in: the URL in the global config and an API key in the environment.
pub fn join_fake(url: &str, name: &str) -> Workspace {
    bare(name).join_with_env_key(url, None)
}
