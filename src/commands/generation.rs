use crate::context::Context;
use crate::error::{CliError, Result};
use crate::ops;
use crate::store::{EvolutionRecord, GenerationRecord};
use crate::ui::plural;
use crate::ui::table::Cell;
use clap::{Args, Subcommand};
use gryt_core::generation::ensure_draft;
use gryt_core::GateReport;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum GenerationCommand {
    /// Create a draft generation (1.2.0 and v1.2.0 both store v1.2.0).
    #[command(
        after_long_help = "Examples:\n  gryt generation new v1.2.0 -d \"Spring release\"\n  gryt generation new 2.0.0-rc.1"
    )]
    New(NewArgs),
    /// List generations in version order.
    #[command(visible_alias = "ls")]
    List,
    /// Show a generation, its changes and their proof.
    #[command(
        after_long_help = "Examples:\n  gryt generation show v1.2.0\n  gryt generation show v1.2.0 --json"
    )]
    Show(VersionArg),
    /// Re-read .gryt/generations/VERSION.yaml after you edited it.
    Update(VersionArg),
    /// Write the contract file .gryt/generations/VERSION.yaml (every generation's, without
    /// VERSION) from the database, e.g. for a generation that came from a pull.
    Export(ExportArgs),
    /// Open the contract in $EDITOR, then update.
    Edit(VersionArg),
    /// Add a change to a draft.
    #[command(
        after_long_help = "Examples:\n  gryt generation add-change v1.2.0 --change FEAT-101 --type add --title \"OAuth2 login\"\n  gryt generation add-change v1.2.0 --change BUG-7 --type fix --title \"Session timeout\" --description \"Sessions ended after 5 minutes\""
    )]
    AddChange(AddChangeArgs),
    /// Remove a change from a draft.
    #[command(after_long_help = "Example:\n  gryt generation remove-change v1.2.0 --change BUG-7")]
    RemoveChange(RemoveChangeArgs),
    /// Give a draft another version.
    Rename(RenameArgs),
    /// Delete a draft.
    Delete(DeleteArgs),
    /// Promote a generation (same as `gryt promote`).
    Promote(super::promote::PromoteArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The version, e.g. v1.2.0 or 1.2.0-rc.1.
    pub version: String,
    /// What this release is about.
    #[arg(short, long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct VersionArg {
    /// The generation's version, e.g. v1.2.0 (the leading v is optional).
    pub version: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The generation to export (default: every generation).
    pub version: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddChangeArgs {
    /// The draft generation's version.
    pub version: String,
    /// The change id, e.g. FEAT-101 (capital letters and digits, a dash, a number).
    #[arg(long = "change", alias = "id", value_name = "ID")]
    pub change: String,
    /// What kind of change it is.
    #[arg(long = "type", value_name = "TYPE", value_parser = super::listed(gryt_core::ChangeType::ALL.map(|t| t.as_str())))]
    pub change_type: String,
    /// A one-line title.
    #[arg(long)]
    pub title: String,
    /// A longer description.
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveChangeArgs {
    /// The draft generation's version.
    pub version: String,
    /// The change id to remove, e.g. FEAT-101.
    #[arg(
        long = "change",
        value_name = "ID",
        required_unless_present = "id",
        conflicts_with = "id"
    )]
    pub change: Option<String>,
    /// The change id as a second argument (the older spelling of --change).
    #[arg(value_name = "ID", hide = true)]
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The draft's current version.
    pub old: String,
    /// Its new version.
    pub new: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The draft's version.
    pub version: String,
    /// Delete only the local copy, never the cloud's.
    #[arg(long)]
    pub local_only: bool,
}

pub fn dispatch(ctx: &Context, cmd: GenerationCommand) -> Result<()> {
    match cmd {
        GenerationCommand::New(a) => cmd_new(ctx, a),
        GenerationCommand::List => cmd_list(ctx),
        GenerationCommand::Show(a) => cmd_show(ctx, a),
        GenerationCommand::Update(a) => cmd_update(ctx, a),
        GenerationCommand::Export(a) => cmd_export(ctx, a),
        GenerationCommand::Edit(a) => cmd_edit(ctx, a),
        GenerationCommand::AddChange(a) => cmd_add_change(ctx, a),
        GenerationCommand::RemoveChange(a) => cmd_remove_change(ctx, a),
        GenerationCommand::Rename(a) => cmd_rename(ctx, a),
        GenerationCommand::Delete(a) => cmd_delete(ctx, a),
        GenerationCommand::Promote(a) => super::promote::cmd_promote(ctx, a),
    }
}

fn report_saved(ctx: &Context, rec: &GenerationRecord, what: &str) {
    if ctx.ui.json {
        ctx.ui.json(&json!({ "generation": rec }));
    } else {
        ctx.ui.info(what);
    }
}

fn cmd_new(ctx: &Context, a: NewArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let rec = ops::create_generation(ctx, &mut ws, &a.version, a.description)?;
    report_saved(
        ctx,
        &rec,
        &format!("Created generation {} (draft)", rec.version),
    );
    ctx.ui.info(&format!(
        "Next: add changes with `gryt generation add-change {} --change FEAT-1 --type add --title \"...\"` or edit {}",
        rec.version,
        ws.repo.generation_file(&rec.version).display()
    ));
    Ok(())
}

fn cmd_list(ctx: &Context) -> Result<()> {
    let ws = ctx.open()?;
    let list = ws.generations()?;
    if ctx.ui.json {
        ctx.ui.json(&json!({ "generations": list }));
        return Ok(());
    }
    if list.is_empty() {
        ctx.ui
            .info("No generations yet. Create one with `gryt generation new v0.1.0`.");
        return Ok(());
    }
    let mut t = ctx.ui.table(&[
        "Version",
        "Status",
        "Proven",
        "Evolutions",
        "Sync",
        "Description",
    ]);
    for g in &list {
        t.add_row(vec![
            Cell::new(g.version.clone()),
            ctx.ui.status_cell(&g.status),
            Cell::new(format!("{}/{}", g.proven, g.changes)),
            Cell::new(g.evolutions.to_string()),
            ctx.ui.status_cell(&g.sync_status),
            Cell::new(g.description.clone().unwrap_or_default()),
        ]);
    }
    ctx.ui.print_table(&t);
    Ok(())
}

fn cmd_show(ctx: &Context, a: VersionArg) -> Result<()> {
    let ws = ctx.open()?;
    let rec = ws.generation(&a.version)?;
    let (evs, report) = ws.gate(&rec)?;
    if ctx.ui.json {
        ctx.ui
            .json(&json!({ "generation": rec, "evolutions": evs, "gate": report }));
        return Ok(());
    }
    print_generation(ctx, &rec, &evs, &report);
    Ok(())
}

fn print_generation(
    ctx: &Context,
    rec: &GenerationRecord,
    evs: &[EvolutionRecord],
    report: &GateReport,
) {
    let ui = &ctx.ui;
    ui.page();
    let now = ctx.env.now();
    ui.data(&format!(
        "Generation {} ({})",
        rec.version,
        ui.status(rec.status.as_str())
    ));
    if let Some(d) = &rec.description {
        ui.data(&format!("Description: {d}"));
    }
    ui.data(&format!(
        "Created:     {}{} ({})",
        rec.created_at,
        rec.created_by
            .as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default(),
        ui.when(&rec.created_at, now)
    ));
    if let Some(p) = &rec.promoted_at {
        ui.data(&format!(
            "Promoted:    {p}{} ({})",
            rec.promoted_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
            ui.when(p, now)
        ));
    }
    ui.data(&format!("Sync:        {}", ui.status(&rec.sync_status)));
    ui.data(&format!("Evolutions:  {}", evs.len()));
    if rec.changes.is_empty() {
        ui.data("No changes yet.");
        return;
    }
    super::render::print_gate(ctx, report);
}

fn cmd_update(ctx: &Context, a: VersionArg) -> Result<()> {
    let mut ws = ctx.open()?;
    let rec = ops::update_from_file(ctx, &mut ws, &a.version)?;
    report_saved(
        ctx,
        &rec,
        &format!(
            "Updated generation {} ({})",
            rec.version,
            plural(rec.changes.len() as u64, "change", "changes")
        ),
    );
    Ok(())
}

fn cmd_export(ctx: &Context, a: ExportArgs) -> Result<()> {
    let ws = ctx.open()?;
    let versions: Vec<String> = match &a.version {
        Some(v) => vec![ws.generation(v)?.version],
        None => ws.generations()?.into_iter().map(|g| g.version).collect(),
    };
    let mut written = Vec::new();
    for v in &versions {
        if ws.export_contract(v)? {
            written.push(ws.repo.generation_file(v));
        }
    }
    if ctx.ui.json {
        ctx.ui.json(&json!({ "written": written }));
    } else {
        for p in &written {
            ctx.ui.info(&format!("Wrote {}", p.display()));
        }
    }
    Ok(())
}

fn cmd_edit(ctx: &Context, a: VersionArg) -> Result<()> {
    let mut ws = ctx.open()?;
    let rec = ws.generation(&a.version)?;
    ensure_draft(&rec.version, rec.status)?;
    let path = ws.repo.generation_file(&rec.version);
    if !path.exists() {
        ws.export_contract(&rec.version)?;
    }
    let editor = ctx.env.editor().ok_or_else(|| {
        CliError::error("No editor configured").hint(format!(
            "set $EDITOR, or edit {} and run `gryt generation update {}`",
            path.display(),
            rec.version
        ))
    })?;
    // The editor string may carry arguments (`code --wait`); the path goes as $1, never
    // spliced into the shell text.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("gryt-edit")
        .arg(&path)
        .status()
        .map_err(|e| CliError::error(format!("cannot start the editor '{editor}': {e}")))?;
    if !status.success() {
        return Err(CliError::error(format!(
            "The editor exited with {status}; nothing was updated"
        ))
        .hint(format!(
            "run `gryt generation update {}` when the file is ready",
            rec.version
        )));
    }
    let rec = ops::update_from_file(ctx, &mut ws, &rec.version).map_err(|e| {
        let hint = format!(
            "fix {} and run `gryt generation update {}`",
            path.display(),
            rec.version
        );
        e.only_hint(hint)
    })?;
    report_saved(
        ctx,
        &rec,
        &format!(
            "Updated generation {} ({})",
            rec.version,
            plural(rec.changes.len() as u64, "change", "changes")
        ),
    );
    Ok(())
}

fn cmd_add_change(ctx: &Context, a: AddChangeArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let rec = ops::add_change(
        ctx,
        &mut ws,
        &a.version,
        &a.change,
        &a.change_type,
        &a.title,
        a.description,
    )?;
    report_saved(ctx, &rec, &format!("Added {} to {}", a.change, rec.version));
    Ok(())
}

fn cmd_remove_change(ctx: &Context, a: RemoveChangeArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let id = a.change.or(a.id).unwrap_or_default();
    let rec = ops::remove_change(ctx, &mut ws, &a.version, &id)?;
    report_saved(ctx, &rec, &format!("Removed {id} from {}", rec.version));
    Ok(())
}

fn cmd_rename(ctx: &Context, a: RenameArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let old = ops::parse_version(&a.old)?.to_string();
    let rec = ops::rename(ctx, &mut ws, &a.old, &a.new)?;
    report_saved(ctx, &rec, &format!("Renamed {old} to {}", rec.version));
    Ok(())
}

fn cmd_delete(ctx: &Context, a: DeleteArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    let rec = ops::delete(ctx, &mut ws, &a.version, a.local_only)?;
    report_saved(ctx, &rec, &format!("Deleted generation {}", rec.version));
    Ok(())
}
