//! The promotion gate: every change of a generation needs at least one passing evolution.

use crate::error::{CoreError, ErrorKind};
use crate::evolution::EvolutionStatus;
use crate::generation::GenerationSpec;
use serde::Serialize;

/// One evolution as the gate sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proof {
    pub change_id: String,
    pub rc: u32,
    pub owner: String,
    pub status: EvolutionStatus,
}

/// A change and the evolutions that try to prove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeProof {
    pub change_id: String,
    pub title: String,
    pub proven: bool,
    pub evolutions: Vec<Proof>,
}

/// The gate's verdict for a whole generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateReport {
    pub version: String,
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
        Err(CoreError::new(
            ErrorKind::GateFailed,
            format!(
                "Cannot promote {}: {} of {} changes have no passing evolution ({})",
                self.version,
                missing.len(),
                self.changes.len(),
                missing.join(", ")
            ),
        )
        .with_hint(format!(
            "prove each with `gryt evolution start {} --change {}` and `gryt run PIPELINE`",
            self.version, missing[0]
        )))
    }
}

/// Computes the gate: a change is proven when at least one of its evolutions passed.
/// A generation with no changes is never ready (there is nothing it promises).
pub fn gate(spec: &GenerationSpec, evolutions: &[Proof]) -> GateReport {
    let changes: Vec<ChangeProof> = spec
        .changes
        .iter()
        .map(|c| {
            let mut evs: Vec<Proof> = evolutions
                .iter()
                .filter(|e| e.change_id == c.id.as_str())
                .cloned()
                .collect();
            evs.sort_by_key(|e| e.rc);
            ChangeProof {
                change_id: c.id.to_string(),
                title: c.title.clone(),
                proven: evs.iter().any(|e| e.status == EvolutionStatus::Pass),
                evolutions: evs,
            }
        })
        .collect();
    let ready = !changes.is_empty() && changes.iter().all(|c| c.proven);
    GateReport {
        version: spec.version.clone(),
        ready,
        changes,
    }
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

    fn proof(change: &str, rc: u32, status: EvolutionStatus) -> Proof {
        Proof {
            change_id: change.into(),
            rc,
            owner: "dev".into(),
            status,
        }
    }

    #[test]
    fn gate_cases() {
        use EvolutionStatus::*;
        /// name, change ids, evolutions, ready, unproven
        type Case<'a> = (&'a str, Vec<&'a str>, Vec<Proof>, bool, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            ("no changes", vec![], vec![], false, vec![]),
            ("unproven", vec!["FEAT-1"], vec![], false, vec!["FEAT-1"]),
            (
                "one pass",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Pass)],
                true,
                vec![],
            ),
            (
                "only fail",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Fail)],
                false,
                vec!["FEAT-1"],
            ),
            (
                "running",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Running)],
                false,
                vec!["FEAT-1"],
            ),
            (
                "fail then pass",
                vec!["FEAT-1"],
                vec![proof("FEAT-1", 1, Fail), proof("FEAT-1", 2, Pass)],
                true,
                vec![],
            ),
            (
                "one of two",
                vec!["FEAT-1", "BUG-2"],
                vec![proof("FEAT-1", 1, Pass)],
                false,
                vec!["BUG-2"],
            ),
            (
                "proof of another change does not count",
                vec!["FEAT-1"],
                vec![proof("FEAT-2", 1, Pass)],
                false,
                vec!["FEAT-1"],
            ),
        ];
        for (name, ids, proofs, ready, missing) in cases {
            let r = gate(&spec(&ids), &proofs);
            assert_eq!(r.ready, ready, "{name}");
            assert_eq!(r.unproven(), missing, "{name}");
            assert_eq!(r.check().is_ok(), ready, "{name}");
            if !ready {
                assert_eq!(r.check().unwrap_err().kind, ErrorKind::GateFailed, "{name}");
            }
        }
    }
}
