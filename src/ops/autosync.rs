//! Automatic sync around commands, by execution mode (docs/sync.md):
//! - local: never touches the network;
//! - hybrid (default): evolution results (`evolution complete`, `gryt run`) are sent as
//!   they are recorded; promotion is cloud-first (see commands/promote.rs);
//! - cloud: every workspace command first pulls if the server moved, and every change is
//!   pushed right after it is made.
//!
//! Offline, the change stays in the local database as pending work and a `Note:` on stderr
//! says so; the command's exit code is its own work's (with `--strict-sync`, a command that
//! succeeded exits 4, or 3 when the sync needs attention). `gryt sync push`, `gryt sync
//! watch` or the next automatic sync delivers it.

use crate::client::cloud::Cloud;
use crate::config::ExecutionMode;
use crate::context::Context;
use crate::error::{CliError, Kind, Result};
use crate::ops::sync;

/// What a command needs around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hook {
    /// A workspace command: in cloud mode, pull first if behind.
    pub pre_pull: bool,
    /// It writes: in cloud mode, push after.
    pub writes: bool,
    /// It records evolution results: in hybrid mode, send evolutions after.
    pub evolution_result: bool,
}

impl Hook {
    pub const NONE: Hook = Hook {
        pre_pull: false,
        writes: false,
        evolution_result: false,
    };
}

/// The workspace and its cloud in these modes; the cloud is `Err` when one is configured
/// but may not be used (no credentials for it, no project, another server than the bound
/// one): nothing is sent then.
fn cloud_in(
    ctx: &Context,
    modes: &[ExecutionMode],
) -> Option<(crate::context::Workspace, Result<Cloud>)> {
    // The mode comes from the configuration alone: the database is opened only in these
    // modes (in the others the command opens it itself, once).
    let repo = ctx.repo().ok()?;
    let config = crate::config::Config::load(&ctx.env, Some(&repo.config_path())).ok()?;
    if !modes.contains(&config.execution_mode()) {
        return None;
    }
    let ws = ctx.open().ok()?;
    match Cloud::for_workspace(&ws) {
        Ok(cloud) => Some((ws, Ok(cloud?))),
        Err(e) => Some((ws, Err(e))),
    }
}

/// Before a workspace command in cloud mode: one head request, and a pull if behind.
pub fn before(ctx: &Context, hook: Hook) {
    if !hook.pre_pull {
        return;
    }
    let (mut ws, cloud) = match cloud_in(ctx, &[ExecutionMode::Cloud]) {
        Some((ws, Ok(cloud))) => (ws, cloud),
        Some((_, Err(e))) => {
            ctx.ui.warn(&format!("{} — working offline", e.message));
            return;
        }
        None => return,
    };
    let behind = match (sync::head(&cloud), sync::cursor(&ws.store.conn)) {
        (Ok(h), Ok(c)) => h != c,
        (Err(e), _) => {
            ctx.ui
                .warn(&format!("{} — working offline", CliError::from(e).message));
            return;
        }
        _ => return,
    };
    if behind {
        if let Err(e) = sync::pull(
            ctx,
            &mut ws,
            &cloud,
            &sync::Filter::default(),
            &mut |_, _| {},
        ) {
            ctx.ui
                .warn(&format!("pull before the command failed: {}", e.message));
        }
    }
}

/// After a command: deliver what it changed, by mode. A failed delivery keeps the work
/// pending and turns a success into exit 4 (offline) or 3 (conflict).
/// A command that failed with its own report only ([`CliError::exit`], a failed pipeline)
/// still recorded work, which is delivered too.
pub fn after(ctx: &Context, hook: Hook, result: Result<()>) -> Result<()> {
    let code = match &result {
        Ok(()) => 0,
        Err(e) if e.reported => e.exit_code(),
        Err(_) => return result,
    };
    if !(hook.writes || hook.evolution_result) {
        return result;
    }
    let Some((mut ws, cloud)) = cloud_in(ctx, &[ExecutionMode::Hybrid, ExecutionMode::Cloud])
    else {
        return result;
    };
    let delivers = match ws.config.execution_mode() {
        ExecutionMode::Cloud => hook.writes,
        ExecutionMode::Hybrid => hook.evolution_result,
        ExecutionMode::Local => false,
    };
    let cloud = match cloud {
        Ok(cloud) => cloud,
        Err(_) if !delivers => return result,
        Err(mut e) => {
            e.message = format!("Saved locally, but not synced: {}", e.message);
            return sync_failed(ctx, code, result, e);
        }
    };
    let outcome = match ws.config.execution_mode() {
        ExecutionMode::Cloud if hook.writes => {
            sync::push(ctx, &mut ws, &cloud, None, &mut |_, _| {})
                .and_then(|r| sync::push_verdict(&r))
        }
        ExecutionMode::Hybrid if hook.evolution_result => {
            sync::push_evolutions(ctx, &mut ws, &cloud).and_then(|r| sync::push_verdict(&r))
        }
        _ => return result,
    };
    match outcome {
        Ok(()) => {
            if ws.config.execution_mode() == ExecutionMode::Hybrid {
                note_waiting(ctx, &ws);
            }
            result
        }
        Err(e) => sync_failed(ctx, code, result, e),
    }
}

/// An automatic sync that could not deliver: the command's own exit code stands and a note
/// says what is kept pending, unless `--strict-sync` asks for the sync's own outcome (exit
/// 4 unreachable, 3 needs attention) on a command that otherwise succeeded. The exit-code
/// table is in error.rs.
fn sync_failed(ctx: &Context, code: i32, result: Result<()>, e: CliError) -> Result<()> {
    let e = if e.kind == Kind::Unreachable {
        CliError::new(
            Kind::Unreachable,
            format!("Saved locally, but not synced: {}", e.message),
        )
        .hint("the change is kept as pending; `gryt sync push` (or the next sync) delivers it")
    } else {
        e
    };
    if ctx.strict_sync && code == 0 {
        return Err(e);
    }
    ctx.ui.notice(&e.message);
    for h in &e.hints {
        ctx.ui.notice(h);
    }
    result
}

/// Hybrid mode sends evolution results only once their generation is on the server: says
/// which wait (they go with the next `gryt sync push`).
fn note_waiting(ctx: &Context, ws: &crate::context::Workspace) {
    if let Ok(versions) = crate::store::sync::evolutions_waiting_for_generation(&ws.store.conn) {
        if !versions.is_empty() {
            ctx.ui.notice(&format!(
                "Evolution results of {} are kept pending until the generation is on the server: \
                 `gryt sync push` sends both",
                versions.join(", ")
            ));
        }
    }
}
