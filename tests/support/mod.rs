//! The one test-support layer of the root package's integration tests. Every test binary
//! (`tests/NAME.rs`) declares `mod support;` and builds on it:
//!
//! - [`command`]: the hermetic `gryt` command (cleared environment, temporary HOME and
//!   config dir) and [`command::Out`], one finished command with assertions on its exit
//!   code, stdout and stderr together;
//! - [`workspace`]: [`workspace::Workspace`], one developer's HOME, config dir and working
//!   directory, running the real binary (local repositories, synced ones, clones);
//! - [`state`]: what "nothing changed" compares (the CLI's views, the database's rows, the
//!   files under `.gryt/`);
//! - [`server`]: [`server::Cloud`], a real `gryt_server::TestServer` on 127.0.0.1:0 (SQLite,
//!   or PostgreSQL), and [`server::ServerProcess`], the real `gryt server` as a child process;
//! - [`http`]: the one HTTP/1.1 message reader the test servers and the proxy share;
//! - [`proxy`]: the one fault-injecting proxy; [`fake`]: a scripted fake server;
//! - [`files`]: small file helpers; [`registration`]: the "no forgotten files" check.
//!
//! Each binary uses a different part of it, hence the `dead_code` allowance.
#![allow(dead_code, unused_imports)]

pub mod command;
pub mod fake;
pub mod files;
pub mod http;
pub mod proxy;
pub mod registration;
pub mod server;
pub mod state;
pub mod workspace;

pub use command::{finish, gryt_bin, password_of, Out};
pub use workspace::Workspace;

/// The fixed instant every command of a workspace with a clock sees (`GRYT_NOW`).
pub const NOW: &str = "2026-01-02T03:04:05Z";
/// How [`NOW`] is stored in records.
pub const NOW_STORED: &str = "2026-01-02T03:04:05.000000Z";
/// A URL nobody listens on (port 1 of the loopback refuses connections at once).
pub const DEAD_URL: &str = "http://127.0.0.1:1";

/// A note on the real stderr, past the test harness's capture, so it is always shown
/// (figures behind a bound, skipped cases).
pub fn note(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "note: {msg}");
}

/// The change ids of a generation (a server's or a `generation show --json`'s
/// `generation`), sorted (a merge decides the order).
#[track_caller]
pub fn change_ids(g: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = g["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes in {g:#}"))
        .iter()
        .map(|c| c["id"].as_str().expect("a change id").to_string())
        .collect();
    ids.sort();
    ids
}
