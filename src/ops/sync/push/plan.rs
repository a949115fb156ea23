//! The operations of one push stage, built from pending local work: every Idempotency-Key
//! (and what it sends) stored before anything is sent, bodies typed by their operation.

use super::super::*;
use super::PushReport;
use crate::store::push_state;
use gryt_core::api::{BatchBody, BatchOpKind};
use gryt_core::sync::push::{evolution_send, EvolutionGeneration, EvolutionSend, Pending};

/// One batch operation, what it was for (to judge its answer) and the record it is about.
pub(in crate::ops::sync) struct Op {
    pub(super) op: BatchOp<BatchBody>,
    pub(super) pending: Pending,
    /// The local id of the generation or evolution, or the server id of a deletion.
    pub(super) id: String,
    pub(super) label: String,
}

/// A promotion made here that the server has not confirmed, sent again through the single
/// route under its key with the body first sent.
pub(in crate::ops::sync) struct Promotion {
    pub(super) remote_id: i64,
    pub(super) key: String,
    /// The body first sent under this key, as stored (the commit and proofs it counted).
    pub(super) body: Option<String>,
    pub(super) local_id: String,
    pub(super) label: String,
}

/// The Idempotency-Key of a piece of work: the stored one, else a new one stored now.
pub(in crate::ops::sync) fn key_for(
    tx: &rusqlite::Connection,
    slot: ss::KeySlot,
    id: &str,
    existing: Option<String>,
) -> Result<String> {
    if let Some(k) = existing {
        return Ok(k);
    }
    let k = new_uuid();
    ss::store_key(tx, slot, id, &k)?;
    Ok(k)
}

/// The deletions and generation writes of a push, storing every key before sending.
pub(super) fn plan_generations(
    ws: &mut Workspace,
    cloud: &Cloud,
    version: Option<&str>,
) -> Result<Vec<Op>> {
    let tx = ws.store.write()?;
    let mut ops = Vec::new();
    // Deletions of synced drafts.
    if version.is_none() {
        for d in ss::pending_deletes(&tx)? {
            let Ok(id) = d.remote_id.parse::<i64>() else {
                continue;
            };
            ops.push(Op {
                op: BatchOp {
                    op: BatchOpKind::DeleteGeneration,
                    id: Some(id),
                    if_match: Some(d.rev),
                    idempotency_key: Some(d.push_key),
                    body: None,
                },
                pending: Pending::DeleteGeneration,
                id: d.remote_id,
                label: d.label,
            });
        }
    }
    for ss::PendingGen {
        rec, push_key: key, ..
    } in ss::pending_generations(&tx, version)?
    {
        // Refused work ('failed') waits for `gryt sync resolve`; conflicts for a decision.
        if rec.sync_status != "not_synced" {
            continue;
        }
        // An operation already sent under a key (its answer never came) is sent again exactly
        // as it was: the server replays its answer, or runs it once. Edits made since then
        // go in a new operation after it.
        let outstanding = match key {
            Some(_) => ss::local_by_uuid(&tx, &rec.generation_id)?.and_then(|l| l.sent),
            None => None,
        };
        let (key, sent) = match outstanding {
            Some(s) => s,
            None => {
                let k = new_uuid();
                let c = content_of(&rec);
                ss::set_sent(&tx, &rec.generation_id, &k, &c)?;
                (k, c)
            }
        };
        let op = match &rec.remote_id {
            None => create_op(cloud, &rec, key, sent),
            Some(rid) => {
                let Ok(id) = rid.parse::<i64>() else { continue };
                update_op(&rec.generation_id, id, rec.rev, key, sent)
            }
        };
        ops.push(Op {
            label: rec.version.clone(),
            ..op
        });
    }
    tx.commit()?;
    Ok(ops)
}

fn create_op(cloud: &Cloud, rec: &GenerationRecord, key: String, sent: GenerationContent) -> Op {
    let body = wire::GenerationCreate {
        generation_id: rec.generation_id.clone(),
        version: sent.version.clone(),
        description: sent.description.clone(),
        changes: sent.changes.iter().map(Into::into).collect(),
        pipeline_template: sent.pipeline_template.clone(),
        status: Some("draft".into()),
        created_at: Some(rec.created_at.clone()),
        team_id: cloud.team.clone(),
        project: Some(cloud.project.clone()),
    };
    Op {
        op: BatchOp {
            op: BatchOpKind::CreateGeneration,
            id: None,
            if_match: None,
            idempotency_key: Some(key),
            body: Some(BatchBody::CreateGeneration(body)),
        },
        label: sent.version.clone(),
        id: rec.generation_id.clone(),
        pending: Pending::CreateGeneration { sent },
    }
}

fn update_op(local_id: &str, id: i64, rev: i64, key: String, sent: GenerationContent) -> Op {
    let body = wire::GenerationPatch {
        generation_id: None,
        version: Some(sent.version.clone()),
        description: sent.description.clone().or(Some(String::new())),
        changes: Some(sent.changes.iter().map(Into::into).collect()),
        pipeline_template: sent.pipeline_template.clone(),
        status: None,
    };
    Op {
        op: BatchOp {
            op: BatchOpKind::UpdateGeneration,
            id: Some(id),
            if_match: Some(rev),
            idempotency_key: Some(key),
            body: Some(BatchBody::UpdateGeneration(body)),
        },
        label: sent.version.clone(),
        id: local_id.to_string(),
        pending: Pending::UpdateGeneration { sent },
    }
}

/// Updates sent earlier whose answers never came, for records the server has since moved
/// past: re-sent with their keys and bodies they cannot apply now (the revision they name
/// is gone), so the server answers what became of them, applied (its stored answer) or
/// refused. The page is then merged against the right base, not against a base that
/// misses our own applied update (which would undo later local edits of it).
pub(in crate::ops::sync) fn settle_lost_updates(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    page: &SyncChanges,
) -> Result<()> {
    // The common case, nothing sent and unanswered: no lookup per record of the page.
    if !ss::updates_outstanding(&ws.store.conn)? {
        return Ok(());
    }
    let mut ops = Vec::new();
    for item in &page.items {
        let FeedRecord::Generation(g) = item else {
            continue;
        };
        let Some(local) = ss::local_by_remote_id(&ws.store.conn, g.id)? else {
            continue;
        };
        let Some((key, sent)) = local.sent else {
            continue;
        };
        if g.rev > local.rec.rev {
            ops.push(update_op(
                &local.rec.generation_id,
                g.id,
                local.rec.rev,
                key,
                sent,
            ));
        }
    }
    if ops.is_empty() {
        return Ok(());
    }
    let total = ops.len() as u64;
    let mut report = PushReport::default();
    super::apply::send(ctx, ws, cloud, ops, &mut report, &mut |_, _| {}, total)?;
    Ok(())
}

/// The evolution writes of a push: those whose generation is on the server and synced
/// (the planner's [`evolution_send`]), each under its stored key.
pub(super) fn plan_evolutions(ws: &mut Workspace, version: Option<&str>) -> Result<Vec<Op>> {
    let tx = ws.store.write()?;
    let rows = push_state::pending_evolutions(&tx, version)?;
    let mut ops = Vec::new();
    for e in rows {
        let generation = EvolutionGeneration {
            on_server: e.generation_remote_id.is_some(),
            synced: e.generation_synced,
        };
        let send = evolution_send(generation, e.remote_id.is_some());
        let (EvolutionSend::Create | EvolutionSend::Update) = send else {
            continue;
        };
        let Some(gen_rid) = e.generation_remote_id else {
            continue;
        };
        let key = key_for(&tx, ss::KeySlot::EvolutionPush, &e.evolution_id, e.push_key)?;
        let label = format!(
            "{}-rc.{} {} ({})",
            e.version, e.rc, e.change_id, e.code_name
        );
        let (op, id, body, pending) = match (send, &e.remote_id) {
            (EvolutionSend::Update, Some(rid)) => {
                let Ok(id) = rid.parse::<i64>() else { continue };
                let body = wire::EvolutionPatch {
                    status: Some(e.status.clone()),
                    pipeline_run_id: e.pipeline_run_id,
                    started_at: None,
                    completed_at: e.completed_at,
                    commit: e.commit,
                    dirty: Some(e.dirty),
                };
                (
                    BatchOpKind::UpdateEvolution,
                    Some(id),
                    BatchBody::UpdateEvolution(body),
                    Pending::UpdateEvolution {
                        sent_status: e.status,
                    },
                )
            }
            _ => {
                let body = wire::EvolutionCreate {
                    evolution_id: e.evolution_id.clone(),
                    generation_id: wire::IdRef::Str(gen_rid),
                    change_id: e.change_id,
                    code_name: Some(e.code_name),
                    tag: None,
                    status: Some(e.status.clone()),
                    pipeline_run_id: e.pipeline_run_id,
                    started_at: Some(e.started_at),
                    completed_at: e.completed_at,
                    created_by: Some(e.owner),
                    commit: e.commit,
                    dirty: Some(e.dirty),
                    fingerprint: e.fingerprint,
                };
                (
                    BatchOpKind::CreateEvolution,
                    None,
                    BatchBody::CreateEvolution(body),
                    Pending::CreateEvolution {
                        sent_status: e.status,
                    },
                )
            }
        };
        ops.push(Op {
            op: BatchOp {
                op,
                id,
                if_match: id.map(|_| e.rev),
                idempotency_key: Some(key),
                body: Some(body),
            },
            pending,
            id: e.evolution_id,
            label,
        });
    }
    tx.commit()?;
    Ok(ops)
}

/// Promotions made here that the server has not confirmed (their answers lost, or still in
/// flight), with the key and body first sent.
pub(super) fn plan_promotions(ws: &mut Workspace, version: Option<&str>) -> Result<Vec<Promotion>> {
    let tx = ws.store.write()?;
    let mut out = Vec::new();
    for ss::PendingGen {
        rec, promote_key, ..
    } in ss::pending_generations(&tx, version)?
    {
        let (Some(key), Some(rid)) = (promote_key, rec.remote_id.as_ref()) else {
            continue;
        };
        if rec.sync_status == "conflict" {
            continue;
        }
        let Ok(remote_id) = rid.parse::<i64>() else {
            continue;
        };
        // Sent as stored (bytes the server's key fingerprint saw); a body that no longer
        // reads as JSON is not sent.
        let body = crate::store::promotion_state(&tx, &rec.generation_id)?
            .body
            .filter(|b| serde_json::from_str::<serde::de::IgnoredAny>(b).is_ok());
        out.push(Promotion {
            remote_id,
            key,
            body,
            local_id: rec.generation_id.clone(),
            label: rec.version.clone(),
        });
    }
    tx.commit()?;
    Ok(out)
}
