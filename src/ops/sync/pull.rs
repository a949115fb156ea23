//! Pull: the change feed, page by page, merged into the local store (three-way merge,
//! never losing local work). See docs/sync.md.

use super::pull_steps::{apply_evolution, apply_generation, moves_in_a_cycle};
use super::*;
use gryt_core::sync::pull as plan;

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
    let scope = cloud.scope_query(false);
    let fetch = |since: i64, limit: i64| -> std::result::Result<Data<SyncChanges>, RemoteError> {
        let route = routes::sync_changes(since, limit, &scope);
        cloud.remote.call_route(&route, None, &[])
    };
    // The next page is asked for while this one is applied (the server answers, and the
    // answer is decoded, while the local transaction runs); pages are still applied one
    // at a time, in order, each with its cursor.
    std::thread::scope(|threads| -> Result<()> {
        // The page size adapts: a page too large to accept is asked again with fewer
        // records (down to one), and grows back after each page that fits.
        let mut limit = PAGE;
        let mut ahead: Option<(i64, i64, std::thread::ScopedJoinHandle<'_, _>)> = None;
        loop {
            let got = match ahead.take() {
                Some((at, asked, handle)) if at == since && asked == limit => {
                    handle.join().unwrap_or_else(|_| {
                        Err(RemoteError::Unreachable(
                            "the request for the next page of the change feed failed".into(),
                        ))
                    })
                }
                Some((_, _, handle)) => {
                    let _ = handle.join();
                    fetch(since, limit)
                }
                None => fetch(since, limit),
            };
            let page = match got {
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
            if page.next < page.head {
                let (at, asked) = (page.next, limit);
                ahead = Some((at, asked, threads.spawn(move || fetch(at, asked))));
            }
            settle_lost_updates(ctx, ws, cloud, &page)?;
            let touched = apply_page(ctx, ws, &page, filter, &mut report, &mut state)?;
            write_contracts(ws, &touched);
            done += page.items.len() as u64;
            progress(done, (page.head - start).max(0) as u64);
            since = page.next;
            if since >= page.head {
                return Ok(());
            }
        }
    })?;
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
    pub(super) moved: Vec<(String, Option<String>)>,
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
