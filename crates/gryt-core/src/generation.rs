//! Generations: release contracts. A [`GenerationSpec`] is the part a user writes (the
//! YAML contract: version, description, changes); the rules here keep it valid and keep
//! promoted generations immutable.

use crate::change::{validate_title, Change, ChangeId, ChangeType};
use crate::error::{CoreError, ErrorKind, Result};
use crate::version::Version;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// draft (editable) or promoted (final, immutable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerationStatus {
    Draft,
    Promoted,
}

impl GenerationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GenerationStatus::Draft => "draft",
            GenerationStatus::Promoted => "promoted",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "draft" => Ok(GenerationStatus::Draft),
            "promoted" => Ok(GenerationStatus::Promoted),
            other => Err(CoreError::invalid(format!(
                "Unknown generation status '{}'",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }
}

impl fmt::Display for GenerationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The user-written contract: the reference client's YAML shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationSpec {
    pub version: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub changes: Vec<Change>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_template: Option<String>,
}

pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_CHANGES: usize = 1_000;

impl GenerationSpec {
    pub fn new(version: &Version, description: Option<String>) -> Self {
        GenerationSpec {
            version: version.to_string(),
            description,
            changes: Vec::new(),
            pipeline_template: None,
        }
    }

    /// Checks every rule of a contract: a valid version, valid and unique change ids,
    /// titles present, sizes bounded. Returns the parsed version.
    pub fn validate(&self) -> Result<Version> {
        let version = Version::parse(&self.version)?;
        if let Some(d) = &self.description {
            if d.chars().count() > MAX_DESCRIPTION {
                return Err(CoreError::invalid(
                    "A generation description may be at most 10000 characters",
                ));
            }
        }
        if self.changes.len() > MAX_CHANGES {
            return Err(CoreError::invalid(
                "A generation may hold at most 1000 changes",
            ));
        }
        let mut seen = HashSet::new();
        for c in &self.changes {
            validate_title(&c.title)
                .map_err(|e| CoreError::invalid(format!("Change {}: {}", c.id, e.message)))?;
            if !seen.insert(c.id.as_str()) {
                return Err(duplicate_change(&c.id, &version));
            }
        }
        Ok(version)
    }

    pub fn change(&self, id: &ChangeId) -> Option<&Change> {
        self.changes.iter().find(|c| &c.id == id)
    }

    /// Adds a change; its id must be new in this generation.
    pub fn add_change(
        &mut self,
        id: ChangeId,
        change_type: ChangeType,
        title: String,
        description: Option<String>,
    ) -> Result<()> {
        validate_title(&title)?;
        if self.change(&id).is_some() {
            let v = Version::parse(&self.version)?;
            return Err(duplicate_change(&id, &v));
        }
        if self.changes.len() >= MAX_CHANGES {
            return Err(CoreError::invalid(
                "A generation may hold at most 1000 changes",
            ));
        }
        self.changes.push(Change {
            id,
            change_type,
            title,
            description,
            assignee: None,
        });
        Ok(())
    }

    /// Removes a change by id; it must exist.
    pub fn remove_change(&mut self, id: &ChangeId) -> Result<Change> {
        let pos = self
            .changes
            .iter()
            .position(|c| &c.id == id)
            .ok_or_else(|| {
                CoreError::not_found(format!(
                    "Change {id} is not part of generation {}",
                    self.version
                ))
            })?;
        Ok(self.changes.remove(pos))
    }
}

fn duplicate_change(id: &ChangeId, version: &Version) -> CoreError {
    CoreError::already_exists(format!(
        "Change {id} already exists in generation {version}"
    ))
    .with_hint("change ids must be unique within a generation; pick another number")
}

/// The immutability rule: anything but a draft refuses every change.
pub fn ensure_draft(version: &str, status: GenerationStatus) -> Result<()> {
    match status {
        GenerationStatus::Draft => Ok(()),
        GenerationStatus::Promoted => Err(CoreError::new(
            ErrorKind::Immutable,
            format!("Generation {version} is promoted and immutable"),
        )
        .with_hint(next_patch_hint(version))),
    }
}

/// Why a generation cannot be promoted again: someone promoted it first (named with when,
/// where known).
pub fn already_promoted(version: &str, by: Option<&str>, at: Option<&str>) -> CoreError {
    let by = by.map(|b| format!(" by {b}")).unwrap_or_default();
    let at = at.map(|t| format!(" at {t}")).unwrap_or_default();
    CoreError::new(
        ErrorKind::Immutable,
        format!("Generation {version} is already promoted{by}{at}"),
    )
    .with_hint("a promoted generation is final; release further work as a new version")
}

/// Why an evolution cannot prove `change_id` in generation `version`: the change is not one
/// of its changes (`known`).
pub fn change_not_in(version: &str, change_id: &str, known: &[&str]) -> CoreError {
    let hint = if known.is_empty() {
        format!(
            "{version} has no changes yet: add one with `gryt generation add-change {version} --id {change_id} --type add --title \"...\"`"
        )
    } else {
        format!("changes of {version}: {}", known.join(", "))
    };
    CoreError::invalid(format!(
        "Change {change_id} is not part of generation {version}"
    ))
    .with_hint(hint)
}

fn next_patch_hint(version: &str) -> String {
    match Version::parse(version) {
        Ok(v) => {
            let next = Version {
                major: v.major,
                minor: v.minor,
                patch: v.patch + 1,
                pre: Vec::new(),
            };
            format!("create a new generation instead: `gryt generation new {next}`")
        }
        Err(_) => "create a new generation instead".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_worded_once() {
        let e = already_promoted("v1.0.0", Some("alice"), Some("2026-11-22T02:00:00Z"));
        assert_eq!(e.kind, ErrorKind::Immutable);
        assert_eq!(
            e.message,
            "Generation v1.0.0 is already promoted by alice at 2026-11-22T02:00:00Z"
        );
        assert_eq!(
            already_promoted("v1.0.0", None, None).message,
            "Generation v1.0.0 is already promoted"
        );
        let e = change_not_in("v1.0.0", "FEAT-9", &["FEAT-1", "FEAT-2"]);
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert_eq!(e.message, "Change FEAT-9 is not part of generation v1.0.0");
        assert_eq!(e.hint.as_deref(), Some("changes of v1.0.0: FEAT-1, FEAT-2"));
        let e = change_not_in("v1.0.0", "FEAT-9", &[]);
        assert!(e.hint.unwrap_or_default().contains("has no changes yet"));
    }

    fn change(id: &str, title: &str) -> Change {
        Change {
            id: ChangeId::parse(id).unwrap(),
            change_type: ChangeType::Add,
            title: title.into(),
            description: None,
            assignee: None,
        }
    }

    #[test]
    fn validate_cases() {
        struct Case {
            name: &'static str,
            spec: GenerationSpec,
            want: Option<ErrorKind>,
        }
        let base = GenerationSpec {
            version: "v1.0.0".into(),
            description: Some("d".into()),
            changes: vec![change("FEAT-1", "a"), change("BUG-1", "b")],
            pipeline_template: None,
        };
        let cases = vec![
            Case {
                name: "valid",
                spec: base.clone(),
                want: None,
            },
            Case {
                name: "bad version",
                spec: GenerationSpec {
                    version: "v1.2".into(),
                    ..base.clone()
                },
                want: Some(ErrorKind::Invalid),
            },
            Case {
                name: "duplicate change",
                spec: GenerationSpec {
                    changes: vec![change("FEAT-1", "a"), change("FEAT-1", "b")],
                    ..base.clone()
                },
                want: Some(ErrorKind::AlreadyExists),
            },
            Case {
                name: "same number other prefix is fine",
                spec: GenerationSpec {
                    changes: vec![change("FEAT-1", "a"), change("FEATX-1", "b")],
                    ..base.clone()
                },
                want: None,
            },
            Case {
                name: "empty title",
                spec: GenerationSpec {
                    changes: vec![change("FEAT-1", " ")],
                    ..base.clone()
                },
                want: Some(ErrorKind::Invalid),
            },
            Case {
                name: "huge description",
                spec: GenerationSpec {
                    description: Some("x".repeat(MAX_DESCRIPTION + 1)),
                    ..base.clone()
                },
                want: Some(ErrorKind::Invalid),
            },
        ];
        for c in cases {
            let got = c.spec.validate().err().map(|e| e.kind);
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn add_and_remove_changes() {
        let mut s = GenerationSpec::new(&Version::parse("1.0.0").unwrap(), None);
        s.add_change(
            ChangeId::parse("FEAT-1").unwrap(),
            ChangeType::Fix,
            "t".into(),
            None,
        )
        .unwrap();
        let dup = s
            .add_change(
                ChangeId::parse("FEAT-1").unwrap(),
                ChangeType::Add,
                "u".into(),
                None,
            )
            .unwrap_err();
        assert_eq!(dup.kind, ErrorKind::AlreadyExists);
        assert!(dup.message.contains("already exists"));
        assert_eq!(s.changes.len(), 1);
        let missing = s
            .remove_change(&ChangeId::parse("BUG-9").unwrap())
            .unwrap_err();
        assert_eq!(missing.kind, ErrorKind::NotFound);
        s.remove_change(&ChangeId::parse("FEAT-1").unwrap())
            .unwrap();
        assert!(s.changes.is_empty());
    }

    #[test]
    fn promoted_is_immutable() {
        assert!(ensure_draft("v1.0.0", GenerationStatus::Draft).is_ok());
        let e = ensure_draft("v1.0.0", GenerationStatus::Promoted).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Immutable);
        assert_eq!(e.message, "Generation v1.0.0 is promoted and immutable");
        assert!(e.hint.unwrap().contains("v1.0.1"));
    }
}
