//! Pull decisions: what to do with one record of the change feed, given what this
//! workspace holds.
//!
//! The caller loads the [`GenerationFacts`] (or [`EvolutionFacts`]) of one feed record
//! from its store, asks [`plan_generation`] (or [`plan_evolution`]) and applies the steps in
//! order inside the page's transaction. Records that swapped versions on the server wait
//! on each other; [`swap_cycle`] finds the moves that land only together. The named cases
//! of `pull/cases.rs` hold every pull bug the model test found (docs/reliability.md).

use crate::generation::GenerationStatus;
use crate::merge::{merge_generation, Conflict, GenerationContent, Merge};
use crate::sync::{ConflictCause, ConflictItem, NotApplied, PromotedHere, SyncStatus};
use std::collections::BTreeMap;

/// The revision the server gives a record it creates.
pub const CREATED_REV: i64 = 1;

/// A generation as the feed brings it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Its content; `None` for a tombstone (deleted on the server).
    pub content: Option<GenerationContent>,
    /// The server's id of the record.
    pub server_id: i64,
    pub rev: i64,
}

/// The local copy of the feed record (found by its client UUID, else its server id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    pub content: GenerationContent,
    pub sync: SyncStatus,
    /// Whether it has a server id (the server acknowledged it, or a pull brought it).
    pub linked: bool,
    /// The server's revision it was last synced with.
    pub rev: i64,
    /// The last synced copy (also: the committed contract a clone loaded it from).
    pub base: Option<GenerationContent>,
    /// What an operation sent under its key carried, when its answer never came.
    pub sent: Option<GenerationContent>,
    /// The conflict recorded on it (empty unless `sync` is `Conflict`).
    pub conflict: Vec<Conflict>,
    pub cause: ConflictCause,
    /// Whether it has evolutions the server has not seen in their current state. Only a
    /// tombstone reads it: the caller may leave it `false` for any other record.
    pub unsynced_evolutions: bool,
}

/// Another local record holding the version the feed record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub status: GenerationStatus,
    pub sync: SyncStatus,
    pub linked: bool,
    /// Why it is in conflict, when `sync` is `Conflict`.
    pub cause: ConflictCause,
}

impl Holder {
    /// A synced record of the server's: its own move may come later in the feed.
    fn moves(&self) -> bool {
        self.sync == SyncStatus::Synced && self.linked
    }

    /// In a conflict with its own server copy that waits for the user (edits on both
    /// sides, or deleted here and changed there). Marking it version-taken instead would
    /// replace that conflict, and the rename that settles a taken version would then send
    /// the local copy as if the user had decided (model seed 90011).
    fn awaits_decision(&self) -> bool {
        self.sync == SyncStatus::Conflict && self.cause == ConflictCause::Edits
    }
}

/// Deletions journalled here for the feed record when no local copy exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingDeletes {
    /// A deletion of our own create, made before its answer (the server id) came back.
    pub of_lost_create: bool,
    /// A deletion of the server record, not pushed yet: the revision it was made at.
    pub at_rev: Option<i64>,
}

/// How this pull treats a record that would wait for another one to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The holder's own move may still come in this pull: wait for it.
    Feed,
    /// The end of the pull: whatever still waits is postponed until a full pull.
    Forced,
}

/// Everything a pull decision about one feed generation depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationFacts {
    pub incoming: Incoming,
    pub local: Option<Local>,
    /// Another local record holding the incoming version (the local copy itself excluded),
    /// when the incoming copy is not a tombstone.
    pub holder: Option<Holder>,
    /// Read only when there is no local copy.
    pub pending: PendingDeletes,
    pub mode: Mode,
}

/// Which record a conflict is set on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// The local copy of the feed record (or the copy a step of the plan inserted).
    This,
    /// The other local record holding the incoming version.
    Holder,
}

/// One thing to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Forget the deletion of our lost create: the server shows the record now.
    DropLostCreateDelete,
    /// Journal the deletion of the server record for the next push, made at `rev`.
    JournalDelete { rev: i64 },
    /// Forget the pending deletion of the server record.
    DropPendingDelete,
    /// Insert the server's copy as a new local record.
    InsertRemote,
    /// Make the local copy the server's; it becomes the base.
    TakeRemote,
    /// The server's copy becomes the base; local work stays pending (as `merged`, when
    /// given, else as it is).
    Rebase { merged: Option<GenerationContent> },
    /// Delete the local copy.
    DeleteLocal,
    /// Mark a conflict on a record (the server's copy kept beside it) and report it under
    /// `version`.
    Conflict {
        on: On,
        cause: ConflictCause,
        items: Vec<Conflict>,
        version: String,
    },
    /// A record promoted here that the feed would rewrite: reported, nothing applied.
    PromotedHere { version: String, why: PromotedHere },
    /// Keep the resync mark: the next pull starts from the beginning of the feed.
    NeedsResync,
    /// Leave the record for a full pull (its version is held here); keeps the resync mark.
    Postpone,
    /// Try again later in this pull, after the holder of its version has moved.
    Wait,
}

/// What a plan changed, as the pull's report counts it. A record is counted once: a plan
/// that reports a conflict counts as that conflict (its steps report it), not as a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    Inserted,
    Updated,
    Merged,
    Deleted,
}

/// What the report counts as changed for `plan`, if anything.
pub fn tally(plan: &[Step]) -> Option<Tally> {
    let reports = |s: &Step| matches!(s, Step::Conflict { .. } | Step::PromotedHere { .. });
    if plan.iter().any(reports) {
        return None;
    }
    plan.iter().find_map(|s| match s {
        Step::InsertRemote => Some(Tally::Inserted),
        Step::TakeRemote => Some(Tally::Updated),
        Step::Rebase { .. } => Some(Tally::Merged),
        Step::DeleteLocal => Some(Tally::Deleted),
        _ => None,
    })
}

/// What to do with one generation of the feed.
pub fn plan_generation(f: &GenerationFacts) -> Vec<Step> {
    match &f.local {
        None => plan_new(f),
        Some(local) => plan_known(f, local),
    }
}

/// A feed generation this workspace has no copy of.
fn plan_new(f: &GenerationFacts) -> Vec<Step> {
    let remote = f.incoming.content.as_ref();
    let mut steps = Vec::new();
    let mut deleted_at = f.pending.at_rev;
    if f.pending.of_lost_create {
        // Our own create, whose answer was lost, deleted here before we learnt its server
        // id: the deletion now has a target. It was made at the revision we created.
        steps.push(Step::DropLostCreateDelete);
        if remote.is_some() {
            steps.push(Step::JournalDelete { rev: CREATED_REV });
            deleted_at = Some(CREATED_REV);
        }
    }
    // Deleted here, the deletion not pushed yet: never resurrect the record silently.
    if let Some(deleted_at) = deleted_at {
        match remote {
            // Deleted on the server too: nothing left to push.
            None => steps.push(Step::DropPendingDelete),
            // Unchanged since we deleted it: the deletion still applies.
            Some(_) if f.incoming.rev <= deleted_at => {}
            // Changed on the server since: a delete-modify conflict. The server's copy comes
            // back, marked, so nobody's edits are dropped without a decision; its evolutions
            // went with the local deletion and may lie behind the cursor: a full pull brings
            // them back.
            Some(r) if f.holder.is_none() => steps.extend([
                Step::DropPendingDelete,
                Step::InsertRemote,
                Step::NeedsResync,
                Step::Conflict {
                    on: On::This,
                    cause: ConflictCause::Edits,
                    items: vec![ConflictItem::DeletedHere.conflict()],
                    version: r.version.clone(),
                },
            ]),
            // Changed on the server since, and its version is held here by another record:
            // the conflict waits (with the deletion) until that version is free.
            Some(_) => steps.push(Step::Postpone),
        }
        return steps;
    }
    let Some(remote) = remote else {
        return steps; // a tombstone of something we never had
    };
    let Some(holder) = f.holder else {
        steps.push(Step::InsertRemote);
        return steps;
    };
    if holder.status == GenerationStatus::Promoted {
        // A promoted record is final here: another record under its version (a server
        // restored from an older backup, then promoted anew) is reported, not applied.
        steps.push(Step::PromotedHere {
            version: remote.version.clone(),
            why: PromotedHere::AnotherRecord {
                server_id: f.incoming.server_id,
                rev: f.incoming.rev,
            },
        });
    } else if holder.moves() {
        steps.push(match f.mode {
            // A synced record of that version moved on the server: its move comes later in
            // the feed and frees the version (deleting it here would lose its evolutions
            // behind the cursor).
            Mode::Feed => Step::Wait,
            // Its move never landed in this pull (it waits for a version held here, a
            // conflict the user decides, or it lies behind a filter). Dropping it to make
            // room would lose its evolutions: the new generation waits for a full pull.
            Mode::Forced => Step::Postpone,
        });
    } else if holder.awaits_decision() {
        // The holder's own conflict comes first; the new record waits for a full pull
        // after the user has decided it.
        steps.push(Step::Postpone);
    } else {
        // Someone else's generation holds the version here: never overwrite local work.
        steps.extend([
            Step::Conflict {
                on: On::Holder,
                cause: ConflictCause::VersionTaken,
                items: vec![ConflictItem::VersionExists.conflict()],
                version: remote.version.clone(),
            },
            Step::NeedsResync,
        ]);
    }
    steps
}

/// A feed generation this workspace holds a copy of.
fn plan_known(f: &GenerationFacts, local: &Local) -> Vec<Step> {
    let remote = f.incoming.content.as_ref();
    let rev = f.incoming.rev;
    let old_version = &local.content.version;
    if local.content.status == GenerationStatus::Promoted {
        if let Some(why) = rewrites_a_promotion(f, local) {
            // A server copy with other content, a lower revision, or a deletion means the
            // server went back (restored from an older backup) or diverged.
            return vec![Step::PromotedHere {
                version: old_version.clone(),
                why,
            }];
        }
    }
    // A record loaded from a committed contract file and not linked yet: its base is the
    // committed copy, and it is edited only where it differs from that copy. The server's
    // copy is authoritative for the rest (docs/sync.md "Clones").
    let from_file = !local.linked && local.sent.is_none() && local.base.is_some();
    // A record with our client UUID that we never saw acknowledged is our own lost create.
    // The base is what that create sent (kept with its key); without it, the server's copy.
    let base = if !local.linked && !from_file {
        local.sent.as_ref().or(remote)
    } else {
        local.base.as_ref()
    };
    let dirty = if from_file {
        local.base.as_ref() != Some(&local.content)
    } else {
        local.sync.is_local_work()
    };
    let in_conflict = local.sync == SyncStatus::Conflict;
    if in_conflict && local.linked && rev == local.rev {
        // A conflict waiting for a decision, and nothing new on the server (a pull starting
        // over sees the record again): the decision is still the user's.
        return Vec::new();
    }
    let untouched = local.base.as_ref() == Some(&local.content);
    let deleted_here = local
        .conflict
        .iter()
        .any(|c| ConflictItem::of(c) == Some(ConflictItem::DeletedHere));
    if in_conflict && (remote.is_some() || untouched) && deleted_here {
        return follow_in_conflict(f, local, base, untouched);
    }
    if remote.is_none() && !dirty && local.unsynced_evolutions {
        // Unpushed proofs are local work too: a deletion must not drop them silently.
        return vec![Step::Conflict {
            on: On::This,
            cause: ConflictCause::Edits,
            items: vec![ConflictItem::UnpushedEvolutions.conflict()],
            version: old_version.clone(),
        }];
    }
    let outcome = merge_generation(base, Some(&local.content), dirty, remote);
    // The version this record moves to may still be held here by another record: by local
    // work (that version is taken in the cloud: a conflict on it), or by a synced record
    // whose own move comes later in the feed. Either way this one waits.
    let target = match (&outcome, remote) {
        (Merge::TakeRemote, Some(r)) => Some(&r.version),
        (Merge::Merged(m), Some(_)) => Some(&m.version),
        _ => None,
    };
    if let (Some(t), Some(holder)) = (target.filter(|t| *t != old_version), f.holder) {
        if holder.moves() && f.mode == Mode::Feed && !dirty && remote.is_some() {
            // A synced record holds it; its own move may come in this pull.
            return vec![Step::Wait];
        }
        let mut steps = Vec::new();
        if !holder.moves() && !holder.awaits_decision() {
            steps.push(Step::Conflict {
                on: On::Holder,
                cause: ConflictCause::VersionTaken,
                items: vec![ConflictItem::VersionExists.conflict()],
                version: t.clone(),
            });
        }
        steps.push(Step::Postpone);
        return steps;
    }
    let conflict = |items: Vec<Conflict>| Step::Conflict {
        on: On::This,
        cause: ConflictCause::Edits,
        items,
        version: old_version.clone(),
    };
    vec![match (outcome, remote) {
        (Merge::TakeRemote, None) => Step::DeleteLocal,
        (Merge::TakeRemote, Some(_)) => Step::TakeRemote,
        (Merge::KeepLocal, Some(_)) => Step::Rebase { merged: None },
        (Merge::Merged(m), Some(_)) => Step::Rebase { merged: Some(m) },
        (Merge::Conflict(c), _) => conflict(c),
        // merge_generation never keeps local work against a tombstone without a conflict.
        (Merge::KeepLocal | Merge::Merged(_), None) => {
            conflict(vec![ConflictItem::DeletedThere.conflict()])
        }
    }]
}

/// Why the incoming copy may not touch a record promoted here, if it may not.
fn rewrites_a_promotion(f: &GenerationFacts, local: &Local) -> Option<PromotedHere> {
    let Some(r) = &f.incoming.content else {
        return Some(PromotedHere::Deleted);
    };
    let same = GenerationContent {
        status: local.content.status,
        ..r.clone()
    } == local.content;
    if !same {
        Some(PromotedHere::OtherContent {
            rev: f.incoming.rev,
        })
    } else if local.linked && f.incoming.rev < local.rev {
        Some(PromotedHere::OlderRevision {
            server: f.incoming.rev,
            here: local.rev,
        })
    } else {
        None
    }
}

/// Deleted here, changed on the server, and changed again: the decision stays the user's.
/// The copy here follows the server's (merged with any edit made here since the conflict);
/// deleted on the server too and untouched, nothing is left to decide.
fn follow_in_conflict(
    f: &GenerationFacts,
    local: &Local,
    base: Option<&GenerationContent>,
    untouched: bool,
) -> Vec<Step> {
    let Some(r) = &f.incoming.content else {
        return vec![Step::DeleteLocal];
    };
    let next = if untouched {
        Some(r.clone())
    } else {
        match merge_generation(base, Some(&local.content), true, Some(r)) {
            Merge::TakeRemote => Some(r.clone()),
            Merge::KeepLocal => Some(local.content.clone()),
            Merge::Merged(m) => Some(m),
            Merge::Conflict(_) => None,
        }
    };
    let version = next
        .as_ref()
        .map_or(&local.content.version, |n| &n.version)
        .clone();
    if version != local.content.version && f.holder.is_some() {
        // Onto a version another record holds here: after that one moves.
        return vec![Step::Postpone];
    }
    let mut steps = Vec::new();
    match next {
        Some(_) if untouched => steps.push(Step::TakeRemote),
        Some(m) => steps.push(Step::Rebase { merged: Some(m) }),
        None => {}
    }
    steps.push(Step::Conflict {
        on: On::This,
        cause: local.cause,
        items: local.conflict.clone(),
        version,
    });
    steps
}

/// The local copy of a feed evolution (found by its UUID, else its server id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalEvolution {
    /// Whether it is the same record (same UUID), not another one under its server id.
    pub same_record: bool,
    /// Whether it holds local changes the server has not seen.
    pub dirty: bool,
}

/// Everything a pull decision about one feed evolution depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvolutionFacts {
    /// Whether its generation is here (the feed lists each record once, at its latest
    /// write, so an evolution may come before its generation).
    pub generation_here: bool,
    /// Whether the feed record is a tombstone.
    pub deleted: bool,
    pub local: Option<LocalEvolution>,
    /// Whether its generation is promoted here.
    pub promoted_here: bool,
    /// Whether it started after that promotion (read for a new evolution only).
    pub started_after_promotion: bool,
}

/// What to do with one evolution of the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvolutionStep {
    /// Its generation is not here yet: keep it until the generation's page is applied (or
    /// until a full pull, should the generation never come).
    WaitForGeneration,
    /// Nothing (a tombstone of something never held, or of local work).
    Nothing,
    Insert,
    Delete,
    /// Take the server's copy (not edited here).
    TakeRemote,
    /// Take the server's ids, rc and revision; local changes stay pending.
    AdoptIds,
    /// Its generation is promoted here: reported, never added to the release.
    PromotedHere(NotApplied),
}

/// What to do with one evolution of the feed.
pub fn plan_evolution(f: &EvolutionFacts) -> EvolutionStep {
    if !f.generation_here {
        return EvolutionStep::WaitForGeneration;
    }
    let other_record = f.local.is_some_and(|l| !l.same_record) && f.promoted_here;
    if other_record {
        return EvolutionStep::PromotedHere(NotApplied::AnotherRecordUnderItsId);
    }
    if f.local.is_none() && !f.deleted && f.promoted_here && f.started_after_promotion {
        // A proof started after this workspace's promotion of its generation cannot belong
        // to that release (a restored server promoted other content).
        return EvolutionStep::PromotedHere(NotApplied::StartedAfterPromotion);
    }
    match f.local {
        None if f.deleted => EvolutionStep::Nothing,
        None => EvolutionStep::Insert,
        Some(l) if f.deleted && l.dirty => EvolutionStep::Nothing,
        Some(_) if f.deleted => EvolutionStep::Delete,
        Some(l) if l.dirty => EvolutionStep::AdoptIds,
        Some(_) => EvolutionStep::TakeRemote,
    }
}

/// A waiting move: a synced record here at `from`, whose server copy is now at `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub from: String,
    pub to: String,
}

/// The waiting moves that form a cycle (each one's new version held here by the next
/// one's record): their indexes in `moves`, in the cycle's order, or nothing. Moved
/// together, each lands on a free version. Of moves from the same version the last counts.
pub fn swap_cycle(moves: &[Move]) -> Vec<usize> {
    let mut by_from: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for (i, m) in moves.iter().enumerate() {
        if m.from != m.to {
            by_from.insert(&m.from, (i, &m.to));
        }
    }
    for &start in by_from.keys() {
        let mut path = vec![start];
        let mut at = start;
        while let Some(&(_, to)) = by_from.get(at) {
            if to == start {
                return path
                    .iter()
                    .filter_map(|v| by_from.get(v).map(|(i, _)| *i))
                    .collect();
            }
            if path.contains(&to) || path.len() > by_from.len() {
                break;
            }
            path.push(to);
            at = to;
        }
    }
    Vec::new()
}

#[cfg(test)]
mod cases;
