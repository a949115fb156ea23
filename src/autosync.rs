//! Automatic sync around commands, by execution mode (docs/sync.md):
//! - local: never touches the network;
//! - hybrid (default): evolution results (`evolution complete`, `gryt run`) are sent as
//!   they are recorded; promotion is cloud-first (see cli/promote.rs);
//! - cloud: every workspace command first pulls if the server moved, and every change is
//!   pushed right after it is made.
//!
//! Offline, the change stays in the local database as pending work and the command exits
//! 4 saying so; `gryt sync push`, `gryt sync watch` or the next automatic sync delivers it.

use crate::cloud::Cloud;
use crate::config::ExecutionMode;
use crate::context::Context;
use crate::error::{GrytError, Kind, Result};
use crate::sync;

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
    let ws = ctx.open().ok()?;
    if !modes.contains(&ws.config.execution_mode()) {
        return None;
    }
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
                .warn(&format!("{} — working offline", GrytError::from(e).message));
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
pub fn after(ctx: &Context, hook: Hook, result: Result<i32>) -> Result<i32> {
    let Ok(code) = result else { return result };
    if !(hook.writes || hook.evolution_result) {
        return Ok(code);
    }
    let Some((mut ws, cloud)) = cloud_in(ctx, &[ExecutionMode::Hybrid, ExecutionMode::Cloud])
    else {
        return Ok(code);
    };
    let delivers = match ws.config.execution_mode() {
        ExecutionMode::Cloud => hook.writes,
        ExecutionMode::Hybrid => hook.evolution_result,
        ExecutionMode::Local => false,
    };
    let cloud = match cloud {
        Ok(cloud) => cloud,
        Err(_) if !delivers => return Ok(code),
        Err(e) => {
            let e = GrytError {
                message: format!("Saved locally, but not synced: {}", e.message),
                ..e
            };
            if code == 0 {
                return Err(e);
            }
            ctx.ui.warn(&e.message);
            return Ok(code);
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
        _ => return Ok(code),
    };
    match outcome {
        Ok(()) => Ok(code),
        Err(e) if e.kind == Kind::Unreachable => {
            let e = GrytError::new(
                Kind::Unreachable,
                format!("Saved locally, but not synced: {}", e.message),
            )
            .hint("the change is kept as pending; `gryt sync push` (or the next sync) delivers it");
            if code == 0 {
                Err(e)
            } else {
                ctx.ui.warn(&e.message);
                Ok(code)
            }
        }
        Err(e) => {
            if code == 0 {
                Err(e)
            } else {
                ctx.ui.warn(&e.message);
                Ok(code)
            }
        }
    }
}
