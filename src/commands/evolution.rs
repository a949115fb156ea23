use crate::context::Context;
use crate::context::Workspace;
use crate::error::Result;
use crate::ops;
use crate::store::EvolutionRecord;
use crate::ui::table::Cell;
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum EvolutionCommand {
    /// Start proving a change of a draft generation (numbered rc.N).
    #[command(
        after_long_help = "Examples:\n  gryt evolution start v1.2.0 --change FEAT-101\n  gryt run ci                      # prove it with .gryt/pipelines/ci.yaml"
    )]
    Start(StartArgs),
    /// List evolutions, of one generation or of all.
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show one evolution (by rc tag v1.2.0-rc.2, code name or id) and its runs.
    Show(IdArg),
    /// Record the result of an evolution proven outside gryt (e.g. by a CI system).
    #[command(
        after_long_help = "Examples:\n  gryt evolution complete v1.2.0-rc.1 --status pass\n  gryt evolution complete \"$GRYT_EVOLUTION_ID\" --status fail"
    )]
    Complete(CompleteArgs),
    /// End an open evolution of yours as cancelled: final, proves nothing; start a new one to
    /// prove the change.
    Cancel(IdArg),
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The generation's version.
    pub version: String,
    /// The change this evolution proves, e.g. FEAT-101.
    #[arg(long, value_name = "ID")]
    pub change: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the evolutions of this generation (default: all).
    pub version: Option<String>,
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// rc tag (v1.2.0-rc.2), code name or id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// rc tag (v1.2.0-rc.2), code name or id.
    pub id: String,
    /// The result the outside system found.
    #[arg(long, value_parser = ["pass", "fail"])]
    pub status: String,
}

pub fn dispatch(ctx: &Context, cmd: EvolutionCommand) -> Result<()> {
    match cmd {
        EvolutionCommand::Start(a) => cmd_start(ctx, a),
        EvolutionCommand::List(a) => cmd_list(ctx, a),
        EvolutionCommand::Show(a) => cmd_show(ctx, a),
        EvolutionCommand::Complete(a) => cmd_complete(ctx, a),
        EvolutionCommand::Cancel(a) => cmd_cancel(ctx, a),
    }
}

fn cmd_cancel(ctx: &Context, a: IdArg) -> Result<()> {
    let mut ws = ctx.open()?;
    let ev = ops::cancel_evolution(ctx, &mut ws, &a.id)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "evolution": ev }));
    } else {
        ctx.ui.info(&format!(
            "Evolution {} of {}: {}",
            super::render::tag_label(&ws, &ev),
            ev.change_id,
            ctx.ui.status(ev.status.as_str())
        ));
        ctx.ui.info(&format!(
            "Next: prove {} with a new evolution: `gryt evolution start {} --change {}`.",
            ev.change_id, ev.version, ev.change_id
        ));
    }
    Ok(())
}

fn cmd_start(ctx: &Context, a: StartArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let ev = ops::start_evolution(ctx, &mut ws, &a.version, &a.change)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "evolution": ev }));
    } else {
        ctx.ui.info(&format!(
            "Started evolution {} ({}) for {}, owned by {}",
            super::render::tag_label(&ws, &ev),
            ev.code_name,
            ev.change_id,
            ev.owner
        ));
        ctx.ui.info("Next: prove it with `gryt run PIPELINE`, or record an outside result with `gryt evolution complete`.");
    }
    Ok(())
}

fn print_evolutions(ctx: &Context, ws: &Workspace, evs: &[EvolutionRecord]) {
    let mut t = ctx
        .ui
        .table(&["Tag", "Change", "Status", "Owner", "Code name", "Started"]);
    let now = ctx.env.now();
    for e in evs {
        t.add_row(vec![
            Cell::new(super::render::tag_label(ws, e)),
            Cell::new(e.change_id.clone()),
            ctx.ui.status_cell(e.status.as_str()),
            Cell::new(e.owner.clone()),
            Cell::new(e.code_name.clone()),
            Cell::new(ctx.ui.when(&e.started_at, now)),
        ]);
    }
    ctx.ui.print_table(&t);
}

fn cmd_list(ctx: &Context, a: ListArgs) -> Result<()> {
    let ws = ctx.open()?;
    let gen_id = match &a.version {
        Some(v) => Some(ws.generation(v)?.generation_id),
        None => None,
    };
    let evs = ws.evolutions(gen_id.as_deref())?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "evolutions": evs }));
    } else if evs.is_empty() {
        ctx.ui
            .info("No evolutions yet. Start one with `gryt evolution start VERSION --change ID`.");
    } else {
        print_evolutions(ctx, &ws, &evs);
    }
    Ok(())
}

fn cmd_show(ctx: &Context, a: IdArg) -> Result<()> {
    let ws = ctx.open()?;
    let ev = ws.evolution(&a.id)?;
    let runs = ws.runs(&ev.evolution_id)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "evolution": ev, "runs": runs }));
        return Ok(());
    }
    let ui = &ctx.ui;
    ui.page();
    let now = ctx.env.now();
    ui.data(&format!(
        "Evolution {} ({})",
        super::render::tag_label(&ws, &ev),
        ev.code_name
    ));
    ui.data(&format!("Change:    {}", ev.change_id));
    ui.data(&format!("Status:    {}", ui.status(ev.status.as_str())));
    ui.data(&format!("Owner:     {}", ev.owner));
    ui.data(&format!(
        "Started:   {} ({})",
        ev.started_at,
        ui.when(&ev.started_at, now)
    ));
    if let Some(c) = &ev.completed_at {
        ui.data(&format!("Completed: {c} ({})", ui.when(c, now)));
    }
    ui.data(&format!(
        "Commit:    {}",
        match &ev.commit {
            Some(c) if ev.dirty => format!("{c} (dirty tree)"),
            Some(c) => c.clone(),
            None => "none (outside git)".to_string(),
        }
    ));
    if let Some(f) = &ev.fingerprint {
        ui.data(&format!("Proves:    {} {f}", ev.change_id));
    }
    ui.data(&format!("Id:        {}", ev.evolution_id));
    ui.data(&format!("Sync:      {}", ui.status(&ev.sync_status)));
    for r in &runs {
        ui.data(&format!(
            "Run {} of pipeline {}: {} in {} ms",
            r.run_id,
            r.pipeline,
            ui.status(&r.status),
            r.duration_ms
        ));
        for s in &r.steps {
            ui.data(&format!(
                "  {:<20} {:<9} exit {}",
                s.name,
                ui.status(&s.status),
                s.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into())
            ));
        }
    }
    Ok(())
}

fn cmd_complete(ctx: &Context, a: CompleteArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let ev = ops::complete_evolution(ctx, &mut ws, &a.id, &a.status)?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "evolution": ev }));
    } else {
        ctx.ui.info(&format!(
            "Evolution {} of {}: {}",
            ev.tag,
            ev.change_id,
            ctx.ui.status(ev.status.as_str())
        ));
    }
    Ok(())
}
