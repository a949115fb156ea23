//! The promotion gate. For each change of a generation, the proofs that count are the
//! completed ones (pass or fail) whose fingerprint matches the change as it is now and, when
//! the promotion names a commit, that ran on that commit or one of its ancestors. Among those,
//! the newest (highest rc) decides: a later failure supersedes an earlier pass. Without git
//! (no commit named), the newest completed proof of the current definition decides.
//!
//! Core does no I/O: which commits are ancestors is a fact the caller passes in ([`Target`]).

use crate::error::{CoreError, ErrorKind};
use crate::evolution::EvolutionStatus;
use crate::generation::GenerationSpec;
use serde::Serialize;
use std::collections::BTreeSet;

/// One evolution as the gate sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proof {
    /// The evolution's client UUID (what a promotion request names).
    pub evolution_id: String,
    pub change_id: String,
    pub rc: u32,
    pub owner: String,
    pub status: EvolutionStatus,
    /// The git commit the proof ran on (`None`: outside git, or recorded before commits were).
    pub commit: Option<String>,
    /// Whether the work tree had uncommitted changes when it ran.
    pub dirty: bool,
    /// The fingerprint of the change it proved (`None`: recorded before fingerprints were,
    /// taken as the current definition).
    pub fingerprint: Option<String>,
}

/// What a promotion is checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The commit being promoted; `None` outside git (the newest proof decides).
    pub commit: Option<String>,
    /// The proof commits that are `commit` itself or one of its ancestors.
    pub reachable: BTreeSet<String>,
}

impl Target {
    /// No git: every proof's commit is acceptable.
    pub fn none() -> Target {
        Target::default()
    }

    fn admits(&self, p: &Proof) -> bool {
        match &self.commit {
            None => true,
            Some(head) => p
                .commit
                .as_ref()
                .is_some_and(|c| c == head || self.reachable.contains(c)),
        }
    }
}

/// A change and the evolutions that try to prove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeProof {
    pub change_id: String,
    pub title: String,
    /// The change's current fingerprint.
    pub fingerprint: String,
    pub proven: bool,
    /// The proof that decided (the newest that counts), pass or fail; `None` when none counts.
    pub decided_by: Option<Proof>,
    /// Why the change is not proven (`None` when it is).
    pub reason: Option<String>,
    pub evolutions: Vec<Proof>,
}

/// The gate's verdict for a whole generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateReport {
    pub version: String,
    /// The commit the gate was computed against (`None`: outside git).
    pub commit: Option<String>,
    pub ready: bool,
    pub changes: Vec<ChangeProof>,
}

impl GateReport {
    pub fn unproven(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter(|c| !c.proven)
            .map(|c| c.change_id.as_str())
            .collect()
    }

    /// `Ok` when ready, otherwise the gate-failed error naming the unproven changes.
    pub fn check(&self) -> Result<(), CoreError> {
        if self.ready {
            return Ok(());
        }
        if self.changes.is_empty() {
            return Err(CoreError::new(
                ErrorKind::GateFailed,
                format!("Cannot promote {}: it has no changes to prove", self.version),
            )
            .with_hint(format!(
                "add one with `gryt generation add-change {} --id FEAT-1 --type add --title \"...\"`",
                self.version
            )));
        }
        let missing = self.unproven();
        let why: Vec<String> = self
            .changes
            .iter()
            .filter(|c| !c.proven)
            .map(|c| {
                format!(
                    "{}: {}",
                    c.change_id,
                    c.reason.as_deref().unwrap_or("not proven")
                )
            })
            .collect();
        Err(CoreError::new(
            ErrorKind::GateFailed,
            format!(
                "Cannot promote {}: {} of {} changes are not proven ({})",
                self.version,
                missing.len(),
                self.changes.len(),
                why.join("; ")
            ),
        )
        .with_hint(format!(
            "prove each with `gryt evolution start {} --change {}` and `gryt run PIPELINE`",
            self.version, missing[0]
        )))
    }

    /// Per change, the proof that decided it (for a promotion request naming its proofs).
    pub fn counted(&self) -> Vec<Named> {
        self.changes
            .iter()
            .filter_map(|c| {
                c.decided_by.as_ref().map(|p| Named {
                    change_id: c.change_id.clone(),
                    evolution_id: p.evolution_id.clone(),
                })
            })
            .collect()
    }
}

/// The gate's verdict for one change when no commit is named, from its completed proofs
/// alone: the newest pass or fail (highest rc) among those of the change's current definition
/// decides. `completed` holds (rc, passed, fingerprint) of the change's pass and fail
/// evolutions, in any order; a `None` fingerprint (recorded before fingerprints existed) is
/// taken as the current definition. This is [`gate`] with [`Target::none`] for one change, for
/// callers that count proven changes over many generations without building each gate.
pub fn proven_without_commit<'a>(
    fingerprint: &str,
    completed: impl IntoIterator<Item = (u32, bool, Option<&'a str>)>,
) -> bool {
    completed
        .into_iter()
        .filter(|(_, _, f)| f.is_none_or(|f| f == fingerprint))
        .max_by_key(|(rc, _, _)| *rc)
        .is_some_and(|(_, passed, _)| passed)
}

/// Computes the gate against `target` (see the module documentation). A generation with no
/// changes is never ready (there is nothing it promises).
pub fn gate(spec: &GenerationSpec, evolutions: &[Proof], target: &Target) -> GateReport {
    let changes: Vec<ChangeProof> = spec
        .changes
        .iter()
        .map(|c| {
            let fp = c.fingerprint();
            let mut evs: Vec<Proof> = evolutions
                .iter()
                .filter(|e| e.change_id == c.id.as_str())
                .cloned()
                .collect();
            evs.sort_by_key(|e| e.rc);
            // A pass or a fail proves something; a cancelled evolution proves nothing.
            let completed: Vec<&Proof> = evs
                .iter()
                .filter(|e| matches!(e.status, EvolutionStatus::Pass | EvolutionStatus::Fail))
                .collect();
            let current: Vec<&Proof> = completed
                .iter()
                .copied()
                .filter(|e| e.fingerprint.as_deref().is_none_or(|f| f == fp))
                .collect();
            let counted: Vec<&Proof> = current
                .iter()
                .copied()
                .filter(|e| target.admits(e))
                .collect();
            let decided_by = counted.last().map(|p| (*p).clone());
            let proven = decided_by
                .as_ref()
                .is_some_and(|p| p.status == EvolutionStatus::Pass);
            let reason = if proven {
                None
            } else if let Some(p) = &decided_by {
                Some(format!("its newest proof rc.{} failed", p.rc))
            } else if evs.is_empty() {
                Some("no evolution yet".to_string())
            } else if completed.is_empty() {
                Some("no evolution has completed".to_string())
            } else if current.is_empty() {
                Some("its proofs are of an earlier definition (type or title changed)".to_string())
            } else {
                Some(match &target.commit {
                    Some(h) => format!(
                        "no proof ran on commit {} or an ancestor of it",
                        short_commit(h)
                    ),
                    None => "no proof counts".to_string(),
                })
            };
            ChangeProof {
                change_id: c.id.to_string(),
                title: c.title.clone(),
                fingerprint: fp,
                proven,
                decided_by,
                reason,
                evolutions: evs,
            }
        })
        .collect();
    let ready = !changes.is_empty() && changes.iter().all(|c| c.proven);
    GateReport {
        version: spec.version.clone(),
        commit: target.commit.clone(),
        ready,
        changes,
    }
}

/// The first 12 characters of a commit id, for messages.
pub fn short_commit(c: &str) -> &str {
    c.get(..12).unwrap_or(c)
}

/// Why the server refuses a promotion that names its proofs (see [`check_named`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedProblem {
    /// A change of the generation has no proof named (422 `proof_missing`).
    Missing,
    /// A named proof is not an evolution of that change in this generation (422 `proof_unknown`).
    Unknown,
    /// A named proof did not pass (409 `proof_not_passed`).
    NotPassed,
    /// A named proof proved an earlier definition of the change (409 `proof_stale`).
    Stale,
    /// A later proof of that change on the same commit failed (409 `proof_superseded`).
    Superseded,
}

impl NamedProblem {
    pub fn code(self) -> crate::api::ErrorCode {
        use crate::api::ErrorCode;
        match self {
            NamedProblem::Missing => ErrorCode::ProofMissing,
            NamedProblem::Unknown => ErrorCode::ProofUnknown,
            NamedProblem::NotPassed => ErrorCode::ProofNotPassed,
            NamedProblem::Stale => ErrorCode::ProofStale,
            NamedProblem::Superseded => ErrorCode::ProofSuperseded,
        }
    }

    /// 422 for a request that names the wrong things, 409 for proofs the state refutes.
    pub fn status(self) -> u16 {
        match self {
            NamedProblem::Missing | NamedProblem::Unknown => 422,
            _ => 409,
        }
    }
}

/// One proof a promotion request names for one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub change_id: String,
    pub evolution_id: String,
}

/// What the server can check of a promotion that names its commit and, per change, the proof
/// the client counted (the server has no git history, so ancestry is the client's word): each
/// change has a named proof; it is an evolution of that change in this generation; it passed;
/// it proved the change as it is now; and no later proof of that change on the same commit
/// failed. Returns the first problem found.
pub fn check_named(
    spec: &GenerationSpec,
    evolutions: &[Proof],
    named: &[Named],
) -> Result<(), (NamedProblem, String)> {
    if spec.changes.is_empty() {
        return Err((
            NamedProblem::Missing,
            format!(
                "Cannot promote {}: it has no changes to prove",
                spec.version
            ),
        ));
    }
    for n in named {
        if spec
            .change(&crate::ChangeId::parse(&n.change_id).map_err(|_| {
                (
                    NamedProblem::Unknown,
                    format!("{} is not a change id", shown(&n.change_id)),
                )
            })?)
            .is_none()
        {
            return Err((
                NamedProblem::Unknown,
                format!(
                    "Change {} is not part of generation {}",
                    shown(&n.change_id),
                    spec.version
                ),
            ));
        }
    }
    for c in &spec.changes {
        let id = c.id.as_str();
        let Some(n) = named.iter().find(|n| n.change_id == id) else {
            return Err((
                NamedProblem::Missing,
                format!("The promotion names no proof of {id}"),
            ));
        };
        let Some(p) = evolutions
            .iter()
            .find(|e| e.evolution_id == n.evolution_id && e.change_id == id)
        else {
            return Err((
                NamedProblem::Unknown,
                format!(
                    "Evolution {} is not a proof of {id} in {}",
                    shown(&n.evolution_id),
                    spec.version
                ),
            ));
        };
        if p.status != EvolutionStatus::Pass {
            return Err((
                NamedProblem::NotPassed,
                format!(
                    "{}-rc.{} of {id} did not pass ({})",
                    spec.version, p.rc, p.status
                ),
            ));
        }
        if p.fingerprint
            .as_deref()
            .is_some_and(|f| f != c.fingerprint())
        {
            return Err((
                NamedProblem::Stale,
                format!(
                    "{}-rc.{} proved an earlier definition of {id}: its type or title changed since",
                    spec.version, p.rc
                ),
            ));
        }
        if let Some(later) = evolutions.iter().find(|e| {
            e.change_id == id
                && e.rc > p.rc
                && e.status == EvolutionStatus::Fail
                && e.commit == p.commit
                && e.fingerprint
                    .as_deref()
                    .is_none_or(|f| f == c.fingerprint())
        }) {
            return Err((
                NamedProblem::Superseded,
                format!(
                    "{}-rc.{} of {id} failed on the same commit after {}-rc.{} passed",
                    spec.version, later.rc, spec.version, p.rc
                ),
            ));
        }
    }
    Ok(())
}

fn shown(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, ChangeId, ChangeType};

    fn spec(ids: &[&str]) -> GenerationSpec {
        GenerationSpec {
            version: "v2.0.0".into(),
            description: None,
            changes: ids
                .iter()
                .map(|id| Change {
                    id: ChangeId::parse(id).unwrap(),
                    change_type: ChangeType::Add,
                    title: format!("title {id}"),
                    description: None,
                    assignee: None,
                })
                .collect(),
            pipeline_template: None,
        }
    }

    fn fp(change: &str) -> String {
        crate::change::fingerprint(change, "add", &format!("title {change}"))
    }

    /// A proof of the current definition of `change`, on commit `commit`.
    fn on(change: &str, rc: u32, status: EvolutionStatus, commit: Option<&str>) -> Proof {
        Proof {
            evolution_id: format!("ev-{change}-{rc}"),
            change_id: change.into(),
            rc,
            owner: "dev".into(),
            status,
            commit: commit.map(String::from),
            dirty: false,
            fingerprint: Some(fp(change)),
        }
    }

    fn proof(change: &str, rc: u32, status: EvolutionStatus) -> Proof {
        on(change, rc, status, None)
    }

    fn stale(change: &str, rc: u32, status: EvolutionStatus) -> Proof {
        Proof {
            fingerprint: Some(crate::change::fingerprint(
                change,
                "fix",
                "an older meaning",
            )),
            ..proof(change, rc, status)
        }
    }

    fn legacy(change: &str, rc: u32, status: EvolutionStatus) -> Proof {
        Proof {
            fingerprint: None,
            ..proof(change, rc, status)
        }
    }

    /// HEAD is `c3`, whose ancestors are `c1` and `c2`; `x9` is on another branch.
    fn at_c3() -> Target {
        Target {
            commit: Some("c3".into()),
            reachable: ["c1", "c2"].into_iter().map(String::from).collect(),
        }
    }

    #[test]
    fn counting_without_a_commit_agrees_with_the_gate() {
        use EvolutionStatus::*;
        let cases: Vec<(&str, Vec<Proof>)> = vec![
            ("no proofs", vec![]),
            ("one pass", vec![proof("FEAT-1", 1, Pass)]),
            (
                "a later fail supersedes a pass",
                vec![proof("FEAT-1", 1, Pass), proof("FEAT-1", 2, Fail)],
            ),
            (
                "a later pass supersedes a fail",
                vec![proof("FEAT-1", 2, Pass), proof("FEAT-1", 1, Fail)],
            ),
            (
                "a pass of an earlier definition counts for nothing",
                vec![stale("FEAT-1", 3, Pass)],
            ),
            (
                "a stale newer fail does not hide a current pass",
                vec![proof("FEAT-1", 1, Pass), stale("FEAT-1", 2, Fail)],
            ),
            (
                "a proof from before fingerprints counts",
                vec![legacy("FEAT-1", 1, Pass)],
            ),
            (
                "open and cancelled proofs prove nothing",
                vec![
                    proof("FEAT-1", 1, Running),
                    proof("FEAT-1", 2, Cancelled),
                    proof("FEAT-1", 3, Pending),
                ],
            ),
            (
                "a cancelled newer proof does not hide a pass",
                vec![proof("FEAT-1", 1, Pass), proof("FEAT-1", 2, Cancelled)],
            ),
        ];
        for (name, proofs) in cases {
            let by_gate = gate(&spec(&["FEAT-1"]), &proofs, &Target::none()).ready;
            let completed: Vec<(u32, bool, Option<&str>)> = proofs
                .iter()
                .filter(|p| matches!(p.status, Pass | Fail))
                .map(|p| (p.rc, p.status == Pass, p.fingerprint.as_deref()))
                .collect();
            assert_eq!(
                proven_without_commit(&fp("FEAT-1"), completed),
                by_gate,
                "{name}"
            );
        }
    }

    #[test]
    fn gate_cases() {
        use EvolutionStatus::*;
        /// name, change ids, evolutions, target, ready, unproven, deciding rc of the first change
        type Case<'a> = (
            &'a str,
            Vec<&'a str>,
            Vec<Proof>,
            Target,
            bool,
            Vec<&'a str>,
            Option<u32>,
        );
        let none = Target::none;
        let cases: Vec<Case> = vec![
            ("no changes", vec![], vec![], none(), false, vec![], None),
            (
                "unproven",
                vec!["FEAT-1"],
                vec![],
                none(),
                false,
                vec!["FEAT-1"],
                None,
            ),
            (
                "one pass",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Pass)],
                none(),
                true,
                vec![],
                Some(1),
            ),
            (
                "only fail",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Fail)],
                none(),
                false,
                vec!["FEAT-1"],
                Some(1),
            ),
            (
                "running",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Running)],
                none(),
                false,
                vec!["FEAT-1"],
                None,
            ),
            (
                "fail then pass",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Fail), proof("FEAT-1", 2, Pass)],
                none(),
                true,
                vec![],
                Some(2),
            ),
            (
                "regression: pass then fail",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Pass), proof("FEAT-1", 2, Fail)],
                none(),
                false,
                vec!["FEAT-1"],
                Some(2),
            ),
            (
                "an open newer evolution does not un-prove",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Pass), proof("FEAT-1", 2, Running)],
                none(),
                true,
                vec![],
                Some(1),
            ),
            (
                "a cancelled newer evolution proves nothing",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Pass), proof("FEAT-1", 2, Cancelled)],
                none(),
                true,
                vec![],
                Some(1),
            ),
            (
                "order is by rc, not by list position",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 3, Fail), proof("FEAT-1", 2, Pass)],
                none(),
                false,
                vec!["FEAT-1"],
                Some(3),
            ),
            (
                "one of two",
                vec!["FEAT-1", "BUG-2"],
                vec![proof("FEAT-1", 1, Pass)],
                none(),
                false,
                vec!["BUG-2"],
                Some(1),
            ),
            (
                "proof of another change does not count",
                vec!["FEAT-1"],
                vec![proof("FEAT-2", 1, Pass)],
                none(),
                false,
                vec!["FEAT-1"],
                None,
            ),
            (
                "re-defined change: the old pass does not count",
                vec!["FEAT-1"],
                vec![stale("FEAT-1", 1, Pass)],
                none(),
                false,
                vec!["FEAT-1"],
                None,
            ),
            (
                "re-defined change: a stale failure does not supersede a current pass",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Pass), stale("FEAT-1", 2, Fail)],
                none(),
                true,
                vec![],
                Some(1),
            ),
            (
                "a proof recorded before fingerprints counts as current",
                vec!["FEAT-1"],
                vec![legacy("FEAT-1", 1, Pass)],
                none(),
                true,
                vec![],
                Some(1),
            ),
            (
                "git: a pass on HEAD",
                vec!["FEAT-1"],
                vec![on("FEAT-1", 1, Pass, Some("c3"))],
                at_c3(),
                true,
                vec![],
                Some(1),
            ),
            (
                "git: a pass on an ancestor",
                vec!["FEAT-1"],
                vec![on("FEAT-1", 1, Pass, Some("c1"))],
                at_c3(),
                true,
                vec![],
                Some(1),
            ),
            (
                "git: a pass on another branch does not count",
                vec!["FEAT-1"],
                vec![on("FEAT-1", 1, Pass, Some("x9"))],
                at_c3(),
                false,
                vec!["FEAT-1"],
                None,
            ),
            (
                "git: a proof outside git does not count",
                vec!["FEAT-1"],
                vec![on("FEAT-1", 1, Pass, None)],
                at_c3(),
                false,
                vec!["FEAT-1"],
                None,
            ),
            (
                "git: a failure on another branch does not supersede",
                vec!["FEAT-1"],
                vec![
                    on("FEAT-1", 1, Pass, Some("c2")),
                    on("FEAT-1", 2, Fail, Some("x9")),
                ],
                at_c3(),
                true,
                vec![],
                Some(1),
            ),
            (
                "git: a later failure on an ancestor supersedes",
                vec!["FEAT-1"],
                vec![
                    on("FEAT-1", 1, Pass, Some("c1")),
                    on("FEAT-1", 2, Fail, Some("c2")),
                ],
                at_c3(),
                false,
                vec!["FEAT-1"],
                Some(2),
            ),
            (
                "git: a later pass on HEAD fixes a regression",
                vec!["FEAT-1"],
                vec![
                    on("FEAT-1", 1, Pass, Some("c1")),
                    on("FEAT-1", 2, Fail, Some("c2")),
                    on("FEAT-1", 3, Pass, Some("c3")),
                ],
                at_c3(),
                true,
                vec![],
                Some(3),
            ),
            (
                "without git every commit counts",
                vec!["FEAT-1"],
                vec![on("FEAT-1", 1, Pass, Some("x9"))],
                none(),
                true,
                vec![],
                Some(1),
            ),
        ];
        for (name, ids, proofs, target, ready, missing, decided) in cases {
            let r = gate(&spec(&ids), &proofs, &target);
            assert_eq!(r.ready, ready, "{name}");
            assert_eq!(r.unproven(), missing, "{name}");
            assert_eq!(r.check().is_ok(), ready, "{name}");
            if let Some(first) = r.changes.first() {
                assert_eq!(first.decided_by.as_ref().map(|p| p.rc), decided, "{name}");
                assert_eq!(first.reason.is_none(), first.proven, "{name}");
            }
            if !ready {
                let e = r.check().unwrap_err();
                assert_eq!(e.kind, ErrorKind::GateFailed, "{name}");
            }
        }
    }

    #[test]
    fn reasons_say_why() {
        use EvolutionStatus::*;
        let r = gate(
            &spec(&["FEAT-1"]),
            &[proof("FEAT-1", 1, Pass), proof("FEAT-1", 2, Fail)],
            &Target::none(),
        );
        let e = r.check().unwrap_err();
        assert!(e.message.contains("rc.2 failed"), "{}", e.message);
        let r = gate(
            &spec(&["FEAT-1"]),
            &[stale("FEAT-1", 1, Pass)],
            &Target::none(),
        );
        assert!(r
            .check()
            .unwrap_err()
            .message
            .contains("earlier definition"));
        let r = gate(
            &spec(&["FEAT-1"]),
            &[on("FEAT-1", 1, Pass, Some("x9"))],
            &at_c3(),
        );
        assert!(r.check().unwrap_err().message.contains("ancestor"));
    }

    #[test]
    fn counted_names_the_deciding_proofs() {
        use EvolutionStatus::*;
        let r = gate(
            &spec(&["FEAT-1", "BUG-2"]),
            &[
                proof("FEAT-1", 1, Fail),
                proof("FEAT-1", 2, Pass),
                proof("BUG-2", 3, Pass),
            ],
            &Target::none(),
        );
        let named = r.counted();
        assert_eq!(
            named,
            vec![
                Named {
                    change_id: "FEAT-1".into(),
                    evolution_id: "ev-FEAT-1-2".into()
                },
                Named {
                    change_id: "BUG-2".into(),
                    evolution_id: "ev-BUG-2-3".into()
                },
            ]
        );
    }

    #[test]
    fn named_proof_cases() {
        use EvolutionStatus::*;
        use NamedProblem::*;
        let n = |c: &str, e: &str| Named {
            change_id: c.into(),
            evolution_id: e.into(),
        };
        /// name, evolutions, named, expected problem
        type Case<'a> = (&'a str, Vec<Proof>, Vec<Named>, Option<NamedProblem>);
        let cases: Vec<Case> = vec![
            (
                "a pass",
                vec![proof("FEAT-1", 1, Pass)],
                vec![n("FEAT-1", "ev-FEAT-1-1")],
                None,
            ),
            (
                "nothing named",
                vec![proof("FEAT-1", 1, Pass)],
                vec![],
                Some(Missing),
            ),
            (
                "unknown proof",
                vec![proof("FEAT-1", 1, Pass)],
                vec![n("FEAT-1", "nope")],
                Some(Unknown),
            ),
            (
                "a proof of another change",
                vec![proof("FEAT-1", 1, Pass), proof("FEAT-2", 2, Pass)],
                vec![n("FEAT-1", "ev-FEAT-2-2")],
                Some(Unknown),
            ),
            (
                "a change not in the generation",
                vec![proof("FEAT-1", 1, Pass)],
                vec![n("FEAT-1", "ev-FEAT-1-1"), n("FEAT-9", "ev-FEAT-1-1")],
                Some(Unknown),
            ),
            (
                "a failure",
                vec![proof("FEAT-1", 1, Fail)],
                vec![n("FEAT-1", "ev-FEAT-1-1")],
                Some(NotPassed),
            ),
            (
                "a stale proof",
                vec![stale("FEAT-1", 1, Pass)],
                vec![n("FEAT-1", "ev-FEAT-1-1")],
                Some(Stale),
            ),
            (
                "a later failure on the same commit",
                vec![
                    on("FEAT-1", 1, Pass, Some("c1")),
                    on("FEAT-1", 2, Fail, Some("c1")),
                ],
                vec![n("FEAT-1", "ev-FEAT-1-1")],
                Some(Superseded),
            ),
            (
                "a later failure on another commit is the client's to weigh",
                vec![
                    on("FEAT-1", 1, Pass, Some("c2")),
                    on("FEAT-1", 2, Fail, Some("x9")),
                ],
                vec![n("FEAT-1", "ev-FEAT-1-1")],
                None,
            ),
        ];
        for (name, proofs, named, want) in cases {
            let got = check_named(&spec(&["FEAT-1"]), &proofs, &named)
                .err()
                .map(|e| e.0);
            assert_eq!(got, want, "{name}");
        }
        assert_eq!(Missing.status(), 422);
        assert_eq!(Stale.status(), 409);
        assert_eq!(Superseded.code().as_str(), "proof_superseded");
    }
}
