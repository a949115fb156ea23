use crate::context::Context;
use crate::error::Result;
use crate::ops;
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
