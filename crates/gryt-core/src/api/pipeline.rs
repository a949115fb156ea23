//! Pipeline runs: `POST /api/v1/pipeline-runs` and `GET /api/v1/pipeline-runs/{pipeline_id}`.

use super::IdRef;
use serde::{Deserialize, Serialize};

/// `POST /api/v1/pipeline-runs`: a run with its runners and step outputs, typed field by
/// field so that a large run is read straight into strings (free JSON such as
/// `config_json` and `output_json` stays raw text, never a tree). Fields outside these are
/// not stored. Limits: [`crate::limits`].
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
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

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
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
    #[cfg_attr(feature = "openapi", schemars(with = "Option<serde_json::Value>"))]
    pub config_json: Raw,
    #[serde(default)]
    pub team_id: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
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
    #[cfg_attr(feature = "openapi", schemars(with = "Option<serde_json::Value>"))]
    pub execution_order: Raw,
    #[serde(default)]
    pub status: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
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
    #[cfg_attr(feature = "openapi", schemars(with = "Option<serde_json::Value>"))]
    pub output_json: Raw,
    #[serde(default)]
    pub stdout: Option<String>,
    #[serde(default)]
    pub stderr: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Seconds as the reference client sends it (kept as sent, at most 64 bytes).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schemars(with = "Option<serde_json::Value>"))]
    pub duration: Raw,
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// The answer to `POST /api/v1/pipeline-runs` (in a `Data`).
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRunStored {
    pub id: i64,
    pub pipeline_id: String,
}
