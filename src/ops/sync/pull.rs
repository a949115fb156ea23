//! Pull: the change feed, page by page, merged into the local store (three-way merge,
//! never losing local work). See docs/sync.md.

use super::*;
use gryt_core::sync::pull::{self as plan, EvolutionStep, Step, Tally};
use gryt_core::sync::{ConflictItem, PromotedHere, SyncStatus};

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
                    plan::Mode::Feed,
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
                plan::Mode::Forced,
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
pub(super) fn record_too_large(since: i64, prefix: &[u8]) -> CliError {
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

pub(super) fn note_pull(
    ctx: &Context,
    ws: &mut Workspace,
    r: &PullReport,
    error: Option<&str>,
) -> Result<()> {
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
pub(super) struct Touched {
    moved: Vec<(String, Option<String>)>,
}

pub(super) fn write_contracts(ws: &mut Workspace, t: &Touched) {
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
pub(super) struct PullState {
    deferred: Vec<wire::Evolution>,
    /// Generations new here whose version a synced local record still holds: that record's
    /// own move comes later in the feed (the server let the version go before it was taken).
    waiting_gens: Vec<wire::Generation>,
    needs_resync: bool,
}

pub(super) fn apply_page(
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
                    plan::Mode::Feed,
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
                plan::Mode::Feed,
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

/// The waiting moves that form a cycle (each one's new version held here by the next one's
/// record): (index in `waiting`, local record, its version here). Only synced records with
/// a new version on the server count; moved together, each lands on a free version.
pub(super) fn moves_in_a_cycle(
    tx: &rusqlite::Connection,
    waiting: &[wire::Generation],
) -> Result<Vec<(usize, String, String)>> {
    let mut movers = Vec::new();
    let mut moves = Vec::new();
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
        if SyncStatus::parse(&l.rec.sync_status) != SyncStatus::Synced || l.rec.remote_id.is_none()
        {
            continue;
        }
        moves.push(plan::Move {
            from: l.rec.version.clone(),
            to: target,
        });
        movers.push((i, l.rec.generation_id, l.rec.version));
    }
    Ok(plan::swap_cycle(&moves)
        .into_iter()
        .filter_map(|k| movers.get(k).cloned())
        .collect())
}

/// What the planner needs to know about feed generation `g` (`remote` its content), and
/// the local records the plan's steps name.
struct Loaded {
    facts: plan::GenerationFacts,
    /// The local copy's id (or the id a plan inserting it gives it) and its version.
    this: (String, Option<String>),
    /// The other local record holding the incoming version.
    holder: Option<String>,
}

fn load_generation_facts(
    tx: &rusqlite::Connection,
    g: &wire::Generation,
    remote: Option<GenerationContent>,
    mode: plan::Mode,
) -> Result<Loaded> {
    let local = ss::local_of_wire(tx, g)?;
    let holder = match (&remote, &local) {
        (Some(r), Some(l)) if r.version != l.rec.version => ss::local_by_version(tx, &r.version)?,
        (Some(r), None) => ss::local_by_version(tx, &r.version)?,
        _ => None,
    };
    let pending = if local.is_none() {
        plan::PendingDeletes {
            of_lost_create: ss::pending_uuid_delete(tx, &g.generation_id)?,
            at_rev: ss::pending_delete_rev(tx, g.id)?,
        }
    } else {
        plan::PendingDeletes::default()
    };
    let this = match &local {
        Some(l) => (l.rec.generation_id.clone(), Some(l.rec.version.clone())),
        None => (g.generation_id.clone(), None),
    };
    let local = match local {
        None => None,
        Some(l) => {
            let sync = SyncStatus::parse(&l.rec.sync_status);
            let id = &l.rec.generation_id;
            let (conflict, cause) = if sync == SyncStatus::Conflict {
                (ss::conflict_items(tx, id)?, ss::conflict_cause(tx, id)?)
            } else {
                (Vec::new(), ss::ConflictCause::Edits)
            };
            Some(plan::Local {
                content: content_of(&l.rec),
                sync,
                linked: l.rec.remote_id.is_some(),
                rev: l.rec.rev,
                unsynced_evolutions: remote.is_none() && ss::has_unsynced_evolutions(tx, id)?,
                base: l.base,
                sent: l.sent.map(|(_, c)| c),
                conflict,
                cause,
            })
        }
    };
    Ok(Loaded {
        this,
        holder: holder.as_ref().map(|h| h.rec.generation_id.clone()),
        facts: plan::GenerationFacts {
            incoming: plan::Incoming {
                content: remote,
                server_id: g.id,
                rev: g.rev,
            },
            local,
            holder: holder.map(|h| plan::Holder {
                status: h.rec.status,
                sync: SyncStatus::parse(&h.rec.sync_status),
                linked: h.rec.remote_id.is_some(),
            }),
            pending,
            mode,
        },
    })
}

/// Applies one generation of the feed: loads its facts, asks the planner, applies the
/// steps. Returns whether it waits for another record's move in this pull.
pub(super) fn apply_generation(
    tx: &rusqlite::Connection,
    g: &wire::Generation,
    now: &str,
    report: &mut PullReport,
    touched: &mut Touched,
    needs_resync: &mut bool,
    mode: plan::Mode,
) -> Result<bool> {
    let remote = if g.deleted {
        None
    } else {
        Some(content_of_wire(g)?)
    };
    let loaded = load_generation_facts(tx, g, remote, mode)?;
    let steps = plan::plan_generation(&loaded.facts);
    let (id, old_version) = &loaded.this;
    let server_copy = || {
        loaded.facts.incoming.content.as_ref().ok_or_else(|| {
            CliError::error(format!(
                "Cannot apply the server's deletion of {} as a copy",
                g.version
            ))
        })
    };
    let mut moved = |to: Option<&str>| {
        if let Some(old) = old_version {
            touched.moved.push((old.clone(), to.map(str::to_string)));
        }
    };
    let mut waits = false;
    for step in &steps {
        match step {
            Step::DropLostCreateDelete => ss::drop_pending_uuid_delete(tx, &g.generation_id)?,
            Step::JournalDelete { rev } => ss::journal_delete(tx, g, *rev, now)?,
            Step::DropPendingDelete => ss::drop_pending_delete(tx, g.id)?,
            Step::InsertRemote => ss::insert_remote(tx, g, server_copy()?, now)?,
            Step::TakeRemote => {
                let r = server_copy()?;
                ss::take_remote(tx, id, g, r, now)?;
                moved(Some(&r.version));
            }
            Step::Rebase { merged } => {
                ss::rebase(tx, id, g, server_copy()?, merged.as_ref(), now)?;
                if let Some(m) = merged {
                    moved(Some(&m.version));
                }
            }
            Step::DeleteLocal => {
                ss::delete_local_generation(tx, id)?;
                moved(None);
            }
            Step::Conflict {
                on,
                cause,
                items,
                version,
            } => {
                let on = match on {
                    plan::On::This => id,
                    plan::On::Holder => loaded.holder.as_ref().ok_or_else(|| {
                        CliError::error(format!(
                            "No record holds {version} here to mark in conflict"
                        ))
                    })?,
                };
                ss::set_conflict(tx, on, Some(g), items, *cause)?;
                report.conflicts.push(ConflictReport {
                    cause: *cause,
                    version: version.clone(),
                    conflicts: items.clone(),
                });
            }
            Step::PromotedHere { version, why } => report.conflicts.push(ConflictReport {
                cause: ss::ConflictCause::Edits,
                version: version.clone(),
                conflicts: vec![ConflictItem::PromotedHere(why.clone()).conflict()],
            }),
            Step::NeedsResync => *needs_resync = true,
            Step::Postpone => {
                *needs_resync = true;
                report.postponed += 1;
            }
            Step::Wait => waits = true,
        }
    }
    match plan::tally(&steps) {
        Some(Tally::Inserted) => report.inserted += 1,
        Some(Tally::Updated) => report.updated += 1,
        Some(Tally::Merged) => report.merged += 1,
        Some(Tally::Deleted) => report.deleted += 1,
        None => {}
    }
    Ok(waits)
}

/// Applies one evolution; returns the local generation id when rc numbers may have moved,
/// `None` when its generation is not here (yet): the caller keeps it waiting.
pub(super) fn apply_evolution(
    tx: &rusqlite::Connection,
    e: &wire::Evolution,
    now: &str,
    report: &mut PullReport,
) -> Result<Option<String>> {
    let local_gen = ss::generation_of_evolution(tx, e)?;
    let (local, promoted_at) = match &local_gen {
        Some(g) => (ss::local_evolution(tx, e)?, store::promoted_at(tx, g)?),
        None => (None, None),
    };
    let facts = plan::EvolutionFacts {
        generation_here: local_gen.is_some(),
        deleted: e.deleted,
        local: local.as_ref().map(|l| plan::LocalEvolution {
            same_record: l.evolution_id == e.evolution_id,
            dirty: l.dirty,
        }),
        promoted_here: promoted_at.is_some(),
        started_after_promotion: started_after(promoted_at.as_deref(), e),
    };
    let step = plan::plan_evolution(&facts);
    let (Some(local_gen), false) = (local_gen, step == EvolutionStep::WaitForGeneration) else {
        return Ok(None);
    };
    let local_id = local.map(|l| l.evolution_id);
    let local_id = || {
        local_id.as_deref().ok_or_else(|| {
            CliError::error(format!(
                "No local copy of evolution {} to update",
                e.code_name
            ))
        })
    };
    match step {
        EvolutionStep::WaitForGeneration | EvolutionStep::Nothing => {}
        EvolutionStep::Insert => {
            ss::insert_remote_evolution(tx, &local_gen, e, now)?;
            report.evolutions += 1;
        }
        EvolutionStep::Delete => {
            ss::delete_local_evolution(tx, local_id()?)?;
            report.evolutions += 1;
        }
        EvolutionStep::TakeRemote => {
            ss::take_remote_evolution(tx, local_id()?, e, now)?;
            report.evolutions += 1;
        }
        EvolutionStep::AdoptIds => ss::adopt_evolution_ids(tx, local_id()?, e)?,
        EvolutionStep::PromotedHere(why) => report.conflicts.push(ConflictReport {
            cause: ss::ConflictCause::Edits,
            version: e.version.clone(),
            conflicts: vec![
                ConflictItem::PromotedHere(PromotedHere::EvolutionNotApplied {
                    code_name: e.code_name.clone(),
                    why,
                })
                .conflict(),
            ],
        }),
    }
    Ok(Some(local_gen))
}

/// Whether `e` started after `promoted_at` (a promotion here); times that do not parse
/// never count as after.
fn started_after(promoted_at: Option<&str>, e: &wire::Evolution) -> bool {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let Some(promoted) = promoted_at.and_then(parse) else {
        return false;
    };
    e.started_at
        .as_deref()
        .and_then(parse)
        .is_some_and(|s| s > promoted)
}
