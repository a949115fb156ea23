//! Evolutions: one proof of one change, numbered `rc.N` within its generation.

use crate::error::{CoreError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// pending → running → pass | fail, or cancelled (ended by its owner; proves nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvolutionStatus {
    Pending,
    Running,
    Pass,
    Fail,
    Cancelled,
}

impl EvolutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EvolutionStatus::Pending => "pending",
            EvolutionStatus::Running => "running",
            EvolutionStatus::Pass => "pass",
            EvolutionStatus::Fail => "fail",
            EvolutionStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(EvolutionStatus::Pending),
            "running" => Ok(EvolutionStatus::Running),
            "pass" | "passed" => Ok(EvolutionStatus::Pass),
            "fail" | "failed" => Ok(EvolutionStatus::Fail),
            "cancelled" | "canceled" => Ok(EvolutionStatus::Cancelled),
            other => Err(CoreError::invalid(format!(
                "Unknown evolution status '{}'",
                other.chars().take(32).collect::<String>()
            ))
            .with_hint("evolution statuses are pending, running, pass, fail and cancelled")),
        }
    }

    /// Whether the evolution has ended (pass, fail or cancelled): no result may change it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            EvolutionStatus::Pass | EvolutionStatus::Fail | EvolutionStatus::Cancelled
        )
    }
}

impl fmt::Display for EvolutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A release-candidate tag `v1.2.0-rc.3`: a generation version and an rc number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcTag {
    pub version: String,
    pub rc: u32,
}

impl RcTag {
    /// Splits `v1.2.0-rc.3` into its version and rc number; `None` if it is not an rc tag.
    pub fn parse(input: &str) -> Option<RcTag> {
        let (version, n) = input.rsplit_once("-rc.")?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.len() > 9 {
            return None;
        }
        let rc = n.parse().ok()?;
        let version = crate::Version::parse(version).ok()?.to_string();
        Some(RcTag { version, rc })
    }
}

impl fmt::Display for RcTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-rc.{}", self.version, self.rc)
    }
}

/// The next rc number given the numbers already used in a generation.
pub fn next_rc(used: impl IntoIterator<Item = u32>) -> u32 {
    used.into_iter().max().unwrap_or(0).saturating_add(1)
}

/// What the rules about changing an evolution need to know of it.
#[derive(Debug, Clone, Copy)]
pub struct EvolutionFacts<'a> {
    /// Its rc tag, `v1.2.0-rc.3`.
    pub tag: &'a str,
    /// Its generation's version.
    pub version: &'a str,
    pub change_id: &'a str,
    /// The user who started it.
    pub owner: &'a str,
    pub status: EvolutionStatus,
}

/// Why `user` may not change an evolution that is not theirs (only its owner may).
pub fn not_owner(e: &EvolutionFacts<'_>) -> CoreError {
    CoreError::new(
        crate::ErrorKind::Forbidden,
        format!(
            "Evolution {} belongs to {}; only its owner may change it",
            e.tag, e.owner
        ),
    )
    .with_hint(format!(
        "start your own with `gryt evolution start {} --change {}`",
        e.version, e.change_id
    ))
}

/// Only an evolution's owner may change it (owners compared by user name).
pub fn ensure_owner(e: &EvolutionFacts<'_>, user: &str) -> Result<()> {
    if e.owner == user {
        Ok(())
    } else {
        Err(not_owner(e))
    }
}

/// An evolution that has ended (pass, fail or cancelled) is never completed again: a new
/// result needs a new evolution.
pub fn ensure_open(e: &EvolutionFacts<'_>) -> Result<()> {
    if !e.status.is_final() {
        return Ok(());
    }
    Err(CoreError::new(
        crate::ErrorKind::Immutable,
        format!("Evolution {} is already complete ({})", e.tag, e.status),
    )
    .with_hint(format!(
        "start a new one with `gryt evolution start {} --change {}`",
        e.version, e.change_id
    )))
}

const ADJECTIVES: [&str; 32] = [
    "amber", "brave", "calm", "clever", "crisp", "daring", "eager", "fiery", "gentle", "golden",
    "happy", "icy", "jolly", "keen", "lively", "lucky", "mellow", "misty", "noble", "plucky",
    "proud", "quiet", "rapid", "rosy", "shiny", "silent", "steady", "swift", "tidy", "vivid",
    "witty", "zesty",
];
const NOUNS: [&str; 32] = [
    "anchor", "aurora", "beacon", "breeze", "canyon", "cedar", "comet", "delta", "ember", "falcon",
    "fjord", "forest", "glacier", "harbor", "island", "lagoon", "meadow", "nebula", "orchid",
    "otter", "prairie", "quartz", "river", "summit", "tundra", "valley", "willow", "canopy",
    "lantern", "pebble", "spruce", "thicket",
];

/// A human code name (`clever-fiery-meadow`) derived from random bits the caller supplies.
pub fn code_name(bits: u64) -> String {
    let a = ADJECTIVES[(bits & 31) as usize];
    let b = ADJECTIVES[((bits >> 5) & 31) as usize];
    let n = NOUNS[((bits >> 10) & 31) as usize];
    format!("{a}-{b}-{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc_tags() {
        let t = RcTag::parse("v1.2.0-rc.2").unwrap();
        assert_eq!(
            t,
            RcTag {
                version: "v1.2.0".into(),
                rc: 2
            }
        );
        assert_eq!(t.to_string(), "v1.2.0-rc.2");
        assert_eq!(
            RcTag::parse("1.2.0-rc.10").unwrap().to_string(),
            "v1.2.0-rc.10"
        );
        assert_eq!(
            RcTag::parse("v2.0.0-beta.1-rc.3").unwrap().version,
            "v2.0.0-beta.1"
        );
        for bad in [
            "v1.2.0",
            "v1.2.0-rc.",
            "v1.2.0-rc.x",
            "banana-rc.1",
            "v1.2-rc.1",
            "",
        ] {
            assert!(RcTag::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_the_owner_changes_an_open_evolution() {
        let mut e = EvolutionFacts {
            tag: "v1.0.0-rc.2",
            version: "v1.0.0",
            change_id: "FEAT-1",
            owner: "alice",
            status: EvolutionStatus::Running,
        };
        assert!(ensure_owner(&e, "alice").is_ok());
        let err = ensure_owner(&e, "bob").unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::Forbidden);
        assert_eq!(
            err.message,
            "Evolution v1.0.0-rc.2 belongs to alice; only its owner may change it"
        );
        assert!(ensure_open(&e).is_ok());
        for s in [
            EvolutionStatus::Pass,
            EvolutionStatus::Fail,
            EvolutionStatus::Cancelled,
        ] {
            e.status = s;
            let err = ensure_open(&e).unwrap_err();
            assert_eq!(err.kind, crate::ErrorKind::Immutable);
            assert_eq!(
                err.message,
                format!("Evolution v1.0.0-rc.2 is already complete ({s})")
            );
            assert_eq!(
                err.hint.as_deref(),
                Some("start a new one with `gryt evolution start v1.0.0 --change FEAT-1`")
            );
        }
    }

    #[test]
    fn next_rc_numbers() {
        assert_eq!(next_rc([]), 1);
        assert_eq!(next_rc([1, 2, 3]), 4);
        assert_eq!(next_rc([5, 2]), 6);
    }

    #[test]
    fn statuses() {
        for s in ["pending", "running", "pass", "fail", "cancelled"] {
            assert_eq!(EvolutionStatus::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(
            EvolutionStatus::parse("passed").unwrap(),
            EvolutionStatus::Pass
        );
        assert!(EvolutionStatus::parse("ok").is_err());
        assert!(EvolutionStatus::Pass.is_final() && !EvolutionStatus::Running.is_final());
        assert!(EvolutionStatus::Cancelled.is_final());
        assert_eq!(
            EvolutionStatus::parse("canceled").unwrap(),
            EvolutionStatus::Cancelled
        );
    }

    #[test]
    fn code_names_are_three_words() {
        for bits in [0u64, 1, 12345, u64::MAX] {
            assert_eq!(code_name(bits).split('-').count(), 3);
        }
    }
}
