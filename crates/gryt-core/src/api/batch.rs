//! ext: `POST /api/v1/sync/batch`: several writes in one request, each answered as its
//! single route would answer it.

use super::problem::ErrorCode;
use super::records::{
    EvolutionCreate, EvolutionPatch, GenerationCreate, GenerationPatch, PromoteRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The name of one batch operation (`op`), and the single route it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchOpKind {
    /// `POST /api/v1/generations`
    CreateGeneration,
    /// `PATCH /api/v1/generations/{id}`
    UpdateGeneration,
    /// `DELETE /api/v1/generations/{id}`
    DeleteGeneration,
    /// `POST /api/v1/generations/{id}/promote`
    PromoteGeneration,
    /// `POST /api/v1/evolutions`
    CreateEvolution,
    /// `PATCH /api/v1/evolutions/{id}`
    UpdateEvolution,
    /// `DELETE /api/v1/evolutions/{id}`
    DeleteEvolution,
}

impl BatchOpKind {
    pub const ALL: [BatchOpKind; 7] = [
        BatchOpKind::CreateGeneration,
        BatchOpKind::UpdateGeneration,
        BatchOpKind::DeleteGeneration,
        BatchOpKind::PromoteGeneration,
        BatchOpKind::CreateEvolution,
        BatchOpKind::UpdateEvolution,
        BatchOpKind::DeleteEvolution,
    ];

    /// The name as written in `op`.
    pub fn name(self) -> &'static str {
        match self {
            BatchOpKind::CreateGeneration => "create_generation",
            BatchOpKind::UpdateGeneration => "update_generation",
            BatchOpKind::DeleteGeneration => "delete_generation",
            BatchOpKind::PromoteGeneration => "promote_generation",
            BatchOpKind::CreateEvolution => "create_evolution",
            BatchOpKind::UpdateEvolution => "update_evolution",
            BatchOpKind::DeleteEvolution => "delete_evolution",
        }
    }

    /// The operation named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<BatchOpKind> {
        BatchOpKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the operation names an existing record by its server `id`.
    pub fn needs_id(self) -> bool {
        !matches!(
            self,
            BatchOpKind::CreateGeneration | BatchOpKind::CreateEvolution
        )
    }

    /// Whether the operation must carry a `body` (a promotion's is optional, a delete has
    /// none).
    pub fn needs_body(self) -> bool {
        matches!(
            self,
            BatchOpKind::CreateGeneration
                | BatchOpKind::UpdateGeneration
                | BatchOpKind::CreateEvolution
                | BatchOpKind::UpdateEvolution
        )
    }
}

impl std::fmt::Display for BatchOpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// ext: one operation of `POST /api/v1/sync/batch`. `B` is the body's type: a JSON tree
/// where the operation is read generically (the server's dispatch, tests), a
/// [`BatchBody`] where a client builds it from typed requests (serialised once, with the
/// request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "B: Deserialize<'de>"))]
pub struct BatchOp<B = Value> {
    pub op: BatchOpKind,
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
    pub body: Option<B>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "B: Deserialize<'de>"))]
pub struct BatchRequest<B = Value> {
    pub operations: Vec<BatchOp<B>>,
}

/// The typed body of a batch operation, written as the body of the single route it stands
/// for (no tag of its own: the operation's `op` names it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BatchBody {
    CreateGeneration(GenerationCreate),
    UpdateGeneration(GenerationPatch),
    PromoteGeneration(PromoteRequest),
    CreateEvolution(EvolutionCreate),
    UpdateEvolution(EvolutionPatch),
}

impl BatchBody {
    /// The operation this body belongs to.
    pub fn kind(&self) -> BatchOpKind {
        match self {
            BatchBody::CreateGeneration(_) => BatchOpKind::CreateGeneration,
            BatchBody::UpdateGeneration(_) => BatchOpKind::UpdateGeneration,
            BatchBody::PromoteGeneration(_) => BatchOpKind::PromoteGeneration,
            BatchBody::CreateEvolution(_) => BatchOpKind::CreateEvolution,
            BatchBody::UpdateEvolution(_) => BatchOpKind::UpdateEvolution,
        }
    }
}

/// The outcome of one batch operation: the status and body the single route would answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub status: u16,
    pub body: Value,
}

impl BatchResult {
    /// Whether the operation succeeded (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The answer's `data` (the record a success carries), if any.
    pub fn data(&self) -> Option<&Value> {
        self.body.get("data")
    }

    /// The typed `code` of an error answer ([`ErrorCode::Unknown`] when it has none, or one
    /// this build does not know).
    pub fn code(&self) -> ErrorCode {
        self.body
            .get("code")
            .and_then(Value::as_str)
            .map_or(ErrorCode::Unknown, ErrorCode::parse)
    }

    /// The `detail` of an error answer, for people.
    pub fn detail(&self) -> &str {
        self.body
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("no detail")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub results: Vec<BatchResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_names_are_their_serde_names() {
        for k in BatchOpKind::ALL {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.name())
            );
            assert_eq!(BatchOpKind::from_name(k.name()), Some(k));
        }
        assert_eq!(BatchOpKind::from_name("drop_table"), None);
    }

    #[test]
    fn a_typed_body_is_written_as_its_route_body_and_reads_back_generically() {
        let patch = EvolutionPatch {
            status: Some("pass".into()),
            pipeline_run_id: None,
            started_at: None,
            completed_at: Some("2026-01-01T00:00:00Z".into()),
            commit: None,
            dirty: Some(false),
        };
        let typed = BatchOp {
            op: BatchOpKind::UpdateEvolution,
            id: Some(7),
            if_match: Some(2),
            idempotency_key: Some("k".into()),
            body: Some(BatchBody::UpdateEvolution(patch.clone())),
        };
        assert_eq!(typed.body.as_ref().map(BatchBody::kind), Some(typed.op));
        let text = serde_json::to_string(&BatchRequest {
            operations: vec![typed],
        })
        .unwrap();
        // The body is the single route's body, untagged, written once with the request.
        assert_eq!(
            text,
            format!(
                r#"{{"operations":[{{"op":"update_evolution","id":7,"if_match":2,"idempotency_key":"k","body":{}}}]}}"#,
                serde_json::to_string(&patch).unwrap()
            )
        );
        let back: BatchRequest = serde_json::from_str(&text).unwrap();
        assert_eq!(back.operations[0].op, BatchOpKind::UpdateEvolution);
        assert_eq!(
            back.operations[0].body,
            Some(serde_json::to_value(&patch).unwrap())
        );
    }

    #[test]
    fn a_result_reads_its_code_detail_and_data() {
        let refused = BatchResult {
            status: 409,
            body: serde_json::json!({"code": "idempotency_in_flight", "detail": "still running"}),
        };
        assert!(!refused.is_success());
        assert_eq!(refused.code(), ErrorCode::IdempotencyInFlight);
        assert_eq!(refused.detail(), "still running");
        let odd = BatchResult {
            status: 500,
            body: serde_json::json!({"code": "brand_new"}),
        };
        assert_eq!(odd.code(), ErrorCode::Unknown);
        assert_eq!(odd.detail(), "no detail");
        let done = BatchResult {
            status: 201,
            body: serde_json::json!({"data": {"id": 1}}),
        };
        assert!(done.is_success());
        assert_eq!(done.data(), Some(&serde_json::json!({"id": 1})));
        assert_eq!(done.code(), ErrorCode::Unknown);
    }
}
