//! Push: pending local work as batches with stored Idempotency-Keys and If-Match, each
//! answer judged by the push planner (`gryt_core::sync::push`) and applied; a stale base
//! pulls, merges and retries. See docs/sync.md.
//!
//! - `plan.rs`: the operations of each stage, built from pending work, keys stored first;
//! - `apply.rs`: sending them and applying each answer's outcome through the store.

mod apply;
mod plan;

use super::*;
use apply::{send, send_promotions};
pub(super) use plan::{key_for, settle_lost_updates};
use plan::{plan_evolutions, plan_generations, plan_promotions};

#[derive(Debug, Default, Serialize)]
pub struct PushReport {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub promoted: u64,
    /// Release tags created for promotions the server confirmed during this push.
    pub tagged: Vec<String>,
    pub evolutions: u64,
    pub failed: Vec<(String, String)>,
    /// Work the server refused for good: in `push`, everything refused in the workspace
    /// (or of the version pushed); in `push_evolutions`, what this push had refused.
    pub refused: Vec<ss::Refused>,
    /// Work the server could not take now (429, 5xx in a batch answer): kept pending.
    pub unavailable: Vec<(String, String)>,
    pub version_taken: Vec<String>,
    pub conflicts: Vec<ConflictReport>,
    pub requests: u64,
    pub pull: Option<PullReport>,
    /// Feed positions of the writes this push made (to move the cursor past our own writes).
    #[serde(skip)]
    pub seqs: Vec<i64>,
    /// Evolutions whose create the server already held: looked up there after the batch.
    #[serde(skip)]
    pub(in crate::ops::sync) look_up: Vec<(String, String)>,
}

impl PushReport {
    pub fn records(&self) -> u64 {
        self.created + self.updated + self.deleted + self.promoted + self.evolutions
    }
}

/// Pushes pending work: pull first, then deletions and generations, then evolutions, then
/// promotions made while offline; on a stale base it pulls, merges and tries once more.
pub fn push(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    version: Option<&str>,
    progress: Progress<'_>,
) -> Result<PushReport> {
    let mut report = PushReport::default();
    let mut noop = |_: u64, _: u64| {};
    report.pull = Some(pull(ctx, ws, cloud, &Filter::default(), &mut noop)?);
    for round in 0..2 {
        let gens = plan_generations(ws, cloud, version)?;
        let total = gens.len() as u64;
        let mut stale = send(ctx, ws, cloud, gens, &mut report, progress, total)?;
        let evos = plan_evolutions(ws, version)?;
        let total = evos.len() as u64;
        stale |= send(ctx, ws, cloud, evos, &mut report, progress, total)?;
        let proms = plan_promotions(ws, version)?;
        stale |= send_promotions(ctx, ws, cloud, proms, &mut report)?;
        if !stale || round == 1 {
            break;
        }
        let p = pull(ctx, ws, cloud, &Filter::default(), &mut noop)?;
        if let Some(prev) = report.pull.as_mut() {
            prev.conflicts.extend(p.conflicts);
        }
    }
    let now = ctx.now();
    advance_past_own_writes(ctx, ws, &mut report.seqs)?;
    report.conflicts = ss::conflicts(&ws.store.conn)?
        .into_iter()
        .filter(|c| version.is_none_or(|v| v == c.version))
        .map(|c| ConflictReport {
            version: c.version,
            conflicts: c.kinds,
            cause: c.cause,
        })
        .collect();
    // Refused work needs attention until settled, whether refused now or before.
    report.refused = ss::refused(&ws.store.conn)?
        .into_iter()
        .filter(|r| version.is_none_or(|v| v == r.version))
        .collect();
    let tx = ws.store.write()?;
    ss::set_meta(&tx, LAST_PUSH, &now, &now)?;
    if report.failed.is_empty()
        && report.conflicts.is_empty()
        && report.version_taken.is_empty()
        && report.refused.is_empty()
        && report.unavailable.is_empty()
    {
        ss::set_meta(&tx, LAST_OK, &now, &now)?;
    }
    ss::log(
        &tx,
        &now,
        &ss::LogEntry {
            direction: "push",
            records: report.records() as i64,
            conflicts: report.conflicts.len() as i64,
            requests: report.requests as i64,
            bytes: 0,
            error: report
                .refused
                .first()
                .map(|r| r.reason.as_str())
                .or(report.failed.first().map(|f| f.1.as_str()))
                .or(report.unavailable.first().map(|f| f.1.as_str())),
            detail: None,
        },
    )?;
    tx.commit()?;
    Ok(report)
}

/// Sends the pending evolutions of generations the server already has (hybrid mode's
/// automatic sync of evolution results), without a pull.
pub fn push_evolutions(ctx: &Context, ws: &mut Workspace, cloud: &Cloud) -> Result<PushReport> {
    crate::contracts::refuse_committed_database(&ws.repo)?;
    let mut report = PushReport::default();
    // A second round only when the first calls for one (an evolution the server already
    // held was found there and goes as an update now); there is no pull in between.
    for _ in 0..2 {
        let ops = plan_evolutions(ws, None)?;
        if ops.is_empty() {
            break;
        }
        let total = ops.len() as u64;
        if !send(ctx, ws, cloud, ops, &mut report, &mut |_, _| {}, total)? {
            break;
        }
    }
    advance_past_own_writes(ctx, ws, &mut report.seqs)?;
    Ok(report)
}

/// Our own writes need not be pulled back: when they are exactly the feed entries right
/// after the cursor (nobody else wrote in between), the cursor moves past them.
pub(super) fn advance_past_own_writes(
    ctx: &Context,
    ws: &mut Workspace,
    seqs: &mut [i64],
) -> Result<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    seqs.sort_unstable();
    let tx = ws.store.write()?;
    let cur = cursor(&tx)?;
    let contiguous = seqs
        .iter()
        .enumerate()
        .all(|(i, s)| *s == cur + 1 + i as i64);
    if contiguous {
        let now = ctx.now();
        ss::set_meta(&tx, CURSOR, &(cur + seqs.len() as i64).to_string(), &now)?;
    }
    tx.commit()?;
    Ok(())
}

/// Exit-code verdict of a push: conflicts and taken versions need attention (3).
pub fn push_verdict(report: &PushReport) -> Result<()> {
    let mut taken: Vec<String> = report.version_taken.clone();
    for c in &report.conflicts {
        if c.cause == ss::ConflictCause::VersionTaken && !taken.contains(&c.version) {
            taken.push(c.version.clone());
        }
    }
    if !taken.is_empty() {
        let report = PushReport {
            version_taken: taken,
            ..Default::default()
        };
        let v = &report.version_taken[0];
        return Err(CliError::new(
            Kind::Attention,
            format!("Version {} exists in the cloud: someone else created it", report.version_taken.join(", ")),
        )
        .hint(format!("rename yours (`gryt generation rename {v} NEW`) or drop it (`gryt generation delete {v} --local-only`), then push again")));
    }
    if !report.conflicts.is_empty() {
        let list: Vec<String> = report.conflicts.iter().map(|c| c.version.clone()).collect();
        return Err(CliError::new(
            Kind::Attention,
            format!("Sync conflicts need attention: {}", list.join(", ")),
        )
        .hint(format!(
            "see `gryt sync status`, then `gryt sync resolve {} --ours` or `--theirs`",
            list[0]
        )));
    }
    if let Some(first) = report.refused.first() {
        return Err(refused_error(&report.refused).hint(format!(
            "`gryt sync resolve {} --theirs` drops your change and restores the server's copy \
             (`--ours` sends it again); `gryt sync status` lists what was refused and why",
            first.version
        )));
    }
    if let Some((label, detail)) = report.failed.first() {
        return Err(CliError::error(format!(
            "{} record(s) were refused by the server; first: {label}: {detail}",
            report.failed.len()
        )));
    }
    if let Some((label, detail)) = report.unavailable.first() {
        return Err(CliError::new(
            Kind::Unreachable,
            format!(
                "Cloud unavailable: the server could not take {} record(s) now; first: {label}: {detail}",
                report.unavailable.len()
            ),
        )
        .hint("your work is kept locally as pending; `gryt sync push` delivers it when the server is back"));
    }
    Ok(())
}

/// "The server refused ..." naming each refused record and the server's reason (exit 3).
pub fn refused_error(refused: &[ss::Refused]) -> CliError {
    let shown: Vec<String> = refused
        .iter()
        .take(3)
        .map(|r| format!("{} {}: {}", r.what, r.label, r.reason))
        .collect();
    let more = if refused.len() > 3 {
        format!(" (and {} more)", refused.len() - 3)
    } else {
        String::new()
    };
    CliError::new(
        Kind::Attention,
        format!(
            "The server refused {} change(s): {}{more}",
            refused.len(),
            shown.join("; ")
        ),
    )
}
