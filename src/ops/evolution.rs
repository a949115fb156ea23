//! Evolution use cases: start, complete, cancel, and recording a pipeline run (which may
//! complete the evolution it proves).

use super::*;

pub fn start_evolution(
    ctx: &Context,
    ws: &mut Workspace,
    version: &str,
    change: &str,
) -> Result<EvolutionRecord> {
    let change_id = ChangeId::parse(change)?;
    let now = ctx.now();
    let owner = ws.config.username();
    let tree = tree_state(&ws.repo)?;
    let tx = ws.store.write()?;
    let rec = load_generation(&tx, version)?;
    ensure_draft(&rec.version, rec.status)?;
    let spec = rec.spec();
    let Some(fingerprint) = spec.change(&change_id).map(|c| c.fingerprint()) else {
        let known: Vec<&str> = rec.changes.iter().map(|c| c.id.as_str()).collect();
        return Err(
            gryt_core::generation::change_not_in(&rec.version, change_id.as_str(), &known).into(),
        );
    };
    let rc = core_evolution::next_rc(store::used_rcs(&tx, &rec.generation_id)?);
    let id = new_uuid();
    let code_name = core_evolution::code_name(random_bits());
    store::insert_evolution(
        &tx,
        &store::NewEvolution {
            evolution_id: &id,
            generation_id: &rec.generation_id,
            change_id: change_id.as_str(),
            rc,
            code_name: &code_name,
            owner: &owner,
            started_at: &now,
            commit: tree.commit.as_deref(),
            dirty: tree.dirty,
            fingerprint: &fingerprint,
        },
    )?;
    let ev = single_evolution(&tx, &id)?;
    tx.commit()?;
    Ok(ev)
}

pub(super) fn single_evolution(conn: &Connection, key: &str) -> Result<EvolutionRecord> {
    store::find_evolutions(conn, key)?
        .into_iter()
        .next()
        .ok_or_else(|| CliError::error(format!("Evolution {key} not found")))
}

/// Finds exactly one evolution by rc tag, code name or UUID.
pub fn find_evolution(conn: &Connection, key: &str) -> Result<EvolutionRecord> {
    let mut found = store::find_evolutions(conn, key)?;
    match found.len() {
        0 => Err(CliError::error(format!("Evolution '{key}' not found"))
            .hint("name it by rc tag (v1.2.0-rc.2), code name or id; see `gryt evolution list`")),
        1 => Ok(found.remove(0)),
        _ => Err(
            CliError::error(format!("'{key}' names {} evolutions", found.len())).hint(format!(
                "use one of: {}",
                found
                    .iter()
                    .map(|e| e.evolution_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ),
    }
}

/// Checks that `ev` may be finished by `user` and is still open: gryt-core's rules, so the
/// CLI refuses in the server's words.
pub(super) fn check_completable(conn: &Connection, ev: &EvolutionRecord, user: &str) -> Result<()> {
    let gen = load_generation(conn, &ev.version)?;
    ensure_draft(&gen.version, gen.status)?;
    let facts = core_evolution::EvolutionFacts {
        tag: &ev.tag,
        version: &ev.version,
        change_id: &ev.change_id,
        owner: &ev.owner,
        status: ev.status,
    };
    core_evolution::ensure_owner(&facts, user)?;
    core_evolution::ensure_open(&facts)?;
    Ok(())
}

pub fn complete_evolution(
    ctx: &Context,
    ws: &mut Workspace,
    key: &str,
    status: &str,
) -> Result<EvolutionRecord> {
    let status = EvolutionStatus::parse(status)?;
    if !status.is_final() {
        return Err(CliError::usage("--status must be pass or fail"));
    }
    let now = ctx.now();
    let user = ws.config.username();
    // A result from another CI system: it proves the tree as it stands now.
    let tree = tree_state(&ws.repo)?;
    let tx = ws.store.write()?;
    let ev = find_evolution(&tx, key)?;
    check_completable(&tx, &ev, &user)?;
    store::set_evolution_status(&tx, &ev.evolution_id, status, Some(&now), None)?;
    store::set_evolution_commit(&tx, &ev.evolution_id, tree.commit.as_deref(), tree.dirty)?;
    let ev = single_evolution(&tx, &ev.evolution_id)?;
    tx.commit()?;
    Ok(ev)
}

/// Ends an open evolution of the user's as cancelled: final, and it proves nothing.
pub fn cancel_evolution(ctx: &Context, ws: &mut Workspace, key: &str) -> Result<EvolutionRecord> {
    let now = ctx.now();
    let user = ws.config.username();
    let tx = ws.store.write()?;
    let ev = find_evolution(&tx, key)?;
    check_completable(&tx, &ev, &user)?;
    store::set_evolution_status(
        &tx,
        &ev.evolution_id,
        EvolutionStatus::Cancelled,
        Some(&now),
        None,
    )?;
    let ev = single_evolution(&tx, &ev.evolution_id)?;
    tx.commit()?;
    Ok(ev)
}

/// Which evolution a pipeline run proves: the one named, else the single open
/// evolution of this user in this workspace, else none.
pub fn evolution_for_run(ws: &Workspace, named: Option<&str>) -> Result<Option<EvolutionRecord>> {
    let user = ws.config.username();
    if let Some(key) = named {
        let ev = find_evolution(&ws.store.conn, key)?;
        check_completable(&ws.store.conn, &ev, &user)?;
        return Ok(Some(ev));
    }
    let open: Vec<EvolutionRecord> = store::list_evolutions(&ws.store.conn, None)?
        .into_iter()
        .filter(|e| e.owner == user && !e.status.is_final())
        .collect();
    let mut drafts = Vec::new();
    for e in open {
        let g = load_generation(&ws.store.conn, &e.version)?;
        if g.status == GenerationStatus::Draft {
            drafts.push(e);
        }
    }
    match drafts.len() {
        0 => Ok(None),
        1 => Ok(drafts.pop()),
        _ => Err(CliError::usage(format!(
            "{} evolutions are in progress; say which one this run proves",
            drafts.len()
        ))
        .hint(format!(
            "add --evolution with one of: {}",
            drafts
                .iter()
                .map(|e| e.tag.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// What `record_run` stored.
pub struct RecordedRun {
    pub run_id: String,
    /// Whether the run counts as dirty (uncommitted changes, or HEAD moved while it ran).
    pub dirty: bool,
    pub evolution: Option<EvolutionRecord>,
    pub warning: Option<String>,
}

/// Stores a finished pipeline run with its steps and, when it proves an evolution that
/// is still open, that evolution's pass or fail: one transaction.
pub fn record_run(
    ctx: &Context,
    ws: &mut Workspace,
    pipe: &crate::pipeline::Pipeline,
    result: &crate::pipeline::RunResult,
    ev: Option<&EvolutionRecord>,
    tree: &TreeState,
) -> Result<RecordedRun> {
    use chrono::SecondsFormat;
    // HEAD moved while the pipeline ran: it tested a mix of commits, which counts as dirty.
    let moved = tree.commit.is_some() && crate::git::head_commit(&ws.repo.root) != tree.commit;
    let dirty = tree.dirty || moved;
    let user = ws.config.username();
    let now = ctx.now();
    let run_id = new_uuid();
    let tx = ws.store.write()?;
    // Re-check inside the transaction: the generation may have been promoted meanwhile.
    let mut warning = None;
    let target = match ev {
        Some(e) => {
            let current = find_evolution(&tx, &e.evolution_id)?;
            match check_completable(&tx, &current, &user) {
                Ok(()) => Some(current),
                Err(err) => {
                    warning = Some(format!(
                        "the run was stored but not recorded on {}: {}",
                        e.tag, err.message
                    ));
                    None
                }
            }
        }
        None => None,
    };
    let config_json = serde_json::to_string(pipe).unwrap_or_default();
    let started = result
        .started_at
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    let finished = result
        .finished_at
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    let steps: Vec<store::StepRecord<'_>> = result
        .steps
        .iter()
        .map(|s| store::StepRecord {
            name: &s.name,
            command: &s.command,
            status: s.status.as_str(),
            exit_code: s.exit_code,
            stdout: &s.stdout,
            stderr: &s.stderr,
            duration_ms: s.duration_ms as i64,
            started_at: s
                .started_at
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        })
        .collect();
    store::insert_run(
        &tx,
        &store::RunRecord {
            run_id: &run_id,
            pipeline: &pipe.name,
            evolution_id: target.as_ref().map(|e| e.evolution_id.as_str()),
            status: result.status.as_str(),
            started_at: &started,
            finished_at: &finished,
            duration_ms: result.duration_ms as i64,
            config_json: &config_json,
            commit: tree.commit.as_deref(),
            dirty,
        },
        &steps,
    )?;
    let evolution = match target {
        // A cancelled run proves nothing: the evolution stays open, to be run again.
        Some(e) if result.status == crate::pipeline::RunStatus::Cancelled => Some(e),
        Some(e) => {
            let status = match result.status {
                crate::pipeline::RunStatus::Pass => EvolutionStatus::Pass,
                _ => EvolutionStatus::Fail,
            };
            store::set_evolution_status(&tx, &e.evolution_id, status, Some(&now), Some(&run_id))?;
            store::set_evolution_commit(&tx, &e.evolution_id, tree.commit.as_deref(), dirty)?;
            Some(single_evolution(&tx, &e.evolution_id)?)
        }
        None => None,
    };
    tx.commit()?;
    Ok(RecordedRun {
        run_id,
        dirty,
        evolution,
        warning,
    })
}
