//! Sync with the gryt server: pull (delta through the change feed, three-way merge),
//! push (batches with If-Match and stored Idempotency-Keys, pull-merge-retry on a stale
//! base) and cloud-first promotion. See docs/sync.md.

pub mod resolve;

use crate::client::cloud::Cloud;
use crate::client::{routes, RemoteError};
use crate::context::{new_uuid, Context, Workspace};
use crate::error::{CliError, Kind, Result};
use crate::store::sync::{self as ss, content_of, content_of_wire};
use crate::store::{self, GenerationRecord};
use gryt_core::merge::{merge_generation, Conflict, ConflictKind, GenerationContent, Merge};
use gryt_core::wire::{
    self, BatchOp, BatchRequest, BatchResponse, Data, FeedRecord, SyncChanges, SyncHead,
};
use gryt_core::GenerationStatus;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

pub const PAGE: i64 = 1000;
pub const BATCH: usize = 500;
const CURSOR: &str = "cursor";
const RESYNC: &str = "resync";
const LAST_PULL: &str = "last_pull";
const LAST_PUSH: &str = "last_push";
const LAST_OK: &str = "last_successful_sync";
/// The revision the server gives a record it creates.
const CREATED_REV: i64 = 1;

/// Which versions a pull applies (`--only` / `--exclude` globs).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub only: Vec<String>,
    pub exclude: Vec<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.only.is_empty() && self.exclude.is_empty()
    }
    pub fn allows(&self, version: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|g| glob(g, version)))
            && !self.exclude.iter().any(|g| glob(g, version))
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[derive(Debug, Default, Serialize)]
pub struct ConflictReport {
    pub version: String,
    pub conflicts: Vec<Conflict>,
    /// Why it is a conflict (not in the JSON report: `conflicts` says it in words).
    #[serde(skip)]
    pub cause: ss::ConflictCause,
}

#[derive(Debug, Default, Serialize)]
pub struct PullReport {
    pub inserted: u64,
    pub updated: u64,
    pub merged: u64,
    pub deleted: u64,
    pub evolutions: u64,
    pub conflicts: Vec<ConflictReport>,
    pub pages: u64,
    pub head: i64,
    pub cursor: i64,
    pub up_to_date_before: bool,
    /// Records left for the next full pull (their version is still held here).
    #[serde(skip)]
    pub postponed: u64,
    /// Contract files edited by hand that this pull took in as local edits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files_taken_in: Vec<String>,
}

impl PullReport {
    pub fn records(&self) -> u64 {
        self.inserted + self.updated + self.merged + self.deleted + self.evolutions
    }
}

/// Progress callback: (records done, records expected).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

fn garbage(e: &str) -> CliError {
    CliError::error(format!("Bad answer from the server: {e}"))
}

/// Reads the feed head of the workspace's scope.
pub fn head(cloud: &Cloud) -> std::result::Result<i64, RemoteError> {
    let route = routes::sync_head(&cloud.scope_query(true));
    let h: Data<SyncHead> = cloud.remote.call_route(&route, None, &[])?;
    Ok(h.data.head)
}

pub fn cursor(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(ss::get_meta(conn, CURSOR)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Pulls everything the server has that this workspace has not seen, page by page, each
/// page applied together with its cursor in one transaction.
pub fn pull(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    filter: &Filter,
    progress: Progress<'_>,
) -> Result<PullReport> {
    let mut report = PullReport::default();
    crate::contracts::refuse_committed_database(&ws.repo)?;
    // Contract files edited by hand become local edits before anything may rewrite them.
    report.files_taken_in =
        crate::contracts::absorb_file_edits(&ws.repo, &mut ws.store, &ctx.now())?;
    let resync = ss::get_meta(&ws.store.conn, RESYNC)?.is_some();
    let seen = cursor(&ws.store.conn)?;
    let mut since = if resync { 0 } else { seen };
    let start = since;
    let head = head(cloud)?;
    report.head = head;
    if head < seen {
        // The feed went backwards: the server was restored from an older backup, or this is
        // another server. Applying it could rewrite what this workspace holds with older or
        // different content, so nothing is applied.
        return Err(CliError::new(
            Kind::Attention,
            format!(
                "The server's change feed went backwards: its head is {head}, but this workspace has already seen up to {seen}; the server was restored from an older backup or is another server. Nothing was applied"
            ),
        )
        .hint("ask the server's administrator; to start over from what the server holds now, move .gryt/gryt.db away (the committed contracts are reloaded) and pull again"));
    }
    if head == since && !resync {
        report.up_to_date_before = true;
        report.cursor = since;
        crate::client::cloud::bind_after_pull(&ws.store.conn, cloud)?;
        note_pull(ctx, ws, &report, None)?;
        return Ok(report);
    }
    let mut done = 0u64;
    // Evolutions that arrive before their generation (the feed lists each record once, at
    // its latest write) wait here until the generation's page is applied.
    let mut state = PullState::default();
    // The page size adapts: a page too large to accept is asked again with fewer records
    // (down to one), and grows back after each page that fits.
    let mut limit = PAGE;
    loop {
        let route = routes::sync_changes(since, limit, &cloud.scope_query(false));
        let page: Data<SyncChanges> = match cloud.remote.call_route(&route, None, &[]) {
            Ok(p) => p,
            Err(RemoteError::TooLarge { .. }) if limit > 1 => {
                limit = (limit / 8).max(1);
                continue;
            }
            Err(RemoteError::TooLarge { prefix }) => {
                return Err(record_too_large(since, &prefix));
            }
            Err(e) => return Err(e.into()),
        };
        limit = (limit * 2).min(PAGE);
        let page = page.data;
        report.pages += 1;
        if page.items.is_empty() && page.next < page.head {
            return Err(garbage(&format!(
                "an empty page of the change feed at {since} before its head {}",
                page.head
            )));
        }
        if page.next <= since && page.next < page.head {
            return Err(garbage("the change feed did not move forward"));
        }
        settle_lost_updates(ctx, ws, cloud, &page)?;
        let touched = apply_page(ctx, ws, &page, filter, &mut report, &mut state)?;
        write_contracts(ws, &touched);
        done += page.items.len() as u64;
        progress(done, (page.head - start).max(0) as u64);
        since = page.next;
        if since >= page.head {
            break;
        }
    }
    if !state.waiting_gens.is_empty() {
        let now = ctx.now();
        let mut touched = Touched::default();
        let tx = ws.store.write()?;
        // Records that swapped versions wait on each other: moved together, they all land.
        let mut rest = std::mem::take(&mut state.waiting_gens);
        loop {
            let cycle = moves_in_a_cycle(&tx, &rest)?;
            if cycle.is_empty() {
                break;
            }
            for (_, local_id, _) in &cycle {
                ss::park_generation(&tx, local_id)?;
            }
            for (i, _, old_version) in &cycle {
                let g = &rest[*i];
                apply_generation(
                    &tx,
                    g,
                    &now,
                    &mut report,
                    &mut Touched::default(),
                    &mut state.needs_resync,
                    false,
                )?;
                if let Some(rec) = ss::local_of_wire(&tx, g)? {
                    touched
                        .moved
                        .push((old_version.clone(), Some(rec.rec.version.clone())));
                }
            }
            if ss::parked_left(&tx)? {
                // Cannot happen (each new version was held by the cycle): roll back rather
                // than leave a record under a placeholder.
                return Err(CliError::error(
                    "Could not apply generations that swapped versions on the server",
                )
                .hint("pull again; if it persists, report it"));
            }
            let moved: BTreeSet<usize> = cycle.iter().map(|(i, _, _)| *i).collect();
            rest = rest
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !moved.contains(i))
                .map(|(_, g)| g)
                .collect();
        }
        // Anything still waiting: its move never came (this workspace missed it).
        for g in rest {
            apply_generation(
                &tx,
                &g,
                &now,
                &mut report,
                &mut touched,
                &mut state.needs_resync,
                true,
            )?;
        }
        tx.commit()?;
        write_contracts(ws, &touched);
    }
    report.cursor = since;
    // Anything skipped (a filter, a taken version, an evolution whose generation never
    // came) keeps the resync mark, so the next full pull brings it; otherwise it is cleared.
    let needs_resync = state.needs_resync || !state.deferred.is_empty() || !filter.is_empty();
    let now = ctx.now();
    if needs_resync {
        ss::set_meta(&ws.store.conn, RESYNC, "1", &now)?;
    } else {
        ss::del_meta(&ws.store.conn, RESYNC)?;
    }
    crate::client::cloud::bind_after_pull(&ws.store.conn, cloud)?;
    note_pull(ctx, ws, &report, None)?;
    Ok(report)
}

/// A single record of the feed is larger than the client accepts: named, never skipped.
fn record_too_large(since: i64, prefix: &[u8]) -> CliError {
    let name = crate::client::first_record_of(prefix);
    let name = if name.is_empty() {
        format!("the record after feed position {since}")
    } else {
        format!("{name}, the record after feed position {since}")
    };
    CliError::error(format!(
        "Cannot pull {name}: it is larger than {} MiB, more than gryt accepts in one answer",
        crate::client::MAX_BODY / 1024 / 1024
    ))
    .hint("its author can shorten it, or the server's operator remove it; pulls stop before it until then")
}

/// The words of a "version taken" conflict (its cause is [`ss::ConflictCause::VersionTaken`]).
pub const VERSION_EXISTS: &str = "version exists in the cloud";
/// The item of a report about a promoted record the server's feed would rewrite.
const PROMOTED_HERE: &str = "promoted here, never rewritten";
/// The item of a delete-modify conflict for a record deleted here and changed on the server.
const DELETED_HERE: &str = "generation (deleted here, changed on the server)";

fn note_pull(ctx: &Context, ws: &mut Workspace, r: &PullReport, error: Option<&str>) -> Result<()> {
    let now = ctx.now();
    let tx = ws.store.write()?;
    ss::set_meta(&tx, LAST_PULL, &now, &now)?;
    if error.is_none() && r.conflicts.is_empty() {
        ss::set_meta(&tx, LAST_OK, &now, &now)?;
    }
    if !r.up_to_date_before || error.is_some() {
        ss::log(
            &tx,
            &now,
            &ss::LogEntry {
                direction: "pull",
                records: r.records() as i64,
                conflicts: r.conflicts.len() as i64,
                requests: 0,
                bytes: 0,
                error,
                detail: Some(&format!("cursor {} of head {}", r.cursor, r.head)),
            },
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Contract files a page may have made stale: (version before, version after or `None`
/// when deleted). A pull keeps the files that exist current and removes deleted ones; it
/// does not create files for generations nobody opened here (`gryt generation edit` or
/// `gryt generation export` writes them), so a first pull of thousands of generations does
/// not litter the repository or wait on the file system.
#[derive(Default)]
struct Touched {
    moved: Vec<(String, Option<String>)>,
}

fn write_contracts(ws: &mut Workspace, t: &Touched) {
    // Best effort: the database is already committed; a file left stale is taken in or
    // rewritten by the next pull. A file edited since gryt last wrote it is never replaced.
    let Ok(tx) = ws.store.write() else {
        return;
    };
    // Removals first, then writes: records that swapped versions must not remove each
    // other's new files.
    let mut rewrite = Vec::new();
    for (old, new) in &t.moved {
        let old_path = ws.repo.generation_file(old);
        if !old_path.exists() {
            continue;
        }
        if !crate::contracts::file_is_gryts(&tx, &ws.repo, old).unwrap_or(false) {
            continue;
        }
        if new.as_ref() != Some(old) {
            let _ = std::fs::remove_file(&old_path);
            let _ = store::forget_contract_file(&tx, old);
        }
        if let Some(new) = new {
            rewrite.push(new);
        }
    }
    for new in rewrite {
        if !crate::contracts::file_is_gryts(&tx, &ws.repo, new).unwrap_or(false) {
            continue;
        }
        if let Ok(Some(rec)) = store::get_generation(&tx, new) {
            // The database is the source of truth; the YAML is its editable view.
            let _ = crate::ops::write_contract_fast(&tx, &ws.repo, &rec);
        }
    }
    let _ = tx.commit();
}

/// What a pull carries from page to page.
#[derive(Default)]
struct PullState {
    deferred: Vec<wire::Evolution>,
    /// Generations new here whose version a synced local record still holds: that record's
    /// own move comes later in the feed (the server let the version go before it was taken).
    waiting_gens: Vec<wire::Generation>,
    needs_resync: bool,
}

fn apply_page(
    ctx: &Context,
    ws: &mut Workspace,
    page: &SyncChanges,
    filter: &Filter,
    report: &mut PullReport,
    state: &mut PullState,
) -> Result<Touched> {
    let now = ctx.now();
    let mut touched = Touched::default();
    let mut gens_with_new_rcs = BTreeSet::new();
    let tx = ws.store.write()?;
    let conflicts_before = report.conflicts.len();
    let postponed_before = report.postponed;
    let mut waiting = std::mem::take(&mut state.deferred);
    for item in &page.items {
        match item {
            FeedRecord::Generation(g) => {
                if !filter.allows(&g.version) {
                    state.needs_resync = true;
                    continue;
                }
                let wait = apply_generation(
                    &tx,
                    g,
                    &now,
                    report,
                    &mut touched,
                    &mut state.needs_resync,
                    false,
                )?;
                if wait {
                    state.waiting_gens.push(g.clone());
                }
            }
            FeedRecord::Evolution(e) => {
                if !filter.allows(&e.version) {
                    continue;
                }
                match apply_evolution(&tx, e, &now, report)? {
                    Some(g) => {
                        gens_with_new_rcs.insert(g);
                    }
                    None => waiting.push(e.clone()),
                }
            }
        }
    }
    // Retry the generations waiting for a version this page may have freed (each success
    // may free another), then the evolutions waiting for a generation.
    loop {
        let before = state.waiting_gens.len();
        for g in std::mem::take(&mut state.waiting_gens) {
            if apply_generation(
                &tx,
                &g,
                &now,
                report,
                &mut touched,
                &mut state.needs_resync,
                false,
            )? {
                state.waiting_gens.push(g);
            }
        }
        if state.waiting_gens.len() == before {
            break;
        }
    }
    for e in waiting {
        match apply_evolution(&tx, &e, &now, report)? {
            Some(g) => {
                gens_with_new_rcs.insert(g);
            }
            None => state.deferred.push(e),
        }
    }
    if report.postponed > postponed_before
        || report.conflicts[conflicts_before..]
            .iter()
            .any(|c| c.cause == ss::ConflictCause::VersionTaken)
    {
        state.needs_resync = true;
    }
    if state.needs_resync || !state.deferred.is_empty() || !state.waiting_gens.is_empty() {
        // Should the process die before the pull ends, the next pull starts over instead
        // of losing what waits in memory.
        ss::set_meta(&tx, RESYNC, "1", &now)?;
    }
    for g in gens_with_new_rcs {
        ss::renumber_provisional(&tx, &g)?;
    }
    ss::set_meta(&tx, CURSOR, &page.next.to_string(), &now)?;
    tx.commit()?;
    Ok(touched)
}

/// The waiting moves that form cycles (each one's new version held here by the next one's
/// record): (index in `waiting`, local record, its version here). Only synced records with
/// a new version on the server count; moved together, each lands on a free version.
fn moves_in_a_cycle(
    tx: &rusqlite::Connection,
    waiting: &[wire::Generation],
) -> Result<Vec<(usize, String, String)>> {
    // local version -> (index, local id, target version)
    let mut by_version: BTreeMap<String, (usize, String, String)> = BTreeMap::new();
    for (i, g) in waiting.iter().enumerate() {
        if g.deleted {
            continue;
        }
        let Some(l) = ss::local_of_wire(tx, g)? else {
            continue;
        };
        let Ok(target) = content_of_wire(g).map(|c| c.version) else {
            continue;
        };
        if l.rec.sync_status != "synced" || l.rec.remote_id.is_none() || l.rec.version == target {
            continue;
        }
        by_version.insert(
            l.rec.version.clone(),
            (i, l.rec.generation_id.clone(), target),
        );
    }
    for start in by_version.keys() {
        let mut path = vec![start.clone()];
        let mut at = start.clone();
        while let Some((_, _, target)) = by_version.get(&at) {
            if target == start {
                return Ok(path
                    .iter()
                    .filter_map(|v| {
                        by_version
                            .get(v)
                            .map(|(i, id, _)| (*i, id.clone(), v.clone()))
                    })
                    .collect());
            }
            if path.contains(target) || path.len() > by_version.len() {
                break;
            }
            path.push(target.clone());
            at = target.clone();
        }
    }
    Ok(Vec::new())
}

fn apply_generation(
    tx: &rusqlite::Connection,
    g: &wire::Generation,
    now: &str,
    report: &mut PullReport,
    touched: &mut Touched,
    needs_resync: &mut bool,
    force: bool,
) -> Result<bool> {
    let remote = if g.deleted {
        None
    } else {
        Some(content_of_wire(g)?)
    };
    let local = ss::local_of_wire(tx, g)?;
    let Some(local) = local else {
        // Our own create, whose answer was lost, deleted here before we learnt its server id:
        // the deletion now has a target. It was made at the revision we created (1).
        if ss::pending_uuid_delete(tx, &g.generation_id)? {
            ss::drop_pending_uuid_delete(tx, &g.generation_id)?;
            if remote.is_some() {
                ss::journal_delete(tx, g, CREATED_REV, now)?;
            }
        }
        // Deleted here, the deletion not pushed yet: never resurrect the record silently.
        if let Some(deleted_at_rev) = ss::pending_delete_rev(tx, g.id)? {
            match &remote {
                // Deleted on the server too: nothing left to push.
                None => {
                    ss::drop_pending_delete(tx, g.id)?;
                    return Ok(false);
                }
                // Unchanged since we deleted it: the deletion still applies.
                Some(_) if g.rev <= deleted_at_rev => return Ok(false),
                // Changed on the server since: a delete-modify conflict. The server's copy
                // comes back, marked, so nobody's edits are dropped without a decision.
                Some(r) if ss::local_by_version(tx, &r.version)?.is_none() => {
                    ss::drop_pending_delete(tx, g.id)?;
                    ss::insert_remote(tx, g, r, now)?;
                    // Its evolutions went with the local deletion and may lie behind the
                    // cursor: a full pull brings them back.
                    *needs_resync = true;
                    let c = vec![Conflict {
                        kind: ConflictKind::DeleteModify,
                        item: DELETED_HERE.into(),
                    }];
                    ss::set_conflict(tx, &g.generation_id, Some(g), &c, ss::ConflictCause::Edits)?;
                    report.conflicts.push(ConflictReport {
                        cause: ss::ConflictCause::Edits,
                        version: r.version.clone(),
                        conflicts: c,
                    });
                    return Ok(false);
                }
                // Changed on the server since, and its version is held here by another
                // record: the delete-modify conflict waits (with the deletion) until that
                // version is free, not dropped.
                Some(_) => {
                    *needs_resync = true;
                    report.postponed += 1;
                    return Ok(false);
                }
            }
        }
        let Some(remote) = remote else {
            return Ok(false); // a tombstone of something we never had
        };
        if let Some(same_version) = ss::local_by_version(tx, &remote.version)? {
            if same_version.rec.status == GenerationStatus::Promoted {
                // A promoted record is final here: another record under its version (a server
                // restored from an older backup, then promoted anew) is reported, not applied.
                report.conflicts.push(ConflictReport {
                    cause: ss::ConflictCause::Edits,
                    version: remote.version.clone(),
                    conflicts: vec![Conflict {
                        kind: ConflictKind::AddAdd,
                        item: format!("{PROMOTED_HERE}: the server holds another record under this version (server id {}, rev {})", g.id, g.rev),
                    }],
                });
                return Ok(false);
            }
            let dirty = same_version.rec.sync_status != "synced";
            if same_version.rec.remote_id.is_some() && !dirty {
                if !force {
                    // A synced record of that version moved on the server: its move comes
                    // later in the feed and frees the version (deleting it here would lose
                    // its evolutions behind the cursor).
                    return Ok(true);
                }
                // Its move never landed in this pull (it waits for a version held here, a
                // conflict the user decides, or it lies behind a filter). Dropping the local
                // record to make room would lose its evolutions, proofs not yet pushed
                // included: the new generation waits for a later full pull instead.
                *needs_resync = true;
                report.postponed += 1;
                return Ok(false);
            } else {
                // Someone else's generation holds the version: never overwrite local work.
                let c = vec![Conflict {
                    kind: ConflictKind::AddAdd,
                    item: VERSION_EXISTS.into(),
                }];
                ss::set_conflict(
                    tx,
                    &same_version.rec.generation_id,
                    Some(g),
                    &c,
                    ss::ConflictCause::VersionTaken,
                )?;
                ss::set_meta(tx, RESYNC, "1", now)?;
                report.conflicts.push(ConflictReport {
                    cause: ss::ConflictCause::VersionTaken,
                    version: remote.version.clone(),
                    conflicts: c,
                });
                return Ok(false);
            }
        }
        ss::insert_remote(tx, g, &remote, now)?;
        report.inserted += 1;
        return Ok(false);
    };
    let id = local.rec.generation_id.clone();
    let old_version = local.rec.version.clone();
    let local_content = content_of(&local.rec);
    if local.rec.status == GenerationStatus::Promoted {
        // A promoted record is never rewritten here: a server copy with other content, a
        // lower revision, or a deletion means the server went back (restored from an older
        // backup) or diverged. Reported, never applied.
        let why = match &remote {
            None => Some("the server deleted it".to_string()),
            Some(r) => {
                let same = GenerationContent {
                    status: local_content.status,
                    ..r.clone()
                } == local_content;
                if !same {
                    Some(format!("the server sent other content (rev {})", g.rev))
                } else if local.rec.remote_id.is_some() && g.rev < local.rec.rev {
                    Some(format!(
                        "the server sent an older revision ({} < {})",
                        g.rev, local.rec.rev
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(why) = why {
            report.conflicts.push(ConflictReport {
                cause: ss::ConflictCause::Edits,
                version: old_version,
                conflicts: vec![Conflict {
                    kind: ConflictKind::ModifyModify,
                    item: format!("{PROMOTED_HERE}; {why}"),
                }],
            });
            return Ok(false);
        }
    }
    // A record loaded from a committed contract file and not linked yet: its base is the
    // committed copy, and it is edited only where it differs from that copy. The server's
    // copy is authoritative for the rest (docs/sync.md "Clones").
    let from_file = local.rec.remote_id.is_none() && local.sent.is_none() && local.base.is_some();
    // A record with our client UUID that we never saw acknowledged is our own lost create.
    // The base is what that create sent (kept with its key); without it, the server's copy.
    let base = if local.rec.remote_id.is_none() && !from_file {
        match &local.sent {
            Some((_, sent)) => Some(sent.clone()),
            None => remote.clone(),
        }
    } else {
        local.base.clone()
    };
    let dirty = if from_file {
        local.base.as_ref() != Some(&local_content)
    } else {
        local.rec.sync_status != "synced"
    };
    if local.rec.sync_status == "conflict"
        && local.rec.remote_id.is_some()
        && g.rev == local.rec.rev
    {
        // A conflict waiting for a decision, and nothing new on the server (a pull starting
        // over sees the record again): the decision is still the user's.
        return Ok(false);
    }
    let untouched = local.base.as_ref() == Some(&local_content);
    if local.rec.sync_status == "conflict"
        && (remote.is_some() || untouched)
        && ss::conflict_items(tx, &local.rec.generation_id)?
            .iter()
            .any(|c| c.item == DELETED_HERE)
    {
        // Deleted here, changed on the server, and changed again: the decision stays the
        // user's. The copy here follows the server's (merged with any edit made here since
        // the conflict); deleted on the server too and untouched, nothing is left to decide
        // (edited here, the normal path below makes it a delete-modify conflict).
        let kinds = ss::conflict_items(tx, &id)?;
        let cause = ss::conflict_cause(tx, &id)?;
        let Some(r) = &remote else {
            ss::delete_local_generation(tx, &id)?;
            touched.moved.push((old_version, None));
            report.deleted += 1;
            return Ok(false);
        };
        let next = if untouched {
            Some(r.clone())
        } else {
            match merge_generation(base.as_ref(), Some(&local_content), true, Some(r)) {
                Merge::TakeRemote => Some(r.clone()),
                Merge::KeepLocal => Some(local_content.clone()),
                Merge::Merged(m) => Some(m),
                Merge::Conflict(_) => None,
            }
        };
        let moves_onto_held = match &next {
            Some(n) if n.version != old_version => ss::local_by_version(tx, &n.version)?.is_some(),
            _ => false,
        };
        if moves_onto_held {
            // Onto a version another record holds here: after that one moves.
            *needs_resync = true;
            report.postponed += 1;
            return Ok(false);
        }
        match next {
            Some(_) if untouched => ss::take_remote(tx, &id, g, r, now)?,
            Some(m) => ss::rebase(tx, &id, g, r, Some(&m), now)?,
            None => {}
        }
        ss::set_conflict(tx, &id, Some(g), &kinds, cause)?;
        let version = ss::current_content(tx, &id)?
            .map(|c| c.version)
            .unwrap_or(old_version.clone());
        touched.moved.push((old_version, Some(version.clone())));
        report.conflicts.push(ConflictReport {
            cause,
            version,
            conflicts: kinds,
        });
        return Ok(false);
    }
    if remote.is_none() && !dirty && ss::has_unsynced_evolutions(tx, &id)? {
        // Unpushed proofs are local work too: a deletion must not drop them silently.
        let c = vec![Conflict {
            kind: ConflictKind::DeleteModify,
            item: "unpushed evolutions".into(),
        }];
        ss::set_conflict(tx, &id, Some(g), &c, ss::ConflictCause::Edits)?;
        report.conflicts.push(ConflictReport {
            cause: ss::ConflictCause::Edits,
            version: old_version,
            conflicts: c,
        });
        return Ok(false);
    }
    let outcome = merge_generation(base.as_ref(), Some(&local_content), dirty, remote.as_ref());
    // The version this record moves to may still be held here by another record: by local
    // work (that version is taken in the cloud: a conflict on it), or by a synced record
    // whose own move comes later in the feed. Either way this one waits for a full pull.
    let target = match (&outcome, &remote) {
        (Merge::TakeRemote, Some(r)) => Some(r.version.clone()),
        (Merge::Merged(m), Some(_)) => Some(m.version.clone()),
        _ => None,
    };
    if let Some(t) = target.filter(|t| *t != old_version) {
        if let Some(other) = ss::local_by_version(tx, &t)? {
            let holder_moves = other.rec.sync_status == "synced" && other.rec.remote_id.is_some();
            if holder_moves && !force && !dirty && remote.is_some() {
                // A synced record holds it; its own move may come in this pull.
                return Ok(true);
            }
            *needs_resync = true;
            if !holder_moves {
                let c = vec![Conflict {
                    kind: ConflictKind::AddAdd,
                    item: VERSION_EXISTS.into(),
                }];
                ss::set_conflict(
                    tx,
                    &other.rec.generation_id,
                    Some(g),
                    &c,
                    ss::ConflictCause::VersionTaken,
                )?;
                report.conflicts.push(ConflictReport {
                    cause: ss::ConflictCause::VersionTaken,
                    version: t,
                    conflicts: c,
                });
            }
            report.postponed += 1;
            return Ok(false);
        }
    }
    match (outcome, remote) {
        (Merge::TakeRemote, None) => {
            ss::delete_local_generation(tx, &id)?;
            touched.moved.push((old_version, None));
            report.deleted += 1;
        }
        (Merge::TakeRemote, Some(r)) => {
            ss::take_remote(tx, &id, g, &r, now)?;
            touched.moved.push((old_version, Some(r.version.clone())));
            report.updated += 1;
        }
        (Merge::KeepLocal, Some(r)) => {
            ss::rebase(tx, &id, g, &r, None, now)?;
            report.merged += 1;
        }
        (Merge::Merged(m), Some(r)) => {
            ss::rebase(tx, &id, g, &r, Some(&m), now)?;
            touched.moved.push((old_version, Some(m.version.clone())));
            report.merged += 1;
        }
        (Merge::Conflict(c), _) => {
            ss::set_conflict(tx, &id, Some(g), &c, ss::ConflictCause::Edits)?;
            report.conflicts.push(ConflictReport {
                cause: ss::ConflictCause::Edits,
                version: old_version,
                conflicts: c,
            });
        }
        (Merge::KeepLocal | Merge::Merged(_), None) => {
            // merge_generation never keeps local work against a tombstone without a conflict.
            let c = vec![Conflict {
                kind: ConflictKind::DeleteModify,
                item: "generation".into(),
            }];
            ss::set_conflict(tx, &id, Some(g), &c, ss::ConflictCause::Edits)?;
            report.conflicts.push(ConflictReport {
                cause: ss::ConflictCause::Edits,
                version: old_version,
                conflicts: c,
            });
        }
    }
    Ok(false)
}

/// Applies one evolution; returns the local generation id when rc numbers may have moved.
fn apply_evolution(
    tx: &rusqlite::Connection,
    e: &wire::Evolution,
    now: &str,
    report: &mut PullReport,
) -> Result<Option<String>> {
    let Some(local_gen) = ss::generation_of_evolution(tx, e)? else {
        // Its generation is not here (yet): the caller keeps it waiting.
        return Ok(None);
    };
    let local = ss::local_evolution(tx, e)?;
    let other_record = local
        .as_ref()
        .is_some_and(|l| l.evolution_id != e.evolution_id)
        && store::promoted_at(tx, &local_gen)?.is_some();
    if other_record
        || (local.is_none() && !e.deleted && started_after_promotion(tx, &local_gen, e)?)
    {
        // A proof started after this workspace's promotion of its generation cannot belong
        // to that release (a restored server promoted other content): never added to it.
        report.conflicts.push(ConflictReport {
            cause: ss::ConflictCause::Edits,
            version: e.version.clone(),
            conflicts: vec![Conflict {
                kind: ConflictKind::ModifyModify,
                item: format!(
                    "{PROMOTED_HERE}; the server's evolution {} ({}) was not applied",
                    e.code_name,
                    if other_record {
                        "another record under a proof's server id"
                    } else {
                        "started after the promotion"
                    }
                ),
            }],
        });
        return Ok(Some(local_gen));
    }
    match local {
        None if e.deleted => {}
        None => {
            ss::insert_remote_evolution(tx, &local_gen, e, now)?;
            report.evolutions += 1;
        }
        Some(l) if e.deleted => {
            if !l.dirty {
                ss::delete_local_evolution(tx, &l.evolution_id)?;
                report.evolutions += 1;
            }
        }
        Some(l) if l.dirty => ss::adopt_evolution_ids(tx, &l.evolution_id, e)?,
        Some(l) => {
            ss::take_remote_evolution(tx, &l.evolution_id, e, now)?;
            report.evolutions += 1;
        }
    }
    Ok(Some(local_gen))
}

/// Whether `e` started after the local promotion of its generation.
fn started_after_promotion(
    tx: &rusqlite::Connection,
    local_gen: &str,
    e: &wire::Evolution,
) -> Result<bool> {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let Some(promoted) = store::promoted_at(tx, local_gen)?
        .as_deref()
        .and_then(parse)
    else {
        return Ok(false);
    };
    Ok(e.started_at
        .as_deref()
        .and_then(parse)
        .is_some_and(|s| s > promoted))
}

// ---------------------------------------------------------------- push

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
}

impl PushReport {
    pub fn records(&self) -> u64 {
        self.created + self.updated + self.deleted + self.promoted + self.evolutions
    }
}

/// What one batch operation was for, to apply its result.
enum Pending {
    CreateGen {
        local_id: String,
        sent: GenerationContent,
    },
    UpdateGen {
        local_id: String,
        sent: GenerationContent,
    },
    DeleteGen {
        remote_id: String,
    },
    PromoteGen {
        local_id: String,
    },
    CreateEvo {
        local_id: String,
        sent_status: String,
    },
    UpdateEvo {
        local_id: String,
        sent_status: String,
    },
}

struct Op {
    op: BatchOp,
    pending: Pending,
    label: String,
}

/// The Idempotency-Key of a piece of work: the stored one, else a new one stored now.
fn key_for(
    tx: &rusqlite::Connection,
    slot: ss::KeySlot,
    id: &str,
    existing: Option<String>,
) -> Result<String> {
    if let Some(k) = existing {
        return Ok(k);
    }
    let k = new_uuid();
    ss::store_key(tx, slot, id, &k)?;
    Ok(k)
}

fn to_value(v: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Builds the operations of one push stage, storing every Idempotency-Key before sending.
fn plan_generations(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    version: Option<&str>,
) -> Result<Vec<Op>> {
    let _ = ctx;
    let tx = ws.store.write()?;
    let mut ops = Vec::new();
    // Deletions of synced drafts.
    if version.is_none() {
        for ss::PendingDelete {
            remote_id: rid,
            kind,
            label,
            rev,
            push_key: key,
        } in ss::pending_deletes(&tx)?
        {
            let Ok(id) = rid.parse::<i64>() else { continue };
            ops.push(Op {
                op: BatchOp {
                    op: format!("delete_{kind}"),
                    id: Some(id),
                    if_match: Some(rev),
                    idempotency_key: Some(key),
                    body: None,
                },
                pending: Pending::DeleteGen { remote_id: rid },
                label,
            });
        }
    }
    for ss::PendingGen {
        rec, push_key: key, ..
    } in ss::pending_generations(&tx, version)?
    {
        // Refused work ('failed') waits for `gryt sync resolve`; conflicts for a decision.
        if rec.sync_status != "not_synced" {
            continue;
        }
        // An operation already sent under a key (its answer never came) is sent again exactly
        // as it was: the server replays its answer, or runs it once. Edits made since then
        // go in a new operation after it.
        let outstanding = match key {
            Some(_) => ss::local_by_uuid(&tx, &rec.generation_id)?.and_then(|l| l.sent),
            None => None,
        };
        let (key, sent) = match outstanding {
            Some(s) => s,
            None => {
                let k = new_uuid();
                let c = content_of(&rec);
                ss::set_sent(&tx, &rec.generation_id, &k, &c)?;
                (k, c)
            }
        };
        let label = rec.version.clone();
        let op = match &rec.remote_id {
            None => create_op(cloud, &rec, key, sent),
            Some(rid) => {
                let Ok(id) = rid.parse::<i64>() else { continue };
                update_op(&rec.generation_id, id, rec.rev, key, sent)
            }
        };
        ops.push(Op { label, ..op });
    }
    tx.commit()?;
    Ok(ops)
}

fn create_op(cloud: &Cloud, rec: &GenerationRecord, key: String, sent: GenerationContent) -> Op {
    let body = wire::GenerationCreate {
        generation_id: rec.generation_id.clone(),
        version: sent.version.clone(),
        description: sent.description.clone(),
        changes: ss::wire_changes(&sent.changes),
        pipeline_template: sent.pipeline_template.clone(),
        status: Some("draft".into()),
        created_at: Some(rec.created_at.clone()),
        team_id: cloud.team.clone(),
        project: Some(cloud.project.clone()),
    };
    Op {
        op: BatchOp {
            op: "create_generation".into(),
            id: None,
            if_match: None,
            idempotency_key: Some(key),
            body: Some(to_value(&body)),
        },
        label: sent.version.clone(),
        pending: Pending::CreateGen {
            local_id: rec.generation_id.clone(),
            sent,
        },
    }
}

fn update_op(local_id: &str, id: i64, rev: i64, key: String, sent: GenerationContent) -> Op {
    let body = wire::GenerationPatch {
        generation_id: None,
        version: Some(sent.version.clone()),
        description: sent.description.clone().or(Some(String::new())),
        changes: Some(ss::wire_changes(&sent.changes)),
        pipeline_template: sent.pipeline_template.clone(),
        status: None,
    };
    Op {
        op: BatchOp {
            op: "update_generation".into(),
            id: Some(id),
            if_match: Some(rev),
            idempotency_key: Some(key),
            body: Some(to_value(&body)),
        },
        label: sent.version.clone(),
        pending: Pending::UpdateGen {
            local_id: local_id.to_string(),
            sent,
        },
    }
}

/// Updates sent earlier whose answers never came, for records the server has since moved
/// past: re-sent with their keys and bodies they cannot apply now (the revision they name
/// is gone), so the server answers what became of them, applied (its stored answer) or
/// refused. The page is then merged against the right base, not against a base that
/// misses our own applied update (which would undo later local edits of it).
fn settle_lost_updates(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    page: &SyncChanges,
) -> Result<()> {
    // The common case, nothing sent and unanswered: no lookup per record of the page.
    if !ss::updates_outstanding(&ws.store.conn)? {
        return Ok(());
    }
    let mut ops = Vec::new();
    for item in &page.items {
        let FeedRecord::Generation(g) = item else {
            continue;
        };
        let Some(local) = ss::local_by_remote_id(&ws.store.conn, g.id)? else {
            continue;
        };
        let Some((key, sent)) = local.sent else {
            continue;
        };
        if g.rev > local.rec.rev {
            ops.push(update_op(
                &local.rec.generation_id,
                g.id,
                local.rec.rev,
                key,
                sent,
            ));
        }
    }
    if ops.is_empty() {
        return Ok(());
    }
    let total = ops.len() as u64;
    let mut report = PushReport::default();
    send(ctx, ws, cloud, ops, &mut report, &mut |_, _| {}, total)?;
    Ok(())
}

fn plan_evolutions(ws: &mut Workspace, version: Option<&str>) -> Result<Vec<Op>> {
    let tx = ws.store.write()?;
    let rows = ss::pending_evolutions(&tx, version)?;
    let mut ops = Vec::new();
    for ss::EvoRow {
        eid,
        gen_rid,
        evo_rid,
        change,
        code,
        status,
        run,
        completed,
        key,
        started,
        gversion,
        rev,
        owner,
        commit,
        dirty,
        fingerprint,
        rc,
    } in rows
    {
        let Some(gen_rid) = gen_rid else { continue };
        let key = key_for(&tx, ss::KeySlot::EvolutionPush, &eid, key)?;
        let label = format!("{gversion}-rc.{rc} {change} ({code})");
        match evo_rid {
            None => {
                let body = wire::EvolutionCreate {
                    evolution_id: eid.clone(),
                    generation_id: wire::IdRef::Str(gen_rid),
                    change_id: change,
                    code_name: Some(code),
                    tag: None,
                    status: Some(status.clone()),
                    pipeline_run_id: run,
                    started_at: Some(started),
                    completed_at: completed,
                    created_by: Some(owner),
                    commit,
                    dirty: Some(dirty),
                    fingerprint,
                };
                ops.push(Op {
                    op: BatchOp {
                        op: "create_evolution".into(),
                        id: None,
                        if_match: None,
                        idempotency_key: Some(key),
                        body: Some(to_value(&body)),
                    },
                    pending: Pending::CreateEvo {
                        local_id: eid,
                        sent_status: status,
                    },
                    label,
                });
            }
            Some(rid) => {
                let Ok(id) = rid.parse::<i64>() else { continue };
                let body = wire::EvolutionPatch {
                    status: Some(status.clone()),
                    pipeline_run_id: run,
                    started_at: None,
                    completed_at: completed,
                    commit,
                    dirty: Some(dirty),
                };
                ops.push(Op {
                    op: BatchOp {
                        op: "update_evolution".into(),
                        id: Some(id),
                        if_match: Some(rev),
                        idempotency_key: Some(key),
                        body: Some(to_value(&body)),
                    },
                    pending: Pending::UpdateEvo {
                        local_id: eid,
                        sent_status: status,
                    },
                    label,
                });
            }
        }
    }
    tx.commit()?;
    Ok(ops)
}

fn plan_promotions(ws: &mut Workspace, version: Option<&str>) -> Result<Vec<Op>> {
    let tx = ws.store.write()?;
    let mut ops = Vec::new();
    for ss::PendingGen {
        rec, promote_key, ..
    } in ss::pending_generations(&tx, version)?
    {
        let (Some(key), Some(rid)) = (promote_key, rec.remote_id.as_ref()) else {
            continue;
        };
        if rec.sync_status == "conflict" {
            continue;
        }
        let Ok(id) = rid.parse::<i64>() else { continue };
        // The body first sent under this key (the commit and proofs the promotion counted).
        let body = crate::store::promotion_state(&tx, &rec.generation_id)?
            .body
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok());
        ops.push(Op {
            op: BatchOp {
                op: "promote_generation".into(),
                id: Some(id),
                if_match: None,
                idempotency_key: Some(key),
                body,
            },
            pending: Pending::PromoteGen {
                local_id: rec.generation_id.clone(),
            },
            label: rec.version.clone(),
        });
    }
    tx.commit()?;
    Ok(ops)
}

/// Sends pending promotions one by one through `POST /generations/{id}/promote`, the route
/// `gryt promote` itself uses, so a stored key that already reached the server (its answer
/// lost) is replayed by the server as the original outcome.
fn send_promotions(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    ops: Vec<Op>,
    report: &mut PushReport,
) -> Result<bool> {
    let mut stale = false;
    for op in ops {
        let (Some(id), Some(key)) = (op.op.id, op.op.idempotency_key.as_deref()) else {
            continue;
        };
        let route = routes::promote_generation(id);
        let body = op.op.body.as_ref().and_then(|b| serde_json::to_vec(b).ok());
        let resp = cloud
            .remote
            .send_route(&route, body.as_deref(), &[("Idempotency-Key", key)])?;
        report.requests += 1;
        let body: serde_json::Value = if resp.body.is_empty() {
            serde_json::Value::Null
        } else {
            crate::client::decode(&resp.body)?
        };
        let res = wire::BatchResult {
            status: resp.status,
            body,
        };
        let now = ctx.now();
        let tx = ws.store.write()?;
        stale |= apply_result(&tx, &op, &res, &now, report)?;
        tx.commit()?;
        if (200..300).contains(&res.status) {
            // A promotion made by `gryt promote` that the server only now confirmed: its
            // release tag goes on the commit that promotion checked.
            if let Pending::PromoteGen { local_id } = &op.pending {
                tag_settled(ws, local_id, report);
            }
        }
    }
    Ok(stale)
}

/// Creates the release tag a confirmed promotion still waits for (a failure leaves it
/// pending, and the next `gryt promote VERSION` completes it).
fn tag_settled(ws: &mut Workspace, local_id: &str, report: &mut PushReport) {
    let Ok(state) = crate::store::promotion_state(&ws.store.conn, local_id) else {
        return;
    };
    if !state.tag_pending {
        return;
    }
    let rec = ss::version_of(&ws.store.conn, local_id)
        .ok()
        .flatten()
        .and_then(|v| crate::ops::load_generation(&ws.store.conn, &v).ok());
    if let Some(rec) = rec {
        if let Ok(Some(tag)) = crate::ops::complete_tag(ws, &rec, false) {
            report.tagged.push(tag);
        }
    }
}

/// Sends operations in batches and applies each result. Returns whether any write was
/// refused as stale (412), which calls for pull, merge and one more round.
fn send(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    ops: Vec<Op>,
    report: &mut PushReport,
    progress: Progress<'_>,
    total: u64,
) -> Result<bool> {
    let mut stale = false;
    let mut ops = ops;
    let mut done = 0u64;
    while !ops.is_empty() {
        let rest = ops.split_off(ops.len().min(BATCH));
        let chunk = std::mem::replace(&mut ops, rest);
        let req = BatchRequest {
            operations: chunk.iter().map(|o| o.op.clone()).collect(),
        };
        let body = serde_json::to_vec(&req)
            .map_err(|e| CliError::error(format!("cannot encode a batch: {e}")))?;
        let resp: Data<BatchResponse> =
            cloud
                .remote
                .call_route(&routes::sync_batch(), Some(&body), &[])?;
        report.requests += 1;
        if resp.data.results.len() != chunk.len() {
            return Err(garbage(
                "the batch answer does not have one result per operation",
            ));
        }
        let now = ctx.now();
        let tx = ws.store.write()?;
        for (op, res) in chunk.iter().zip(resp.data.results.iter()) {
            stale |= apply_result(&tx, op, res, &now, report)?;
        }
        tx.commit()?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    Ok(stale)
}

fn detail_of(v: &serde_json::Value) -> String {
    v.get("detail")
        .and_then(|d| d.as_str())
        .unwrap_or("no detail")
        .to_string()
}

fn code_of(v: &serde_json::Value) -> &str {
    v.get("code").and_then(|d| d.as_str()).unwrap_or("")
}

fn apply_result(
    tx: &rusqlite::Connection,
    op: &Op,
    res: &wire::BatchResult,
    now: &str,
    report: &mut PushReport,
) -> Result<bool> {
    let ok = (200..300).contains(&res.status);
    let data = res
        .body
        .get("data")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    match &op.pending {
        Pending::CreateGen { local_id, sent } | Pending::UpdateGen { local_id, sent } if ok => {
            let g: wire::Generation = serde_json::from_value(data)
                .map_err(|e| garbage(&format!("a generation in a batch answer: {e}")))?;
            let remote = content_of_wire(&g)?;
            report.seqs.push(g.seq);
            let still_same = ss::current_content(tx, local_id)?.as_ref() == Some(sent);
            if still_same && ss::sync_status_of(tx, local_id)? != "conflict" {
                ss::take_remote(tx, local_id, &g, &remote, now)?;
            } else {
                ss::rebase(tx, local_id, &g, &remote, None, now)?;
            }
            if matches!(op.pending, Pending::CreateGen { .. }) {
                report.created += 1
            } else {
                report.updated += 1
            }
            Ok(false)
        }
        Pending::DeleteGen { remote_id } if ok || res.status == 404 => {
            ss::drop_pending_delete_of(tx, remote_id)?;
            report.deleted += 1;
            Ok(false)
        }
        Pending::DeleteGen { remote_id } if res.status == 409 => {
            // Promoted on the server meanwhile: final, so the deletion can never apply. It is
            // answered (reported), and the record comes back at the full pull that follows.
            ss::drop_pending_delete_of(tx, remote_id)?;
            ss::set_meta(tx, RESYNC, "1", now)?;
            report.failed.push((op.label.clone(), detail_of(&res.body)));
            Ok(true)
        }
        Pending::PromoteGen { local_id } if ok => {
            let g: wire::Generation = serde_json::from_value(data)
                .map_err(|e| garbage(&format!("a generation in a batch answer: {e}")))?;
            let remote = content_of_wire(&g)?;
            report.seqs.push(g.seq);
            ss::take_remote(tx, local_id, &g, &remote, now)?;
            ss::clear_promote_key(tx, local_id)?;
            report.promoted += 1;
            Ok(false)
        }
        Pending::CreateEvo {
            local_id,
            sent_status,
        }
        | Pending::UpdateEvo {
            local_id,
            sent_status,
        } if ok => {
            let e: wire::Evolution = serde_json::from_value(data)
                .map_err(|e| garbage(&format!("an evolution in a batch answer: {e}")))?;
            report.seqs.push(e.seq);
            let current = ss::evolution_status_of(tx, local_id).ok().flatten();
            if current.as_deref() == Some(sent_status.as_str()) {
                ss::take_remote_evolution(tx, local_id, &e, now)?;
            } else {
                ss::adopt_evolution_ids(tx, local_id, &e)?;
            }
            // The rc the server gave may be one a provisional local evolution still uses.
            let gen = ss::generation_id_of_evolution(tx, local_id).ok().flatten();
            if let Some(g) = gen {
                ss::renumber_provisional(tx, &g)?;
            }
            report.evolutions += 1;
            Ok(false)
        }
        _ if res.status == 409 && code_of(&res.body) == "idempotency_in_flight" => {
            // The first attempt is still being processed: its key stays for the next push.
            report.failed.push((op.label.clone(), detail_of(&res.body)));
            Ok(false)
        }
        Pending::DeleteGen { .. } if res.status == 412 => {
            // Deleted at a revision the server has moved past, and the change may lie behind
            // the cursor: a full pull meets it with the journaled deletion (a delete-modify
            // conflict, the server's copy back for the decision).
            ss::set_meta(tx, RESYNC, "1", now)?;
            Ok(true)
        }
        Pending::UpdateGen { local_id, .. } if res.status == 412 => {
            // Refused as stale: the merge that follows makes a new operation.
            ss::clear_sent(tx, local_id)?;
            Ok(true)
        }
        _ if res.status == 412 => Ok(true),
        Pending::CreateGen { local_id, sent }
            if res.status == 409
                && code_of(&res.body) == "already_exists"
                && ss::current_content(tx, local_id)?
                    .is_some_and(|c| c.version != sent.version) =>
        {
            // A create re-sent as first sent, under a version renamed here since: the version
            // it named is taken, the one it has now may not be. Send it afresh.
            ss::clear_sent(tx, local_id)?;
            Ok(true)
        }
        Pending::CreateGen { local_id, .. } | Pending::UpdateGen { local_id, .. }
            if res.status == 409 && code_of(&res.body) == "already_exists" =>
        {
            let c = vec![Conflict {
                kind: ConflictKind::AddAdd,
                item: VERSION_EXISTS.into(),
            }];
            ss::set_conflict(tx, local_id, None, &c, ss::ConflictCause::VersionTaken)?;
            ss::clear_sent(tx, local_id)?;
            report.version_taken.push(op.label.clone());
            Ok(false)
        }
        Pending::PromoteGen { local_id } if res.status == 409 => {
            // Promoted by someone else first: our promotion is answered, and lost.
            ss::clear_promote_key(tx, local_id)?;
            report.failed.push((op.label.clone(), detail_of(&res.body)));
            Ok(true)
        }
        Pending::UpdateGen { local_id, .. } if res.status == 409 => {
            ss::clear_sent(tx, local_id)?;
            // Promoted (or taken) on the server meanwhile: the pull that follows shows it.
            report.failed.push((op.label.clone(), detail_of(&res.body)));
            Ok(true)
        }
        _ if res.status == 429 || res.status >= 500 => {
            // The server could not take it now (restarting, overloaded): nothing was
            // applied, the work stays pending under its key and the push ends with exit 4.
            report.unavailable.push((
                op.label.clone(),
                format!("HTTP {}: {}", res.status, detail_of(&res.body)),
            ));
            Ok(false)
        }
        Pending::DeleteGen { remote_id } if is_refusal(res.status) => {
            let reason = format!("HTTP {}: {}", res.status, detail_of(&res.body));
            ss::set_delete_refused(tx, remote_id, &reason)?;
            report.refused.push(refused_entry("deletion", op, &reason));
            Ok(false)
        }
        Pending::CreateGen { local_id, .. }
        | Pending::UpdateGen { local_id, .. }
        | Pending::PromoteGen { local_id }
            if is_refusal(res.status) =>
        {
            // A final answer: set aside as refused, listed by `gryt sync status` with the
            // server's reason, no longer re-sent by every push, settled by `gryt sync
            // resolve` (the next attempt, if any, is a new operation with a new key).
            let reason = format!("HTTP {}: {}", res.status, detail_of(&res.body));
            ss::set_refused(tx, "generations", local_id, &reason)?;
            report
                .refused
                .push(refused_entry("generation", op, &reason));
            Ok(false)
        }
        Pending::CreateEvo { local_id, .. } | Pending::UpdateEvo { local_id, .. }
            if is_refusal(res.status) =>
        {
            // An evolution the server will never take (not its owner's, its change removed,
            // its generation promoted): not a proof, listed until settled.
            let reason = format!("HTTP {}: {}", res.status, detail_of(&res.body));
            ss::set_refused(tx, "evolutions", local_id, &reason)?;
            report.refused.push(refused_entry("evolution", op, &reason));
            Ok(false)
        }
        _ => {
            // Anything else (an unexpected status): reported, the work stays pending.
            report.failed.push((
                op.label.clone(),
                format!("HTTP {}: {}", res.status, detail_of(&res.body)),
            ));
            Ok(false)
        }
    }
}

/// A definitive refusal: the same operation would be refused again. (412 is a stale base,
/// settled by pull, merge and retry; 401 refuses the whole request, not one operation.)
fn is_refusal(status: u16) -> bool {
    matches!(status, 400 | 403 | 404 | 409 | 410 | 422)
}

fn refused_entry(what: &'static str, op: &Op, reason: &str) -> ss::Refused {
    // Labels start with the version (`v2.0.0`, or `v2.0.0-rc.1 FEAT-1 (code)`).
    let first = op.label.split_whitespace().next().unwrap_or(&op.label);
    let version = match (what, first.rfind("-rc.")) {
        ("evolution", Some(i)) => &first[..i],
        _ => first,
    }
    .to_string();
    ss::Refused {
        what,
        version,
        label: op.label.clone(),
        reason: reason.to_string(),
        id: String::new(),
        remote_id: None,
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
        let gens = plan_generations(ctx, ws, cloud, version)?;
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
    let ops = plan_evolutions(ws, None)?;
    if ops.is_empty() {
        return Ok(report);
    }
    let total = ops.len() as u64;
    send(ctx, ws, cloud, ops, &mut report, &mut |_, _| {}, total)?;
    advance_past_own_writes(ctx, ws, &mut report.seqs)?;
    Ok(report)
}

/// Our own writes need not be pulled back: when they are exactly the feed entries right
/// after the cursor (nobody else wrote in between), the cursor moves past them.
fn advance_past_own_writes(ctx: &Context, ws: &mut Workspace, seqs: &mut [i64]) -> Result<()> {
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

// ---------------------------------------------------------------- promotion

/// The outcome of a cloud-first promotion.
pub enum CloudPromotion {
    /// Promoted on the server (now, or by an earlier attempt of ours that this one settled).
    Promoted(Box<GenerationRecord>),
    /// Already promoted before this command, with no promotion of ours pending: the caller
    /// may complete a missing tag, or refuses.
    AlreadyPromoted(Box<GenerationRecord>),
    /// Someone else promoted first.
    Refused(CliError),
}

/// How often a promotion the server reports as still in flight (409 `idempotency_in_flight`)
/// is asked again under the same key, and the first pause between asks (doubling).
const IN_FLIGHT_ATTEMPTS: u32 = 5;
const IN_FLIGHT_PAUSE_MS: u64 = 200;

/// Cloud-first promotion: pull, refuse a dirty tree, gate against the commit checked out,
/// push the generation and its evolutions, then the atomic promotion on the server with a
/// stored Idempotency-Key and a body naming the commit and the proof counted per change;
/// only then the local record. A promotion of ours still pending (its answer lost, or still
/// in flight) is re-sent as it was first sent, under the same key.
pub fn promote(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    version: &str,
    allow_dirty: bool,
    tag: bool,
) -> Result<CloudPromotion> {
    let mut noop = |_: u64, _: u64| {};
    let v = crate::ops::parse_version(version)?.to_string();
    pull(ctx, ws, cloud, &Filter::default(), &mut noop)?;
    let rec = crate::ops::load_generation(&ws.store.conn, &v)?;
    let state = crate::store::promotion_state(&ws.store.conn, &rec.generation_id)?;
    let pending = state.key.is_some();
    if rec.status == GenerationStatus::Promoted && !pending {
        return Ok(CloudPromotion::AlreadyPromoted(Box::new(rec)));
    }
    if !pending {
        let tree = crate::ops::tree_state(&ws.repo)?;
        crate::ops::check_clean(&tree, &v, allow_dirty)?;
        let (evs, report) =
            crate::ops::gate_at(&ws.repo, &ws.store.conn, &rec, tree.commit.as_deref())?;
        crate::ops::check_gate(&evs, &report)?;
        let pushed = push(ctx, ws, cloud, Some(&v), &mut noop)?;
        push_verdict(&pushed)?;
        // The push pulled first: count the proofs as they stand now.
        let rec = crate::ops::load_generation(&ws.store.conn, &v)?;
        let (_, report) =
            crate::ops::gate_at(&ws.repo, &ws.store.conn, &rec, tree.commit.as_deref())?;
        report.check()?;
        let body = crate::ops::promote_body(&report)?;
        // The key and body are stored before the request: a retry after a lost answer (or
        // while the first attempt is still in flight) sends exactly this again.
        let tx = ws.store.write()?;
        key_for(
            &tx,
            ss::KeySlot::GenerationPromote,
            &rec.generation_id,
            None,
        )?;
        crate::store::set_promotion(&tx, &rec.generation_id, tree.commit.as_deref(), &body, tag)?;
        tx.commit()?;
    }
    let rec = crate::ops::load_generation(&ws.store.conn, &v)?;
    let Some(rid) = rec.remote_id.clone() else {
        return Err(CliError::error(format!(
            "Generation {v} did not reach the server"
        )));
    };
    let state = crate::store::promotion_state(&ws.store.conn, &rec.generation_id)?;
    let Some(key) = state.key.clone() else {
        return Err(CliError::error(format!(
            "The promotion of {v} lost its key"
        )));
    };
    let route = routes::promote_generation(rid);
    let body = state.body.clone().map(String::into_bytes);
    let mut attempt = 0;
    let resp = loop {
        let resp =
            cloud
                .remote
                .send_route(&route, body.as_deref(), &[("Idempotency-Key", &key)])?;
        attempt += 1;
        if !(resp.status == 409 && answer_code(&resp.body) == "idempotency_in_flight")
            || attempt >= IN_FLIGHT_ATTEMPTS
        {
            break resp;
        }
        std::thread::sleep(std::time::Duration::from_millis(
            IN_FLIGHT_PAUSE_MS << (attempt - 1),
        ));
    };
    let now = ctx.now();
    if (200..300).contains(&resp.status) {
        let g: Data<wire::Generation> = crate::client::decode(&resp.body)?;
        let content = content_of_wire(&g.data)?;
        let tx = ws.store.write()?;
        ss::take_remote(&tx, &rec.generation_id, &g.data, &content, &now)?;
        ss::clear_promote_key(&tx, &rec.generation_id)?;
        ss::log(
            &tx,
            &now,
            &ss::LogEntry {
                direction: "promote",
                records: 1,
                conflicts: 0,
                requests: i64::from(attempt),
                bytes: 0,
                error: None,
                detail: Some(&v),
            },
        )?;
        tx.commit()?;
        let rec = crate::ops::load_generation(&ws.store.conn, &v)?;
        crate::ops::write_contract_fast(&ws.store.conn, &ws.repo, &rec)?;
        return Ok(CloudPromotion::Promoted(Box::new(rec)));
    }
    let err = crate::client::http_error(&resp);
    let code = answer_code(&resp.body);
    let in_flight = resp.status == 409 && code == "idempotency_in_flight";
    {
        let tx = ws.store.write()?;
        if !in_flight {
            // A final answer: the next attempt is a new promotion with a new key and body.
            ss::forget_promotion_attempt(&tx, &rec.generation_id)?;
        }
        ss::log(
            &tx,
            &now,
            &ss::LogEntry {
                direction: "promote",
                records: 0,
                conflicts: 0,
                requests: i64::from(attempt),
                bytes: 0,
                error: Some(&err_text(&err)),
                detail: Some(&v),
            },
        )?;
        tx.commit()?;
    }
    if in_flight {
        return Err(CliError::new(
            Kind::Unreachable,
            format!("The server is still processing the promotion of {v}; it was kept pending"),
        )
        .hint(format!(
            "run `gryt promote {v}` again (or `gryt sync push`) to settle it; the tag follows once the server confirms"
        )));
    }
    match (resp.status, code.as_str()) {
        (409, "gate_failed") => {
            // The server's gate counts only the proofs it holds: one of ours did not reach
            // it, or it refused it.
            let _ = pull(ctx, ws, cloud, &Filter::default(), &mut noop);
            Err(CliError::error(format!("The server refused the promotion: {}", http_detail(&err)))
                .hint(format!("the server counts only the proofs it holds; `gryt sync status` lists work it refused or that is still pending, and `gryt sync status {v}` each change's proof")))
        }
        (409, "already_promoted") => {
            // Lost the race (or promoted earlier by someone): bring the winner's record here.
            let _ = pull(ctx, ws, cloud, &Filter::default(), &mut noop);
            Ok(CloudPromotion::Refused(
                CliError::new(Kind::Attention, http_detail(&err))
                    .hint("the first promotion wins; release your work as a new version"),
            ))
        }
        (409 | 422, _) => Err(CliError::error(format!(
            "The server refused to promote {v}: {}",
            http_detail(&err)
        ))
        .hint(format!(
            "pull the latest proofs (`gryt sync pull`), see `gryt generation show {v}`, and prove what it names"
        ))),
        _ => Err(err.into()),
    }
}

/// The `code` of an error answer (empty when there is none).
fn answer_code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_default()
}

fn http_detail(e: &RemoteError) -> String {
    match e {
        RemoteError::Http { detail, .. } => detail.clone(),
        other => err_text(other),
    }
}

fn err_text(e: &RemoteError) -> String {
    e.text()
}
