//! Local promotion, with its git tag: refusing before anything changes (tag exists, dirty
//! tree, gate not met), promoting, tagging, and completing a tag a promotion left missing.
//! Cloud-first promotion (the server decides first) is `ops::sync::promote`, which uses
//! these same steps.

use super::*;

/// Whether a promotion will tag (inside a git repository, unless `--no-tag`); refuses
/// before anything is promoted when the tag already exists.
pub fn will_tag(repo: &Repo, tag: &str, no_tag: bool) -> Result<bool> {
    let git = !no_tag && crate::git::is_git_repo(&repo.root);
    if git
        && crate::git::tag_exists(&repo.root, tag)
            .map_err(|e| CliError::git(format!("{e:#}"), e))?
    {
        return Err(CliError::error(format!(
            "The git tag {tag} already exists; nothing was promoted"
        ))
        .hint(format!(
            "delete or rename the tag, or promote with `gryt promote {tag} --no-tag`"
        )));
    }
    Ok(git)
}

/// Creates the annotated tag of a promoted release listing its changes, on `commit` (the
/// commit the promotion checked; HEAD when unknown); returns the tag.
pub fn tag_release(repo: &Repo, rec: &GenerationRecord, commit: Option<&str>) -> Result<String> {
    let tag = rec.version.clone();
    let mut message = format!("Release {}\n\n", rec.version);
    if let Some(d) = &rec.description {
        message.push_str(d);
        message.push_str("\n\n");
    }
    for c in &rec.changes {
        message.push_str(&format!("- {} {} {}\n", c.id, c.change_type, c.title));
    }
    let made = match commit {
        Some(c) => crate::git::create_annotated_tag_at(&repo.root, &tag, &message, c),
        None => crate::git::create_annotated_tag(&repo.root, &tag, &message),
    };
    made.map_err(|e| {
        CliError::git(format!("Tagging {tag} failed: {e:#}"), e).hint(format!(
            "fix git, or promote without a tag: `gryt promote {tag} --no-tag`"
        ))
    })?;
    Ok(tag)
}

/// Refuses to promote from a work tree with uncommitted changes (unless allowed): the tag
/// must name exactly what was checked.
pub fn check_clean(tree: &TreeState, version: &str, allow_dirty: bool) -> Result<()> {
    if tree.dirty && !allow_dirty {
        return Err(CliError::error(format!(
            "The work tree has uncommitted changes; {version} was not promoted"
        ))
        .hint(format!(
            "commit or stash them so the release is what was proven (see `git status`), \
             or promote anyway with `gryt promote {version} --allow-dirty`"
        )));
    }
    Ok(())
}

/// The body of a promotion request: the commit checked and the proof counted per change.
pub fn promote_body(report: &GateReport) -> Result<String> {
    let body = gryt_core::api::PromoteRequest {
        commit: report.commit.clone(),
        proofs: report
            .counted()
            .into_iter()
            .map(|n| gryt_core::api::PromoteProof {
                change_id: n.change_id,
                evolution_id: n.evolution_id,
            })
            .collect(),
    };
    serde_json::to_string(&body)
        .map_err(|e| CliError::error(format!("cannot encode a promotion: {e}")))
}

/// A generation already promoted from this workspace whose release tag is missing gets it
/// now, on the commit that promotion checked. `Ok(None)` when there is nothing to complete.
pub fn complete_tag(
    ws: &mut Workspace,
    rec: &GenerationRecord,
    no_tag: bool,
) -> Result<Option<String>> {
    if rec.status != GenerationStatus::Promoted || no_tag || !crate::git::is_git_repo(&ws.repo.root)
    {
        return Ok(None);
    }
    let state = store::promotion_state(&ws.store.conn, &rec.generation_id)?;
    let Some(commit) = state.commit else {
        return Ok(None);
    };
    if crate::git::tag_exists(&ws.repo.root, &rec.version)
        .map_err(|e| CliError::git(format!("{e:#}"), e))?
    {
        if state.tag_pending {
            let tx = ws.store.write()?;
            store::clear_tag_pending(&tx, &rec.generation_id)?;
            tx.commit()?;
        }
        return Ok(None);
    }
    let tag = tag_release(&ws.repo, rec, Some(&commit))?;
    let tx = ws.store.write()?;
    store::clear_tag_pending(&tx, &rec.generation_id)?;
    tx.commit()?;
    Ok(Some(tag))
}

/// The outcome of a local promotion.
pub struct Promotion {
    pub record: GenerationRecord,
    pub report: GateReport,
    pub tagged: Option<String>,
    /// The promotion was made earlier; this run only created its missing tag.
    pub completed: bool,
}

/// Why `rec` cannot be promoted again, in gryt-core's words (the server's too).
pub fn already_promoted(rec: &GenerationRecord) -> CliError {
    gryt_core::generation::already_promoted(
        &rec.version,
        rec.promoted_by.as_deref(),
        rec.promoted_at.as_deref(),
    )
    .into()
}

pub fn promote(
    ctx: &Context,
    ws: &mut Workspace,
    version: &str,
    no_tag: bool,
    allow_dirty: bool,
) -> Result<std::result::Result<Promotion, (GateReport, CliError)>> {
    let now = ctx.now();
    let user = ws.config.username();
    let existing = load_generation(&ws.store.conn, version)?;
    if existing.status == GenerationStatus::Promoted {
        if let Some(tag) = complete_tag(ws, &existing, no_tag)? {
            let (_, report) = gate_of(&ws.repo, &ws.store.conn, &existing)?;
            return Ok(Ok(Promotion {
                record: existing,
                report,
                tagged: Some(tag),
                completed: true,
            }));
        }
        return Err(already_promoted(&existing));
    }
    let tree = tree_state(&ws.repo)?;
    check_clean(&tree, &existing.version, allow_dirty)?;
    let tx = ws.store.write()?;
    let mut rec = load_generation(&tx, version)?;
    if rec.status == GenerationStatus::Promoted {
        return Err(already_promoted(&rec));
    }
    let (evs, report) = gate_at(&ws.repo, &tx, &rec, tree.commit.as_deref())?;
    if let Err(e) = check_gate(&evs, &report) {
        return Ok(Err((report, e)));
    }
    let git = will_tag(&ws.repo, &rec.version, no_tag)?;
    let tag = rec.version.clone();
    if !store::promote_generation(&tx, &rec.generation_id, &user, &now)? {
        return Err(CliError::error(format!(
            "Generation {} is already promoted",
            rec.version
        )));
    }
    store::set_promotion(
        &tx,
        &rec.generation_id,
        tree.commit.as_deref(),
        &promote_body(&report)?,
        false,
    )?;
    let tagged = if git {
        Some(tag_release(&ws.repo, &rec, tree.commit.as_deref())?)
    } else {
        None
    };
    // The contract file says it is final (a clone loads it promoted).
    let promoted = GenerationRecord {
        status: GenerationStatus::Promoted,
        promoted_at: Some(now.clone()),
        promoted_by: Some(user.clone()),
        ..rec.clone()
    };
    if let Err(e) = write_contract(&tx, &ws.repo, &promoted) {
        if let Some(tag) = &tagged {
            let _ = std::process::Command::new("git")
                .arg("-C")
                .arg(&ws.repo.root)
                .args(["tag", "-d", tag])
                .output();
        }
        return Err(e);
    }
    if let Err(e) = tx.commit() {
        if tagged.is_some() {
            let _ = std::process::Command::new("git")
                .arg("-C")
                .arg(&ws.repo.root)
                .args(["tag", "-d", &tag])
                .output();
        }
        return Err(e.into());
    }
    rec.status = GenerationStatus::Promoted;
    rec.promoted_at = Some(now);
    rec.promoted_by = Some(user);
    Ok(Ok(Promotion {
        record: rec,
        report,
        tagged,
        completed: false,
    }))
}
