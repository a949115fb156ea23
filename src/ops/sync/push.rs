//! Push: pending local work as batches with stored Idempotency-Keys and If-Match, each
//! result applied; a stale base pulls, merges and retries. See docs/sync.md.

use super::*;

#[derive(Debug, Default, Serialize)]
pub struct PushReport {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub promoted: u64,
    /// Release tags created for promotions the server confirmed during this push.
    pub tagged: Vec<String>,
    pub evolutions: u64,
    pub failed: Vec<(String, String)>,
    /// Work the server refused for good: in `push`, everything refused in the workspace
    /// (or of the version pushed); in `push_evolutions`, what this push had refused.
    pub refused: Vec<ss::Refused>,
    /// Work the server could not take now (429, 5xx in a batch answer): kept pending.
    pub unavailable: Vec<(String, String)>,
    pub version_taken: Vec<String>,
    pub conflicts: Vec<ConflictReport>,
    pub requests: u64,
    pub pull: Option<PullReport>,
    /// Feed positions of the writes this push made (to move the cursor past our own writes).
    #[serde(skip)]
    pub seqs: Vec<i64>,
}

impl PushReport {
    pub fn records(&self) -> u64 {
        self.created + self.updated + self.deleted + self.promoted + self.evolutions
    }
}

/// What one batch operation was for, to apply its result.
pub(super) enum Pending {
    CreateGen {
        local_id: String,
        sent: GenerationContent,
    },
    UpdateGen {
        local_id: String,
        sent: GenerationContent,
    },
    DeleteGen {
        remote_id: String,
    },
    PromoteGen {
        local_id: String,
    },
    CreateEvo {
        local_id: String,
        sent_status: String,
    },
    UpdateEvo {
        local_id: String,
        sent_status: String,
    },
}

pub(super) struct Op {
    op: BatchOp,
    pending: Pending,
    label: String,
}

/// The Idempotency-Key of a piece of work: the stored one, else a new one stored now.
pub(super) fn key_for(
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

pub(super) fn to_value(v: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Builds the operations of one push stage, storing every Idempotency-Key before sending.
pub(super) fn plan_generations(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    version: Option<&str>,
) -> Result<Vec<Op>> {
    let _ = ctx;
    let tx = ws.store.write()?;
    let mut ops = Vec::new();
    // Deletions of synced drafts.
    if version.is_none() {
        for ss::PendingDelete {
            remote_id: rid,
            kind,
            label,
            rev,
            push_key: key,
        } in ss::pending_deletes(&tx)?
        {
            let Ok(id) = rid.parse::<i64>() else { continue };
            ops.push(Op {
                op: BatchOp {
                    op: format!("delete_{kind}"),
                    id: Some(id),
                    if_match: Some(rev),
                    idempotency_key: Some(key),
                    body: None,
                },
                pending: Pending::DeleteGen { remote_id: rid },
                label,
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
        let label = rec.version.clone();
        let op = match &rec.remote_id {
            None => create_op(cloud, &rec, key, sent),
            Some(rid) => {
                let Ok(id) = rid.parse::<i64>() else { continue };
                update_op(&rec.generation_id, id, rec.rev, key, sent)
            }
        };
        ops.push(Op { label, ..op });
    }
    tx.commit()?;
    Ok(ops)
}

pub(super) fn create_op(
    cloud: &Cloud,
    rec: &GenerationRecord,
    key: String,
    sent: GenerationContent,
) -> Op {
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
            op: "create_generation".into(),
            id: None,
            if_match: None,
            idempotency_key: Some(key),
            body: Some(to_value(&body)),
        },
        label: sent.version.clone(),
        pending: Pending::CreateGen {
            local_id: rec.generation_id.clone(),
            sent,
        },
    }
}

pub(super) fn update_op(
    local_id: &str,
    id: i64,
    rev: i64,
    key: String,
    sent: GenerationContent,
) -> Op {
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
            op: "update_generation".into(),
            id: Some(id),
            if_match: Some(rev),
            idempotency_key: Some(key),
            body: Some(to_value(&body)),
        },
        label: sent.version.clone(),
        pending: Pending::UpdateGen {
            local_id: local_id.to_string(),
            sent,
        },
    }
}

/// Updates sent earlier whose answers never came, for records the server has since moved
/// past: re-sent with their keys and bodies they cannot apply now (the revision they name
/// is gone), so the server answers what became of them, applied (its stored answer) or
/// refused. The page is then merged against the right base, not against a base that
/// misses our own applied update (which would undo later local edits of it).
pub(super) fn settle_lost_updates(
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
    send(ctx, ws, cloud, ops, &mut report, &mut |_, _| {}, total)?;
    Ok(())
}

pub(super) fn plan_evolutions(ws: &mut Workspace, version: Option<&str>) -> Result<Vec<Op>> {
    let tx = ws.store.write()?;
    let rows = ss::pending_evolutions(&tx, version)?;
    let mut ops = Vec::new();
    for ss::EvoRow {
        eid,
        gen_rid,
        evo_rid,
        change,
        code,
        status,
        run,
        completed,
        key,
        started,
        gversion,
        rev,
        owner,
        commit,
        dirty,
        fingerprint,
        rc,
    } in rows
    {
        let Some(gen_rid) = gen_rid else { continue };
        let key = key_for(&tx, ss::KeySlot::EvolutionPush, &eid, key)?;
        let label = format!("{gversion}-rc.{rc} {change} ({code})");
        match evo_rid {
            None => {
                let body = wire::EvolutionCreate {
                    evolution_id: eid.clone(),
                    generation_id: wire::IdRef::Str(gen_rid),
                    change_id: change,
                    code_name: Some(code),
                    tag: None,
                    status: Some(status.clone()),
                    pipeline_run_id: run,
                    started_at: Some(started),
                    completed_at: completed,
                    created_by: Some(owner),
                    commit,
                    dirty: Some(dirty),
                    fingerprint,
                };
                ops.push(Op {
                    op: BatchOp {
                        op: "create_evolution".into(),
                        id: None,
                        if_match: None,
                        idempotency_key: Some(key),
                        body: Some(to_value(&body)),
                    },
                    pending: Pending::CreateEvo {
                        local_id: eid,
                        sent_status: status,
                    },
                    label,
                });
            }
            Some(rid) => {
                let Ok(id) = rid.parse::<i64>() else { continue };
                let body = wire::EvolutionPatch {
                    status: Some(status.clone()),
                    pipeline_run_id: run,
                    started_at: None,
                    completed_at: completed,
                    commit,
                    dirty: Some(dirty),
                };
                ops.push(Op {
                    op: BatchOp {
                        op: "update_evolution".into(),
                        id: Some(id),
                        if_match: Some(rev),
                        idempotency_key: Some(key),
                        body: Some(to_value(&body)),
                    },
                    pending: Pending::UpdateEvo {
                        local_id: eid,
                        sent_status: status,
                    },
                    label,
                });
            }
        }
    }
    tx.commit()?;
    Ok(ops)
}

pub(super) fn plan_promotions(ws: &mut Workspace, version: Option<&str>) -> Result<Vec<Op>> {
    let tx = ws.store.write()?;
    let mut ops = Vec::new();
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
        let Ok(id) = rid.parse::<i64>() else { continue };
        // The body first sent under this key (the commit and proofs the promotion counted).
        let body = crate::store::promotion_state(&tx, &rec.generation_id)?
            .body
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok());
        ops.push(Op {
            op: BatchOp {
                op: "promote_generation".into(),
                id: Some(id),
                if_match: None,
                idempotency_key: Some(key),
                body,
            },
            pending: Pending::PromoteGen {
                local_id: rec.generation_id.clone(),
            },
            label: rec.version.clone(),
        });
    }
    tx.commit()?;
    Ok(ops)
}

/// Sends pending promotions one by one through `POST /generations/{id}/promote`, the route
/// `gryt promote` itself uses, so a stored key that already reached the server (its answer
/// lost) is replayed by the server as the original outcome.
pub(super) fn send_promotions(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    ops: Vec<Op>,
    report: &mut PushReport,
) -> Result<bool> {
    let mut stale = false;
    for op in ops {
        let (Some(id), Some(key)) = (op.op.id, op.op.idempotency_key.as_deref()) else {
            continue;
        };
        let route = routes::promote_generation(id);
        let body = op.op.body.as_ref().and_then(|b| serde_json::to_vec(b).ok());
        let resp = cloud
            .remote
            .send_route(&route, body.as_deref(), &[("Idempotency-Key", key)])?;
        report.requests += 1;
        let body: serde_json::Value = if resp.body.is_empty() {
            serde_json::Value::Null
        } else {
            crate::client::decode(&resp.body)?
        };
        let res = wire::BatchResult {
            status: resp.status,
            body,
        };
        let now = ctx.now();
        let tx = ws.store.write()?;
        stale |= apply_result(&tx, &op, &res, &now, report)?;
        tx.commit()?;
        if (200..300).contains(&res.status) {
            // A promotion made by `gryt promote` that the server only now confirmed: its
            // release tag goes on the commit that promotion checked.
            if let Pending::PromoteGen { local_id } = &op.pending {
                tag_settled(ws, local_id, report);
            }
        }
    }
    Ok(stale)
}

/// Creates the release tag a confirmed promotion still waits for (a failure leaves it
/// pending, and the next `gryt promote VERSION` completes it).
pub(super) fn tag_settled(ws: &mut Workspace, local_id: &str, report: &mut PushReport) {
    let Ok(state) = crate::store::promotion_state(&ws.store.conn, local_id) else {
        return;
    };
    if !state.tag_pending {
        return;
    }
    let rec = ss::version_of(&ws.store.conn, local_id)
        .ok()
        .flatten()
        .and_then(|v| crate::ops::load_generation(&ws.store.conn, &v).ok());
    if let Some(rec) = rec {
        if let Ok(Some(tag)) = crate::ops::complete_tag(ws, &rec, false) {
            report.tagged.push(tag);
        }
    }
}

/// Sends operations in batches and applies each result. Returns whether any write was
/// refused as stale (412), which calls for pull, merge and one more round.
pub(super) fn send(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    ops: Vec<Op>,
    report: &mut PushReport,
    progress: Progress<'_>,
    total: u64,
) -> Result<bool> {
    let mut stale = false;
    let mut ops = ops;
    let mut done = 0u64;
    while !ops.is_empty() {
        let rest = ops.split_off(ops.len().min(BATCH));
        let chunk = std::mem::replace(&mut ops, rest);
        let req = BatchRequest {
            operations: chunk.iter().map(|o| o.op.clone()).collect(),
        };
        let body = serde_json::to_vec(&req)
            .map_err(|e| CliError::error(format!("cannot encode a batch: {e}")))?;
        let resp: Data<BatchResponse> =
            cloud
                .remote
                .call_route(&routes::sync_batch(), Some(&body), &[])?;
        report.requests += 1;
        if resp.data.results.len() != chunk.len() {
            return Err(garbage(
                "the batch answer does not have one result per operation",
            ));
        }
        let now = ctx.now();
        let tx = ws.store.write()?;
        for (op, res) in chunk.iter().zip(resp.data.results.iter()) {
            stale |= apply_result(&tx, op, res, &now, report)?;
        }
        tx.commit()?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    Ok(stale)
}

pub(super) fn detail_of(v: &serde_json::Value) -> String {
    v.get("detail")
        .and_then(|d| d.as_str())
        .unwrap_or("no detail")
        .to_string()
}

pub(super) fn code_of(v: &serde_json::Value) -> &str {
    v.get("code").and_then(|d| d.as_str()).unwrap_or("")
}

pub(super) fn apply_result(
    tx: &rusqlite::Connection,
    op: &Op,
    res: &wire::BatchResult,
    now: &str,
    report: &mut PushReport,
) -> Result<bool> {
    let ok = (200..300).contains(&res.status);
    let data = res
        .body
        .get("data")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    match &op.pending {
        Pending::CreateGen { local_id, sent } | Pending::UpdateGen { local_id, sent } if ok => {
            let g: wire::Generation = serde_json::from_value(data)
                .map_err(|e| garbage(&format!("a generation in a batch answer: {e}")))?;
            let remote = content_of_wire(&g)?;
            report.seqs.push(g.seq);
            let still_same = ss::current_content(tx, local_id)?.as_ref() == Some(sent);
            if still_same && ss::sync_status_of(tx, local_id)? != "conflict" {
                ss::take_remote(tx, local_id, &g, &remote, now)?;
            } else {
                ss::rebase(tx, local_id, &g, &remote, None, now)?;
            }
            if matches!(op.pending, Pending::CreateGen { .. }) {
                report.created += 1
            } else {
                report.updated += 1
            }
            Ok(false)
        }
        Pending::DeleteGen { remote_id } if ok || res.status == 404 => {
            ss::drop_pending_delete_of(tx, remote_id)?;
            report.deleted += 1;
            Ok(false)
        }
        Pending::DeleteGen { remote_id } if res.status == 409 => {
            // Promoted on the server meanwhile: final, so the deletion can never apply. It is
            // answered (reported), and the record comes back at the full pull that follows.
            ss::drop_pending_delete_of(tx, remote_id)?;
            ss::set_meta(tx, RESYNC, "1", now)?;
            report.failed.push((op.label.clone(), detail_of(&res.body)));
            Ok(true)
        }
        Pending::PromoteGen { local_id } if ok => {
            let g: wire::Generation = serde_json::from_value(data)
                .map_err(|e| garbage(&format!("a generation in a batch answer: {e}")))?;
            let remote = content_of_wire(&g)?;
            report.seqs.push(g.seq);
            ss::take_remote(tx, local_id, &g, &remote, now)?;
            ss::clear_promote_key(tx, local_id)?;
            report.promoted += 1;
            Ok(false)
        }
        Pending::CreateEvo {
            local_id,
            sent_status,
        }
        | Pending::UpdateEvo {
            local_id,
            sent_status,
        } if ok => {
            let e: wire::Evolution = serde_json::from_value(data)
                .map_err(|e| garbage(&format!("an evolution in a batch answer: {e}")))?;
            report.seqs.push(e.seq);
            let current = ss::evolution_status_of(tx, local_id).ok().flatten();
            if current.as_deref() == Some(sent_status.as_str()) {
                ss::take_remote_evolution(tx, local_id, &e, now)?;
            } else {
                ss::adopt_evolution_ids(tx, local_id, &e)?;
            }
            // The rc the server gave may be one a provisional local evolution still uses.
            let gen = ss::generation_id_of_evolution(tx, local_id).ok().flatten();
            if let Some(g) = gen {
                ss::renumber_provisional(tx, &g)?;
            }
            report.evolutions += 1;
            Ok(false)
        }
        _ if res.status == 409 && code_of(&res.body) == "idempotency_in_flight" => {
            // The first attempt is still being processed: its key stays for the next push.
            report.failed.push((op.label.clone(), detail_of(&res.body)));
            Ok(false)
        }
        Pending::DeleteGen { .. } if res.status == 412 => {
            // Deleted at a revision the server has moved past, and the change may lie behind
            // the cursor: a full pull meets it with the journaled deletion (a delete-modify
            // conflict, the server's copy back for the decision).
            ss::set_meta(tx, RESYNC, "1", now)?;
            Ok(true)
        }
        Pending::UpdateGen { local_id, .. } if res.status == 412 => {
            // Refused as stale: the merge that follows makes a new operation.
            ss::clear_sent(tx, local_id)?;
            Ok(true)
        }
        _ if res.status == 412 => Ok(true),
        Pending::CreateGen { local_id, sent }
            if res.status == 409
                && code_of(&res.body) == "already_exists"
                && ss::current_content(tx, local_id)?
                    .is_some_and(|c| c.version != sent.version) =>
        {
            // A create re-sent as first sent, under a version renamed here since: the version
            // it named is taken, the one it has now may not be. Send it afresh.
            ss::clear_sent(tx, local_id)?;
            Ok(true)
        }
        Pending::CreateGen { local_id, .. } | Pending::UpdateGen { local_id, .. }
            if res.status == 409 && code_of(&res.body) == "already_exists" =>
        {
            let c = vec![gryt_core::sync::ConflictItem::VersionExists.conflict()];
            ss::set_conflict(tx, local_id, None, &c, ss::ConflictCause::VersionTaken)?;
            ss::clear_sent(tx, local_id)?;
            report.version_taken.push(op.label.clone());
            Ok(false)
        }
        Pending::PromoteGen { local_id } if res.status == 409 => {
            // Promoted by someone else first: our promotion is answered, and lost.
            ss::clear_promote_key(tx, local_id)?;
            report.failed.push((op.label.clone(), detail_of(&res.body)));
            Ok(true)
        }
        Pending::UpdateGen { local_id, .. } if res.status == 409 => {
            ss::clear_sent(tx, local_id)?;
            // Promoted (or taken) on the server meanwhile: the pull that follows shows it.
            report.failed.push((op.label.clone(), detail_of(&res.body)));
            Ok(true)
        }
        _ if res.status == 429 || res.status >= 500 => {
            // The server could not take it now (restarting, overloaded): nothing was
            // applied, the work stays pending under its key and the push ends with exit 4.
            report.unavailable.push((
                op.label.clone(),
                format!("HTTP {}: {}", res.status, detail_of(&res.body)),
            ));
            Ok(false)
        }
        Pending::DeleteGen { remote_id } if is_refusal(res.status) => {
            let reason = format!("HTTP {}: {}", res.status, detail_of(&res.body));
            ss::set_delete_refused(tx, remote_id, &reason)?;
            report.refused.push(refused_entry("deletion", op, &reason));
            Ok(false)
        }
        Pending::CreateGen { local_id, .. }
        | Pending::UpdateGen { local_id, .. }
        | Pending::PromoteGen { local_id }
            if is_refusal(res.status) =>
        {
            // A final answer: set aside as refused, listed by `gryt sync status` with the
            // server's reason, no longer re-sent by every push, settled by `gryt sync
            // resolve` (the next attempt, if any, is a new operation with a new key).
            let reason = format!("HTTP {}: {}", res.status, detail_of(&res.body));
            ss::set_refused(tx, "generations", local_id, &reason)?;
            report
                .refused
                .push(refused_entry("generation", op, &reason));
            Ok(false)
        }
        Pending::CreateEvo { local_id, .. } | Pending::UpdateEvo { local_id, .. }
            if is_refusal(res.status) =>
        {
            // An evolution the server will never take (not its owner's, its change removed,
            // its generation promoted): not a proof, listed until settled.
            let reason = format!("HTTP {}: {}", res.status, detail_of(&res.body));
            ss::set_refused(tx, "evolutions", local_id, &reason)?;
            report.refused.push(refused_entry("evolution", op, &reason));
            Ok(false)
        }
        _ => {
            // Anything else (an unexpected status): reported, the work stays pending.
            report.failed.push((
                op.label.clone(),
                format!("HTTP {}: {}", res.status, detail_of(&res.body)),
            ));
            Ok(false)
        }
    }
}

/// A definitive refusal: the same operation would be refused again. (412 is a stale base,
/// settled by pull, merge and retry; 401 refuses the whole request, not one operation.)
pub(super) fn is_refusal(status: u16) -> bool {
    matches!(status, 400 | 403 | 404 | 409 | 410 | 422)
}

pub(super) fn refused_entry(what: &'static str, op: &Op, reason: &str) -> ss::Refused {
    // Labels start with the version (`v2.0.0`, or `v2.0.0-rc.1 FEAT-1 (code)`).
    let first = op.label.split_whitespace().next().unwrap_or(&op.label);
    let version = match (what, first.rfind("-rc.")) {
        ("evolution", Some(i)) => &first[..i],
        _ => first,
    }
    .to_string();
    ss::Refused {
        what,
        version,
        label: op.label.clone(),
        reason: reason.to_string(),
        id: String::new(),
        remote_id: None,
    }
}

/// Pushes pending work: pull first, then deletions and generations, then evolutions, then
/// promotions made while offline; on a stale base it pulls, merges and tries once more.
pub fn push(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    version: Option<&str>,
    progress: Progress<'_>,
) -> Result<PushReport> {
    let mut report = PushReport::default();
    let mut noop = |_: u64, _: u64| {};
    report.pull = Some(pull(ctx, ws, cloud, &Filter::default(), &mut noop)?);
    for round in 0..2 {
        let gens = plan_generations(ctx, ws, cloud, version)?;
        let total = gens.len() as u64;
        let mut stale = send(ctx, ws, cloud, gens, &mut report, progress, total)?;
        let evos = plan_evolutions(ws, version)?;
        let total = evos.len() as u64;
        stale |= send(ctx, ws, cloud, evos, &mut report, progress, total)?;
        let proms = plan_promotions(ws, version)?;
        stale |= send_promotions(ctx, ws, cloud, proms, &mut report)?;
        if !stale || round == 1 {
            break;
        }
        let p = pull(ctx, ws, cloud, &Filter::default(), &mut noop)?;
        if let Some(prev) = report.pull.as_mut() {
            prev.conflicts.extend(p.conflicts);
        }
    }
    let now = ctx.now();
    advance_past_own_writes(ctx, ws, &mut report.seqs)?;
    report.conflicts = ss::conflicts(&ws.store.conn)?
        .into_iter()
        .filter(|c| version.is_none_or(|v| v == c.version))
        .map(|c| ConflictReport {
            version: c.version,
            conflicts: c.kinds,
            cause: c.cause,
        })
        .collect();
    // Refused work needs attention until settled, whether refused now or before.
    report.refused = ss::refused(&ws.store.conn)?
        .into_iter()
        .filter(|r| version.is_none_or(|v| v == r.version))
        .collect();
    let tx = ws.store.write()?;
    ss::set_meta(&tx, LAST_PUSH, &now, &now)?;
    if report.failed.is_empty()
        && report.conflicts.is_empty()
        && report.version_taken.is_empty()
        && report.refused.is_empty()
        && report.unavailable.is_empty()
    {
        ss::set_meta(&tx, LAST_OK, &now, &now)?;
    }
    ss::log(
        &tx,
        &now,
        &ss::LogEntry {
            direction: "push",
            records: report.records() as i64,
            conflicts: report.conflicts.len() as i64,
            requests: report.requests as i64,
            bytes: 0,
            error: report
                .refused
                .first()
                .map(|r| r.reason.as_str())
                .or(report.failed.first().map(|f| f.1.as_str()))
                .or(report.unavailable.first().map(|f| f.1.as_str())),
            detail: None,
        },
    )?;
    tx.commit()?;
    Ok(report)
}

/// Sends the pending evolutions of generations the server already has (hybrid mode's
/// automatic sync of evolution results), without a pull.
pub fn push_evolutions(ctx: &Context, ws: &mut Workspace, cloud: &Cloud) -> Result<PushReport> {
    crate::contracts::refuse_committed_database(&ws.repo)?;
    let mut report = PushReport::default();
    let ops = plan_evolutions(ws, None)?;
    if ops.is_empty() {
        return Ok(report);
    }
    let total = ops.len() as u64;
    send(ctx, ws, cloud, ops, &mut report, &mut |_, _| {}, total)?;
    advance_past_own_writes(ctx, ws, &mut report.seqs)?;
    Ok(report)
}

/// Our own writes need not be pulled back: when they are exactly the feed entries right
/// after the cursor (nobody else wrote in between), the cursor moves past them.
pub(super) fn advance_past_own_writes(
    ctx: &Context,
    ws: &mut Workspace,
    seqs: &mut [i64],
) -> Result<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    seqs.sort_unstable();
    let tx = ws.store.write()?;
    let cur = cursor(&tx)?;
    let contiguous = seqs
        .iter()
        .enumerate()
        .all(|(i, s)| *s == cur + 1 + i as i64);
    if contiguous {
        let now = ctx.now();
        ss::set_meta(&tx, CURSOR, &(cur + seqs.len() as i64).to_string(), &now)?;
    }
    tx.commit()?;
    Ok(())
}

/// Exit-code verdict of a push: conflicts and taken versions need attention (3).
pub fn push_verdict(report: &PushReport) -> Result<()> {
    let mut taken: Vec<String> = report.version_taken.clone();
    for c in &report.conflicts {
        if c.cause == ss::ConflictCause::VersionTaken && !taken.contains(&c.version) {
            taken.push(c.version.clone());
        }
    }
    if !taken.is_empty() {
        let report = PushReport {
            version_taken: taken,
            ..Default::default()
        };
        let v = &report.version_taken[0];
        return Err(CliError::new(
            Kind::Attention,
            format!("Version {} exists in the cloud: someone else created it", report.version_taken.join(", ")),
        )
        .hint(format!("rename yours (`gryt generation rename {v} NEW`) or drop it (`gryt generation delete {v} --local-only`), then push again")));
    }
    if !report.conflicts.is_empty() {
        let list: Vec<String> = report.conflicts.iter().map(|c| c.version.clone()).collect();
        return Err(CliError::new(
            Kind::Attention,
            format!("Sync conflicts need attention: {}", list.join(", ")),
        )
        .hint(format!(
            "see `gryt sync status`, then `gryt sync resolve {} --ours` or `--theirs`",
            list[0]
        )));
    }
    if let Some(first) = report.refused.first() {
        return Err(refused_error(&report.refused).hint(format!(
            "`gryt sync resolve {} --theirs` drops your change and restores the server's copy \
             (`--ours` sends it again); `gryt sync status` lists what was refused and why",
            first.version
        )));
    }
    if let Some((label, detail)) = report.failed.first() {
        return Err(CliError::error(format!(
            "{} record(s) were refused by the server; first: {label}: {detail}",
            report.failed.len()
        )));
    }
    if let Some((label, detail)) = report.unavailable.first() {
        return Err(CliError::new(
            Kind::Unreachable,
            format!(
                "Cloud unavailable: the server could not take {} record(s) now; first: {label}: {detail}",
                report.unavailable.len()
            ),
        )
        .hint("your work is kept locally as pending; `gryt sync push` delivers it when the server is back"));
    }
    Ok(())
}

/// "The server refused ..." naming each refused record and the server's reason (exit 3).
pub fn refused_error(refused: &[ss::Refused]) -> CliError {
    let shown: Vec<String> = refused
        .iter()
        .take(3)
        .map(|r| format!("{} {}: {}", r.what, r.label, r.reason))
        .collect();
    let more = if refused.len() > 3 {
        format!(" (and {} more)", refused.len() - 3)
    } else {
        String::new()
    };
    CliError::new(
        Kind::Attention,
        format!(
            "The server refused {} change(s): {}{more}",
            refused.len(),
            shown.join("; ")
        ),
    )
}
