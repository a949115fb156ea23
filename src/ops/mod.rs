//! Use cases: each opens one write transaction, loads, applies a core rule, saves and
//! commits. Commands (commands/) parse arguments and render; they never touch SQL.

pub mod autosync;
mod query;
pub mod sync;

use crate::context::{new_uuid, random_bits, Context, Workspace};
use crate::error::{CliError, Result};
use crate::fsutil::write_atomic;
use crate::repo::Repo;
use crate::store::{self, EvolutionRecord, GenerationRecord};
use gryt_core::generation::ensure_draft;
use gryt_core::{
    evolution, gate, ChangeId, ChangeType, EvolutionStatus, GateReport, GenerationSpec,
    GenerationStatus, Proof, Target, Version,
};
use rusqlite::Connection;

pub fn parse_version(input: &str) -> Result<Version> {
    Ok(Version::parse(input)?)
}

pub fn not_found(version: &str) -> CliError {
    CliError::error(format!("Generation {version} not found"))
        .hint("list the generations with `gryt generation list`")
}

/// Loads a generation by (normalised) version or fails with "not found".
pub fn load_generation(conn: &Connection, input: &str) -> Result<GenerationRecord> {
    let v = parse_version(input)?.to_string();
    store::get_generation(conn, &v)?.ok_or_else(|| not_found(&v))
}

/// Writes the YAML contract of `rec` into `.gryt/generations/` and records what was
/// written (inside the caller's transaction), so a later pull can tell a hand edit.
pub fn write_contract(conn: &Connection, repo: &Repo, rec: &GenerationRecord) -> Result<()> {
    let text = crate::yaml::render_contract(&rec.spec(), &rec.identity())?;
    let path = repo.contract_file_for_write(&rec.version)?;
    write_atomic(&path, text.as_bytes(), 0o644)?;
    store::note_contract_file(conn, &rec.version, text.as_bytes(), &now_stamp())
}

fn now_stamp() -> String {
    crate::config::wall_clock().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A new local draft holding `spec`, not yet synced.
fn new_draft(spec: GenerationSpec, now: String, user: String) -> GenerationRecord {
    GenerationRecord {
        generation_id: new_uuid(),
        version: spec.version,
        description: spec.description,
        status: GenerationStatus::Draft,
        changes: spec.changes,
        pipeline_template: spec.pipeline_template,
        created_at: now.clone(),
        created_by: Some(user),
        promoted_at: None,
        promoted_by: None,
        updated_at: now,
        remote_id: None,
        sync_status: "not_synced".into(),
        last_synced_at: None,
        sync_error: None,
        rev: 0,
    }
}

/// Like [`write_contract`] without forcing the file to disk: for contracts rewritten from
/// the database by a pull (the database is the source of truth), where thousands of
/// fsyncs would dominate.
pub fn write_contract_fast(conn: &Connection, repo: &Repo, rec: &GenerationRecord) -> Result<()> {
    let text = crate::yaml::render_contract(&rec.spec(), &rec.identity())?;
    let path = repo.contract_file_for_write(&rec.version)?;
    let tmp = repo
        .generations_dir()
        .join(format!(".{}.tmp{}", rec.version, std::process::id()));
    std::fs::write(&tmp, text.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| CliError::io(format!("cannot write {}", path.display()), e))?;
    store::note_contract_file(conn, &rec.version, text.as_bytes(), &now_stamp())
}

pub fn create_generation(
    ctx: &Context,
    ws: &mut Workspace,
    version: &str,
    description: Option<String>,
) -> Result<GenerationRecord> {
    let v = parse_version(version)?;
    let spec = GenerationSpec::new(&v, description);
    spec.validate()?;
    let now = ctx.now();
    let user = ws.config.username();
    let tx = ws.store.write()?;
    if let Some(existing) = store::get_generation(&tx, &v.to_string())? {
        return Err(CliError::error(format!(
            "Generation {} already exists ({})",
            existing.version, existing.status
        ))
        .hint("pick another version, e.g. the next patch or minor release"));
    }
    let rec = new_draft(spec, now, user);
    store::insert_generation(&tx, &rec)?;
    let path = ws.repo.generation_file(&rec.version);
    if path.exists() {
        // A contract file from elsewhere (e.g. committed by a teammate): keep it, and
        // tell the user how to load it instead of silently overwriting it.
        return Err(CliError::error(format!(
            "{} already exists but the generation is not in the database",
            path.display()
        ))
        .hint(format!(
            "load that contract with `gryt generation update {}`, or move the file away",
            rec.version
        )));
    }
    write_contract(&tx, &ws.repo, &rec)?;
    if let Err(e) = tx.commit() {
        let _ = std::fs::remove_file(&path);
        return Err(e.into());
    }
    Ok(rec)
}

/// Applies `edit` to a draft's contract in one transaction, then rewrites its YAML.
fn edit_spec(
    ctx: &Context,
    ws: &mut Workspace,
    version: &str,
    edit: impl FnOnce(&mut GenerationSpec) -> Result<()>,
) -> Result<GenerationRecord> {
    let now = ctx.now();
    let tx = ws.store.write()?;
    let mut rec = load_generation(&tx, version)?;
    ensure_draft(&rec.version, rec.status)?;
    let mut spec = rec.spec();
    edit(&mut spec)?;
    spec.validate()?;
    store::update_generation_spec(&tx, &rec.generation_id, &spec, &now)?;
    rec.description = spec.description;
    rec.changes = spec.changes;
    rec.pipeline_template = spec.pipeline_template;
    write_contract(&tx, &ws.repo, &rec)?;
    tx.commit()?;
    Ok(rec)
}

pub fn add_change(
    ctx: &Context,
    ws: &mut Workspace,
    version: &str,
    id: &str,
    change_type: &str,
    title: &str,
    description: Option<String>,
) -> Result<GenerationRecord> {
    let id = ChangeId::parse(id)?;
    let t = ChangeType::parse(change_type)?;
    edit_spec(ctx, ws, version, |spec| {
        Ok(spec.add_change(id, t, title.to_string(), description)?)
    })
}

pub fn remove_change(
    ctx: &Context,
    ws: &mut Workspace,
    version: &str,
    id: &str,
) -> Result<GenerationRecord> {
    let id = ChangeId::parse(id)?;
    edit_spec(ctx, ws, version, |spec| {
        spec.remove_change(&id)?;
        Ok(())
    })
}

/// Re-reads `.gryt/generations/VERSION.yaml` (edited by the user) into the database.
pub fn update_from_file(
    ctx: &Context,
    ws: &mut Workspace,
    version: &str,
) -> Result<GenerationRecord> {
    let v = parse_version(version)?.to_string();
    let path = ws.repo.contract_file_for_read(&v)?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        CliError::error(format!("cannot read {}: {e}", path.display())).hint(format!(
            "write the contract file with `gryt generation export {v}` (or `gryt generation edit {v}`), edit it, then update"
        ))
    })?;
    let file = crate::yaml::parse_contract(&path, &text)?;
    let (file_spec, identity) = (file.spec, file.identity);
    let declared = Version::parse(&file_spec.version)
        .map_err(|e| CliError::error(format!("{}: {}", path.display(), e.message)))?;
    if declared.to_string() != v {
        return Err(CliError::error(format!(
            "{} declares version {} but its file name says {v}",
            path.display(),
            file_spec.version
        ))
        .hint(format!(
            "set `version: {v}` in the file, or rename the generation with `gryt generation rename {v} {declared}`"
        )));
    }
    let exists = store::get_generation(&ws.store.conn, &v)?;
    if let Some(rec) = &exists {
        if identity.status == GenerationStatus::Promoted && rec.status == GenerationStatus::Draft {
            return Err(CliError::error(format!(
                "{} says `status: promoted`, but {v} is a draft; only `gryt promote` promotes",
                path.display()
            ))
            .hint(format!(
                "remove the status line, or promote with `gryt promote {v}`"
            )));
        }
        if let Some(id) = identity
            .generation_id
            .as_ref()
            .filter(|id| **id != rec.generation_id)
        {
            return Err(CliError::error(format!(
                "{} carries generation_id {id}, but {v} here is {}",
                path.display(),
                rec.generation_id
            ))
            .hint(format!(
                "the file belongs to another record; restore gryt's copy with `gryt generation export {v}`"
            )));
        }
    }
    match exists {
        Some(_) => edit_spec(ctx, ws, &v, |spec| {
            spec.description = file_spec.description;
            spec.changes = file_spec.changes;
            spec.pipeline_template = file_spec.pipeline_template;
            Ok(())
        }),
        None => import_contract(ctx, ws, file_spec, identity),
    }
}

/// A contract file with no database record (e.g. committed by a teammate) becomes a
/// new local draft.
fn import_contract(
    ctx: &Context,
    ws: &mut Workspace,
    spec: GenerationSpec,
    identity: crate::yaml::Identity,
) -> Result<GenerationRecord> {
    let version = spec.validate()?;
    let now = ctx.now();
    let tx = ws.store.write()?;
    let spec = GenerationSpec {
        version: version.to_string(),
        ..spec
    };
    let mut rec = new_draft(spec, now, ws.config.username());
    // A file carrying its identity (committed from another workspace) keeps it, so its
    // first pull links it to the server's record, unless that identity is taken here.
    if let Some(id) = identity.generation_id {
        if !store::generation_id_taken(&tx, &id)? {
            rec.generation_id = id;
        }
    }
    if identity.status == GenerationStatus::Promoted {
        rec.status = GenerationStatus::Promoted;
        rec.promoted_at = identity.promoted_at;
        rec.promoted_by = identity.promoted_by;
    }
    store::insert_generation(&tx, &rec)?;
    write_contract(&tx, &ws.repo, &rec)?;
    tx.commit()?;
    Ok(rec)
}

pub fn rename(ctx: &Context, ws: &mut Workspace, old: &str, new: &str) -> Result<GenerationRecord> {
    let new_v = parse_version(new)?.to_string();
    let now = ctx.now();
    let tx = ws.store.write()?;
    let mut rec = load_generation(&tx, old)?;
    ensure_draft(&rec.version, rec.status)?;
    if rec.version == new_v {
        return Err(CliError::error(format!(
            "Generation is already called {new_v}"
        )));
    }
    if store::get_generation(&tx, &new_v)?.is_some() {
        return Err(
            CliError::error(format!("Generation {new_v} already exists"))
                .hint("pick a version nobody uses yet"),
        );
    }
    let new_path = ws.repo.generation_file(&new_v);
    if new_path.exists() {
        return Err(
            CliError::error(format!("{} already exists", new_path.display()))
                .hint("move that file away first"),
        );
    }
    store::rename_generation(&tx, &rec.generation_id, &new_v, &now)?;
    let old_path = ws.repo.generation_file(&rec.version);
    store::forget_contract_file(&tx, &rec.version)?;
    rec.version = new_v;
    write_contract(&tx, &ws.repo, &rec)?;
    if let Err(e) = tx.commit() {
        let _ = std::fs::remove_file(&new_path);
        return Err(e.into());
    }
    let _ = std::fs::remove_file(old_path);
    Ok(rec)
}

pub fn delete(
    ctx: &Context,
    ws: &mut Workspace,
    version: &str,
    local_only: bool,
) -> Result<GenerationRecord> {
    let now = ctx.now();
    let tx = ws.store.write()?;
    let rec = load_generation(&tx, version)?;
    ensure_draft(&rec.version, rec.status)?;
    if let (Some(rid), false) = (&rec.remote_id, local_only) {
        // The server must learn of the deletion: journal it (with its key) for the next push.
        store::journal_generation_delete(&tx, rid, &rec.version, rec.rev, &new_uuid(), &now)?;
    } else if rec.remote_id.is_none() && !local_only {
        // Never acknowledged, but a create was sent (its key is kept until an answer): it may
        // have reached the server with its answer lost. Keep the deletion by UUID until a
        // pull shows whether the server holds the record.
        if store::create_sent(&tx, &rec.generation_id)? {
            store::journal_uuid_delete(&tx, &rec.generation_id, &rec.version, &now)?;
        }
    }
    store::delete_generation(&tx, &rec.generation_id)?;
    store::forget_contract_file(&tx, &rec.version)?;
    tx.commit()?;
    let _ = std::fs::remove_file(ws.repo.generation_file(&rec.version));
    Ok(rec)
}

pub fn proofs(evolutions: &[EvolutionRecord]) -> Vec<Proof> {
    evolutions
        .iter()
        .map(|e| Proof {
            evolution_id: e.evolution_id.clone(),
            change_id: e.change_id.clone(),
            rc: e.rc,
            owner: e.owner.clone(),
            status: e.status,
            commit: e.commit.clone(),
            dirty: e.dirty,
            fingerprint: e.fingerprint.clone(),
        })
        .collect()
}

/// Where the work tree stands: the commit checked out (`None` outside git or before the first
/// commit) and whether it has uncommitted changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeState {
    pub commit: Option<String>,
    pub dirty: bool,
}

/// gryt's own directory does not make a tree dirty: gryt rewrites its contracts itself (a
/// promotion, a pull), and its database and local files are git-ignored anyway.
const NOT_DIRT: [&str; 1] = [".gryt"];

/// The state of the work tree holding `repo`.
pub fn tree_state(repo: &Repo) -> Result<TreeState> {
    let Some(commit) = crate::git::head_commit(&repo.root) else {
        return Ok(TreeState::default());
    };
    let dirty = crate::git::is_dirty(&repo.root, &NOT_DIRT)
        .map_err(|e| CliError::git(format!("{e:#}"), e))?;
    Ok(TreeState {
        commit: Some(commit),
        dirty,
    })
}

/// What the gate checks against for `commit`: which of the proofs' commits are it or its
/// ancestors (asked of git once per distinct commit).
pub fn target_of(repo: &Repo, commit: Option<&str>, evs: &[EvolutionRecord]) -> Target {
    let Some(head) = commit else {
        return Target::none();
    };
    let mut reachable = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in evs.iter().filter_map(|e| e.commit.as_deref()) {
        if seen.insert(c) && crate::git::is_ancestor(&repo.root, c, head) {
            reachable.insert(c.to_string());
        }
    }
    Target {
        commit: Some(head.to_string()),
        reachable,
    }
}

/// The gate of a generation against the commit checked out now (inside git) or under the
/// newest-proof rule (outside git). An evolution the server refused (sync status `conflict`)
/// is no proof: it is left out until `gryt sync resolve` settles it.
pub fn gate_of(
    repo: &Repo,
    conn: &Connection,
    rec: &GenerationRecord,
) -> Result<(Vec<EvolutionRecord>, GateReport)> {
    let head = crate::git::head_commit(&repo.root);
    gate_at(repo, conn, rec, head.as_deref())
}

/// The gate of a generation against `commit` (`None`: the newest-proof rule).
pub fn gate_at(
    repo: &Repo,
    conn: &Connection,
    rec: &GenerationRecord,
    commit: Option<&str>,
) -> Result<(Vec<EvolutionRecord>, GateReport)> {
    let evs = store::list_evolutions(conn, Some(&rec.generation_id))?;
    let counted: Vec<EvolutionRecord> = evs
        .iter()
        .filter(|e| !refused_by_server(e))
        .cloned()
        .collect();
    let target = target_of(repo, commit, &counted);
    let report = gate(&rec.spec(), &proofs(&counted), &target);
    Ok((evs, report))
}

/// Whether the server refused this evolution (it is then no proof).
pub fn refused_by_server(e: &EvolutionRecord) -> bool {
    e.sync_status == "conflict"
}

/// `report.check()`, with the real cause in the hint when an unproven change has an
/// evolution that passed here but was refused by the server.
pub fn check_gate(evs: &[EvolutionRecord], report: &GateReport) -> Result<()> {
    let Err(e) = report.check() else {
        return Ok(());
    };
    let unproven = report.unproven();
    let refused: Vec<&EvolutionRecord> = evs
        .iter()
        .filter(|e| refused_by_server(e) && unproven.contains(&e.change_id.as_str()))
        .collect();
    let err: CliError = e.into();
    match refused.first() {
        None => Err(err),
        Some(first) => Err(err.hint(format!(
            "{} of {} is recorded as {} here, but the server refused it, so it is no proof (`gryt sync status` shows why); \
             settle it with `gryt sync resolve {} --theirs`, then prove {} with `gryt evolution start {} --change {}`",
            first.tag,
            first.change_id,
            first.status,
            first.version,
            first.change_id,
            first.version,
            first.change_id
        ))),
    }
}

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
        let known: Vec<String> = rec.changes.iter().map(|c| c.id.to_string()).collect();
        let hint = if known.is_empty() {
            format!("{} has no changes yet: add one with `gryt generation add-change {} --id {change_id} --type add --title \"...\"`", rec.version, rec.version)
        } else {
            format!("changes of {}: {}", rec.version, known.join(", "))
        };
        return Err(CliError::error(format!(
            "Change {change_id} is not part of generation {}",
            rec.version
        ))
        .hint(hint));
    };
    let rc = evolution::next_rc(store::used_rcs(&tx, &rec.generation_id)?);
    let id = new_uuid();
    let code_name = evolution::code_name(random_bits());
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

fn single_evolution(conn: &Connection, key: &str) -> Result<EvolutionRecord> {
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

/// Checks that `ev` may be finished by `user` and is still open.
fn check_completable(conn: &Connection, ev: &EvolutionRecord, user: &str) -> Result<()> {
    let gen = load_generation(conn, &ev.version)?;
    ensure_draft(&gen.version, gen.status)?;
    if ev.owner != user {
        return Err(CliError::error(format!(
            "Evolution {} belongs to {}; only its owner may change it",
            ev.tag, ev.owner
        ))
        .hint(format!(
            "start your own with `gryt evolution start {} --change {}`",
            ev.version, ev.change_id
        )));
    }
    if ev.status.is_final() {
        return Err(CliError::error(format!(
            "Evolution {} is already complete ({})",
            ev.tag, ev.status
        ))
        .hint(format!(
            "start a new one with `gryt evolution start {} --change {}`",
            ev.version, ev.change_id
        )));
    }
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
    let body = gryt_core::wire::PromoteRequest {
        commit: report.commit.clone(),
        proofs: report
            .counted()
            .into_iter()
            .map(|n| gryt_core::wire::PromoteProof {
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

pub fn already_promoted(rec: &GenerationRecord) -> CliError {
    CliError::error(format!(
        "Generation {} is already promoted{}{}",
        rec.version,
        rec.promoted_by
            .as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default(),
        rec.promoted_at
            .as_deref()
            .map(|t| format!(" at {t}"))
            .unwrap_or_default(),
    ))
    .hint("a promoted generation is final; release further work as a new version")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_tag_shows_gits_hint_before_gryts() {
        let dir = tempfile::tempdir().unwrap();
        let init = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(init.success());
        let repo = Repo {
            root: dir.path().to_path_buf(),
        };
        let spec = GenerationSpec {
            version: "v1.0.0".into(),
            description: None,
            changes: Vec::new(),
            pipeline_template: None,
        };
        let rec = new_draft(spec, "2026-01-01T00:00:00Z".into(), "dev".into());
        // A repository without commits cannot be tagged; git.rs says what to do first.
        let e = tag_release(&repo, &rec, None).unwrap_err();
        assert!(
            e.message.starts_with("Tagging v1.0.0 failed"),
            "{}",
            e.message
        );
        assert_eq!(e.hints.len(), 2, "{:?}", e.hints);
        assert!(
            e.hints[0].contains("commit your work first"),
            "{:?}",
            e.hints
        );
        assert!(e.hints[1].contains("--no-tag"), "{:?}", e.hints);
        assert!(std::error::Error::source(&e).is_some());
    }
}
