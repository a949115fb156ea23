//! `gryt sync ...`: pull, push, push-evolutions, status, log, resolve, watch.

use crate::client::cloud::Cloud;
use crate::context::{Context, Workspace};
use crate::error::{GrytError, Kind, Result};
use crate::ops::sync::{self, Filter};
use crate::store::sync as ss;
use clap::{Args, Subcommand};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Fetch what changed on the server and merge it (never loses local work).
    Pull(PullArgs),
    /// Send pending local work (pulls first; exit 3 on a conflict or a taken version).
    Push(PushArgs),
    /// Send the evolutions of one generation.
    PushEvolutions(VersionArgs),
    /// What is pending, in conflict, behind; with VERSION, each change and its proof.
    Status(StatusArgs),
    /// The history of syncs.
    Log(LogArgs),
    /// Settle a conflict or work the server refused: keep yours (--ours) or the server's (--theirs).
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
    pub version: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
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

pub fn dispatch(ctx: &Context, cmd: SyncCommand) -> Result<i32> {
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
    Cloud::for_workspace(ws)?.ok_or_else(|| {
        GrytError::error("No gryt server is configured")
            .hint("log in with `gryt cloud login --url URL`, or set `gryt config gryt_url URL`")
    })
}

/// A progress bar on stderr, drawn only on a terminal and only once an operation has
/// taken more than a second.
pub struct Bar {
    bar: Option<indicatif::ProgressBar>,
    start: std::time::Instant,
    enabled: bool,
    label: &'static str,
}

impl Bar {
    pub fn new(ctx: &Context, label: &'static str) -> Bar {
        use std::io::IsTerminal;
        Bar {
            bar: None,
            start: std::time::Instant::now(),
            enabled: !ctx.ui.quiet && std::io::stderr().is_terminal(),
            label,
        }
    }
    pub fn tick(&mut self, done: u64, total: u64) {
        if !self.enabled || self.start.elapsed() < std::time::Duration::from_secs(1) {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new(total);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec}")
            {
                b.set_style(style);
            }
            b.set_message(self.label);
            b
        });
        bar.set_length(total.max(done));
        bar.set_position(done);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
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
        let now = ctx.now();
        if let Ok(tx) = ws.store.write() {
            let entry = ss::LogEntry {
                direction,
                records: 0,
                conflicts: 0,
                requests: 0,
                bytes: 0,
                error: Some(&e.message),
                detail: None,
            };
            if ss::log(&tx, &now, &entry).is_ok() {
                let _ = tx.commit();
            }
        }
    }
    r
}

fn cmd_pull(ctx: &Context, a: PullArgs) -> Result<i32> {
    let mut ws = ctx.open()?;
    let cloud = require_cloud(&ws)?;
    let filter = Filter {
        only: a.only,
        exclude: a.exclude,
    };
    let mut bar = Bar::new(ctx, "pull");
    let r = sync::pull(ctx, &mut ws, &cloud, &filter, &mut |d, t| bar.tick(d, t));
    drop(bar);
    let r = log_failure(ctx, &mut ws, "pull", r)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "pull": r, "requests": cloud.remote.requests.get(), "bytes": cloud.remote.bytes.get() }));
    } else if r.up_to_date_before {
        ctx.ui.info("Already up to date.");
    } else {
        ctx.ui.info(&format!(
            "Pulled: {} new, {} updated, {} merged with local edits, {} deleted, {} evolutions ({} pages, now at {} of {}).",
            r.inserted, r.updated, r.merged, r.deleted, r.evolutions, r.pages, r.cursor, r.head
        ));
        print_conflicts(ctx, &r.conflicts);
    }
    if !r.conflicts.is_empty() {
        return Err(GrytError::new(Kind::Attention, format!("{} generation(s) in conflict; your local copies were kept", r.conflicts.len()))
            .hint("see `gryt sync status`, then `gryt sync resolve VERSION --ours` or `--theirs`, or rename a taken version"));
    }
    Ok(0)
}

fn cmd_push(ctx: &Context, version: Option<&str>) -> Result<i32> {
    let mut ws = ctx.open()?;
    let cloud = require_cloud(&ws)?;
    let version = match version {
        Some(v) => Some(crate::ops::load_generation(&ws.store.conn, v)?.version),
        None => None,
    };
    let mut bar = Bar::new(ctx, "push");
    let r = sync::push(ctx, &mut ws, &cloud, version.as_deref(), &mut |d, t| {
        bar.tick(d, t)
    });
    drop(bar);
    let r = log_failure(ctx, &mut ws, "push", r)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "push": r, "requests": cloud.remote.requests.get(), "bytes": cloud.remote.bytes.get() }));
    } else {
        ctx.ui.info(&format!(
            "Pushed: {} created, {} updated, {} deleted, {} promoted, {} evolutions ({} requests).",
            r.created, r.updated, r.deleted, r.promoted, r.evolutions, r.requests
        ));
        print_conflicts(ctx, &r.conflicts);
    }
    sync::push_verdict(&r)?;
    Ok(0)
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

fn cmd_status(ctx: &Context, a: StatusArgs) -> Result<i32> {
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
        let rec = crate::ops::load_generation(&ws.store.conn, &v)?;
        let (evs, report) = crate::ops::gate_of(&ws.repo, &ws.store.conn, &rec)?;
        if ctx.ui.json {
            ctx.ui.json(&json!({ "generation": rec, "evolutions": evs, "gate": report, "offline": offline }));
            return Ok(0);
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
        super::generation::print_gate(ctx, &report);
        return Ok(0);
    }
    let conn = &ws.store.conn;
    let head = cloud.as_ref().map(sync::head);
    let cursor = sync::cursor(conn)?;
    type Row = (String, String, Option<String>, Option<String>);
    let rows: Vec<Row> = conn
        .prepare("SELECT version, sync_status, remote_id, sync_error FROM generations")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut local_only = Vec::new();
    let mut synced = Vec::new();
    let mut pending = Vec::new();
    for (v, s, rid, err) in &rows {
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
    let evo_pending: i64 = conn.query_row(
        "SELECT COUNT(*) FROM evolutions WHERE sync_status IN ('not_synced', 'failed')",
        [],
        |r| r.get(0),
    )?;
    let deletes: Vec<String> = conn
        .prepare("SELECT label FROM pending_deletes WHERE refused IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let conflicts = ss::conflicts(conn)?;
    let refused = ss::refused(conn)?;
    let last_ok = ss::get_meta(conn, "last_successful_sync")?;
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
            Some(crate::error::GrytError::from(e.clone()).message),
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
                "Last successful sync: {t} ({a} s ago, {})",
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
            "Pending push: {} generation(s), {} evolution(s), {} deletion(s)",
            pending.len(),
            evo_pending,
            deletes.len()
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
        return Ok(3);
    }
    Ok(0)
}

/// The commands that settle a conflict.
fn settle_conflict(c: &ss::ConflictRow) -> String {
    let v = &c.version;
    if c.kinds.iter().any(|k| k.item == sync::VERSION_EXISTS) {
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

fn cmd_log(ctx: &Context, a: LogArgs) -> Result<i32> {
    let ws = ctx.open()?;
    /// at, direction, records, conflicts, requests, error, detail
    type LogRow = (
        String,
        String,
        i64,
        i64,
        i64,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<LogRow> = ws
        .store
        .conn
        .prepare("SELECT at, direction, records, conflicts, requests, error, detail FROM sync_log ORDER BY id DESC LIMIT ?1")?
        .query_map([a.limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if ctx.ui.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(at, d, n, c, q, e, x)| json!({ "at": at, "direction": d, "records": n, "conflicts": c, "requests": q, "error": e, "detail": x }))
            .collect();
        ctx.ui.json(&json!({ "log": list }));
        return Ok(0);
    }
    if rows.is_empty() {
        ctx.ui.info("No syncs yet.");
        return Ok(0);
    }
    let mut t = ctx.ui.table(&[
        "When",
        "Direction",
        "Records",
        "Conflicts",
        "Error",
        "Detail",
    ]);
    for (at, d, n, c, _, e, x) in rows {
        t.add_row(vec![
            at,
            d,
            n.to_string(),
            c.to_string(),
            e.unwrap_or_default(),
            x.unwrap_or_default(),
        ]);
    }
    ctx.ui.print_table(&t);
    Ok(0)
}

fn cmd_resolve(ctx: &Context, a: ResolveArgs) -> Result<i32> {
    let mut ws = ctx.open()?;
    let now = ctx.now();
    let v = crate::ops::parse_version(&a.version)?.to_string();
    let conflict = ss::conflicts(&ws.store.conn)?
        .into_iter()
        .find(|c| c.version == v);
    let refused: Vec<ss::Refused> = ss::refused(&ws.store.conn)?
        .into_iter()
        .filter(|r| r.version == v)
        .collect();
    if conflict.is_none() && refused.is_empty() {
        return Err(GrytError::error(format!(
            "Generation {v} is not in conflict and the server refused nothing of it"
        ))
        .hint("`gryt sync status` lists the conflicts and the refused work"));
    }
    // The server's copies of refused evolutions not stored here (kept by older gryt
    // versions) are fetched before the transaction.
    let fetched = if a.theirs {
        fetch_missing_evolutions(&ws, &refused)?
    } else {
        BTreeMap::new()
    };
    let tx = ws.store.write()?;
    let (mut write, mut remove) = (None, None);
    if let Some(row) = conflict {
        (write, remove) = resolve_conflict(&tx, &row, a.theirs, &v, &now)?;
    }
    let mut settled = Vec::new();
    for r in &refused {
        let files = settle(&tx, r, a.theirs, &fetched, &now)?;
        if files.0.is_some() {
            write = files.0;
        }
        if files.1.is_some() {
            remove = files.1;
        }
        settled.push(format!("{} {}", r.what, r.label));
    }
    tx.commit()?;
    if let Some(r) = remove {
        let _ = std::fs::remove_file(ws.repo.generation_file(&r));
    }
    if let Some(w) = write {
        if let Some(rec) = crate::store::get_generation(&ws.store.conn, &w)? {
            crate::ops::write_contract(&ws.store.conn, &ws.repo, &rec)?;
        }
    }
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
    Ok(0)
}

/// Settles a merge conflict or a taken version; returns the contract file to write and the
/// one to remove.
fn resolve_conflict(
    tx: &rusqlite::Connection,
    row: &ss::ConflictRow,
    theirs: bool,
    v: &str,
    now: &str,
) -> Result<(Option<String>, Option<String>)> {
    let v = v.to_string();
    let mut write = None;
    let mut remove = None;
    let version_taken = row.kinds.iter().any(|k| k.item == sync::VERSION_EXISTS);
    match (theirs, &row.remote) {
        (true, _) if version_taken => {
            // The server's generation of this version wins. A record the server also has
            // (renamed here onto the taken version) goes back to its last synced copy with
            // its evolutions, proofs not yet pushed included; a draft only we have is
            // dropped. The full resync that follows brings theirs and any newer changes.
            let base = ss::local_by_uuid(tx, &row.generation_id)?
                .filter(|l| l.rec.remote_id.is_some())
                .and_then(|l| l.base);
            match base {
                Some(base) => {
                    if base.version != v
                        && crate::store::get_generation(tx, &base.version)?.is_some()
                    {
                        return Err(GrytError::error(format!(
                            "The server's copy of {v} is named {}, a version another generation holds here",
                            base.version
                        ))
                        .hint(format!(
                            "rename that one first (`gryt generation rename {} NEW`), then resolve {v} again",
                            base.version
                        )));
                    }
                    ss::revert_to_base(tx, &row.generation_id, &base, now)?;
                    write = Some(base.version.clone());
                }
                None => ss::delete_local_generation(tx, &row.generation_id)?,
            }
            ss::set_meta(tx, "resync", "1", now)?;
            remove = Some(v.clone());
        }
        (true, Some(g)) if g.deleted => {
            ss::delete_local_generation(tx, &row.generation_id)?;
            remove = Some(v.clone());
        }
        (true, Some(g)) => {
            let c = ss::content_of_wire(g)?;
            if c.version != v && crate::store::get_generation(tx, &c.version)?.is_some() {
                return Err(GrytError::error(format!(
                    "The server's copy of {v} is named {}, a version another generation holds here",
                    c.version
                ))
                .hint(format!(
                    "rename that one first (`gryt generation rename {} NEW`), then resolve {v} again",
                    c.version
                )));
            }
            ss::take_remote(tx, &row.generation_id, g, &c, now)?;
            remove = Some(v.clone());
            write = Some(c.version.clone());
        }
        (false, _) if version_taken => {
            return Err(GrytError::error(format!("Version {v} is taken in the cloud; yours cannot be pushed under it"))
                .hint(format!("rename yours with `gryt generation rename {v} NEW`, or take theirs with `gryt sync resolve {v} --theirs`")));
        }
        (false, Some(g)) if g.deleted => {
            return Err(GrytError::error(format!("The server deleted {v}; your edits cannot be pushed onto it"))
                .hint(format!("take the deletion with `gryt sync resolve {v} --theirs`, or save your work under a new version first")));
        }
        (false, Some(g)) if g.status == "promoted" => {
            return Err(GrytError::error(format!("{v} was promoted on the server; it can no longer change"))
                .hint(format!("take theirs with `gryt sync resolve {v} --theirs`, and release your changes as a new version")));
        }
        (false, Some(g)) => {
            let base = ss::content_of_wire(g)?;
            ss::rebase(tx, &row.generation_id, g, &base, None, now)?;
        }
        (_, None) => {
            return Err(GrytError::error(format!(
                "The server's copy of {v} is not known; pull again"
            ))
            .hint("`gryt sync pull`"));
        }
    }
    Ok((write, remove))
}

/// Settles one refused record: `--theirs` drops the local change and restores the server's
/// copy (a record the server never took goes), `--ours` queues it to be sent again.
/// Returns the contract file to write and the one to remove.
fn settle(
    tx: &rusqlite::Connection,
    r: &ss::Refused,
    theirs: bool,
    fetched: &BTreeMap<String, Option<gryt_core::wire::Evolution>>,
    now: &str,
) -> Result<(Option<String>, Option<String>)> {
    if !theirs {
        ss::requeue_refused(tx, r)?;
        return Ok((None, None));
    }
    match r.what {
        "evolution" => {
            let copy = match &r.remote_id {
                None => None,
                Some(_) => match ss::evolution_base(tx, &r.id)? {
                    Some(e) => Some(e),
                    None => fetched.get(&r.id).cloned().flatten(),
                },
            };
            match copy {
                Some(e) if !e.deleted => ss::take_remote_evolution(tx, &r.id, &e, now)?,
                _ => ss::delete_local_evolution(tx, &r.id)?,
            }
            Ok((None, None))
        }
        "generation" => {
            let base = ss::local_by_uuid(tx, &r.id)?.and_then(|l| l.base);
            match (&r.remote_id, base) {
                (Some(_), Some(base)) => {
                    if base.version != r.version
                        && crate::store::get_generation(tx, &base.version)?.is_some()
                    {
                        return Err(GrytError::error(format!(
                            "The server's copy of {} is named {}, a version another generation holds here",
                            r.version, base.version
                        ))
                        .hint(format!(
                            "rename that one first (`gryt generation rename {} NEW`), then resolve {} again",
                            base.version, r.version
                        )));
                    }
                    ss::restore_generation(tx, &r.id, &base, now)?;
                    ss::set_meta(tx, "resync", "1", now)?;
                    Ok((Some(base.version.clone()), Some(r.version.clone())))
                }
                _ => {
                    // The server never took it (or its copy is unknown here): the draft
                    // goes; a full pull brings whatever the server holds.
                    ss::delete_local_generation(tx, &r.id)?;
                    ss::set_meta(tx, "resync", "1", now)?;
                    Ok((None, Some(r.version.clone())))
                }
            }
        }
        _ => {
            tx.execute("DELETE FROM pending_deletes WHERE remote_id = ?1", [&r.id])?;
            // The deleted record comes back with the next pull (a full one).
            ss::set_meta(tx, "resync", "1", now)?;
            Ok((None, None))
        }
    }
}

/// The server's copies of refused evolutions whose copy is not stored here: by local id,
/// `None` when the server no longer has it.
fn fetch_missing_evolutions(
    ws: &Workspace,
    refused: &[ss::Refused],
) -> Result<BTreeMap<String, Option<gryt_core::wire::Evolution>>> {
    let mut out = BTreeMap::new();
    for r in refused.iter().filter(|r| r.what == "evolution") {
        let Some(rid) = &r.remote_id else { continue };
        if ss::evolution_base(&ws.store.conn, &r.id)?.is_some() {
            continue;
        }
        let cloud = require_cloud(ws)?;
        let got: std::result::Result<gryt_core::wire::Data<gryt_core::wire::Evolution>, _> = cloud
            .remote
            .call("GET", &format!("/api/v1/evolutions/{rid}"), None, &[]);
        match got {
            Ok(d) => {
                out.insert(r.id.clone(), Some(d.data));
            }
            Err(crate::client::RemoteError::Http { status: 404, .. }) => {
                out.insert(r.id.clone(), None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn cmd_watch(ctx: &Context, a: WatchArgs) -> Result<i32> {
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
            return Ok(0);
        }
        std::thread::sleep(wait);
    }
}

pub fn has_pending(ws: &Workspace) -> Result<bool> {
    let n: i64 = ws.store.conn.query_row(
        "SELECT (SELECT COUNT(*) FROM generations WHERE sync_status = 'not_synced' OR promote_key IS NOT NULL) \
         + (SELECT COUNT(*) FROM evolutions WHERE sync_status IN ('not_synced', 'failed')) \
         + (SELECT COUNT(*) FROM pending_deletes WHERE refused IS NULL)",
        [],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}
