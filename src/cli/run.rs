use crate::context::Context;
use crate::error::{GrytError, Result};
use crate::ops;
use crate::pipeline::{self, OutputEvent, RunStatus, Stream};
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline: .gryt/pipelines/PIPELINE.yaml
    pub pipeline: String,
    /// The evolution this run proves (rc tag, code name or id). Default: your single
    /// evolution in progress, if there is one.
    #[arg(long)]
    pub evolution: Option<String>,
}

pub fn cmd_run(ctx: &Context, a: RunArgs) -> Result<i32> {
    let mut ws = ctx.open()?;
    let pipe = pipeline::load_named(&ws.repo.root, &a.pipeline).map_err(|e| GrytError {
        kind: crate::error::Kind::Error,
        message: e.message,
        hint: e.hint,
    })?;
    let ev = ops::evolution_for_run(&ws, a.evolution.as_deref())?;
    let mut extra = Vec::new();
    if let Some(e) = &ev {
        extra.push(("GRYT_EVOLUTION_ID".to_string(), e.evolution_id.clone()));
        extra.push(("GRYT_EVOLUTION_TAG".to_string(), e.tag.clone()));
        extra.push(("GRYT_CHANGE_ID".to_string(), e.change_id.clone()));
        extra.push(("GRYT_VERSION".to_string(), e.version.clone()));
        ctx.ui.info(&format!(
            "Proving {} ({}) with pipeline {}",
            e.tag, e.change_id, pipe.name
        ));
    }
    let ui = ctx.ui;
    // Step output streams as it happens: to stdout normally, to stderr under --json so
    // stdout holds only the JSON result.
    let emit = |text: &str| {
        if ui.json {
            ui.note(text);
        } else if !ui.quiet {
            ui.data(text);
        }
    };
    let mut on_output = |ev: OutputEvent| match ev {
        OutputEvent::StepStart { name, .. } => emit(&ui.paint(&format!("==> {name}"), "1")),
        // The steps' own lines keep their colours; other escapes are rendered visibly.
        OutputEvent::Line {
            stream: Stream::Stdout | Stream::Stderr,
            text,
            ..
        } => {
            if !ui.quiet {
                ui.step_output(&text, ui.json);
            }
        }
        OutputEvent::StepEnd {
            exit_code,
            status,
            duration,
            ..
        } => emit(&format!(
            "<== {} (exit {}, {} ms)",
            ui.status(status.as_str()),
            exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            duration.as_millis()
        )),
        OutputEvent::StepSkipped { name, .. } => emit(&format!("--- {name} skipped")),
    };
    let result = pipeline::run(&pipe, &ws.repo.root, &extra, &mut on_output);
    let recorded = ops::record_run(ctx, &mut ws, &pipe, &result, ev.as_ref())?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "run_id": recorded.run_id, "pipeline": pipe.name, "result": result, "evolution": recorded.evolution }));
    } else {
        ctx.ui.info(&format!(
            "Pipeline {}: {} in {} ms",
            pipe.name,
            ctx.ui.status(result.status.as_str()),
            result.duration_ms
        ));
        if let Some(e) = &recorded.evolution {
            ctx.ui.info(&format!(
                "Evolution {} of {}: {}",
                e.tag,
                e.change_id,
                ctx.ui.status(e.status.as_str())
            ));
        }
    }
    if let Some(w) = recorded.warning {
        ctx.ui.warn(&w);
    }
    Ok(if result.status == RunStatus::Pass {
        0
    } else {
        1
    })
}
