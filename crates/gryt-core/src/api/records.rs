//! Generations, evolutions and the sync feed as they travel, and the `{"data": ...}`
//! envelope.

use crate::change::{Change, ChangeId, ChangeType};
use crate::generation::GenerationStatus;
use crate::merge::GenerationContent;
use crate::version::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `{"data": ...}` envelope every successful response uses.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "Data_{T}"))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Data<T> {
    pub data: T,
}

/// One change of a generation as it travels on the wire.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireChange {
    pub id: String,
    #[serde(rename = "type")]
    pub change_type: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub pipeline: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipelines: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}

impl WireChange {
    /// The domain change this wire change stands for; an id or a type breaking the rules is
    /// refused (the wire's `status` and `pipeline` are not part of a change's contract).
    pub fn to_change(&self) -> crate::error::Result<Change> {
        Ok(Change {
            id: ChangeId::parse(&self.id)?,
            change_type: ChangeType::parse(&self.change_type)?,
            title: self.title.clone(),
            description: self.description.clone(),
            assignee: self.assignee.clone(),
        })
    }
}

impl From<&Change> for WireChange {
    /// A change as it is sent: its contract fields, no status or pipeline.
    fn from(c: &Change) -> Self {
        WireChange {
            id: c.id.to_string(),
            change_type: c.change_type.as_str().to_string(),
            title: c.title.clone(),
            description: c.description.clone(),
            status: None,
            pipeline: None,
            pipelines: None,
            assignee: c.assignee.clone(),
        }
    }
}

/// `POST /api/v1/generations`: the reference client's G body.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationCreate {
    pub generation_id: String,
    pub version: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub changes: Vec<WireChange>,
    #[serde(default)]
    pub pipeline_template: Option<String>,
    /// `draft` (default) or `promoted`; a create never promotes (promote afterwards).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    /// ext: the project inside the scope; `default` when absent.
    #[serde(default)]
    pub project: Option<String>,
}

/// `PATCH /api/v1/generations/{id}`: every field optional; `changes`, when present, replaces
/// the whole change list; `status: "promoted"` promotes (through the gate, first wins).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<WireChange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A generation as the server returns it (also a tombstone when `deleted` is true).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub id: i64,
    pub generation_id: String,
    pub version: String,
    pub description: Option<String>,
    pub changes: Vec<WireChange>,
    pub pipeline_template: Option<String>,
    pub status: String,
    pub created_at: String,
    pub promoted_at: Option<String>,
    pub created_by: String,
    pub promoted_by: Option<String>,
    pub team_id: Option<String>,
    pub project: String,
    pub rev: i64,
    pub seq: i64,
    #[serde(default)]
    pub deleted: bool,
    /// ext: the git commit a promotion named (absent for promotions without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_commit: Option<String>,
}

impl Generation {
    /// The mergeable content this record carries, in canonical form (its version as
    /// `Version` writes it); a version, status, change id or change type breaking the rules
    /// is refused.
    pub fn content(&self) -> crate::error::Result<GenerationContent> {
        let version = Version::parse(&self.version)?.to_string();
        let status = GenerationStatus::parse(&self.status)?;
        let changes = self
            .changes
            .iter()
            .map(WireChange::to_change)
            .collect::<crate::error::Result<Vec<_>>>()?;
        Ok(GenerationContent {
            version,
            description: self.description.clone(),
            pipeline_template: self.pipeline_template.clone(),
            status,
            changes,
        })
    }
}

/// A server or client id that may arrive as a number or as a string (`"100"`).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IdRef {
    Int(i64),
    Str(String),
}

impl IdRef {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            IdRef::Int(i) => Some(*i),
            IdRef::Str(s) => s.trim().parse().ok(),
        }
    }
}

/// `POST /api/v1/evolutions`: the reference client's E body. `generation_id` is the
/// generation's **server** id. The server assigns `rc` (and the `tag`) and the owner.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolutionCreate {
    pub evolution_id: String,
    pub generation_id: IdRef,
    pub change_id: String,
    #[serde(default)]
    pub code_name: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub pipeline_run_id: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub completed_at: Option<String>,
    /// Sent by the reference client; the server records the authenticated user instead.
    #[serde(default)]
    pub created_by: Option<String>,
    /// ext: the git commit the proof ran on (absent outside git and from the reference client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// ext: whether the work tree had uncommitted changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
    /// ext: the fingerprint of the change it proves (`c1:` + 32 hex); when absent the server
    /// records the change's fingerprint as it is at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// `PATCH /api/v1/evolutions/{id}`: only the owner may send it.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvolutionPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// ext: the commit the result was established on (with `dirty`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
}

/// An evolution as the server returns it (also a tombstone when `deleted` is true).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evolution {
    pub id: i64,
    pub evolution_id: String,
    /// The generation's server id, as a string (as the reference client sends it).
    pub generation_id: String,
    /// The generation's client UUID.
    pub generation_uuid: String,
    pub version: String,
    pub change_id: String,
    pub code_name: String,
    pub tag: Option<String>,
    pub rc: i64,
    pub status: String,
    pub pipeline_run_id: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub team_id: Option<String>,
    pub project: String,
    pub rev: i64,
    pub seq: i64,
    #[serde(default)]
    pub deleted: bool,
    /// ext: the git commit the proof ran on.
    #[serde(default)]
    pub commit: Option<String>,
    /// ext: whether the work tree had uncommitted changes.
    #[serde(default)]
    pub dirty: bool,
    /// ext: the fingerprint of the change it proves.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// ext: the optional body of `POST /api/v1/generations/{id}/promote` (and of the batch's
/// `promote_generation`): the commit being promoted and, per change, the proof the client
/// counted. An empty body (the reference client's) promotes under the newest-proof rule.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromoteRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proofs: Vec<PromoteProof>,
}

/// One counted proof of a [`PromoteRequest`].
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromoteProof {
    pub change_id: String,
    /// The evolution's UUID.
    pub evolution_id: String,
}

/// `{"data": {"generations": [...]}}`
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationList {
    pub generations: Vec<Generation>,
}

/// `{"data": {"evolutions": [...]}}`
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolutionList {
    pub evolutions: Vec<Evolution>,
}

/// ext: `GET /api/v1/sync/head`.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncHead {
    pub head: i64,
}

/// ext: one entry of the change feed.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "record", rename_all = "lowercase")]
pub enum FeedRecord {
    Generation(Generation),
    Evolution(Evolution),
}

impl FeedRecord {
    pub fn seq(&self) -> i64 {
        match self {
            FeedRecord::Generation(g) => g.seq,
            FeedRecord::Evolution(e) => e.seq,
        }
    }
}

/// ext: `GET /api/v1/sync/changes?since=S&limit=L`. `next` is the cursor for the following
/// page (`since=next`); when `next == head` the reader is up to date.
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncChanges {
    pub items: Vec<FeedRecord>,
    pub next: i64,
    pub head: i64,
}

impl IdRef {
    /// The id as text (`7` and `"7"` alike).
    pub fn to_text(&self) -> String {
        match self {
            IdRef::Int(i) => i.to_string(),
            IdRef::Str(s) => s.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_changes_convert_to_and_from_the_domain() {
        let w = WireChange {
            id: "FEAT-001".into(),
            change_type: "add".into(),
            title: "OAuth2 login".into(),
            description: Some("d".into()),
            status: Some("pending".into()),
            pipeline: None,
            pipelines: None,
            assignee: Some("ann".into()),
        };
        let c = w.to_change().unwrap();
        assert_eq!(c.id.as_str(), "FEAT-001");
        assert_eq!(c.change_type, ChangeType::Add);
        let back = WireChange::from(&c);
        assert_eq!(
            back,
            WireChange {
                status: None,
                ..w.clone()
            }
        );
        let bad = WireChange {
            change_type: "rewrite".into(),
            ..w.clone()
        };
        assert!(bad.to_change().is_err());
        let bad = WireChange {
            id: "not an id".into(),
            ..w
        };
        assert!(bad.to_change().is_err());
    }

    #[test]
    fn a_wire_generation_gives_its_content_in_canonical_form_or_is_refused() {
        let change = WireChange {
            id: "FEAT-001".into(),
            change_type: "add".into(),
            title: "OAuth2 login".into(),
            description: None,
            status: Some("pending".into()),
            pipeline: None,
            pipelines: None,
            assignee: None,
        };
        let g = Generation {
            id: 7,
            generation_id: "e06ea9e7-41a8-4662-87d5-b8384437c040".into(),
            version: "1.2.0".into(),
            description: Some("d".into()),
            changes: vec![change.clone()],
            pipeline_template: None,
            status: "draft".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            promoted_at: None,
            created_by: "ann".into(),
            promoted_by: None,
            team_id: None,
            project: "default".into(),
            rev: 1,
            seq: 1,
            deleted: false,
            promoted_commit: None,
        };
        let c = g.content().unwrap();
        assert_eq!(c.version, "v1.2.0");
        assert_eq!(c.status, GenerationStatus::Draft);
        assert_eq!(c.changes, vec![change.to_change().unwrap()]);
        for bad in [
            Generation {
                version: "one".into(),
                ..g.clone()
            },
            Generation {
                status: "released".into(),
                ..g.clone()
            },
            Generation {
                changes: vec![WireChange {
                    change_type: "rewrite".into(),
                    ..change
                }],
                ..g.clone()
            },
        ] {
            assert!(bad.content().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reference_bodies_parse() {
        let g = r#"{"generation_id": "e06ea9e7-41a8-4662-87d5-b8384437c040", "version": "v1.0.0",
 "description": "Release v1.0.0",
 "changes": [{"id": "FEAT-001", "type": "add", "title": "OAuth2 login", "description": null,
              "status": "pending", "pipeline": null}],
 "pipeline_template": null, "status": "draft", "sync_status": "not_synced", "remote_id": null,
 "created_at": "2026-11-22T01:51:08.262983", "promoted_at": null, "team_id": null}"#;
        let g: GenerationCreate = serde_json::from_str(g).unwrap();
        assert_eq!(g.changes[0].id, "FEAT-001");
        let e = r#"{"evolution_id": "5dc63613-4a19-47ee-b8e4-beeceeacbe74", "generation_id": "100",
 "change_id": "FEAT-001", "code_name": "clever-fiery-meadow", "tag": null, "status": "pending",
 "pipeline_run_id": null, "created_by": "local"}"#;
        let e: EvolutionCreate = serde_json::from_str(e).unwrap();
        assert_eq!(e.generation_id.as_i64(), Some(100));
    }
}
