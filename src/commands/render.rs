//! Rendering shared by several commands (a generation's gate, an evolution's tag), so no
//! command imports another for its output.

use crate::context::{Context, Workspace};
use crate::store::EvolutionRecord;
use crate::ui::table::{Cell, Color};
use gryt_core::GateReport;

/// Renders a generation's changes with their proof and the gate's verdict.
pub fn print_gate(ctx: &Context, report: &GateReport) {
    let mut t = ctx.ui.table(&["Change", "Title", "Proof"]);
    for c in &report.changes {
        let proof = if c.evolutions.is_empty() {
            "not started".to_string()
        } else {
            c.evolutions
                .iter()
                .map(|e| format!("rc.{} {} ({})", e.rc, e.status.as_str(), e.owner))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (mark, color) = if c.proven {
            ("proven", Some(Color::Green))
        } else {
            ("unproven", None)
        };
        t.add_row(vec![
            Cell::new(c.change_id.clone()),
            Cell::new(c.title.clone()),
            Cell::colored(format!("{mark}: {proof}"), color),
        ]);
    }
    ctx.ui.print_table(&t);
    let ready = if report.ready {
        ctx.ui.status("yes")
    } else {
        ctx.ui.status("no")
    };
    ctx.ui.data(&format!("Ready for promotion: {ready}"));
}

/// The rc tag as humans see it: marked while the number is provisional, i.e. a server is
/// configured and may still renumber it when it is pushed (`GRYT_EVOLUTION_ID` is stable).
pub fn tag_label(ws: &Workspace, e: &EvolutionRecord) -> String {
    if e.rc_provisional && ws.config.get("gryt_url").is_some() {
        format!("{} (rc.{}, provisional until pushed)", e.tag, e.rc)
    } else {
        e.tag.clone()
    }
}
