//! The pull planner's case table: the ordinary decisions, and one named case per pull bug
//! the model test (or a reading of the pull) found. The seed of each bug is in a comment;
//! docs/reliability.md lists the bugs with their end-to-end tests.

use super::*;
use crate::change::{Change, ChangeId, ChangeType};
use crate::merge::ConflictKind;

fn ch(id: &str, title: &str) -> Change {
    Change {
        id: ChangeId::parse(id).unwrap(),
        change_type: ChangeType::Add,
        title: title.into(),
        description: None,
        assignee: None,
    }
}

fn gen(version: &str, desc: &str, changes: Vec<Change>) -> GenerationContent {
    GenerationContent {
        version: version.into(),
        description: Some(desc.into()),
        pipeline_template: None,
        status: GenerationStatus::Draft,
        changes,
    }
}

fn promoted(c: &GenerationContent) -> GenerationContent {
    GenerationContent {
        status: GenerationStatus::Promoted,
        ..c.clone()
    }
}

/// A copy here equal to the server's copy at `rev`.
fn synced(c: &GenerationContent, rev: i64) -> Local {
    Local {
        content: c.clone(),
        sync: SyncStatus::Synced,
        linked: true,
        rev,
        base: Some(c.clone()),
        sent: None,
        conflict: Vec::new(),
        cause: ConflictCause::Edits,
        unsynced_evolutions: false,
    }
}

/// A synced copy edited here to `now`.
fn edited(base: &GenerationContent, rev: i64, now: &GenerationContent) -> Local {
    Local {
        content: now.clone(),
        sync: SyncStatus::NotSynced,
        ..synced(base, rev)
    }
}

/// A copy in the delete-modify conflict of a record deleted here and changed there.
fn deleted_here_conflict(base: &GenerationContent, rev: i64, now: &GenerationContent) -> Local {
    Local {
        content: now.clone(),
        sync: SyncStatus::Conflict,
        conflict: vec![ConflictItem::DeletedHere.conflict()],
        ..synced(base, rev)
    }
}

fn incoming(c: Option<&GenerationContent>, rev: i64) -> Incoming {
    Incoming {
        content: c.cloned(),
        server_id: 10,
        rev,
    }
}

fn facts(incoming: Incoming, local: Option<Local>) -> GenerationFacts {
    GenerationFacts {
        incoming,
        local,
        holder: None,
        pending: PendingDeletes::default(),
        mode: Mode::Feed,
    }
}

/// A draft made here, never pushed.
const LOCAL_DRAFT: Holder = Holder {
    status: GenerationStatus::Draft,
    sync: SyncStatus::NotSynced,
    linked: false,
    cause: ConflictCause::Edits,
};
/// A synced record of the server's (its own move may come later in the feed).
const SYNCED_RECORD: Holder = Holder {
    status: GenerationStatus::Draft,
    sync: SyncStatus::Synced,
    linked: true,
    cause: ConflictCause::Edits,
};

fn conflict(on: On, cause: ConflictCause, items: Vec<Conflict>, version: &str) -> Step {
    Step::Conflict {
        on,
        cause,
        items,
        version: version.into(),
    }
}

fn version_taken(version: &str) -> Step {
    conflict(
        On::Holder,
        ConflictCause::VersionTaken,
        vec![ConflictItem::VersionExists.conflict()],
        version,
    )
}

struct Case {
    name: &'static str,
    facts: GenerationFacts,
    want: Vec<Step>,
}

#[test]
fn generation_cases() {
    let a = || ch("FEAT-1", "a");
    let b = || ch("FEAT-2", "b");
    let v1 = gen("v1.0.0", "d", vec![a()]);
    let v1_theirs = gen("v1.0.0", "d", vec![a(), b()]);
    let v1_mine = gen("v1.0.0", "mine", vec![a()]);
    let v2 = gen("v2.0.0", "d", vec![a()]);
    let cases = vec![
        // ---- ordinary decisions ----
        Case {
            name: "a record new here is inserted",
            facts: facts(incoming(Some(&v1), 1), None),
            want: vec![Step::InsertRemote],
        },
        Case {
            name: "a tombstone of a record never held here changes nothing",
            facts: facts(incoming(None, 2), None),
            want: vec![],
        },
        Case {
            name: "an untouched copy fast-forwards to the server's",
            facts: facts(incoming(Some(&v1_theirs), 2), Some(synced(&v1, 1))),
            want: vec![Step::TakeRemote],
        },
        Case {
            name: "an untouched copy follows a deletion on the server",
            facts: facts(incoming(None, 2), Some(synced(&v1, 1))),
            want: vec![Step::DeleteLocal],
        },
        Case {
            name: "edits here against an unchanged server copy stay pending on its base",
            facts: facts(incoming(Some(&v1), 1), Some(edited(&v1, 1, &v1_mine))),
            want: vec![Step::Rebase { merged: None }],
        },
        Case {
            name: "edits on both sides to different things merge and stay pending",
            facts: facts(incoming(Some(&v1_theirs), 2), Some(edited(&v1, 1, &v1_mine))),
            want: vec![Step::Rebase {
                merged: Some(gen("v1.0.0", "mine", vec![a(), b()])),
            }],
        },
        Case {
            name: "the same field edited on both sides is a conflict of edits",
            facts: facts(
                incoming(Some(&gen("v1.0.0", "theirs", vec![a()])), 2),
                Some(edited(&v1, 1, &v1_mine)),
            ),
            want: vec![conflict(
                On::This,
                ConflictCause::Edits,
                vec![Conflict {
                    kind: ConflictKind::ModifyModify,
                    item: "description".into(),
                }],
                "v1.0.0",
            )],
        },
        Case {
            name: "a deletion on the server of a record edited here is a conflict",
            facts: facts(incoming(None, 2), Some(edited(&v1, 1, &v1_mine))),
            want: vec![conflict(
                On::This,
                ConflictCause::Edits,
                vec![Conflict {
                    kind: ConflictKind::DeleteModify,
                    item: "generation".into(),
                }],
                "v1.0.0",
            )],
        },
        Case {
            name: "a deletion on the server never drops proofs not pushed yet",
            facts: facts(
                incoming(None, 2),
                Some(Local {
                    unsynced_evolutions: true,
                    ..synced(&v1, 1)
                }),
            ),
            want: vec![conflict(
                On::This,
                ConflictCause::Edits,
                vec![ConflictItem::UnpushedEvolutions.conflict()],
                "v1.0.0",
            )],
        },
        Case {
            name: "a conflict waiting for a decision stays when the server has nothing new",
            facts: facts(
                incoming(Some(&v1_theirs), 2),
                Some(Local {
                    sync: SyncStatus::Conflict,
                    ..edited(&v1, 2, &v1_mine)
                }),
            ),
            want: vec![],
        },
        Case {
            name: "a committed contract a clone loaded links to the server's record",
            facts: facts(
                incoming(Some(&v1_theirs), 2),
                Some(Local {
                    linked: false,
                    sync: SyncStatus::NotSynced,
                    ..synced(&v1, 0)
                }),
            ),
            want: vec![Step::TakeRemote],
        },
        Case {
            name: "a new record under a version a draft here holds is a version-taken conflict",
            facts: GenerationFacts {
                holder: Some(LOCAL_DRAFT),
                ..facts(incoming(Some(&v1), 1), None)
            },
            want: vec![version_taken("v1.0.0"), Step::NeedsResync],
        },
        // ---- a promoted record is never rewritten ----
        Case {
            name: "a promoted record is never rewritten with other content",
            facts: facts(
                incoming(Some(&promoted(&v1_theirs)), 3),
                Some(synced(&promoted(&v1), 2)),
            ),
            want: vec![Step::PromotedHere {
                version: "v1.0.0".into(),
                why: PromotedHere::OtherContent { rev: 3 },
            }],
        },
        Case {
            name: "a promoted record is never deleted by the server",
            facts: facts(incoming(None, 3), Some(synced(&promoted(&v1), 2))),
            want: vec![Step::PromotedHere {
                version: "v1.0.0".into(),
                why: PromotedHere::Deleted,
            }],
        },
        Case {
            name: "a promoted record is never taken back to an older revision",
            facts: facts(
                incoming(Some(&promoted(&v1)), 1),
                Some(synced(&promoted(&v1), 2)),
            ),
            want: vec![Step::PromotedHere {
                version: "v1.0.0".into(),
                why: PromotedHere::OlderRevision { server: 1, here: 2 },
            }],
        },
        Case {
            name: "a promoted record here takes its own promotion from the server",
            facts: facts(
                incoming(Some(&promoted(&v1)), 2),
                Some(edited(&v1, 1, &promoted(&v1))),
            ),
            want: vec![Step::TakeRemote],
        },
        Case {
            name: "another record under a version promoted here is reported, not applied",
            facts: GenerationFacts {
                holder: Some(Holder {
                    status: GenerationStatus::Promoted,
                    ..SYNCED_RECORD
                }),
                ..facts(incoming(Some(&v1_theirs), 1), None)
            },
            want: vec![Step::PromotedHere {
                version: "v1.0.0".into(),
                why: PromotedHere::AnotherRecord {
                    server_id: 10,
                    rev: 1,
                },
            }],
        },
        // ---- bugs found by the model test ----
        Case {
            // Session 1: a pending deletion undone by a pull.
            name: "a deletion not pushed yet is not undone by the unchanged record",
            facts: GenerationFacts {
                pending: PendingDeletes {
                    of_lost_create: false,
                    at_rev: Some(2),
                },
                ..facts(incoming(Some(&v1), 2), None)
            },
            want: vec![],
        },
        Case {
            // Session 1: a pending deletion undone by a pull (deleted on both sides).
            name: "a deletion made on both sides leaves nothing to push",
            facts: GenerationFacts {
                pending: PendingDeletes {
                    of_lost_create: false,
                    at_rev: Some(2),
                },
                ..facts(incoming(None, 3), None)
            },
            want: vec![Step::DropPendingDelete],
        },
        Case {
            // Seeds 1134, 1163.
            name: "a draft deleted after its create answer was lost stays deleted",
            facts: GenerationFacts {
                pending: PendingDeletes {
                    of_lost_create: true,
                    at_rev: None,
                },
                ..facts(incoming(Some(&v1), CREATED_REV), None)
            },
            want: vec![
                Step::DropLostCreateDelete,
                Step::JournalDelete { rev: CREATED_REV },
            ],
        },
        Case {
            // Seed 5018: a teammate removed FEAT-2 from our create whose answer was lost;
            // merged against the server's copy, the removal looked like a local addition.
            name: "a lost create is merged against what it sent, so a teammate's removal holds",
            facts: facts(
                incoming(Some(&v1), 2),
                Some(Local {
                    linked: false,
                    sent: Some(v1_theirs.clone()),
                    base: None,
                    ..edited(&v1_theirs, 0, &v1_theirs)
                }),
            ),
            want: vec![Step::TakeRemote],
        },
        Case {
            // Seed 6123: an update adding FEAT-2 whose answer was lost, then undone here. The
            // push that settles the lost update first makes what it sent the base.
            name: "an update whose answer was lost then undone here stays undone",
            facts: facts(
                incoming(Some(&v1_theirs), 2),
                Some(edited(&v1_theirs, 2, &v1)),
            ),
            want: vec![Step::Rebase { merged: None }],
        },
        Case {
            // Seed 6062: a draft deleted here, changed there.
            name: "a draft deleted here and changed there comes back whole in conflict",
            facts: GenerationFacts {
                pending: PendingDeletes {
                    of_lost_create: false,
                    at_rev: Some(1),
                },
                ..facts(incoming(Some(&v1_theirs), 2), None)
            },
            want: vec![
                Step::DropPendingDelete,
                Step::InsertRemote,
                Step::NeedsResync,
                conflict(
                    On::This,
                    ConflictCause::Edits,
                    vec![ConflictItem::DeletedHere.conflict()],
                    "v1.0.0",
                ),
            ],
        },
        Case {
            // Seeds 7286, 8063: the next full pull sees the same revision again.
            name: "a delete-modify conflict is not cleared by the next full pull",
            facts: facts(
                incoming(Some(&v1_theirs), 2),
                Some(deleted_here_conflict(&v1_theirs, 2, &v1_theirs)),
            ),
            want: vec![],
        },
        Case {
            // Seeds 7286, 8063: the server changed the record again.
            name: "a delete-modify conflict stays when the server changes the record again",
            facts: facts(
                incoming(Some(&v2), 3),
                Some(deleted_here_conflict(&v1_theirs, 2, &v1_theirs)),
            ),
            want: vec![
                Step::TakeRemote,
                conflict(
                    On::This,
                    ConflictCause::Edits,
                    vec![ConflictItem::DeletedHere.conflict()],
                    "v2.0.0",
                ),
            ],
        },
        Case {
            // Seeds 21612, 20930, 20346, 24752.
            name: "an edit made to a record in delete-modify conflict survives later server changes",
            facts: facts(
                incoming(Some(&gen("v1.0.0", "d", vec![a(), b()])), 3),
                Some(deleted_here_conflict(&v1, 2, &v1_mine)),
            ),
            want: vec![
                Step::Rebase {
                    merged: Some(gen("v1.0.0", "mine", vec![a(), b()])),
                },
                conflict(
                    On::This,
                    ConflictCause::Edits,
                    vec![ConflictItem::DeletedHere.conflict()],
                    "v1.0.0",
                ),
            ],
        },
        Case {
            // Seeds 21612 group: deleted on the server too, untouched here.
            name: "a delete-modify conflict deleted on the server too leaves nothing to decide",
            facts: facts(
                incoming(None, 3),
                Some(deleted_here_conflict(&v1, 2, &v1)),
            ),
            want: vec![Step::DeleteLocal],
        },
        Case {
            // Seeds 21612 group: deleted on the server too, edited here since.
            name: "a delete-modify conflict edited here is not dropped by the server's deletion",
            facts: facts(
                incoming(None, 3),
                Some(deleted_here_conflict(&v1, 2, &v1_mine)),
            ),
            want: vec![conflict(
                On::This,
                ConflictCause::Edits,
                vec![Conflict {
                    kind: ConflictKind::DeleteModify,
                    item: "generation".into(),
                }],
                "v1.0.0",
            )],
        },
        Case {
            // Seeds 7448, 7495.
            name: "a deletion whose version was reused here is not dropped when changed there",
            facts: GenerationFacts {
                pending: PendingDeletes {
                    of_lost_create: false,
                    at_rev: Some(1),
                },
                holder: Some(LOCAL_DRAFT),
                ..facts(incoming(Some(&v1_theirs), 2), None)
            },
            want: vec![Step::Postpone],
        },
        Case {
            // Seed 7027: a teammate renamed v1 to v2 and made a new v1; the new one comes
            // first in the feed.
            name: "a new record under a version a synced record here still holds waits for its move",
            facts: GenerationFacts {
                holder: Some(SYNCED_RECORD),
                ..facts(incoming(Some(&v1_theirs), 1), None)
            },
            want: vec![Step::Wait],
        },
        Case {
            // Seed 39746: the record could not move (a draft here holds its new version).
            name: "a record that cannot move onto a version a draft holds makes that a conflict and waits",
            facts: GenerationFacts {
                holder: Some(LOCAL_DRAFT),
                ..facts(incoming(Some(&v2), 2), Some(synced(&v1, 1)))
            },
            want: vec![version_taken("v2.0.0"), Step::Postpone],
        },
        Case {
            // Seed 90011 (session 10 long run): marking it version-taken replaced its
            // delete-modify conflict, and the rename that settles a taken version then
            // pushed the local copy without the user deciding the deletion.
            name: "a new record under a version held by a record in conflict with its server copy waits, the conflict stays",
            facts: GenerationFacts {
                holder: Some(Holder {
                    sync: SyncStatus::Conflict,
                    cause: ConflictCause::Edits,
                    ..SYNCED_RECORD
                }),
                ..facts(incoming(Some(&v1_theirs), 1), None)
            },
            want: vec![Step::Postpone],
        },
        Case {
            name: "a record moving onto a version held by a record in conflict with its server copy waits, the conflict stays",
            facts: GenerationFacts {
                holder: Some(Holder {
                    sync: SyncStatus::Conflict,
                    cause: ConflictCause::Edits,
                    ..SYNCED_RECORD
                }),
                ..facts(incoming(Some(&v2), 2), Some(synced(&v1, 1)))
            },
            want: vec![Step::Postpone],
        },
        Case {
            name: "a holder already in a version-taken conflict is marked again",
            facts: GenerationFacts {
                holder: Some(Holder {
                    sync: SyncStatus::Conflict,
                    cause: ConflictCause::VersionTaken,
                    ..LOCAL_DRAFT
                }),
                ..facts(incoming(Some(&v1), 1), None)
            },
            want: vec![version_taken("v1.0.0"), Step::NeedsResync],
        },
        Case {
            // Seed 39746: so the new record under its old version is not given room by
            // deleting it (and its proofs not yet pushed) at the end of the pull.
            name: "a record that cannot move is not dropped to make room for a new one",
            facts: GenerationFacts {
                holder: Some(SYNCED_RECORD),
                mode: Mode::Forced,
                ..facts(incoming(Some(&v1_theirs), 1), None)
            },
            want: vec![Step::Postpone],
        },
        Case {
            // Session 1: a pull stuck on a version still held locally. A synced record
            // moving onto a version another synced record holds waits for that one's move.
            name: "a move onto a version a synced record holds waits for that record's move",
            facts: GenerationFacts {
                holder: Some(SYNCED_RECORD),
                ..facts(incoming(Some(&v2), 2), Some(synced(&v1, 1)))
            },
            want: vec![Step::Wait],
        },
        Case {
            // Session 1: a pull stuck on a version still held locally. At the end of the
            // pull the move is left for a full pull instead of waiting forever.
            name: "a move still blocked at the end of the pull is postponed, not stuck",
            facts: GenerationFacts {
                holder: Some(SYNCED_RECORD),
                mode: Mode::Forced,
                ..facts(incoming(Some(&v2), 2), Some(synced(&v1, 1)))
            },
            want: vec![Step::Postpone],
        },
        Case {
            name: "a record edited here moving onto a held version is postponed, never waited on",
            facts: GenerationFacts {
                holder: Some(SYNCED_RECORD),
                ..facts(
                    incoming(Some(&v2), 2),
                    Some(edited(&v1, 1, &gen("v1.0.0", "d", vec![a(), b()]))),
                )
            },
            want: vec![Step::Postpone],
        },
        // 27034 is a decision of `gryt sync resolve --theirs`, not of the pull: its test is
        // tests/sync/same_version.rs.
    ];
    let mut names = std::collections::BTreeSet::new();
    for c in cases {
        assert!(names.insert(c.name), "two cases named {}", c.name);
        assert_eq!(plan_generation(&c.facts), c.want, "{}", c.name);
    }
}

#[test]
fn the_report_counts_a_record_once() {
    let v1 = gen("v1.0.0", "d", vec![]);
    assert_eq!(tally(&[Step::InsertRemote]), Some(Tally::Inserted));
    assert_eq!(tally(&[Step::TakeRemote]), Some(Tally::Updated));
    assert_eq!(tally(&[Step::Rebase { merged: None }]), Some(Tally::Merged));
    assert_eq!(tally(&[Step::DeleteLocal]), Some(Tally::Deleted));
    assert_eq!(tally(&[Step::Wait]), None);
    // Brought back or followed inside a conflict: counted as the conflict only.
    let kept = [
        Step::InsertRemote,
        conflict(On::This, ConflictCause::Edits, vec![], "v1.0.0"),
    ];
    assert_eq!(tally(&kept), None);
    let promoted_here = [Step::PromotedHere {
        version: v1.version.clone(),
        why: PromotedHere::Deleted,
    }];
    assert_eq!(tally(&promoted_here), None);
}

#[test]
fn evolution_cases() {
    let here = EvolutionFacts {
        generation_here: true,
        deleted: false,
        local: None,
        promoted_here: false,
        started_after_promotion: false,
    };
    let clean = LocalEvolution {
        same_record: true,
        dirty: false,
    };
    let dirty = LocalEvolution {
        same_record: true,
        dirty: true,
    };
    let cases: Vec<(&str, EvolutionFacts, EvolutionStep)> = vec![
        ("a new evolution is inserted", here, EvolutionStep::Insert),
        (
            // Session 1: evolutions arriving before their generation.
            "an evolution arriving before its generation waits for it",
            EvolutionFacts {
                generation_here: false,
                ..here
            },
            EvolutionStep::WaitForGeneration,
        ),
        (
            "an evolution not edited here takes the server's copy",
            EvolutionFacts {
                local: Some(clean),
                ..here
            },
            EvolutionStep::TakeRemote,
        ),
        (
            "an evolution edited here keeps its edits and takes the server's ids",
            EvolutionFacts {
                local: Some(dirty),
                ..here
            },
            EvolutionStep::AdoptIds,
        ),
        (
            "a tombstone deletes an evolution not edited here",
            EvolutionFacts {
                deleted: true,
                local: Some(clean),
                ..here
            },
            EvolutionStep::Delete,
        ),
        (
            "a tombstone never drops a result not pushed yet",
            EvolutionFacts {
                deleted: true,
                local: Some(dirty),
                ..here
            },
            EvolutionStep::Nothing,
        ),
        (
            "a tombstone of an evolution never held changes nothing",
            EvolutionFacts {
                deleted: true,
                ..here
            },
            EvolutionStep::Nothing,
        ),
        (
            "a proof started after the promotion here is never added to the release",
            EvolutionFacts {
                promoted_here: true,
                started_after_promotion: true,
                ..here
            },
            EvolutionStep::PromotedHere(NotApplied::StartedAfterPromotion),
        ),
        (
            "a proof of the release started before its promotion is added",
            EvolutionFacts {
                promoted_here: true,
                ..here
            },
            EvolutionStep::Insert,
        ),
        (
            "another record under the server id of a proof of a release is never applied",
            EvolutionFacts {
                promoted_here: true,
                local: Some(LocalEvolution {
                    same_record: false,
                    dirty: false,
                }),
                ..here
            },
            EvolutionStep::PromotedHere(NotApplied::AnotherRecordUnderItsId),
        ),
    ];
    for (name, f, want) in cases {
        assert_eq!(plan_evolution(&f), want, "{name}");
    }
}

#[test]
fn swap_cycles() {
    let mv = |from: &str, to: &str| Move {
        from: from.into(),
        to: to.into(),
    };
    let cases: Vec<(&str, Vec<Move>, Vec<usize>)> = vec![
        (
            // Found by reading the pull (session 3): two records that swapped versions
            // through a free third one each waited for the other.
            "two records that swapped versions move together",
            vec![mv("v2.0.0", "v1.0.0"), mv("v1.0.0", "v2.0.0")],
            vec![1, 0],
        ),
        (
            "a rotation of three moves together, a bystander stays",
            vec![
                mv("v1.0.0", "v2.0.0"),
                mv("v9.0.0", "v8.0.0"),
                mv("v2.0.0", "v3.0.0"),
                mv("v3.0.0", "v1.0.0"),
            ],
            vec![0, 2, 3],
        ),
        (
            "a chain ending on a version nobody here holds is no cycle",
            vec![mv("v1.0.0", "v2.0.0"), mv("v2.0.0", "v3.0.0")],
            vec![],
        ),
        (
            "a chain into a cycle it is not part of yields only the cycle",
            vec![
                mv("v0.1.0", "v1.0.0"),
                mv("v1.0.0", "v2.0.0"),
                mv("v2.0.0", "v1.0.0"),
            ],
            vec![1, 2],
        ),
        (
            "no move stays where it is",
            vec![mv("v1.0.0", "v1.0.0")],
            vec![],
        ),
        ("nothing waiting", vec![], vec![]),
    ];
    for (name, moves, want) in cases {
        assert_eq!(swap_cycle(&moves), want, "{name}");
    }
}
