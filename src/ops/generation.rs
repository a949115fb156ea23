//! Generation use cases: create, edit, take a hand-edited contract file in, rename,
//! delete. Each runs in one transaction and writes the contract file.

use super::*;
use gryt_core::sync::local::{deletion_target, DeleteFacts, DeletionTarget};

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
pub(super) fn edit_spec(
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
pub(super) fn import_contract(
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
    // Where the deletion goes is the planner's decision (gryt_core::sync::local): a record
    // whose create reached the server with its answers lost knows its server copy only
    // through a conflict with it (same UUID), and that copy is the one deleted.
    let conflict_copy = match (&rec.remote_id, local_only) {
        (None, false) => crate::store::sync::conflicts(&tx)?
            .into_iter()
            .find(|c| c.generation_id == rec.generation_id)
            .and_then(|c| c.remote)
            .map(|g| crate::ops::sync::server_copy(&g, &rec.generation_id, None)),
        _ => None,
    };
    let create_sent =
        rec.remote_id.is_none() && !local_only && store::create_sent(&tx, &rec.generation_id)?;
    let facts = DeleteFacts {
        local_only,
        on_server: rec.remote_id.clone().map(|id| (id, rec.rev)),
        conflict_copy,
        create_sent,
    };
    match deletion_target(&facts) {
        DeletionTarget::Server { id, rev } => {
            // The server must learn of the deletion: journal it (with its key) for the next push.
            store::journal_generation_delete(&tx, &id, &rec.version, rev, &new_uuid(), &now)?;
        }
        // Never acknowledged, but a create was sent (its key is kept until an answer): it
        // may have reached the server with its answer lost. Keep the deletion by UUID until
        // a pull shows whether the server holds the record.
        DeletionTarget::ByUuid => {
            store::journal_uuid_delete(&tx, &rec.generation_id, &rec.version, &now)?
        }
        DeletionTarget::Nothing => {}
    }
    store::delete_generation(&tx, &rec.generation_id)?;
    store::forget_contract_file(&tx, &rec.version)?;
    tx.commit()?;
    let _ = std::fs::remove_file(ws.repo.generation_file(&rec.version));
    Ok(rec)
}
