//! ext: `POST /api/v1/sync/batch`: several writes in one request, each answered as its
//! single route would answer it.

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

/// ext: one operation of `POST /api/v1/sync/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOp {
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

/// The batch request with `op` as free text, as `gryt_core::wire` spelled it before the
/// names were typed; kept only until the CLI builds [`BatchOp`] (its bytes are the same).
pub mod untyped {
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct BatchOp {
        pub op: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub if_match: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub idempotency_key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub body: Option<Value>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct BatchRequest {
        pub operations: Vec<BatchOp>,
    }
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
    fn typed_and_untyped_ops_encode_alike() {
        let typed = BatchOp {
            op: BatchOpKind::PromoteGeneration,
            id: Some(7),
            if_match: Some(2),
            idempotency_key: Some("k".into()),
            body: None,
        };
        let untyped = untyped::BatchOp {
            op: "promote_generation".into(),
            id: Some(7),
            if_match: Some(2),
            idempotency_key: Some("k".into()),
            body: None,
        };
        assert_eq!(
            serde_json::to_string(&typed).unwrap(),
            serde_json::to_string(&untyped).unwrap()
        );
    }
}
