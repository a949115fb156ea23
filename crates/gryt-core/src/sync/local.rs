//! Decisions of the local commands that touch sync state: where a draft's deletion goes
//! (`gryt generation delete`) and how a conflict is settled (`gryt sync resolve`). Pure, like
//! the pull and push planners: the CLI loads the facts, applies the outcome in one
//! transaction. Each bug the model test found in these commands is a named case below.

/// The server copy a conflict is recorded against, as far as these decisions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCopy {
    /// Its server id and revision.
    pub id: String,
    pub rev: i64,
    /// Its version on the server.
    pub version: String,
    /// Whether it is the same record as the local one (same UUID).
    pub same_record: bool,
    pub deleted: bool,
    pub promoted: bool,
}

/// What is known of a draft about to be deleted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteFacts {
    /// `--local-only`: the server is not to learn of it.
    pub local_only: bool,
    /// Its server id and the revision last synced, when the server acknowledged it.
    pub on_server: Option<(String, i64)>,
    /// The server copy of a conflict the record is in, if any.
    pub conflict_copy: Option<ServerCopy>,
    /// Whether a create of it was sent (its answer never came).
    pub create_sent: bool,
}

/// Where a deletion goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletionTarget {
    /// Journaled against this server record and revision for the next push.
    Server { id: String, rev: i64 },
    /// Kept by UUID until a pull shows whether the server holds the record.
    ByUuid,
    /// The server never heard of it (or is not to): nothing to send.
    Nothing,
}

/// Where the deletion of a draft goes: to its server record when the server acknowledged it;
/// to the server copy of its conflict when that copy is the same record (its create reached
/// the server with the answers lost); by UUID when a create was sent and nothing is known;
/// nowhere otherwise.
pub fn deletion_target(f: &DeleteFacts) -> DeletionTarget {
    if f.local_only {
        return DeletionTarget::Nothing;
    }
    if let Some((id, rev)) = &f.on_server {
        return DeletionTarget::Server {
            id: id.clone(),
            rev: *rev,
        };
    }
    if let Some(c) = f
        .conflict_copy
        .as_ref()
        .filter(|c| c.same_record && !c.deleted)
    {
        return DeletionTarget::Server {
            id: c.id.clone(),
            rev: c.rev,
        };
    }
    if f.create_sent {
        DeletionTarget::ByUuid
    } else {
        DeletionTarget::Nothing
    }
}

/// What is known of a conflict being resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveFacts {
    /// The local version in conflict.
    pub version: String,
    /// `--theirs` (else `--ours`).
    pub theirs: bool,
    /// The conflict is a version taken on the server by another record.
    pub version_taken: bool,
    /// The server's copy, when known.
    pub server: Option<ServerCopy>,
    /// The version of the record's last synced copy, when the server has the record.
    pub synced_version: Option<String>,
}

/// How a conflict is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The record goes back to its last synced copy (with its evolutions, proofs not yet
    /// pushed included) under this version; a full pull follows.
    RevertToSynced { version: String },
    /// The local record goes (the server deleted it, or only we had it); `resync`: a full
    /// pull follows to bring what the server holds under the version.
    DropLocal { resync: bool },
    /// The server's copy replaces the local one, under its version.
    TakeServer { version: String },
    /// `--ours`: the local edits are kept, rebased on the server's copy, to be sent again.
    RebaseOurs,
    /// Not possible; nothing changes.
    Refused(ResolveRefusal),
}

/// Why a resolution is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveRefusal {
    /// `--ours` of a version the server gave to another record.
    VersionTakenThere,
    /// `--ours` of a record the server deleted.
    DeletedThere,
    /// `--ours` of a record promoted on the server.
    PromotedThere,
    /// The server's copy is not known here.
    ServerCopyUnknown,
    /// The version the record would move to is held here by another generation.
    VersionHeldHere { version: String },
}

/// Settles a conflict. `held_here` says whether a version other than the one in conflict is
/// held by another local generation.
pub fn resolution(f: &ResolveFacts, held_here: impl Fn(&str) -> bool) -> Resolution {
    let moving_onto_held = |to: &str| -> bool { to != f.version && held_here(to) };
    match (f.theirs, &f.server) {
        (true, _) if f.version_taken => match &f.synced_version {
            Some(v) if moving_onto_held(v) => {
                Resolution::Refused(ResolveRefusal::VersionHeldHere { version: v.clone() })
            }
            Some(v) => Resolution::RevertToSynced { version: v.clone() },
            None => Resolution::DropLocal { resync: true },
        },
        (true, Some(s)) if s.deleted => Resolution::DropLocal { resync: false },
        (true, Some(s)) if moving_onto_held(&s.version) => {
            Resolution::Refused(ResolveRefusal::VersionHeldHere {
                version: s.version.clone(),
            })
        }
        (true, Some(s)) => Resolution::TakeServer {
            version: s.version.clone(),
        },
        (false, _) if f.version_taken => Resolution::Refused(ResolveRefusal::VersionTakenThere),
        (false, Some(s)) if s.deleted => Resolution::Refused(ResolveRefusal::DeletedThere),
        (false, Some(s)) if s.promoted => Resolution::Refused(ResolveRefusal::PromotedThere),
        (false, Some(_)) => Resolution::RebaseOurs,
        (_, None) => Resolution::Refused(ResolveRefusal::ServerCopyUnknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(version: &str) -> ServerCopy {
        ServerCopy {
            id: "42".into(),
            rev: 3,
            version: version.into(),
            same_record: true,
            deleted: false,
            promoted: false,
        }
    }

    #[test]
    fn deletion_target_cases() {
        let facts = |on_server: Option<(&str, i64)>, conflict_copy, create_sent| DeleteFacts {
            local_only: false,
            on_server: on_server.map(|(i, r)| (i.to_string(), r)),
            conflict_copy,
            create_sent,
        };
        let server = |id: &str, rev| DeletionTarget::Server { id: id.into(), rev };
        let promoted = ServerCopy {
            promoted: true,
            ..copy("v1.0.0")
        };
        let cases = [
            (
                "a draft the server acknowledged is deleted there at its synced revision",
                facts(Some(("7", 2)), None, false),
                server("7", 2),
            ),
            (
                "a draft never sent leaves nothing to send",
                facts(None, None, false),
                DeletionTarget::Nothing,
            ),
            // seeds 1134, 1163
            (
                "a draft deleted after its create answer was lost is kept by UUID until a pull",
                facts(None, None, true),
                DeletionTarget::ByUuid,
            ),
            // seed 71261 (session 9 long run)
            (
                "a conflicted draft known only by its UUID is deleted at its server copy, so a release promoted there comes back",
                facts(None, Some(promoted.clone()), true),
                server("42", 3),
            ),
            (
                "the server copy of a conflict with another record is not the one deleted",
                facts(
                    None,
                    Some(ServerCopy {
                        same_record: false,
                        ..copy("v1.0.0")
                    }),
                    true,
                ),
                DeletionTarget::ByUuid,
            ),
            (
                "a server copy deleted there already is not deleted again",
                facts(
                    None,
                    Some(ServerCopy {
                        deleted: true,
                        ..copy("v1.0.0")
                    }),
                    false,
                ),
                DeletionTarget::Nothing,
            ),
            (
                "local-only deletes send nothing",
                DeleteFacts {
                    local_only: true,
                    ..facts(Some(("7", 2)), Some(promoted), true)
                },
                DeletionTarget::Nothing,
            ),
        ];
        for (name, f, want) in cases {
            assert_eq!(deletion_target(&f), want, "{name}");
        }
    }

    #[test]
    fn resolution_cases() {
        let facts = |theirs, version_taken, server: Option<ServerCopy>, synced: Option<&str>| {
            ResolveFacts {
                version: "v2.0.0".into(),
                theirs,
                version_taken,
                server,
                synced_version: synced.map(str::to_string),
            }
        };
        let refused = Resolution::Refused;
        let held = |v: &str| v == "v1.0.0";
        let cases = [
            // seed 27034 (long run)
            (
                "theirs of a synced record renamed onto a taken version goes back to its synced copy with its proofs",
                facts(true, true, Some(copy("v2.0.0")), Some("v1.5.0")),
                Resolution::RevertToSynced {
                    version: "v1.5.0".into(),
                },
            ),
            // seed 9032
            (
                "theirs onto a version another local draft holds is refused naming it",
                facts(true, false, Some(copy("v1.0.0")), Some("v2.0.0")),
                refused(ResolveRefusal::VersionHeldHere {
                    version: "v1.0.0".into(),
                }),
            ),
            (
                "theirs of a taken version whose synced copy's version is held here is refused",
                facts(true, true, Some(copy("v2.0.0")), Some("v1.0.0")),
                refused(ResolveRefusal::VersionHeldHere {
                    version: "v1.0.0".into(),
                }),
            ),
            (
                "theirs of a taken version on a draft only we have drops it and pulls everything",
                facts(true, true, Some(copy("v2.0.0")), None),
                Resolution::DropLocal { resync: true },
            ),
            (
                "theirs of a record deleted there drops it",
                facts(
                    true,
                    false,
                    Some(ServerCopy {
                        deleted: true,
                        ..copy("v1.0.0")
                    }),
                    Some("v2.0.0"),
                ),
                Resolution::DropLocal { resync: false },
            ),
            (
                "theirs takes the server's copy under its version",
                facts(true, false, Some(copy("v3.0.0")), Some("v2.0.0")),
                Resolution::TakeServer {
                    version: "v3.0.0".into(),
                },
            ),
            (
                "theirs under the same version is not blocked by the record itself",
                facts(true, false, Some(copy("v2.0.0")), Some("v2.0.0")),
                Resolution::TakeServer {
                    version: "v2.0.0".into(),
                },
            ),
            (
                "ours of a taken version is refused",
                facts(false, true, Some(copy("v2.0.0")), None),
                refused(ResolveRefusal::VersionTakenThere),
            ),
            (
                "ours of a record deleted there is refused",
                facts(
                    false,
                    false,
                    Some(ServerCopy {
                        deleted: true,
                        ..copy("v2.0.0")
                    }),
                    Some("v2.0.0"),
                ),
                refused(ResolveRefusal::DeletedThere),
            ),
            (
                "ours of a record promoted there is refused",
                facts(
                    false,
                    false,
                    Some(ServerCopy {
                        promoted: true,
                        ..copy("v2.0.0")
                    }),
                    Some("v2.0.0"),
                ),
                refused(ResolveRefusal::PromotedThere),
            ),
            (
                "ours rebases the local edits on the server's copy",
                facts(false, false, Some(copy("v2.0.0")), Some("v2.0.0")),
                Resolution::RebaseOurs,
            ),
            (
                "an unknown server copy is refused either way",
                facts(true, false, None, Some("v2.0.0")),
                refused(ResolveRefusal::ServerCopyUnknown),
            ),
        ];
        for (name, f, want) in cases {
            assert_eq!(resolution(&f, held), want, "{name}");
        }
    }
}
