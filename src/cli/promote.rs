use crate::context::Context;
use crate::error::Result;
use crate::ops;
use crate::sync::{self, CloudPromotion};
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The generation to promote.
    pub version: String,
    /// Do not create the annotated git tag.
    #[arg(long)]
    pub no_tag: bool,
}

pub fn cmd_promote(ctx: &Context, a: PromoteArgs) -> Result<i32> {
    let mut ws = ctx.open()?;
    if let Some(cloud) = crate::cloud::for_mode(&ws)? {
        return promote_in_cloud(ctx, &mut ws, &cloud, &a);
    }
    match ops::promote(ctx, &mut ws, &a.version, a.no_tag)? {
        Ok(p) => {
            if ctx.ui.json {
                ctx.ui
                    .json(&json!({ "generation": p.record, "gate": p.report, "tag": p.tagged }));
            } else {
                if !ctx.ui.quiet {
                    super::generation::print_gate(ctx, &p.report);
                }
                ctx.ui.info(&format!(
                    "Promoted {}: it is final and immutable.",
                    p.record.version
                ));
                if let Some(t) = p.tagged {
                    ctx.ui.info(&format!("Tagged {t} (annotated) in git."));
                }
            }
            Ok(0)
        }
        Err((report, err)) => {
            if ctx.ui.json {
                ctx.ui.json(&json!({ "gate": report }));
            } else if !ctx.ui.quiet {
                super::generation::print_gate(ctx, &report);
            }
            Err(err)
        }
    }
}

/// Hybrid and cloud mode: the server decides (first promotion wins), then the local
/// record follows, then the git tag.
fn promote_in_cloud(
    ctx: &Context,
    ws: &mut crate::context::Workspace,
    cloud: &crate::cloud::Cloud,
    a: &PromoteArgs,
) -> Result<i32> {
    let version = ops::parse_version(&a.version)?.to_string();
    let git = ops::will_tag(&ws.repo, &version, a.no_tag)?;
    let outcome = sync::promote(ctx, ws, cloud, &version);
    let gate = ops::load_generation(&ws.store.conn, &version)
        .and_then(|rec| ops::gate_of(&ws.store.conn, &rec))
        .map(|(_, r)| r);
    match outcome {
        Ok(CloudPromotion::Promoted(rec)) => {
            let tagged = if git {
                match ops::tag_release(&ws.repo, &rec) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        ctx.ui.warn(&format!(
                            "{} (the promotion itself is done on the server)",
                            e.message
                        ));
                        None
                    }
                }
            } else {
                None
            };
            if ctx.ui.json {
                ctx.ui
                    .json(&json!({ "generation": rec, "gate": gate.ok(), "tag": tagged }));
            } else {
                if let (Ok(g), false) = (&gate, ctx.ui.quiet) {
                    super::generation::print_gate(ctx, g);
                }
                ctx.ui.info(&format!(
                    "Promoted {} on {}: it is final and immutable.",
                    rec.version, cloud.remote.base
                ));
                if let Some(t) = tagged {
                    ctx.ui.info(&format!("Tagged {t} (annotated) in git."));
                }
            }
            Ok(0)
        }
        Ok(CloudPromotion::Refused(e)) => Err(e),
        Err(e) => {
            if let (Ok(g), false) = (&gate, ctx.ui.quiet || ctx.ui.json) {
                if !g.ready {
                    super::generation::print_gate(ctx, g);
                }
            }
            Err(e)
        }
    }
}
