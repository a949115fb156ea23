//! Pull: the change feed, page by page, merged into the local store (three-way merge,
//! never losing local work). See docs/sync.md.

use super::*;

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

/// The words of a "version taken" conflict (its cause is [`ss::ConflictCause::VersionTaken`]).
pub const VERSION_EXISTS: &str = "version exists in the cloud";
/// The item of a report about a promoted record the server's feed would rewrite.
pub(super) const PROMOTED_HERE: &str = "promoted here, never rewritten";
/// The item of a delete-modify conflict for a record deleted here and changed on the server.
pub(super) const DELETED_HERE: &str = "generation (deleted here, changed on the server)";

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
pub(super) fn moves_in_a_cycle(
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

pub(super) fn apply_generation(
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
pub(super) fn apply_evolution(
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
pub(super) fn started_after_promotion(
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
