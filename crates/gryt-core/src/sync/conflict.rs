//! Why a record is in conflict, and the conflict items the sync raises itself (the
//! three-way merge raises its own, in `merge.rs`). Decisions use these values; their words
//! for people are written once, in the `Display` impls below. The words are also what a
//! conflict stores (`conflict_kinds`) and what `--json` shows, so they never change: a
//! stored item is read back by [`ConflictItem::of`].

use crate::merge::{Conflict, ConflictKind};
use std::fmt;

/// Why a generation is in conflict. The conflict's items say it in words for people;
/// decisions use this value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictCause {
    /// Both sides changed it, or one deleted what the other changed.
    #[default]
    Edits,
    /// Another record holds its version on the server: settled by renaming it here, or by
    /// taking the server's.
    VersionTaken,
}

/// A conflict item the sync raises (beside the merge's field and change items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictItem {
    /// Another record holds this version on the server (an add-add conflict of versions).
    VersionExists,
    /// Deleted here, changed on the server since.
    DeletedHere,
    /// Deleted on the server while this workspace holds proofs of it not yet pushed.
    UnpushedEvolutions,
    /// Deleted on the server while edited here.
    DeletedThere,
    /// A record promoted here that the server's feed would rewrite: reported, never applied.
    PromotedHere(PromotedHere),
}

/// What the server's feed would have done to a record promoted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromotedHere {
    /// The server deleted it.
    Deleted,
    /// The server sent other content, at this revision.
    OtherContent { rev: i64 },
    /// The server sent a revision older than the one held here.
    OlderRevision { server: i64, here: i64 },
    /// The server holds another record under the version.
    AnotherRecord { server_id: i64, rev: i64 },
    /// The server's evolution was not added to the release.
    EvolutionNotApplied { code_name: String, why: NotApplied },
}

/// Why an evolution of a generation promoted here was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotApplied {
    /// Another record came under the server id of a proof held here.
    AnotherRecordUnderItsId,
    /// It started after the promotion here, so it cannot belong to that release.
    StartedAfterPromotion,
}

const PROMOTED_HERE: &str = "promoted here, never rewritten";

impl fmt::Display for ConflictItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConflictItem::VersionExists => f.write_str("version exists in the cloud"),
            ConflictItem::DeletedHere => {
                f.write_str("generation (deleted here, changed on the server)")
            }
            ConflictItem::UnpushedEvolutions => f.write_str("unpushed evolutions"),
            ConflictItem::DeletedThere => f.write_str("generation"),
            ConflictItem::PromotedHere(why) => match why {
                PromotedHere::Deleted => write!(f, "{PROMOTED_HERE}; the server deleted it"),
                PromotedHere::OtherContent { rev } => {
                    write!(f, "{PROMOTED_HERE}; the server sent other content (rev {rev})")
                }
                PromotedHere::OlderRevision { server, here } => write!(
                    f,
                    "{PROMOTED_HERE}; the server sent an older revision ({server} < {here})"
                ),
                PromotedHere::AnotherRecord { server_id, rev } => write!(
                    f,
                    "{PROMOTED_HERE}: the server holds another record under this version (server id {server_id}, rev {rev})"
                ),
                PromotedHere::EvolutionNotApplied { code_name, why } => write!(
                    f,
                    "{PROMOTED_HERE}; the server's evolution {code_name} ({}) was not applied",
                    match why {
                        NotApplied::AnotherRecordUnderItsId =>
                            "another record under a proof's server id",
                        NotApplied::StartedAfterPromotion => "started after the promotion",
                    }
                ),
            },
        }
    }
}

impl ConflictItem {
    /// The kind of conflict this item is.
    pub fn kind(&self) -> ConflictKind {
        match self {
            ConflictItem::VersionExists => ConflictKind::AddAdd,
            ConflictItem::DeletedHere
            | ConflictItem::UnpushedEvolutions
            | ConflictItem::DeletedThere => ConflictKind::DeleteModify,
            ConflictItem::PromotedHere(PromotedHere::AnotherRecord { .. }) => ConflictKind::AddAdd,
            ConflictItem::PromotedHere(_) => ConflictKind::ModifyModify,
        }
    }

    /// The item as a conflict stores and reports it.
    pub fn conflict(&self) -> Conflict {
        Conflict {
            kind: self.kind(),
            item: self.to_string(),
        }
    }

    /// The item a stored conflict names, read by its words (as every gryt stored them), for
    /// the items decisions read back; `None` for the merge's items and for reports.
    pub fn of(c: &Conflict) -> Option<ConflictItem> {
        [
            ConflictItem::VersionExists,
            ConflictItem::DeletedHere,
            ConflictItem::UnpushedEvolutions,
        ]
        .into_iter()
        .find(|i| c.item == i.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words are stored and shown: a change of wording breaks existing databases and
    /// scripts reading `--json`. These are the words gryt has always written.
    #[test]
    fn items_keep_their_stored_words_and_read_back() {
        let cases: Vec<(ConflictItem, ConflictKind, &str)> = vec![
            (
                ConflictItem::VersionExists,
                ConflictKind::AddAdd,
                "version exists in the cloud",
            ),
            (
                ConflictItem::DeletedHere,
                ConflictKind::DeleteModify,
                "generation (deleted here, changed on the server)",
            ),
            (
                ConflictItem::UnpushedEvolutions,
                ConflictKind::DeleteModify,
                "unpushed evolutions",
            ),
            (
                ConflictItem::PromotedHere(PromotedHere::OtherContent { rev: 3 }),
                ConflictKind::ModifyModify,
                "promoted here, never rewritten; the server sent other content (rev 3)",
            ),
            (
                ConflictItem::PromotedHere(PromotedHere::AnotherRecord { server_id: 9, rev: 2 }),
                ConflictKind::AddAdd,
                "promoted here, never rewritten: the server holds another record under this version (server id 9, rev 2)",
            ),
            (
                ConflictItem::PromotedHere(PromotedHere::EvolutionNotApplied {
                    code_name: "keen-jolly-breeze".into(),
                    why: NotApplied::StartedAfterPromotion,
                }),
                ConflictKind::ModifyModify,
                "promoted here, never rewritten; the server's evolution keen-jolly-breeze (started after the promotion) was not applied",
            ),
        ];
        for (item, kind, words) in cases {
            let c = item.conflict();
            assert_eq!((c.kind, c.item.as_str()), (kind, words));
        }
        let stored = |kind, item: &str| Conflict {
            kind,
            item: item.into(),
        };
        assert_eq!(
            ConflictItem::of(&stored(
                ConflictKind::DeleteModify,
                "generation (deleted here, changed on the server)"
            )),
            Some(ConflictItem::DeletedHere)
        );
        // The merge's own items are not the sync's.
        assert_eq!(
            ConflictItem::of(&stored(ConflictKind::DeleteModify, "generation")),
            None
        );
        assert_eq!(
            ConflictItem::of(&stored(ConflictKind::ModifyModify, "description")),
            None
        );
    }
}
