//! `gryt sync ...`: pull, push, push-evolutions, status, log, resolve, watch.

use crate::client::cloud::Cloud;
use crate::context::{Context, Workspace};
use crate::error::{CliError, Kind, Result};
use crate::ops::sync::{self, Filter};
use crate::store::sync as ss;
use crate::ui::plural;
use crate::ui::progress::Bar;
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Fetch what changed on the server and merge it (never loses local work).
    #[command(
        after_long_help = "Examples:\n  gryt sync pull\n  gryt sync pull --only 'v2.*' --exclude '*-rc.*'"
    )]
    Pull(PullArgs),
    /// Send pending local work (pulls first; exit 3 on a conflict or a taken version).
    #[command(after_long_help = "Examples:\n  gryt sync push\n  gryt sync push v1.2.0")]
    Push(PushArgs),
    /// Send the evolutions of one generation.
    PushEvolutions(VersionArgs),
    /// What is pending, in conflict, behind; with VERSION, each change and its proof.
    Status(StatusArgs),
    /// The history of syncs.
    Log(LogArgs),
    /// Settle a conflict or work the server refused: keep yours (--ours) or the server's (--theirs).
    #[command(
        after_long_help = "Examples:\n  gryt sync status                  # what is in conflict, and how to settle it\n  gryt sync resolve v1.2.0 --ours\n  gryt sync resolve v1.2.0 --theirs"
    )]
    Resolve(ResolveArgs),
    /// Stay in the foreground: pull when the server moves, deliver pending work.
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Only versions matching this glob (repeatable), e.g. 'v2.*'.
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,
    /// Skip versions matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push only this generation (and its evolutions).
    pub version: Option<String>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// The generation whose evolutions to send.
    pub version: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Show this generation's changes and their proof (pulling first when the server
    /// answers).
    pub version: Option<String>,
    /// Exit 3 when the workspace is behind the server too (like `git diff --exit-code`);
    /// without it only conflicts and refused work exit 3.
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// How many entries, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("side").required(true).args(["ours", "theirs"])))]
pub struct ResolveArgs {
    /// The generation in conflict or refused.
    pub version: String,
    /// Keep the local copy; it is pushed on top of the server's.
    #[arg(long)]
    pub ours: bool,
    /// Take the server's copy; local edits of this generation are dropped.
    #[arg(long)]
    pub theirs: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Seconds between checks of the server's head.
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
    /// Stop after this many rounds (default: run until interrupted).
    #[arg(long)]
    pub max_rounds: Option<u64>,
}

pub fn dispatch(ctx: &Context, cmd: SyncCommand) -> Result<()> {
    match cmd {
        SyncCommand::Pull(a) => cmd_pull(ctx, a),
        SyncCommand::Push(a) => cmd_push(ctx, a.version.as_deref()),
        SyncCommand::PushEvolutions(a) => cmd_push(ctx, Some(&a.version)),
        SyncCommand::Status(a) => cmd_status(ctx, a),
        SyncCommand::Log(a) => cmd_log(ctx, a),
        SyncCommand::Resolve(a) => cmd_resolve(ctx, a),
        SyncCommand::Watch(a) => cmd_watch(ctx, a),
    }
}

/// The configured cloud, or a clear error saying how to configure one.
pub fn require_cloud(ws: &Workspace) -> Result<Cloud> {
    Cloud::required(ws)
}

fn print_conflicts(ctx: &Context, conflicts: &[sync::ConflictReport]) {
    for c in conflicts {
        let kinds: Vec<String> = c
            .conflicts
            .iter()
            .map(|k| format!("{} ({})", k.item, k.kind.as_str()))
            .collect();
        ctx.ui.info(&format!(
            "  {} {}: {}",
            ctx.ui.status("conflict"),
            c.version,
            kinds.join(", ")
        ));
    }
}

/// A sync that failed (offline, refused) still leaves a line in `gryt sync log`.
fn log_failure<T>(ctx: &Context, ws: &mut Workspace, direction: &str, r: Result<T>) -> Result<T> {
    if let Err(e) = &r {
        sync::note_failure(ws, direction, &e.message, &ctx.now());
    }
    r
}

fn cmd_pull(ctx: &Context, a: PullArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let cloud = require_cloud(&ws)?;
    let filter = Filter {
        only: a.only,
        exclude: a.exclude,
    };
    let mut bar = Bar::new(&ctx.ui, "pull");
    let r = sync::pull(ctx, &mut ws, &cloud, &filter, &mut |d, t| bar.tick(d, t));
    drop(bar);
    let r = log_failure(ctx, &mut ws, "pull", r)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "pull": r, "requests": cloud.remote.requests(), "bytes": cloud.remote.bytes() }));
    } else if r.up_to_date_before {
        ctx.ui.info("Already up to date.");
    } else {
        ctx.ui.info(&format!(
            "Pulled: {} new, {} updated, {} merged with local edits, {} deleted, {} ({}, now at {} of {}).",
            r.inserted, r.updated, r.merged, r.deleted,
            plural(r.evolutions as u64, "evolution", "evolutions"),
            plural(r.pages as u64, "page", "pages"),
            r.cursor, r.head
        ));
        if r.postponed > 0 {
            ctx.ui.info(&format!(
                "{} left for a later pull: its version is held here by a generation in conflict or not yet moved (see `gryt sync status`).",
                plural(r.postponed, "record", "records")
            ));
        }
        print_conflicts(ctx, &r.conflicts);
    }
    if !r.conflicts.is_empty() {
        return Err(CliError::new(Kind::Attention, format!("{} in conflict; your local copies were kept", plural(r.conflicts.len() as u64, "generation", "generations")))
            .hint("see `gryt sync status`, then `gryt sync resolve VERSION --ours` or `--theirs`, or rename a taken version"));
    }
    Ok(())
}

fn cmd_push(ctx: &Context, version: Option<&str>) -> Result<()> {
    let mut ws = ctx.open()?;
    let cloud = require_cloud(&ws)?;
    let version = match version {
        Some(v) => Some(ws.generation(v)?.version),
        None => None,
    };
    let mut bar = Bar::new(&ctx.ui, "push");
    let r = sync::push(ctx, &mut ws, &cloud, version.as_deref(), &mut |d, t| {
        bar.tick(d, t)
    });
    drop(bar);
    let r = log_failure(ctx, &mut ws, "push", r)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "push": r, "requests": cloud.remote.requests(), "bytes": cloud.remote.bytes() }));
    } else {
        ctx.ui.info(&format!(
            "Pushed: {} created, {} updated, {} deleted, {} promoted, {} ({}).",
            r.created,
            r.updated,
            r.deleted,
            r.promoted,
            plural(r.evolutions as u64, "evolution", "evolutions"),
            plural(r.requests as u64, "request", "requests")
        ));
        print_conflicts(ctx, &r.conflicts);
    }
    sync::push_verdict(&r)?;
    Ok(())
}

fn freshness(age_secs: i64) -> &'static str {
    if age_secs < 60 {
        "synced"
    } else if age_secs < 300 {
        "recent"
    } else {
        "stale"
    }
}

fn cmd_status(ctx: &Context, a: StatusArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let cloud = Cloud::from_config(&ws.config)?;
    if let Some(v) = a.version {
        // Bring the latest proofs first when the server can be reached.
        let mut offline = None;
        if let Some(c) = &cloud {
            if let Err(e) = sync::pull(ctx, &mut ws, c, &Filter::default(), &mut |_, _| {}) {
                offline = Some(e.message);
            }
        }
        let rec = ws.generation(&v)?;
        let (evs, report) = ws.gate(&rec)?;
        if ctx.ui.json {
            ctx.ui.json(&json!({ "generation": rec, "evolutions": evs, "gate": report, "offline": offline }));
            return Ok(());
        }
        ctx.ui.data(&format!(
            "Generation: {} ({}), sync {}",
            rec.version,
            ctx.ui.status(rec.status.as_str()),
            ctx.ui.status(&rec.sync_status)
        ));
        if let Some(o) = offline {
            ctx.ui.warn(&format!("showing local state only: {o}"));
        }
        super::render::print_gate(ctx, &report);
        return Ok(());
    }
    let head = cloud.as_ref().map(sync::head);
    let sync::LocalState {
        cursor,
        generations: rows,
        pending_evolutions: evo_pending,
        pending_deletes: deletes,
        conflicts,
        refused,
        last_successful_sync: last_ok,
    } = sync::local_state(&ws)?;
    let mut local_only = Vec::new();
    let mut synced = Vec::new();
    let mut pending = Vec::new();
    for ss::GenerationSyncState {
        version: v,
        sync_status: s,
        remote_id: rid,
        sync_error: err,
    } in &rows
    {
        match (s.as_str(), rid) {
            ("synced", _) => synced.push(v.clone()),
            // In conflict, or refused by the server: listed below with how to settle it.
            ("conflict" | "failed", _) => {}
            (_, None) => {
                local_only.push(v.clone());
                pending.push(json!({ "version": v, "what": "create", "error": err }));
            }
            (_, Some(_)) => pending.push(json!({ "version": v, "what": "update", "error": err })),
        }
    }
    let age = last_ok
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (ctx.env.now() - t.with_timezone(&chrono::Utc)).num_seconds());
    // Why the server's head is unknown: unreachable, or it answered with an error
    // (refused credentials, say). Status still shows everything local.
    let (behind, offline, server_error) = match &head {
        Some(Ok(h)) => (Some(*h > cursor), false, None),
        Some(Err(e)) => (
            None,
            matches!(e, crate::client::RemoteError::Unreachable(_)),
            Some(crate::error::CliError::from(e.clone()).message),
        ),
        None => (None, false, None),
    };
    if ctx.ui.json {
        ctx.ui.json(&json!({
            "cloud": cloud.as_ref().map(|c| c.remote.base.clone()),
            "head": head.as_ref().and_then(|h| h.as_ref().ok()),
            "cursor": cursor,
            "behind": behind,
            "offline": offline,
            "server_error": server_error,
            "last_successful_sync": last_ok,
            "freshness": age.map(freshness),
            "local_only": local_only,
            "synced": synced,
            "pending": pending,
            "pending_evolutions": evo_pending,
            "pending_deletes": deletes,
            "conflicts": conflicts.iter().map(|c| json!({ "version": c.version, "conflicts": c.kinds, "settle": settle_conflict(c) })).collect::<Vec<_>>(),
            "refused": refused.iter().map(|r| json!({ "what": r.what, "version": r.version, "label": r.label, "reason": r.reason, "settle": settle_refused(r) })).collect::<Vec<_>>(),
        }));
    } else {
        let ui = &ctx.ui;
        ui.page();
        match &cloud {
            Some(c) => ui.data(&format!(
                "Cloud: {} (project {}{})",
                c.remote.base,
                c.project,
                c.team
                    .as_deref()
                    .map(|t| format!(", team {t}"))
                    .unwrap_or_default()
            )),
            None => ui.data("Cloud: none configured (local mode)"),
        }
        match (&head, behind) {
            (Some(Ok(h)), Some(true)) => ui.data(&format!(
                "Workspace: behind (server at {h}, pulled up to {cursor}); run `gryt sync pull`"
            )),
            (Some(Ok(_)), _) => ui.data("Workspace: up to date with the server"),
            (Some(Err(_)), _) => ui.data(&format!(
                "Workspace: unknown ({})",
                server_error.as_deref().unwrap_or("no answer")
            )),
            _ => {}
        }
        match (&last_ok, age) {
            (Some(t), Some(a)) => ui.data(&format!(
                "Last successful sync: {t} ({}, {})",
                ui.when(t, ctx.env.now()),
                freshness(a)
            )),
            _ => ui.data("Last successful sync: never"),
        }
        ui.data(&format!("Synced: {}", synced.len()));
        ui.data(&format!(
            "Local only: {}{}",
            local_only.len(),
            if local_only.is_empty() {
                String::new()
            } else {
                format!(" ({})", local_only.join(", "))
            }
        ));
        ui.data(&format!(
            "Pending push: {}, {}, {}",
            plural(pending.len() as u64, "generation", "generations"),
            plural(evo_pending as u64, "evolution", "evolutions"),
            plural(deletes.len() as u64, "deletion", "deletions")
        ));
        for p in &pending {
            let err = p["error"]
                .as_str()
                .map(|e| format!(" — last error: {e}"))
                .unwrap_or_default();
            ui.data(&format!(
                "  {} {}{err}",
                p["what"].as_str().unwrap_or(""),
                p["version"].as_str().unwrap_or("")
            ));
        }
        ui.data(&format!("Conflicts: {}", conflicts.len()));
        for c in &conflicts {
            let kinds: Vec<String> = c
                .kinds
                .iter()
                .map(|k| format!("{} ({})", k.item, k.kind.as_str()))
                .collect();
            ui.data(&format!("  {}: {}", c.version, kinds.join(", ")));
            ui.data(&format!("    settle: {}", settle_conflict(c)));
        }
        ui.data(&format!("Refused by the server: {}", refused.len()));
        for r in &refused {
            ui.data(&format!("  {} {}: {}", r.what, r.label, r.reason));
            ui.data(&format!("    settle: {}", settle_refused(r)));
        }
    }
    // Being behind is not an error: only work that needs a decision exits 3, unless
    // `--exit-code` asks for behind too.
    if !conflicts.is_empty() || !refused.is_empty() || (a.exit_code && behind == Some(true)) {
        return Err(CliError::exit(Kind::Attention));
    }
    Ok(())
}

/// The commands that settle a conflict.
fn settle_conflict(c: &ss::ConflictRow) -> String {
    let v = &c.version;
    if c.cause == ss::ConflictCause::VersionTaken {
        format!("`gryt generation rename {v} NEW` (keep yours under a new version) or `gryt sync resolve {v} --theirs` (take theirs)")
    } else {
        format!("`gryt sync resolve {v} --ours` (keep yours) or `gryt sync resolve {v} --theirs` (take the server's)")
    }
}

/// The commands that settle refused work.
fn settle_refused(r: &ss::Refused) -> String {
    let v = &r.version;
    let theirs = match r.what {
        "deletion" => "drops the deletion; the server's copy comes back with the next pull",
        "evolution" if r.remote_id.is_none() => "drops this evolution: the server never took it",
        "generation" if r.remote_id.is_none() => "drops this draft: the server never took it",
        _ => "drops your change and restores the server's copy",
    };
    format!("`gryt sync resolve {v} --theirs` ({theirs}), or `gryt sync resolve {v} --ours` (send it again)")
}

fn cmd_log(ctx: &Context, a: LogArgs) -> Result<()> {
    let ws = ctx.open()?;
    let rows: Vec<_> = sync::log(&ws, a.limit)?
        .into_iter()
        .map(|r| {
            (
                r.at,
                r.direction,
                r.records,
                r.conflicts,
                r.requests,
                r.error,
                r.detail,
            )
        })
        .collect();
    if ctx.ui.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(at, d, n, c, q, e, x)| json!({ "at": at, "direction": d, "records": n, "conflicts": c, "requests": q, "error": e, "detail": x }))
            .collect();
        ctx.ui.json(&json!({ "log": list }));
        return Ok(());
    }
    if rows.is_empty() {
        ctx.ui.info("No syncs yet.");
        return Ok(());
    }
    let mut t = ctx.ui.table(&[
        "When",
        "Direction",
        "Records",
        "Conflicts",
        "Error",
        "Detail",
    ]);
    let now = ctx.env.now();
    for (at, d, n, c, _, e, x) in rows {
        t.add_row(vec![
            ctx.ui.when(&at, now),
            d,
            n.to_string(),
            c.to_string(),
            e.unwrap_or_default(),
            x.unwrap_or_default(),
        ]);
    }
    ctx.ui.print_table(&t);
    Ok(())
}

fn cmd_resolve(ctx: &Context, a: ResolveArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let v = crate::ops::parse_version(&a.version)?.to_string();
    let settled = crate::ops::sync::resolve::resolve(&mut ws, &v, a.theirs, &ctx.now())?;
    let side = if a.theirs {
        "the server's copy"
    } else {
        "your copy (push it with `gryt sync push`)"
    };
    if settled.is_empty() {
        ctx.ui.info(&format!("Resolved {v}: kept {side}."));
    } else {
        ctx.ui.info(&format!(
            "Resolved {v}: kept {side} of {}.",
            settled.join(", ")
        ));
    }
    Ok(())
}

fn cmd_watch(ctx: &Context, a: WatchArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let cloud = require_cloud(&ws)?;
    let mut failures: u32 = 0;
    let mut rounds = 0u64;
    let mut last_head = None;
    ctx.ui
        .info(&format!("Watching {} (Ctrl-C to stop)", cloud.remote.base));
    loop {
        rounds += 1;
        let outcome = (|| -> Result<()> {
            let h = sync::head(&cloud)?;
            let pending = has_pending(&ws)?;
            if last_head != Some(h) || pending {
                let r = sync::push(ctx, &mut ws, &cloud, None, &mut |_, _| {})?;
                if r.records() > 0 || r.pull.as_ref().is_some_and(|p| p.records() > 0) {
                    ctx.ui.info(&format!(
                        "{}: pulled {}, pushed {}",
                        ctx.now(),
                        r.pull.as_ref().map(|p| p.records()).unwrap_or(0),
                        r.records()
                    ));
                }
                sync::push_verdict(&r)?;
                last_head = Some(sync::head(&cloud)?);
            }
            Ok(())
        })();
        let wait = match outcome {
            Ok(()) => {
                failures = 0;
                std::time::Duration::from_secs(a.interval)
            }
            Err(e) if e.kind == Kind::Unreachable => {
                failures += 1;
                let w = crate::client::backoff(failures, 1_000, 60_000);
                ctx.ui
                    .warn(&format!("{} — retrying in {} ms", e.message, w.as_millis()));
                w
            }
            Err(e) => return Err(e),
        };
        if a.max_rounds.is_some_and(|m| rounds >= m) {
            return Ok(());
        }
        std::thread::sleep(wait);
    }
}

pub fn has_pending(ws: &Workspace) -> Result<bool> {
    sync::has_pending(ws)
}
