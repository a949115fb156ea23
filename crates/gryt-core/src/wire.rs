//! Wire types shared by the CLI and the server (the Gryt Cloud API v1 and its extensions).
//!
//! Request types are lenient: unknown fields are ignored (the reference client leaks its own
//! bookkeeping such as `sync_status` and `remote_id` into bodies). Response types carry every
//! field the reference client reads plus the extensions (`rev`, `seq`, `deleted`, `project`).
//! See docs/api.md for the routes that use them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `{"data": ...}` envelope every successful response uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Data<T> {
    pub data: T,
}

/// The error body of every non-2xx response: RFC 9457 problem+json fields plus `detail`,
/// which the reference client shows. Optional members carry machine-readable context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable machine-readable kind: `invalid`, `not_found`, `already_exists`, `immutable`,
    /// `already_promoted`, `gate_failed`, `forbidden`, `stale`, `unauthorized`,
    /// `idempotency_mismatch`, `idempotency_in_flight`, `too_large`, `malformed`, ...
    #[serde(default)]
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// On 412: the record as the server holds it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Value>,
}

/// One change of a generation as it travels on the wire.
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

/// `POST /api/v1/generations`: the reference client's G body.
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
}

/// A server or client id that may arrive as a number or as a string (`"100"`).
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
}

/// `PATCH /api/v1/evolutions/{id}`: only the owner may send it.
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
}

/// An evolution as the server returns it (also a tombstone when `deleted` is true).
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
}

/// `{"data": {"generations": [...]}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationList {
    pub generations: Vec<Generation>,
}

/// `{"data": {"evolutions": [...]}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolutionList {
    pub evolutions: Vec<Evolution>,
}

/// ext: `GET /api/v1/sync/head`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncHead {
    pub head: i64,
}

/// ext: one entry of the change feed.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncChanges {
    pub items: Vec<FeedRecord>,
    pub next: i64,
    pub head: i64,
}

/// ext: one operation of `POST /api/v1/sync/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOp {
    /// `create_generation`, `update_generation`, `delete_generation`, `promote_generation`,
    /// `create_evolution`, `update_evolution`, `delete_evolution`.
    pub op: String,
    /// The server id of the record for update, delete and promote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The `rev` this write is based on (as `If-Match`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_match: Option<i64>,
    /// As the `Idempotency-Key` header of the single route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub operations: Vec<BatchOp>,
}

/// The outcome of one batch operation: the status and body the single route would answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub status: u16,
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub results: Vec<BatchResult>,
}

/// `POST /api/v1/accounts/create`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignupRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/accounts/change-password`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /api/v1/api-keys`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyCreate {
    pub name: String,
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// An API key as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub key_id: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// The answer to `POST /api/v1/api-keys`: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyCreated {
    pub key_id: String,
    pub secret: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// `POST /api/v1/teams`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamCreate {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub team_id: String,
    pub name: String,
    pub description: Option<String>,
    pub member_count: i64,
    pub owner: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamMember {
    pub username: String,
    pub role: String,
    pub added_at: String,
}

/// `POST /api/v1/teams/{id}/members`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberAdd {
    pub username: String,
}

/// `POST /api/v1/pipeline-runs`: a run with its runners and step outputs, typed field by
/// field so that a large run is read straight into strings (free JSON such as
/// `config_json` and `output_json` stays raw text, never a tree). Fields outside these are
/// not stored. Limits: [`crate::limits`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineRunPush {
    pub pipeline_run: PipelineRun,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub runners: Vec<PipelineRunner>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub step_outputs: Vec<StepOutput>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

type Raw = Option<Box<serde_json::value::RawValue>>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineRun {
    pub pipeline_id: IdRef,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub start_timestamp: Option<String>,
    #[serde(default)]
    pub end_timestamp: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Any JSON (the reference client sends a JSON string).
    #[serde(default)]
    pub config_json: Raw,
    #[serde(default)]
    pub team_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineRunner {
    #[serde(default)]
    pub runner_id: Option<String>,
    #[serde(default)]
    pub pipeline_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// A number as the reference client sends it (kept as sent, at most 64 bytes).
    #[serde(default)]
    pub execution_order: Raw,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepOutput {
    #[serde(default)]
    pub step_id: Option<String>,
    #[serde(default)]
    pub runner_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Any JSON (the reference client sends a JSON string).
    #[serde(default)]
    pub output_json: Raw,
    #[serde(default)]
    pub stdout: Option<String>,
    #[serde(default)]
    pub stderr: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Seconds as the reference client sends it (kept as sent, at most 64 bytes).
    #[serde(default)]
    pub duration: Raw,
    #[serde(default)]
    pub timestamp: Option<String>,
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
