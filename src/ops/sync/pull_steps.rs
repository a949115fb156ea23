//! One record of the change feed: its facts loaded through the store, the pull planner
//! asked (`gryt_core::sync::pull`), its steps applied in the page's transaction and counted
//! in the report.

use super::pull::Touched;
use super::*;
use gryt_core::sync::pull::{self as plan, EvolutionStep, Step, Tally};
use gryt_core::sync::{ConflictItem, PromotedHere, SyncStatus};

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
            holder: match holder {
                None => None,
                Some(h) => {
                    let sync = SyncStatus::parse(&h.rec.sync_status);
                    let cause = if sync == SyncStatus::Conflict {
                        ss::conflict_cause(tx, &h.rec.generation_id)?
                    } else {
                        ss::ConflictCause::Edits
                    };
                    Some(plan::Holder {
                        status: h.rec.status,
                        sync,
                        linked: h.rec.remote_id.is_some(),
                        cause,
                    })
                }
            },
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
