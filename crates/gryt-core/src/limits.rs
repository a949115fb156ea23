//! Size limits of every field and record that travels to the server: one definition, used
//! by the server (which enforces them: 422 for a field, 413 for a whole record) and
//! available to the CLI to check before sending. docs/api.md ("Limits") lists them.
//!
//! Text limits count characters (Unicode scalar values); record limits count the bytes of
//! the record as the server answers it (compact JSON). The numbers keep one change-feed
//! page bounded: see [`FEED_PAGE_BYTES`].

use crate::api::{
    ApiKeyCreate, EvolutionCreate, EvolutionPatch, GenerationCreate, GenerationPatch, MemberAdd,
    PipelineRunPush, TeamCreate, WireChange,
};
use crate::error::{CoreError, Result};

/// A version string (`v1.2.3-rc.1+build`).
pub const VERSION: usize = 128;
/// A generation's description.
pub const GENERATION_DESCRIPTION: usize = 10_000;
/// `pipeline_template` of a generation.
pub const PIPELINE_TEMPLATE: usize = 200;
/// Timestamps sent by a client (`created_at`, `started_at`, `completed_at`, ...).
pub const TIMESTAMP: usize = 64;
/// A team id, a user name, an author name (`created_by`), an assignee.
pub const NAME: usize = 100;
/// A status word (`pending`, `passed`, ...).
pub const STATUS: usize = 32;
/// A change id (`FEAT-101`); the change id rule itself allows 64.
pub const CHANGE_ID: usize = 64;
/// A change's title.
pub const CHANGE_TITLE: usize = 500;
/// A change's description.
pub const CHANGE_DESCRIPTION: usize = 10_000;
/// A change's `pipeline` and `pipelines` (free JSON), in bytes as encoded.
pub const CHANGE_PIPELINES_BYTES: usize = 4_096;
/// Changes in one generation.
pub const CHANGES: usize = crate::generation::MAX_CHANGES;
/// A whole generation record as answered (compact JSON bytes).
pub const GENERATION_RECORD_BYTES: usize = 64 * 1024;
/// An evolution's code name and tag.
pub const CODE_NAME: usize = 100;
/// A pipeline id, a runner id, a step id, a pipeline run id named by an evolution.
pub const RUN_ID: usize = 200;
/// A pipeline, runner or step name.
pub const RUN_NAME: usize = 200;
/// A pipeline run's `config_json` and a step's `output_json` (any JSON), in bytes as sent.
pub const RUN_JSON_BYTES: usize = 64 * 1024;
/// A step's `stdout` and `stderr` each.
pub const STEP_OUTPUT: usize = 1024 * 1024;
/// A runner's `execution_order` and a step's `duration` (a number, kept as sent), in bytes.
pub const SCALAR_BYTES: usize = 64;
/// Runners in one pipeline run.
pub const RUNNERS: usize = 100;
/// Step outputs in one pipeline run.
pub const STEPS: usize = 1_000;
/// A whole pipeline run as stored (compact JSON bytes).
pub const PIPELINE_RUN_BYTES: usize = 8 * 1024 * 1024;
/// A team's name.
pub const TEAM_NAME: usize = 100;
/// A team's description.
pub const TEAM_DESCRIPTION: usize = 1_000;
/// An API key's name.
pub const API_KEY_NAME: usize = 100;
/// A project name.
pub const PROJECT: usize = 100;
/// Records per change-feed page (`limit` at most this).
pub const FEED_PAGE_RECORDS: usize = 1_000;
/// The records of one change-feed page stop at this many bytes (a page always holds at
/// least one record): a page is at most this plus one record, far below the client's
/// 64 MiB answer cap whatever `limit` asks for.
pub const FEED_PAGE_BYTES: usize = 16 * 1024 * 1024;

// Checked when compiling: a feed page (records up to FEED_PAGE_BYTES, then at most one
// more) stays at a quarter of the client's 64 MiB answer cap, and a batch's answer (at most
// 500 records) at half of it.
const _: () = assert!((FEED_PAGE_BYTES + GENERATION_RECORD_BYTES) * 3 < 64 * 1024 * 1024);
const _: () = assert!(500 * GENERATION_RECORD_BYTES <= 32 * 1024 * 1024);

/// `field` may be at most `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<()> {
    // Counting stops early: a huge value costs no more than `max` steps.
    if value.len() > max && value.chars().nth(max).is_some() {
        return Err(CoreError::invalid(format!(
            "{field} may be at most {max} characters"
        )));
    }
    Ok(())
}

/// As [`text`], for an optional field.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<()> {
    match value {
        Some(v) => text(field, v, max),
        None => Ok(()),
    }
}

/// `field` may hold at most `max` items.
pub fn items(field: &str, len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(CoreError::invalid(format!(
            "{field} may hold at most {max} items"
        )));
    }
    Ok(())
}

/// `field` (free JSON) may be at most `max` bytes encoded.
pub fn json_bytes(field: &str, value: &impl serde::Serialize, max: usize) -> Result<()> {
    let n = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if n > max {
        return Err(CoreError::invalid(format!(
            "{field} may be at most {max} bytes of JSON"
        )));
    }
    Ok(())
}

/// The message for a whole record over its limit (the server answers it with 413).
pub fn record_too_large(what: &str, bytes: usize, max: usize) -> String {
    format!("The {what} would be {bytes} bytes; a {what} may be at most {max} bytes")
}

impl WireChange {
    /// Every field of the change at position `i` (named `changes[i].field`).
    pub fn check_limits(&self, i: usize) -> Result<()> {
        let f = |name: &str| format!("changes[{i}].{name}");
        text(&f("id"), &self.id, CHANGE_ID)?;
        text(&f("type"), &self.change_type, STATUS)?;
        text(&f("title"), &self.title, CHANGE_TITLE)?;
        opt_text(
            &f("description"),
            self.description.as_deref(),
            CHANGE_DESCRIPTION,
        )?;
        opt_text(&f("status"), self.status.as_deref(), STATUS)?;
        opt_text(&f("assignee"), self.assignee.as_deref(), NAME)?;
        if let Some(p) = &self.pipeline {
            json_bytes(&f("pipeline"), p, CHANGE_PIPELINES_BYTES)?;
        }
        if let Some(p) = &self.pipelines {
            json_bytes(&f("pipelines"), p, CHANGE_PIPELINES_BYTES)?;
        }
        Ok(())
    }
}

fn changes(list: &[WireChange]) -> Result<()> {
    if list.len() > CHANGES {
        return Err(CoreError::invalid(format!(
            "changes: a generation may hold at most {CHANGES} changes"
        )));
    }
    list.iter()
        .enumerate()
        .try_for_each(|(i, c)| c.check_limits(i))
}

impl GenerationCreate {
    pub fn check_limits(&self) -> Result<()> {
        text("generation_id", &self.generation_id, NAME)?;
        text("version", &self.version, VERSION)?;
        opt_text(
            "description",
            self.description.as_deref(),
            GENERATION_DESCRIPTION,
        )?;
        changes(&self.changes)?;
        opt_text(
            "pipeline_template",
            self.pipeline_template.as_deref(),
            PIPELINE_TEMPLATE,
        )?;
        opt_text("status", self.status.as_deref(), STATUS)?;
        opt_text("created_at", self.created_at.as_deref(), TIMESTAMP)?;
        opt_text("team_id", self.team_id.as_deref(), NAME)?;
        opt_text("project", self.project.as_deref(), PROJECT)
    }
}

impl GenerationPatch {
    pub fn check_limits(&self) -> Result<()> {
        opt_text("generation_id", self.generation_id.as_deref(), NAME)?;
        opt_text("version", self.version.as_deref(), VERSION)?;
        opt_text(
            "description",
            self.description.as_deref(),
            GENERATION_DESCRIPTION,
        )?;
        if let Some(c) = &self.changes {
            changes(c)?;
        }
        opt_text(
            "pipeline_template",
            self.pipeline_template.as_deref(),
            PIPELINE_TEMPLATE,
        )?;
        opt_text("status", self.status.as_deref(), STATUS)
    }
}

impl EvolutionCreate {
    pub fn check_limits(&self) -> Result<()> {
        text("evolution_id", &self.evolution_id, NAME)?;
        if let crate::api::IdRef::Str(s) = &self.generation_id {
            text("generation_id", s, NAME)?;
        }
        text("change_id", &self.change_id, CHANGE_ID)?;
        opt_text("code_name", self.code_name.as_deref(), CODE_NAME)?;
        opt_text("tag", self.tag.as_deref(), CODE_NAME)?;
        opt_text("status", self.status.as_deref(), STATUS)?;
        opt_text("pipeline_run_id", self.pipeline_run_id.as_deref(), RUN_ID)?;
        opt_text("started_at", self.started_at.as_deref(), TIMESTAMP)?;
        opt_text("completed_at", self.completed_at.as_deref(), TIMESTAMP)?;
        opt_text("created_by", self.created_by.as_deref(), NAME)
    }
}

impl EvolutionPatch {
    pub fn check_limits(&self) -> Result<()> {
        opt_text("status", self.status.as_deref(), STATUS)?;
        opt_text("pipeline_run_id", self.pipeline_run_id.as_deref(), RUN_ID)?;
        opt_text("started_at", self.started_at.as_deref(), TIMESTAMP)?;
        opt_text("completed_at", self.completed_at.as_deref(), TIMESTAMP)
    }
}

impl TeamCreate {
    pub fn check_limits(&self) -> Result<()> {
        text("name", &self.name, TEAM_NAME)?;
        opt_text("description", self.description.as_deref(), TEAM_DESCRIPTION)
    }
}

impl ApiKeyCreate {
    pub fn check_limits(&self) -> Result<()> {
        text("name", &self.name, API_KEY_NAME)
    }
}

impl MemberAdd {
    pub fn check_limits(&self) -> Result<()> {
        text("username", &self.username, NAME)
    }
}

impl PipelineRunPush {
    /// Every field of a pipeline run push; the whole record's size is the server's check.
    pub fn check_limits(&self) -> Result<()> {
        let r = &self.pipeline_run;
        text("pipeline_run.pipeline_id", &r.pipeline_id.to_text(), RUN_ID)?;
        opt_text("pipeline_run.name", r.name.as_deref(), RUN_NAME)?;
        opt_text(
            "pipeline_run.start_timestamp",
            r.start_timestamp.as_deref(),
            TIMESTAMP,
        )?;
        opt_text(
            "pipeline_run.end_timestamp",
            r.end_timestamp.as_deref(),
            TIMESTAMP,
        )?;
        opt_text("pipeline_run.status", r.status.as_deref(), STATUS)?;
        if let Some(c) = &r.config_json {
            raw_bytes("pipeline_run.config_json", c, RUN_JSON_BYTES)?;
        }
        opt_text("pipeline_run.team_id", r.team_id.as_deref(), NAME)?;
        items("runners", self.runners.len(), RUNNERS)?;
        for (i, x) in self.runners.iter().enumerate() {
            let f = |n: &str| format!("runners[{i}].{n}");
            opt_text(&f("runner_id"), x.runner_id.as_deref(), RUN_ID)?;
            opt_text(&f("pipeline_id"), x.pipeline_id.as_deref(), RUN_ID)?;
            opt_text(&f("name"), x.name.as_deref(), RUN_NAME)?;
            if let Some(o) = &x.execution_order {
                raw_bytes(&f("execution_order"), o, SCALAR_BYTES)?;
            }
            opt_text(&f("status"), x.status.as_deref(), STATUS)?;
        }
        items("step_outputs", self.step_outputs.len(), STEPS)?;
        for (i, s) in self.step_outputs.iter().enumerate() {
            let f = |n: &str| format!("step_outputs[{i}].{n}");
            opt_text(&f("step_id"), s.step_id.as_deref(), RUN_ID)?;
            opt_text(&f("runner_id"), s.runner_id.as_deref(), RUN_ID)?;
            opt_text(&f("name"), s.name.as_deref(), RUN_NAME)?;
            if let Some(o) = &s.output_json {
                raw_bytes(&f("output_json"), o, RUN_JSON_BYTES)?;
            }
            opt_text(&f("stdout"), s.stdout.as_deref(), STEP_OUTPUT)?;
            opt_text(&f("stderr"), s.stderr.as_deref(), STEP_OUTPUT)?;
            opt_text(&f("status"), s.status.as_deref(), STATUS)?;
            if let Some(d) = &s.duration {
                raw_bytes(&f("duration"), d, SCALAR_BYTES)?;
            }
            opt_text(&f("timestamp"), s.timestamp.as_deref(), TIMESTAMP)?;
        }
        Ok(())
    }
}

fn raw_bytes(field: &str, v: &serde_json::value::RawValue, max: usize) -> Result<()> {
    if v.get().len() > max {
        return Err(CoreError::invalid(format!(
            "{field} may be at most {max} bytes of JSON"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts_characters_not_bytes() {
        assert!(text("t", &"é".repeat(5), 5).is_ok());
        let e = text("changes[0].title", &"é".repeat(6), 5).unwrap_err();
        assert_eq!(e.message, "changes[0].title may be at most 5 characters");
        assert!(text("t", "", 0).is_ok());
    }

    #[test]
    fn change_fields_are_named() {
        let c = WireChange {
            id: "FEAT-1".into(),
            change_type: "add".into(),
            title: "t".into(),
            description: None,
            status: None,
            pipeline: None,
            pipelines: None,
            assignee: Some("a".repeat(NAME + 1)),
        };
        let e = c.check_limits(3).unwrap_err();
        assert!(
            e.message.starts_with("changes[3].assignee"),
            "{}",
            e.message
        );
    }
}
