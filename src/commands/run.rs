use crate::context::Context;
use crate::error::{CliError, Result};
use crate::ops;
use crate::pipeline::{self, OutputEvent, RunStatus, Stream};
use clap::Args;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  gryt run ci                                  # your one open evolution
  gryt run ci --evolution v1.2.0-rc.2")]
pub struct RunArgs {
    /// The pipeline: .gryt/pipelines/PIPELINE.yaml
    pub pipeline: String,
    /// The evolution this run proves (rc tag, code name or id). Default: your single
    /// evolution in progress, if there is one.
    #[arg(long)]
    pub evolution: Option<String>,
}

pub fn cmd_run(ctx: &Context, a: RunArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let pipe = pipeline::load_named(&ws.repo.root, &a.pipeline).map_err(CliError::from)?;
    let ev = ops::evolution_for_run(&ws, a.evolution.as_deref())?;
    let mut extra = Vec::new();
    if let Some(e) = &ev {
        extra.push(("GRYT_EVOLUTION_ID".to_string(), e.evolution_id.clone()));
        extra.push(("GRYT_EVOLUTION_TAG".to_string(), e.tag.clone()));
        extra.push(("GRYT_CHANGE_ID".to_string(), e.change_id.clone()));
        extra.push(("GRYT_VERSION".to_string(), e.version.clone()));
        extra.push((
            "GRYT_EVOLUTION_PROVISIONAL".to_string(),
            e.rc_provisional.to_string(),
        ));
        ctx.ui.info(&format!(
            "Proving {} ({}) with pipeline {}",
            super::render::tag_label(&ws, e),
            e.change_id,
            pipe.name
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
    // SIGINT/SIGTERM cancel the run instead of killing gryt: the signal goes to the step's
    // process group and the run is recorded as cancelled. Once it is recorded, the signals
    // act as usual again.
    let cancel = Arc::new(AtomicUsize::new(0));
    let recorded_flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let caught =
            signal_hook::flag::register_usize(signal, Arc::clone(&cancel), signal as usize)
                .and_then(|_| {
                    signal_hook::flag::register_conditional_default(
                        signal,
                        Arc::clone(&recorded_flag),
                    )
                });
        if let Err(e) = caught {
            return Err(CliError::error(format!(
                "cannot handle {}: {e}",
                pipeline::signal_name(signal)
            )));
        }
    }
    // The commit this run tests, and whether uncommitted changes are part of it.
    let tree = ops::tree_state(&ws.repo)?;
    let result = pipeline::run_until(&pipe, &ws.repo.root, &extra, &mut on_output, &cancel);
    let recorded = ops::record_run(ctx, &mut ws, &pipe, &result, ev.as_ref(), &tree);
    recorded_flag.store(true, Ordering::SeqCst);
    let recorded = recorded?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "run_id": recorded.run_id, "pipeline": pipe.name, "result": result, "evolution": recorded.evolution, "commit": tree.commit, "dirty": recorded.dirty }));
    } else {
        ctx.ui.info(&format!(
            "Pipeline {}: {} in {} ms",
            pipe.name,
            ctx.ui.status(result.status.as_str()),
            result.duration_ms
        ));
        ctx.ui.info(&match &tree.commit {
            Some(c) => format!(
                "Ran on commit {}{}",
                gryt_core::gate::short_commit(c),
                if recorded.dirty {
                    " with uncommitted changes (recorded as dirty)"
                } else {
                    ""
                }
            ),
            None => "Ran outside git: no commit recorded".to_string(),
        });
        if let Some(e) = &recorded.evolution {
            ctx.ui.info(&format!(
                "Evolution {} of {}: {}",
                super::render::tag_label(&ws, e),
                e.change_id,
                ctx.ui.status(e.status.as_str())
            ));
        }
    }
    if let Some(w) = recorded.warning {
        ctx.ui.warn(&w);
    }
    match result.status {
        RunStatus::Pass => Ok(()),
        // The failure is in the step output and the summary above: exit 1, nothing more.
        RunStatus::Fail => Err(CliError::exit(crate::error::Kind::Error)),
        RunStatus::Cancelled => {
            let signal = i32::try_from(cancel.load(Ordering::SeqCst)).unwrap_or(15);
            let (what, hint) = match &ev {
                Some(e) => (
                    format!("; evolution {} stays open", e.tag),
                    format!(
                        "run it again with `gryt run {}`, or end it with `gryt evolution cancel {}`",
                        a.pipeline, e.tag
                    ),
                ),
                None => (String::new(), format!("run it again with `gryt run {}`", a.pipeline)),
            };
            Err(CliError::new(
                crate::error::Kind::Interrupted(signal),
                format!(
                    "Pipeline {} was cancelled by {}: run {} recorded as cancelled{what}",
                    pipe.name,
                    pipeline::signal_name(signal),
                    recorded.run_id
                ),
            )
            .hint(hint))
        }
    }
}
