//! Three-way merge of a generation: the last synced copy (`base`), the local copy and the
//! remote copy. Pure: pull decides what to do with the result.
//!
//! Scalar fields merge one by one: whoever changed a field since the base wins; both
//! changing it to different values is a conflict. The change list merges as a set keyed by
//! change id: added on one side is kept, removed on one side and untouched on the other is
//! removed, changed differently on both sides is a conflict.

use crate::change::Change;
use crate::generation::GenerationStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The mergeable content of a generation (what users edit, plus its status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationContent {
    pub version: String,
    pub description: Option<String>,
    pub pipeline_template: Option<String>,
    pub status: GenerationStatus,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// Both sides changed the same field or change differently.
    ModifyModify,
    /// One side deleted what the other modified.
    DeleteModify,
    /// Both sides added the same thing (a change id, a version) with different content.
    AddAdd,
    /// Both sides changed a change's type differently.
    TypeChange,
}

impl ConflictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::ModifyModify => "modify-modify",
            ConflictKind::DeleteModify => "delete-modify",
            ConflictKind::AddAdd => "add-add",
            ConflictKind::TypeChange => "type-change",
        }
    }
}

/// One conflicting item: a field name (`description`) or a change (`change FEAT-1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub kind: ConflictKind,
    pub item: String,
}

/// What a pull should do with one generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// Nothing local to keep: take the remote copy (or its deletion).
    TakeRemote,
    /// Only the local side changed since the base: keep it, still pending push.
    KeepLocal,
    /// Both changed and the merge is clean: this content, pending push on the remote's rev.
    Merged(GenerationContent),
    /// Both changed the same things: keep both sides and ask the user.
    Conflict(Vec<Conflict>),
}

fn pick<T: PartialEq + Clone>(
    base: &T,
    local: &T,
    remote: &T,
    item: &str,
    conflicts: &mut Vec<Conflict>,
) -> T {
    if local == base || local == remote {
        remote.clone()
    } else if remote == base {
        local.clone()
    } else {
        conflicts.push(Conflict {
            kind: ConflictKind::ModifyModify,
            item: item.to_string(),
        });
        local.clone()
    }
}

fn find<'a>(list: &'a [Change], id: &str) -> Option<&'a Change> {
    list.iter().find(|c| c.id.as_str() == id)
}

fn merge_changes(
    base: &[Change],
    local: &[Change],
    remote: &[Change],
    conflicts: &mut Vec<Conflict>,
) -> Vec<Change> {
    // Local order first, then what only the remote has, in its order.
    let mut ids: Vec<&str> = Vec::new();
    let mut seen = BTreeSet::new();
    for c in local.iter().chain(remote.iter()).chain(base.iter()) {
        if seen.insert(c.id.as_str()) {
            ids.push(c.id.as_str());
        }
    }
    let mut out = Vec::new();
    for id in ids {
        let (b, l, r) = (find(base, id), find(local, id), find(remote, id));
        let chosen = if l == b || l == r {
            r
        } else if r == b {
            l
        } else {
            let kind = match (b, l, r) {
                (_, None, Some(_)) | (_, Some(_), None) => ConflictKind::DeleteModify,
                (None, Some(_), Some(_)) => ConflictKind::AddAdd,
                (Some(b), Some(l), Some(r))
                    if l.change_type != r.change_type
                        && l.change_type != b.change_type
                        && r.change_type != b.change_type =>
                {
                    ConflictKind::TypeChange
                }
                _ => ConflictKind::ModifyModify,
            };
            conflicts.push(Conflict {
                kind,
                item: format!("change {id}"),
            });
            l.or(r)
        };
        if let Some(c) = chosen {
            out.push(c.clone());
        }
    }
    out
}

/// Merges a remote copy into a local one.
///
/// `base` is the last synced copy (`None` if the record was never synced), `local` the
/// local copy (`None` if deleted locally), `local_dirty` whether local has unpushed edits,
/// and `remote` the server's copy (`None` for a tombstone).
pub fn merge_generation(
    base: Option<&GenerationContent>,
    local: Option<&GenerationContent>,
    local_dirty: bool,
    remote: Option<&GenerationContent>,
) -> Merge {
    let local = match local {
        Some(l) if local_dirty => l,
        // No local edits: whatever the remote says goes (including its deletion).
        _ if !local_dirty => return Merge::TakeRemote,
        // Deleted locally (a pending delete).
        _ => {
            return match remote {
                None => Merge::TakeRemote,
                Some(r) if Some(r) == base => Merge::KeepLocal,
                Some(_) => Merge::Conflict(vec![Conflict {
                    kind: ConflictKind::DeleteModify,
                    item: "generation".into(),
                }]),
            }
        }
    };
    let Some(remote) = remote else {
        // Deleted remotely while edited locally: never silently resurrect or lose it.
        return Merge::Conflict(vec![Conflict {
            kind: ConflictKind::DeleteModify,
            item: "generation".into(),
        }]);
    };
    if local == remote {
        return Merge::TakeRemote;
    }
    if remote.status == GenerationStatus::Promoted {
        // Promoted is final: local edits can no longer apply to this generation.
        return Merge::Conflict(vec![Conflict {
            kind: ConflictKind::ModifyModify,
            item: "status (promoted remotely)".into(),
        }]);
    }
    let Some(base) = base else {
        // Never synced but the same record on both sides: everything that differs is an
        // add-add conflict.
        return Merge::Conflict(vec![Conflict {
            kind: ConflictKind::AddAdd,
            item: "generation".into(),
        }]);
    };
    if remote == base {
        return Merge::KeepLocal;
    }
    let mut conflicts = Vec::new();
    let merged = GenerationContent {
        version: pick(
            &base.version,
            &local.version,
            &remote.version,
            "version",
            &mut conflicts,
        ),
        description: pick(
            &base.description,
            &local.description,
            &remote.description,
            "description",
            &mut conflicts,
        ),
        pipeline_template: pick(
            &base.pipeline_template,
            &local.pipeline_template,
            &remote.pipeline_template,
            "pipeline_template",
            &mut conflicts,
        ),
        status: pick(
            &base.status,
            &local.status,
            &remote.status,
            "status",
            &mut conflicts,
        ),
        changes: merge_changes(
            &base.changes,
            &local.changes,
            &remote.changes,
            &mut conflicts,
        ),
    };
    if !conflicts.is_empty() {
        Merge::Conflict(conflicts)
    } else if &merged == remote {
        Merge::TakeRemote
    } else {
        Merge::Merged(merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChangeId, ChangeType};

    fn ch(id: &str, t: ChangeType, title: &str) -> Change {
        Change {
            id: ChangeId::parse(id).unwrap(),
            change_type: t,
            title: title.into(),
            description: None,
            assignee: None,
        }
    }

    fn content(desc: &str, changes: Vec<Change>) -> GenerationContent {
        GenerationContent {
            version: "v1.0.0".into(),
            description: Some(desc.into()),
            pipeline_template: None,
            status: GenerationStatus::Draft,
            changes,
        }
    }

    use ChangeType::*;

    #[test]
    fn merge_cases() {
        let a = || ch("FEAT-1", Add, "a");
        let b = || ch("FEAT-2", Add, "b");
        let base = content("d", vec![a()]);
        struct Case {
            name: &'static str,
            base: Option<GenerationContent>,
            local: Option<GenerationContent>,
            dirty: bool,
            remote: Option<GenerationContent>,
            want: Merge,
        }
        let cases = vec![
            Case {
                name: "clean local takes remote",
                base: Some(base.clone()),
                local: Some(base.clone()),
                dirty: false,
                remote: Some(content("x", vec![])),
                want: Merge::TakeRemote,
            },
            Case {
                name: "clean local takes tombstone",
                base: Some(base.clone()),
                local: Some(base.clone()),
                dirty: false,
                remote: None,
                want: Merge::TakeRemote,
            },
            Case {
                name: "only local changed",
                base: Some(base.clone()),
                local: Some(content("mine", vec![a()])),
                dirty: true,
                remote: Some(base.clone()),
                want: Merge::KeepLocal,
            },
            Case {
                name: "same edit both sides",
                base: Some(base.clone()),
                local: Some(content("same", vec![a()])),
                dirty: true,
                remote: Some(content("same", vec![a()])),
                want: Merge::TakeRemote,
            },
            Case {
                name: "non-overlapping: local description, remote adds change",
                base: Some(base.clone()),
                local: Some(content("mine", vec![a()])),
                dirty: true,
                remote: Some(content("d", vec![a(), b()])),
                want: Merge::Merged(content("mine", vec![a(), b()])),
            },
            Case {
                name: "both add different changes",
                base: Some(base.clone()),
                local: Some(content("d", vec![a(), ch("FIX-9", Fix, "l")])),
                dirty: true,
                remote: Some(content("d", vec![a(), b()])),
                want: Merge::Merged(content("d", vec![a(), ch("FIX-9", Fix, "l"), b()])),
            },
            Case {
                name: "removed remotely, untouched locally",
                base: Some(base.clone()),
                local: Some(content("mine", vec![a()])),
                dirty: true,
                remote: Some(content("d", vec![])),
                want: Merge::Merged(content("mine", vec![])),
            },
            Case {
                name: "description edited differently",
                base: Some(base.clone()),
                local: Some(content("mine", vec![a()])),
                dirty: true,
                remote: Some(content("theirs", vec![a()])),
                want: Merge::Conflict(vec![Conflict {
                    kind: ConflictKind::ModifyModify,
                    item: "description".into(),
                }]),
            },
            Case {
                name: "change removed remotely, edited locally",
                base: Some(base.clone()),
                local: Some(content("d", vec![ch("FEAT-1", Add, "edited")])),
                dirty: true,
                remote: Some(content("d", vec![])),
                want: Merge::Conflict(vec![Conflict {
                    kind: ConflictKind::DeleteModify,
                    item: "change FEAT-1".into(),
                }]),
            },
            Case {
                name: "same change id added with different titles",
                base: Some(base.clone()),
                local: Some(content("d", vec![a(), ch("FEAT-2", Add, "mine")])),
                dirty: true,
                remote: Some(content("d", vec![a(), ch("FEAT-2", Add, "theirs")])),
                want: Merge::Conflict(vec![Conflict {
                    kind: ConflictKind::AddAdd,
                    item: "change FEAT-2".into(),
                }]),
            },
            Case {
                name: "type changed differently",
                base: Some(base.clone()),
                local: Some(content("d", vec![ch("FEAT-1", Fix, "a")])),
                dirty: true,
                remote: Some(content("d", vec![ch("FEAT-1", Refine, "a")])),
                want: Merge::Conflict(vec![Conflict {
                    kind: ConflictKind::TypeChange,
                    item: "change FEAT-1".into(),
                }]),
            },
            Case {
                name: "tombstone for a locally edited record",
                base: Some(base.clone()),
                local: Some(content("mine", vec![a()])),
                dirty: true,
                remote: None,
                want: Merge::Conflict(vec![Conflict {
                    kind: ConflictKind::DeleteModify,
                    item: "generation".into(),
                }]),
            },
            Case {
                name: "deleted locally, untouched remotely",
                base: Some(base.clone()),
                local: None,
                dirty: true,
                remote: Some(base.clone()),
                want: Merge::KeepLocal,
            },
            Case {
                name: "deleted locally, edited remotely",
                base: Some(base.clone()),
                local: None,
                dirty: true,
                remote: Some(content("theirs", vec![a()])),
                want: Merge::Conflict(vec![Conflict {
                    kind: ConflictKind::DeleteModify,
                    item: "generation".into(),
                }]),
            },
            Case {
                name: "promoted remotely while edited locally",
                base: Some(base.clone()),
                local: Some(content("mine", vec![a()])),
                dirty: true,
                remote: Some(GenerationContent {
                    status: GenerationStatus::Promoted,
                    ..base.clone()
                }),
                want: Merge::Conflict(vec![Conflict {
                    kind: ConflictKind::ModifyModify,
                    item: "status (promoted remotely)".into(),
                }]),
            },
        ];
        for c in cases {
            let got = merge_generation(
                c.base.as_ref(),
                c.local.as_ref(),
                c.dirty,
                c.remote.as_ref(),
            );
            assert_eq!(got, c.want, "{}", c.name);
        }
    }
}
