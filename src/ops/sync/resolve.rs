//! Settling a conflict or work the server refused (`gryt sync resolve`): keep the local
//! copy (`--ours`, queued to be sent again) or the server's (`--theirs`). One transaction;
//! the contract files follow it.

use crate::client::cloud::Cloud;
use crate::context::Workspace;
use crate::error::{CliError, Result};
use crate::store::sync as ss;
use gryt_core::sync::local::{resolution, Resolution, ResolveFacts, ResolveRefusal};
use std::collections::BTreeMap;

/// Settles generation `v` (canonical version): its conflict, if any, and every piece of its
/// work the server refused. Returns what was settled besides the conflict ("evolution
/// LABEL", "deletion LABEL", ...), for the message.
pub fn resolve(ws: &mut Workspace, v: &str, theirs: bool, now: &str) -> Result<Vec<String>> {
    let v = v.to_string();
    let conflict = ss::conflicts(&ws.store.conn)?
        .into_iter()
        .find(|c| c.version == v);
    let refused: Vec<ss::Refused> = ss::refused(&ws.store.conn)?
        .into_iter()
        .filter(|r| r.version == v)
        .collect();
    if conflict.is_none() && refused.is_empty() {
        return Err(CliError::error(format!(
            "Generation {v} is not in conflict and the server refused nothing of it"
        ))
        .hint("`gryt sync status` lists the conflicts and the refused work"));
    }
    // The server's copies of refused evolutions not stored here (kept by older gryt
    // versions) are fetched before the transaction.
    let fetched = if theirs {
        fetch_missing_evolutions(ws, &refused)?
    } else {
        BTreeMap::new()
    };
    let tx = ws.store.write()?;
    let (mut write, mut remove) = (None, None);
    if let Some(row) = conflict {
        (write, remove) = resolve_conflict(&tx, &row, theirs, &v, now)?;
    }
    let mut settled = Vec::new();
    for r in &refused {
        let files = settle(&tx, r, theirs, &fetched, now)?;
        if files.0.is_some() {
            write = files.0;
        }
        if files.1.is_some() {
            remove = files.1;
        }
        settled.push(format!("{} {}", r.what, r.label));
    }
    tx.commit()?;
    if let Some(r) = remove {
        let _ = std::fs::remove_file(ws.repo.generation_file(&r));
    }
    if let Some(w) = write {
        if let Some(rec) = crate::store::get_generation(&ws.store.conn, &w)? {
            crate::ops::write_contract(&ws.store.conn, &ws.repo, &rec)?;
        }
    }
    Ok(settled)
}

/// Settles a merge conflict or a taken version; returns the contract file to write and the
/// one to remove. The decision is `gryt_core::sync::local::resolution`; this applies it.
fn resolve_conflict(
    tx: &rusqlite::Connection,
    row: &ss::ConflictRow,
    theirs: bool,
    v: &str,
    now: &str,
) -> Result<(Option<String>, Option<String>)> {
    let v = v.to_string();
    let version_taken = row.cause == ss::ConflictCause::VersionTaken;
    // The server's copy, its content read (and checked) only when it is to be taken.
    let taken_content = match &row.remote {
        Some(g) if theirs && !version_taken && !g.deleted => Some(super::content_of_wire(g)?),
        _ => None,
    };
    let server = row.remote.as_ref().map(|g| {
        super::server_copy(
            g,
            &row.generation_id,
            taken_content.as_ref().map(|c| c.version.clone()),
        )
    });
    // A record the server also has: its last synced copy.
    let synced = ss::local_by_uuid(tx, &row.generation_id)?
        .filter(|l| l.rec.remote_id.is_some())
        .and_then(|l| l.base);
    let facts = ResolveFacts {
        version: v.clone(),
        theirs,
        version_taken,
        server,
        synced_version: synced.as_ref().map(|b| b.version.clone()),
    };
    // A failed look-up counts as held (refusing is safe) and is reported after.
    let held_err = std::cell::RefCell::new(None);
    let held_here = |other: &str| match crate::store::get_generation(tx, other) {
        Ok(g) => g.is_some(),
        Err(e) => {
            held_err.borrow_mut().get_or_insert(e);
            true
        }
    };
    let decision = resolution(&facts, held_here);
    if let Some(e) = held_err.into_inner() {
        return Err(e);
    }
    let (mut write, mut remove) = (None, None);
    match decision {
        Resolution::RevertToSynced { version } => {
            // The server's generation of this version wins; ours goes back to its last
            // synced copy with its evolutions (proofs not yet pushed included). The full
            // resync that follows brings theirs and any newer changes.
            if let Some(base) = &synced {
                ss::revert_to_base(tx, &row.generation_id, base, now)?;
            }
            ss::set_meta(tx, "resync", "1", now)?;
            write = Some(version);
            remove = Some(v.clone());
        }
        Resolution::DropLocal { resync } => {
            ss::delete_local_generation(tx, &row.generation_id)?;
            if resync {
                ss::set_meta(tx, "resync", "1", now)?;
            }
            remove = Some(v.clone());
        }
        Resolution::TakeServer { version } => {
            let (Some(g), Some(c)) = (&row.remote, &taken_content) else {
                return Err(CliError::error(format!(
                    "The server's copy of {v} is not known; pull again"
                ))
                .hint("`gryt sync pull`"));
            };
            ss::take_remote(tx, &row.generation_id, g, c, now)?;
            remove = Some(v.clone());
            write = Some(version);
        }
        Resolution::RebaseOurs => {
            if let Some(g) = &row.remote {
                let base = super::content_of_wire(g)?;
                ss::rebase(tx, &row.generation_id, g, &base, None, now)?;
            }
        }
        Resolution::Refused(why) => return Err(refusal(&v, why)),
    }
    Ok((write, remove))
}

/// The message and hint of a refused resolution.
fn refusal(v: &str, why: ResolveRefusal) -> CliError {
    match why {
        ResolveRefusal::VersionHeldHere { version } => CliError::error(format!(
            "The server's copy of {v} is named {version}, a version another generation holds here"
        ))
        .hint(format!(
            "rename that one first (`gryt generation rename {version} NEW`), then resolve {v} again"
        )),
        ResolveRefusal::VersionTakenThere => CliError::error(format!("Version {v} is taken in the cloud; yours cannot be pushed under it"))
            .hint(format!("rename yours with `gryt generation rename {v} NEW`, or take theirs with `gryt sync resolve {v} --theirs`")),
        ResolveRefusal::DeletedThere => CliError::error(format!("The server deleted {v}; your edits cannot be pushed onto it"))
            .hint(format!("take the deletion with `gryt sync resolve {v} --theirs`, or save your work under a new version first")),
        ResolveRefusal::PromotedThere => CliError::error(format!("{v} was promoted on the server; it can no longer change"))
            .hint(format!("take theirs with `gryt sync resolve {v} --theirs`, and release your changes as a new version")),
        ResolveRefusal::ServerCopyUnknown => CliError::error(format!(
            "The server's copy of {v} is not known; pull again"
        ))
        .hint("`gryt sync pull`"),
    }
}

/// Settles one refused record: `--theirs` drops the local change and restores the server's
/// copy (a record the server never took goes), `--ours` queues it to be sent again.
/// Returns the contract file to write and the one to remove.
fn settle(
    tx: &rusqlite::Connection,
    r: &ss::Refused,
    theirs: bool,
    fetched: &BTreeMap<String, Option<gryt_core::api::Evolution>>,
    now: &str,
) -> Result<(Option<String>, Option<String>)> {
    if !theirs {
        ss::requeue_refused(tx, r)?;
        return Ok((None, None));
    }
    match r.what {
        "evolution" => {
            let copy = match &r.remote_id {
                None => None,
                Some(_) => match ss::evolution_base(tx, &r.id)? {
                    Some(e) => Some(e),
                    None => fetched.get(&r.id).cloned().flatten(),
                },
            };
            match copy {
                Some(e) if !e.deleted => ss::take_remote_evolution(tx, &r.id, &e, now)?,
                _ => ss::delete_local_evolution(tx, &r.id)?,
            }
            Ok((None, None))
        }
        "generation" => {
            let base = ss::local_by_uuid(tx, &r.id)?.and_then(|l| l.base);
            match (&r.remote_id, base) {
                (Some(_), Some(base)) => {
                    if base.version != r.version
                        && crate::store::get_generation(tx, &base.version)?.is_some()
                    {
                        return Err(CliError::error(format!(
                            "The server's copy of {} is named {}, a version another generation holds here",
                            r.version, base.version
                        ))
                        .hint(format!(
                            "rename that one first (`gryt generation rename {} NEW`), then resolve {} again",
                            base.version, r.version
                        )));
                    }
                    ss::restore_generation(tx, &r.id, &base, now)?;
                    ss::set_meta(tx, "resync", "1", now)?;
                    Ok((Some(base.version.clone()), Some(r.version.clone())))
                }
                _ => {
                    // The server never took it (or its copy is unknown here): the draft
                    // goes; a full pull brings whatever the server holds.
                    ss::delete_local_generation(tx, &r.id)?;
                    ss::set_meta(tx, "resync", "1", now)?;
                    Ok((None, Some(r.version.clone())))
                }
            }
        }
        _ => {
            ss::drop_pending_delete_of(tx, &r.id)?;
            // The deleted record comes back with the next pull (a full one).
            ss::set_meta(tx, "resync", "1", now)?;
            Ok((None, None))
        }
    }
}

/// The server's copies of refused evolutions whose copy is not stored here: by local id,
/// `None` when the server no longer has it.
fn fetch_missing_evolutions(
    ws: &Workspace,
    refused: &[ss::Refused],
) -> Result<BTreeMap<String, Option<gryt_core::api::Evolution>>> {
    let mut out = BTreeMap::new();
    for r in refused.iter().filter(|r| r.what == "evolution") {
        let Some(rid) = &r.remote_id else { continue };
        if ss::evolution_base(&ws.store.conn, &r.id)?.is_some() {
            continue;
        }
        let cloud = Cloud::required(ws)?;
        let got: std::result::Result<gryt_core::api::Data<gryt_core::api::Evolution>, _> = cloud
            .remote
            .call_route(&crate::client::routes::evolution(rid), None, &[]);
        match got {
            Ok(d) => {
                out.insert(r.id.clone(), Some(d.data));
            }
            Err(crate::client::RemoteError::Http { status: 404, .. }) => {
                out.insert(r.id.clone(), None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
