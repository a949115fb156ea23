use crate::context::Context;
use crate::error::{CliError, Kind, Result};
use crate::ops;
use crate::ops::sync::{self, CloudPromotion};
use clap::Args;
use gryt_core::gate::short_commit;
use gryt_core::GateReport;
use serde_json::json;

#[derive(Debug, Args)]
#[command(after_long_help = "Examples:
  gryt promote v1.2.0
  gryt promote v1.2.0 --no-tag          # no git tag
  git push origin v1.2.0                # publish the tag")]
pub struct PromoteArgs {
    /// The generation to promote.
    pub version: String,
    /// Do not create the annotated git tag.
    #[arg(long)]
    pub no_tag: bool,
    /// Promote even though the git work tree has uncommitted changes (the tag then names a
    /// commit that is not exactly what is on disk).
    #[arg(long)]
    pub allow_dirty: bool,
}

pub fn cmd_promote(ctx: &Context, a: PromoteArgs) -> Result<()> {
    let mut ws = ctx.open()?;
    if let Some(cloud) = crate::client::cloud::for_mode(&ws)? {
        return promote_in_cloud(ctx, &mut ws, &cloud, &a);
    }
    match ops::promote(ctx, &mut ws, &a.version, a.no_tag, a.allow_dirty)? {
        Ok(p) => {
            let commit = ws
                .generation(&p.record.version)
                .and_then(|r| ws.promotion_state(&r))
                .ok()
                .and_then(|s| s.commit);
            render(
                ctx,
                &p.record,
                Some(&p.report),
                p.tagged.as_deref(),
                commit.as_deref(),
                p.completed,
                None,
            );
            Ok(())
        }
        Err((report, err)) => {
            if ctx.ui.json {
                ctx.ui.json(&json!({ "gate": report }));
            } else if !ctx.ui.quiet {
                super::render::print_gate(ctx, &report);
            }
            Err(err)
        }
    }
}

/// Which proof counted for each change, and the commit it ran on.
fn print_counted(ctx: &Context, report: &GateReport) {
    for c in &report.changes {
        let Some(p) = &c.decided_by else { continue };
        let on = match &p.commit {
            Some(commit) => format!(
                "on commit {}{}",
                short_commit(commit),
                if p.dirty { " (dirty tree)" } else { "" }
            ),
            None => "outside git (no commit recorded)".to_string(),
        };
        ctx.ui.info(&format!(
            "{} proven by {}-rc.{} ({}) {on}",
            c.change_id, report.version, p.rc, p.owner
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn render(
    ctx: &Context,
    rec: &crate::store::GenerationRecord,
    report: Option<&GateReport>,
    tagged: Option<&str>,
    commit: Option<&str>,
    completed: bool,
    server: Option<&str>,
) {
    if ctx.ui.json {
        ctx.ui.json(&json!({
            "generation": rec,
            "gate": report,
            "commit": commit,
            "tag": tagged,
            "completed": completed,
        }));
        return;
    }
    if completed {
        ctx.ui.info(&format!(
            "{} was already promoted here; its missing tag was created.",
            rec.version
        ));
    } else {
        if let (Some(r), false) = (report, ctx.ui.quiet) {
            super::render::print_gate(ctx, r);
            print_counted(ctx, r);
        }
        match server {
            Some(s) => ctx.ui.info(&format!(
                "Promoted {} on {s}: it is final and immutable.",
                rec.version
            )),
            None => ctx.ui.info(&format!(
                "Promoted {}: it is final and immutable.",
                rec.version
            )),
        }
    }
    if let Some(t) = tagged {
        let on = commit
            .map(|c| format!(" on commit {}", short_commit(c)))
            .unwrap_or_default();
        ctx.ui.info(&format!("Tagged {t} (annotated){on} in git."));
        ctx.ui
            .info(&format!("Publish it with `git push origin {t}`."));
    }
}

/// Hybrid and cloud mode: the server decides (first promotion wins), then the local
/// record follows, then the git tag on the commit that was checked.
fn promote_in_cloud(
    ctx: &Context,
    ws: &mut crate::context::Workspace,
    cloud: &crate::client::cloud::Cloud,
    a: &PromoteArgs,
) -> Result<()> {
    let version = ops::parse_version(&a.version)?.to_string();
    // Refuse before anything is sent when the tag is taken, unless this is a promotion of
    // ours that only needs settling or its tag completed.
    let known = ws.generation(&version).ok();
    let ours_pending = match &known {
        Some(r) => {
            let s = ws.promotion_state(r)?;
            s.key.is_some()
                || (r.status == gryt_core::GenerationStatus::Promoted && s.commit.is_some())
        }
        None => false,
    };
    let git = if ours_pending {
        !a.no_tag && crate::git::is_git_repo(&ws.repo.root)
    } else {
        ops::will_tag(&ws.repo, &version, a.no_tag)?
    };
    let outcome = sync::promote(ctx, ws, cloud, &version, a.allow_dirty, git);
    match outcome {
        Ok(CloudPromotion::Promoted(rec)) => {
            let state = ws.promotion_state(&rec)?;
            let gate = ws
                .gate_at(&rec, state.commit.as_deref())
                .map(|(_, r)| r)
                .ok();
            let tagged = if git {
                match ops::complete_tag(ws, &rec, a.no_tag) {
                    Ok(t) => t,
                    Err(e) => {
                        ctx.ui.warn(&format!(
                            "{} (the promotion itself is done on the server; `gryt promote {}` creates the tag later)",
                            e.message, rec.version
                        ));
                        None
                    }
                }
            } else {
                None
            };
            render(
                ctx,
                &rec,
                gate.as_ref(),
                tagged.as_deref(),
                state.commit.as_deref(),
                false,
                Some(&cloud.remote.base),
            );
            Ok(())
        }
        Ok(CloudPromotion::AlreadyPromoted(rec)) => {
            if let Some(t) = ops::complete_tag(ws, &rec, a.no_tag)? {
                let state = ws.promotion_state(&rec)?;
                render(
                    ctx,
                    &rec,
                    None,
                    Some(&t),
                    state.commit.as_deref(),
                    true,
                    None,
                );
                return Ok(());
            }
            Err(CliError::new(
                Kind::Attention,
                format!(
                    "Generation {version} is already promoted{}",
                    rec.promoted_by
                        .as_deref()
                        .map(|b| format!(" by {b}"))
                        .unwrap_or_default()
                ),
            )
            .hint("a promoted generation is final; release further work as a new version"))
        }
        Ok(CloudPromotion::Refused(e)) => Err(e),
        Err(e) => {
            if e.kind == Kind::Error && !ctx.ui.quiet && !ctx.ui.json {
                if let Ok((_, g)) = ws.generation(&version).and_then(|rec| ws.gate(&rec)) {
                    if !g.ready {
                        super::render::print_gate(ctx, &g);
                    }
                }
            }
            Err(e)
        }
    }
}
