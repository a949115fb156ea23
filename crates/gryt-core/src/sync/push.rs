//! Push outcomes: what one answer of the server means for the pending operation it
//! answers.
//!
//! A push sends pending work (creates, updates, deletions and promotions of generations,
//! creates and updates of evolutions), each under a stored Idempotency-Key. Every answer is
//! judged here from the operation ([`Pending`]), the answer's status and typed error code,
//! and what the caller found about the record when the answer came ([`Facts`]); the
//! [`Outcome`] lists the store steps to apply, how the push report counts it and whether a
//! pull, merge and one more round must follow. Which evolutions may be sent at all is
//! [`evolution_send`].

use crate::api::problem::ErrorCode;
use crate::merge::GenerationContent;

/// What one pending operation was for: the part of it an answer is judged against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// A generation the server does not have yet, sent with this content.
    CreateGeneration { sent: GenerationContent },
    /// Local edits of a generation the server has, sent with this content.
    UpdateGeneration { sent: GenerationContent },
    /// The deletion of a draft the server has.
    DeleteGeneration,
    /// A promotion made here (`gryt promote`) that the server has not confirmed.
    PromoteGeneration,
    /// An evolution the server does not have yet, sent with this status.
    CreateEvolution { sent_status: String },
    /// A newer state of an evolution the server has, sent with this status.
    UpdateEvolution { sent_status: String },
}

impl Pending {
    fn is_generation_write(&self) -> bool {
        matches!(
            self,
            Pending::CreateGeneration { .. } | Pending::UpdateGeneration { .. }
        )
    }

    fn is_evolution_write(&self) -> bool {
        matches!(
            self,
            Pending::CreateEvolution { .. } | Pending::UpdateEvolution { .. }
        )
    }
}

/// What the caller found about the record when the answer came (inside the transaction
/// that applies it). Only the facts an operation's answer needs are read: a generation's for
/// its create or update, an evolution's status for its create or update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The generation's content now (`None`: gone here, or not asked).
    pub current: Option<GenerationContent>,
    /// Whether the generation is in conflict here now.
    pub in_conflict: bool,
    /// The evolution's status now (`None`: gone here, or not asked).
    pub evolution_status: Option<String>,
}

/// One change of the local store an answer calls for, applied in the order given. The
/// caller knows the record (its local id, or the server id of a deletion) and the answer's
/// body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The server's copy (the answer's record) becomes the local record and its base.
    TakeRemote,
    /// The server's copy becomes the base; the local record keeps its newer edits, which
    /// stay pending (or in conflict) and go as a new operation.
    Rebase,
    /// The promotion's key goes: the promotion is answered.
    ClearPromoteKey,
    /// The operation sent under the generation's key is answered without being applied:
    /// key and sent copy go, the next push sends the record as a new operation.
    ClearSent,
    /// The journaled deletion is answered: it goes from the journal.
    DropPendingDelete,
    /// The next pull reads the whole feed (what changed may lie behind the cursor).
    NeedsResync,
    /// The version is taken on the server by another record: a conflict of cause "version
    /// taken" (settled by a rename here or by taking the server's), exit 3.
    SetVersionTaken,
    /// Set aside as refused with the server's reason, its key dropped: listed until `gryt
    /// sync resolve` settles it, never re-sent by itself.
    SetRefused,
    /// The journaled deletion is set aside as refused with the server's reason.
    SetDeleteRefused,
    /// The evolution becomes the server's copy (ids, rc, rev, status).
    TakeRemoteEvolution,
    /// The evolution takes the server's ids, rc and rev but keeps its newer local state,
    /// still pending; the answered operation's key goes (the next send is a new operation).
    AdoptEvolutionIds,
    /// Provisional local rc numbers of the evolution's generation move past the number the
    /// server just gave.
    RenumberProvisional,
    /// The server already holds a record under this evolution's id: a create it took whose
    /// answer was lost, sent again as a create after the evolution changed here. The
    /// create's key goes, and the caller looks the server's copy up among its generation's
    /// evolutions: found, its ids are adopted (the next send is an update); gone there, the
    /// evolution is set aside as refused.
    FindOnServer,
}

/// What was refused, as `gryt sync status` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Generation,
    Evolution,
    Deletion,
}

impl Refusal {
    /// The word the refused-work listing uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Generation => "generation",
            Refusal::Evolution => "evolution",
            Refusal::Deletion => "deletion",
        }
    }
}

/// How the push report counts an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Not counted (a stale write, or one sent again afresh).
    Nothing,
    Created,
    Updated,
    Deleted,
    Promoted,
    Evolution,
    /// Not applied, and reported with the server's detail (exit 1).
    Failed,
    /// A status this client does not expect: reported with the status and detail (exit 1),
    /// the work stays pending.
    Unexpected,
    /// The server could not take it now (429, 5xx): kept pending under its key (exit 4).
    Unavailable,
    /// Refused for good (exit 3 until settled).
    Refused(Refusal),
    /// The version is someone else's on the server (exit 3, the rename hint).
    VersionTaken,
}

/// What an answer means: the steps to apply, the report, and whether a pull, a merge and one
/// more round must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub steps: &'static [Step],
    pub report: Report,
    pub retry: bool,
}

const fn is(steps: &'static [Step], report: Report, retry: bool) -> Outcome {
    Outcome {
        steps,
        report,
        retry,
    }
}

/// A definitive refusal: the same operation would be refused again. (412 is a stale base,
/// settled by pull, merge and retry; 401 refuses the whole request, not one operation.)
pub fn is_refusal(status: u16) -> bool {
    matches!(status, 400 | 403 | 404 | 409 | 410 | 422)
}

/// What the answer `status` (with error `code`; [`ErrorCode::Unknown`] when there is none)
/// to `pending` means, given `facts` about the record now.
pub fn outcome(pending: &Pending, status: u16, code: ErrorCode, facts: &Facts) -> Outcome {
    use Pending as P;
    use Step::*;
    let ok = (200..300).contains(&status);
    if ok {
        return match pending {
            P::CreateGeneration { sent } | P::UpdateGeneration { sent } => {
                let report = if matches!(pending, P::CreateGeneration { .. }) {
                    Report::Created
                } else {
                    Report::Updated
                };
                // Edited (or in conflict) since it was sent: the answer is only the new
                // base, the local edits stay.
                if facts.current.as_ref() == Some(sent) && !facts.in_conflict {
                    is(&[TakeRemote], report, false)
                } else {
                    is(&[Rebase], report, false)
                }
            }
            P::DeleteGeneration => is(&[DropPendingDelete], Report::Deleted, false),
            P::PromoteGeneration => is(&[TakeRemote, ClearPromoteKey], Report::Promoted, false),
            P::CreateEvolution { sent_status } | P::UpdateEvolution { sent_status } => {
                if facts.evolution_status.as_deref() == Some(sent_status.as_str()) {
                    is(
                        &[TakeRemoteEvolution, RenumberProvisional],
                        Report::Evolution,
                        false,
                    )
                } else {
                    is(
                        &[AdoptEvolutionIds, RenumberProvisional],
                        Report::Evolution,
                        false,
                    )
                }
            }
        };
    }
    match (pending, status) {
        // Already gone on the server: the deletion is done.
        (P::DeleteGeneration, 404) => is(&[DropPendingDelete], Report::Deleted, false),
        // Promoted on the server meanwhile: final, so the deletion can never apply. It is
        // answered (reported once), and the release comes back at the full pull that follows.
        (P::DeleteGeneration, 409) => is(&[DropPendingDelete, NeedsResync], Report::Failed, true),
        // The first attempt under this key is still running: the key stays for next time.
        (_, 409) if code == ErrorCode::IdempotencyInFlight => is(&[], Report::Failed, false),
        // The server took this evolution's create before (its answer lost) and the
        // evolution changed here since, so it went again as a create under a new key: not a
        // refusal. Its server copy is looked up, and its state goes as an update.
        (P::CreateEvolution { .. }, 409) if code == ErrorCode::AlreadyExists => {
            is(&[FindOnServer], Report::Nothing, true)
        }
        // Deleted at a revision the server has moved past, and the change may lie behind
        // the cursor: a full pull meets it with the journaled deletion (a delete-modify
        // conflict, the server's copy back for the decision).
        (P::DeleteGeneration, 412) => is(&[NeedsResync], Report::Nothing, true),
        // Refused as stale: the merge that follows makes a new operation.
        (P::UpdateGeneration { .. }, 412) => is(&[ClearSent], Report::Nothing, true),
        (_, 412) => is(&[], Report::Nothing, true),
        // A create re-sent as first sent, under a version renamed here since: the version
        // it named is taken, the one it has now may not be. Sent afresh.
        (P::CreateGeneration { sent }, 409)
            if code == ErrorCode::AlreadyExists
                && facts
                    .current
                    .as_ref()
                    .is_some_and(|c| c.version != sent.version) =>
        {
            is(&[ClearSent], Report::Nothing, true)
        }
        (P::CreateGeneration { .. } | P::UpdateGeneration { .. }, 409)
            if code == ErrorCode::AlreadyExists =>
        {
            is(&[SetVersionTaken, ClearSent], Report::VersionTaken, false)
        }
        // Promoted by someone else first: ours is answered, and lost.
        (P::PromoteGeneration, 409) => is(&[ClearPromoteKey], Report::Failed, true),
        // Promoted (or taken) on the server meanwhile: the pull that follows shows it.
        (P::UpdateGeneration { .. }, 409) => is(&[ClearSent], Report::Failed, true),
        // The server could not take it now (restarting, overloaded): nothing was applied,
        // the work stays pending under its key.
        (_, s) if s == 429 || s >= 500 => is(&[], Report::Unavailable, false),
        (P::DeleteGeneration, s) if is_refusal(s) => is(
            &[SetDeleteRefused],
            Report::Refused(Refusal::Deletion),
            false,
        ),
        // A final answer: set aside as refused with the server's reason (the next attempt,
        // if any, is a new operation with a new key).
        (p, s) if is_refusal(s) && (p.is_generation_write() || *p == P::PromoteGeneration) => {
            is(&[SetRefused], Report::Refused(Refusal::Generation), false)
        }
        // An evolution the server will never take (not its owner's, its change removed, its
        // generation promoted): not a proof, listed until settled.
        (p, s) if is_refusal(s) && p.is_evolution_write() => {
            is(&[SetRefused], Report::Refused(Refusal::Evolution), false)
        }
        _ => is(&[], Report::Unexpected, false),
    }
}

/// A pending evolution's generation, as far as sending the evolution is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvolutionGeneration {
    /// Whether the server has the generation (it has a server id).
    pub on_server: bool,
    /// Whether the generation has no local work waiting (synced: no pending edit, no
    /// conflict, nothing refused).
    pub synced: bool,
}

/// What to do with a pending evolution now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvolutionSend {
    /// Not yet: its generation (or the change it proves) has not reached the server.
    Wait,
    /// Sent as a create (the server does not know it).
    Create,
    /// Sent as an update of the server's record.
    Update,
}

/// Whether and how a pending evolution is sent: only once its generation is on the server
/// and synced, since the change it proves may be one of the generation's unpushed edits.
pub fn evolution_send(generation: EvolutionGeneration, evolution_on_server: bool) -> EvolutionSend {
    if !generation.on_server || !generation.synced {
        EvolutionSend::Wait
    } else if evolution_on_server {
        EvolutionSend::Update
    } else {
        EvolutionSend::Create
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::GenerationStatus;
    use ErrorCode as C;
    use Step::*;

    fn content(version: &str) -> GenerationContent {
        GenerationContent {
            version: version.into(),
            description: Some("d".into()),
            pipeline_template: None,
            status: GenerationStatus::Draft,
            changes: vec![],
        }
    }

    fn create(version: &str) -> Pending {
        Pending::CreateGeneration {
            sent: content(version),
        }
    }

    fn update(version: &str) -> Pending {
        Pending::UpdateGeneration {
            sent: content(version),
        }
    }

    fn create_evo(status: &str) -> Pending {
        Pending::CreateEvolution {
            sent_status: status.into(),
        }
    }

    fn update_evo(status: &str) -> Pending {
        Pending::UpdateEvolution {
            sent_status: status.into(),
        }
    }

    /// The generation as it stands here.
    fn now_gen(version: &str) -> Facts {
        Facts {
            current: Some(content(version)),
            ..Facts::default()
        }
    }

    /// The evolution's status here.
    fn now_evo(status: &str) -> Facts {
        Facts {
            evolution_status: Some(status.into()),
            ..Facts::default()
        }
    }

    fn none() -> Facts {
        Facts::default()
    }

    struct Case {
        name: &'static str,
        pending: Pending,
        status: u16,
        code: ErrorCode,
        facts: Facts,
        want: Outcome,
    }

    #[test]
    fn push_outcome_cases() {
        let cases = vec![
            // ---- ordinary answers ----
            Case {
                name: "an answered create unchanged since it was sent takes the server's copy",
                pending: create("1.0.0"),
                status: 201,
                code: C::Unknown,
                facts: now_gen("1.0.0"),
                want: is(&[TakeRemote], Report::Created, false),
            },
            Case {
                name: "an answered update edited since it was sent keeps the edits on the new base",
                pending: update("1.0.0"),
                status: 200,
                code: C::Unknown,
                facts: Facts {
                    current: Some(GenerationContent {
                        description: Some("edited".into()),
                        ..content("1.0.0")
                    }),
                    ..Facts::default()
                },
                want: is(&[Rebase], Report::Updated, false),
            },
            Case {
                name: "an answered update of a record in conflict here only moves the base",
                pending: update("1.0.0"),
                status: 200,
                code: C::Unknown,
                facts: Facts {
                    in_conflict: true,
                    ..now_gen("1.0.0")
                },
                want: is(&[Rebase], Report::Updated, false),
            },
            Case {
                name: "an answered deletion leaves the journal",
                pending: Pending::DeleteGeneration,
                status: 204,
                code: C::Unknown,
                facts: none(),
                want: is(&[DropPendingDelete], Report::Deleted, false),
            },
            Case {
                name: "a deletion of a record already gone on the server is done",
                pending: Pending::DeleteGeneration,
                status: 404,
                code: C::NotFound,
                facts: none(),
                want: is(&[DropPendingDelete], Report::Deleted, false),
            },
            Case {
                name: "a confirmed promotion takes the promoted copy and drops its key",
                pending: Pending::PromoteGeneration,
                status: 200,
                code: C::Unknown,
                facts: none(),
                want: is(&[TakeRemote, ClearPromoteKey], Report::Promoted, false),
            },
            Case {
                name: "a promotion lost to someone else's is answered, reported and pulled",
                pending: Pending::PromoteGeneration,
                status: 409,
                code: C::AlreadyPromoted,
                facts: none(),
                want: is(&[ClearPromoteKey], Report::Failed, true),
            },
            Case {
                name: "an update of a record promoted meanwhile is answered and pulled",
                pending: update("1.0.0"),
                status: 409,
                code: C::Immutable,
                facts: now_gen("1.0.0"),
                want: is(&[ClearSent], Report::Failed, true),
            },
            Case {
                name: "a stale update is forgotten and merged again after a pull",
                pending: update("1.0.0"),
                status: 412,
                code: C::Stale,
                facts: now_gen("1.0.0"),
                want: is(&[ClearSent], Report::Nothing, true),
            },
            Case {
                name: "a stale evolution update waits for the pull and the next round",
                pending: update_evo("pass"),
                status: 412,
                code: C::Stale,
                facts: now_evo("pass"),
                want: is(&[], Report::Nothing, true),
            },
            // ---- every push bug of docs/reliability.md ----
            Case {
                // seed 9124
                name: "deleting a draft promoted meanwhile is answered once and the release comes back",
                pending: Pending::DeleteGeneration,
                status: 409,
                code: C::Immutable,
                facts: none(),
                want: is(&[DropPendingDelete, NeedsResync], Report::Failed, true),
            },
            Case {
                // seed 23030 (long run)
                name: "a deletion refused as stale starts a full pull that makes it a conflict",
                pending: Pending::DeleteGeneration,
                status: 412,
                code: C::Stale,
                facts: none(),
                want: is(&[NeedsResync], Report::Nothing, true),
            },
            Case {
                // seed 10194: the create answered (its answers lost before) after the proof
                // moved on here; the create's key must go, or the next send reuses it (422).
                name: "an answered evolution create whose status moved here adopts the ids and drops its key",
                pending: create_evo("running"),
                status: 201,
                code: C::Unknown,
                facts: now_evo("pass"),
                want: is(
                    &[AdoptEvolutionIds, RenumberProvisional],
                    Report::Evolution,
                    false,
                ),
            },
            Case {
                // session 1: duplicate provisional rc numbers after a push
                name: "an answered evolution moves clashing provisional rc numbers up",
                pending: create_evo("pass"),
                status: 201,
                code: C::Unknown,
                facts: now_evo("pass"),
                want: is(
                    &[TakeRemoteEvolution, RenumberProvisional],
                    Report::Evolution,
                    false,
                ),
            },
            Case {
                // seed 68252 (long run): a push killed after the server took the create;
                // the proof completed here went again as a create under a new key
                name: "an evolution create the server already holds is looked up there, not refused",
                pending: create_evo("pass"),
                status: 409,
                code: C::AlreadyExists,
                facts: now_evo("pass"),
                want: is(&[FindOnServer], Report::Nothing, true),
            },
            Case {
                // session 1: evolutions sent before their generation's change reached the
                // server (422); with `evolution_send` they wait, and one refused anyway is
                // set aside (its key dropped), not refused again at every push.
                name: "an evolution the server refuses as invalid is set aside as refused",
                pending: create_evo("pass"),
                status: 422,
                code: C::Invalid,
                facts: now_evo("pass"),
                want: is(&[SetRefused], Report::Refused(Refusal::Evolution), false),
            },
            Case {
                // session 1: a refused operation's key replayed forever
                name: "a refused generation create is set aside and its key dropped",
                pending: create("1.0.0"),
                status: 403,
                code: C::Forbidden,
                facts: now_gen("1.0.0"),
                want: is(&[SetRefused], Report::Refused(Refusal::Generation), false),
            },
            Case {
                // session 1: a refused operation's key replayed forever
                name: "a refused deletion is set aside, not sent again by every push",
                pending: Pending::DeleteGeneration,
                status: 403,
                code: C::Forbidden,
                facts: none(),
                want: is(&[SetDeleteRefused], Report::Refused(Refusal::Deletion), false),
            },
            Case {
                name: "a promotion refused by the server's gate is set aside",
                pending: Pending::PromoteGeneration,
                status: 422,
                code: C::ProofMissing,
                facts: none(),
                want: is(&[SetRefused], Report::Refused(Refusal::Generation), false),
            },
            Case {
                // session 1: a rename onto a taken version reported as an error instead of
                // exit 3
                name: "a rename onto a version taken on the server is a version-taken conflict",
                pending: update("2.0.0"),
                status: 409,
                code: C::AlreadyExists,
                facts: now_gen("2.0.0"),
                want: is(&[SetVersionTaken, ClearSent], Report::VersionTaken, false),
            },
            Case {
                name: "a create under a version taken on the server is a version-taken conflict",
                pending: create("1.0.0"),
                status: 409,
                code: C::AlreadyExists,
                facts: now_gen("1.0.0"),
                want: is(&[SetVersionTaken, ClearSent], Report::VersionTaken, false),
            },
            Case {
                name: "a create re-sent under a version renamed here since is sent afresh",
                pending: create("1.0.0"),
                status: 409,
                code: C::AlreadyExists,
                facts: now_gen("1.0.1"),
                want: is(&[ClearSent], Report::Nothing, true),
            },
            Case {
                name: "an operation still in flight on the server keeps its key",
                pending: update("1.0.0"),
                status: 409,
                code: C::IdempotencyInFlight,
                facts: now_gen("1.0.0"),
                want: is(&[], Report::Failed, false),
            },
            Case {
                name: "a promotion still in flight on the server keeps its key",
                pending: Pending::PromoteGeneration,
                status: 409,
                code: C::IdempotencyInFlight,
                facts: none(),
                want: is(&[], Report::Failed, false),
            },
            Case {
                name: "an operation answered 429 stays pending as unavailable",
                pending: create_evo("pass"),
                status: 429,
                code: C::TooManyRequests,
                facts: now_evo("pass"),
                want: is(&[], Report::Unavailable, false),
            },
            Case {
                name: "an operation answered 503 stays pending as unavailable",
                pending: create("1.0.0"),
                status: 503,
                code: C::Busy,
                facts: now_gen("1.0.0"),
                want: is(&[], Report::Unavailable, false),
            },
            Case {
                name: "a deletion answered 502 without a code stays pending as unavailable",
                pending: Pending::DeleteGeneration,
                status: 502,
                code: C::Unknown,
                facts: none(),
                want: is(&[], Report::Unavailable, false),
            },
            Case {
                name: "an unexpected status is reported and the work stays pending",
                pending: update("1.0.0"),
                status: 418,
                code: C::Unknown,
                facts: now_gen("1.0.0"),
                want: is(&[], Report::Unexpected, false),
            },
            Case {
                name: "a 409 with a code this client does not know refuses a create",
                pending: create("1.0.0"),
                status: 409,
                code: C::Unknown,
                facts: now_gen("1.0.0"),
                want: is(&[SetRefused], Report::Refused(Refusal::Generation), false),
            },
        ];
        let mut failed = Vec::new();
        for c in &cases {
            let got = outcome(&c.pending, c.status, c.code, &c.facts);
            if got != c.want {
                failed.push(format!("{}: got {got:?}, want {:?}", c.name, c.want));
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn evolution_send_cases() {
        let gen = |on_server, synced| EvolutionGeneration { on_server, synced };
        let cases = [
            // session 1: evolutions sent before their generation's change reached the
            // server (422)
            (
                "an evolution of a generation with unpushed edits waits",
                gen(true, false),
                false,
                EvolutionSend::Wait,
            ),
            (
                "an evolution of a generation the server does not have waits",
                gen(false, false),
                false,
                EvolutionSend::Wait,
            ),
            (
                "a new evolution of a synced generation is created",
                gen(true, true),
                false,
                EvolutionSend::Create,
            ),
            (
                "an evolution the server has is updated",
                gen(true, true),
                true,
                EvolutionSend::Update,
            ),
        ];
        for (name, g, on_server, want) in cases {
            assert_eq!(evolution_send(g, on_server), want, "{name}");
        }
    }
}
