//! Sending a push stage and applying each answer: the facts about the record are loaded,
//! the planner (`gryt_core::sync::push::outcome`) judges the answer, and its steps are
//! applied through the store in the transaction of the batch.

use super::super::*;
use super::plan::{Op, Promotion};
use super::PushReport;
use crate::store::push_state;
use gryt_core::api::BatchResult;
use gryt_core::sync::push::{self as planner, Facts, Pending, Refusal, Report, Step};

/// Sends operations in batches and applies each result. Returns whether any write was
/// refused as stale (412), which calls for pull, merge and one more round.
pub(in crate::ops::sync) fn send(
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
        let mut chunk = std::mem::replace(&mut ops, rest);
        // The typed bodies move into the request and are written once, with it.
        let req = BatchRequest {
            operations: chunk
                .iter_mut()
                .map(|o| BatchOp {
                    op: o.op.op,
                    id: o.op.id,
                    if_match: o.op.if_match,
                    idempotency_key: o.op.idempotency_key.take(),
                    body: o.op.body.take(),
                })
                .collect(),
        };
        let body = serde_json::to_vec(&req)
            .map_err(|e| CliError::error(format!("cannot encode a batch: {e}")))?;
        drop(req);
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
            stale |= apply_result(&tx, &op.pending, &op.id, &op.label, res, &now, report)?;
        }
        tx.commit()?;
        find_on_server(ctx, ws, cloud, report)?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    Ok(stale)
}

/// Sends pending promotions one by one through `POST /generations/{id}/promote`, the route
/// `gryt promote` itself uses, so a stored key that already reached the server (its answer
/// lost) is replayed by the server as the original outcome.
pub(super) fn send_promotions(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    promotions: Vec<Promotion>,
    report: &mut PushReport,
) -> Result<bool> {
    let mut stale = false;
    for p in promotions {
        let route = routes::promote_generation(p.remote_id);
        let resp = cloud.remote.send_route(
            &route,
            p.body.as_deref().map(str::as_bytes),
            &[("Idempotency-Key", p.key.as_str())],
        )?;
        report.requests += 1;
        let body: serde_json::Value = if resp.body.is_empty() {
            serde_json::Value::Null
        } else {
            crate::client::decode(&resp.body)?
        };
        let res = BatchResult {
            status: resp.status,
            body,
        };
        let now = ctx.now();
        let tx = ws.store.write()?;
        let pending = Pending::PromoteGeneration;
        stale |= apply_result(&tx, &pending, &p.local_id, &p.label, &res, &now, report)?;
        tx.commit()?;
        if res.is_success() {
            // A promotion made by `gryt promote` that the server only now confirmed: its
            // release tag goes on the commit that promotion checked.
            tag_settled(ws, &p.local_id, report);
        }
    }
    Ok(stale)
}

/// Looks up the evolutions whose create the server already held (a create it took whose
/// answer was lost): each is found among its generation's evolutions on the server and
/// takes the server's ids, rc and revision (its newer state here goes as an update in the
/// next round); one the server no longer lists is set aside as refused.
fn find_on_server(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    report: &mut PushReport,
) -> Result<()> {
    for (id, label) in std::mem::take(&mut report.look_up) {
        let Some(gen_rid) = ss::generation_remote_id_of_evolution(&ws.store.conn, &id)? else {
            continue;
        };
        let list: Data<gryt_core::api::EvolutionList> = cloud.remote.call_route(
            &routes::evolutions(&format!("?generation_id={gen_rid}")),
            None,
            &[],
        )?;
        report.requests += 1;
        let found = list
            .data
            .evolutions
            .into_iter()
            .find(|e| e.evolution_id == id && !e.deleted);
        let now = ctx.now();
        let tx = ws.store.write()?;
        match found {
            Some(e) => {
                let same = ss::evolution_status_of(&tx, &id)?.as_deref() == Some(e.status.as_str());
                if same {
                    ss::take_remote_evolution(&tx, &id, &e, &now)?;
                } else {
                    ss::adopt_evolution_ids(&tx, &id, &e)?;
                }
                if let Some(g) = ss::generation_id_of_evolution(&tx, &id)? {
                    ss::renumber_provisional(&tx, &g)?;
                }
            }
            None => {
                let reason = format!(
                    "the server holds an evolution under this id ({id}) but its generation no \
                     longer lists it"
                );
                ss::set_refused(&tx, "evolutions", &id, &reason)?;
                report
                    .refused
                    .push(refused_entry(Refusal::Evolution, &label, &reason));
            }
        }
        tx.commit()?;
    }
    Ok(())
}

/// Creates the release tag a confirmed promotion still waits for (a failure leaves it
/// pending, and the next `gryt promote VERSION` completes it).
fn tag_settled(ws: &mut Workspace, local_id: &str, report: &mut PushReport) {
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

/// What the planner needs to know about the record an answer is about.
fn facts(tx: &rusqlite::Connection, pending: &Pending, id: &str) -> Result<Facts> {
    Ok(match pending {
        Pending::CreateGeneration { .. } | Pending::UpdateGeneration { .. } => Facts {
            current: ss::current_content(tx, id)?,
            in_conflict: push_state::in_conflict(tx, id)?,
            evolution_status: None,
        },
        Pending::CreateEvolution { .. } | Pending::UpdateEvolution { .. } => Facts {
            evolution_status: ss::evolution_status_of(tx, id).ok().flatten(),
            ..Facts::default()
        },
        Pending::DeleteGeneration | Pending::PromoteGeneration => Facts::default(),
    })
}

/// The record a successful answer carries, read once for the steps that need it.
enum Answered {
    Nothing,
    Generation(Box<(wire::Generation, GenerationContent)>),
    Evolution(Box<wire::Evolution>),
}

fn answered(res: &BatchResult, steps: &[Step]) -> Result<Answered> {
    let data = res.data().unwrap_or(&serde_json::Value::Null);
    let needs = |s: &[Step]| steps.iter().any(|x| s.contains(x));
    if needs(&[Step::TakeRemote, Step::Rebase]) {
        let g = <wire::Generation as serde::Deserialize>::deserialize(data)
            .map_err(|e| garbage(&format!("a generation in a batch answer: {e}")))?;
        let content = content_of_wire(&g)?;
        return Ok(Answered::Generation(Box::new((g, content))));
    }
    if needs(&[Step::TakeRemoteEvolution, Step::AdoptEvolutionIds]) {
        let e = <wire::Evolution as serde::Deserialize>::deserialize(data)
            .map_err(|e| garbage(&format!("an evolution in a batch answer: {e}")))?;
        return Ok(Answered::Evolution(Box::new(e)));
    }
    Ok(Answered::Nothing)
}

/// Applies one answer: loads the facts, asks the planner, applies its steps and counts the
/// report. Returns whether a pull, merge and one more round must follow.
pub(super) fn apply_result(
    tx: &rusqlite::Connection,
    pending: &Pending,
    id: &str,
    label: &str,
    res: &BatchResult,
    now: &str,
    report: &mut PushReport,
) -> Result<bool> {
    let facts = facts(tx, pending, id)?;
    let outcome = planner::outcome(pending, res.status, res.code(), &facts);
    let record = answered(res, outcome.steps)?;
    match &record {
        Answered::Generation(g) => report.seqs.push(g.0.seq),
        Answered::Evolution(e) => report.seqs.push(e.seq),
        Answered::Nothing => {}
    }
    let reason = || format!("HTTP {}: {}", res.status, res.detail());
    for step in outcome.steps {
        apply_step(tx, *step, pending, id, &record, &reason, now)?;
        if *step == Step::FindOnServer {
            report.look_up.push((id.to_string(), label.to_string()));
        }
    }
    match outcome.report {
        Report::Nothing => {}
        Report::Created => report.created += 1,
        Report::Updated => report.updated += 1,
        Report::Deleted => report.deleted += 1,
        Report::Promoted => report.promoted += 1,
        Report::Evolution => report.evolutions += 1,
        Report::Failed => report
            .failed
            .push((label.to_string(), res.detail().to_string())),
        Report::Unexpected => report.failed.push((label.to_string(), reason())),
        Report::Unavailable => report.unavailable.push((label.to_string(), reason())),
        Report::Refused(what) => report.refused.push(refused_entry(what, label, &reason())),
        Report::VersionTaken => report.version_taken.push(label.to_string()),
    }
    Ok(outcome.retry)
}

fn apply_step(
    tx: &rusqlite::Connection,
    step: Step,
    pending: &Pending,
    id: &str,
    record: &Answered,
    reason: &dyn Fn() -> String,
    now: &str,
) -> Result<()> {
    let missing = || garbage("a success without its record");
    match step {
        Step::TakeRemote | Step::Rebase => {
            let Answered::Generation(g) = record else {
                return Err(missing());
            };
            let (g, content) = &**g;
            if step == Step::TakeRemote {
                ss::take_remote(tx, id, g, content, now)
            } else {
                ss::rebase(tx, id, g, content, None, now)
            }
        }
        Step::ClearPromoteKey => ss::clear_promote_key(tx, id),
        Step::ClearSent => ss::clear_sent(tx, id),
        Step::DropPendingDelete => ss::drop_pending_delete_of(tx, id),
        Step::NeedsResync => ss::set_meta(tx, RESYNC, "1", now),
        Step::SetVersionTaken => {
            let c = vec![gryt_core::sync::ConflictItem::VersionExists.conflict()];
            ss::set_conflict(tx, id, None, &c, ss::ConflictCause::VersionTaken)
        }
        Step::SetRefused => {
            let table = match pending {
                Pending::CreateEvolution { .. } | Pending::UpdateEvolution { .. } => "evolutions",
                _ => "generations",
            };
            ss::set_refused(tx, table, id, &reason())
        }
        Step::SetDeleteRefused => ss::set_delete_refused(tx, id, &reason()),
        Step::TakeRemoteEvolution | Step::AdoptEvolutionIds => {
            let Answered::Evolution(e) = record else {
                return Err(missing());
            };
            if step == Step::TakeRemoteEvolution {
                ss::take_remote_evolution(tx, id, e, now)
            } else {
                ss::adopt_evolution_ids(tx, id, e)
            }
        }
        Step::FindOnServer => ss::forget_evolution_key(tx, id),
        Step::RenumberProvisional => {
            // The rc the server gave may be one a provisional local evolution still uses.
            match ss::generation_id_of_evolution(tx, id).ok().flatten() {
                Some(g) => ss::renumber_provisional(tx, &g),
                None => Ok(()),
            }
        }
    }
}

fn refused_entry(what: Refusal, label: &str, reason: &str) -> ss::Refused {
    // Labels start with the version (`v2.0.0`, or `v2.0.0-rc.1 FEAT-1 (code)`).
    let first = label.split_whitespace().next().unwrap_or(label);
    let version = match (what, first.rfind("-rc.")) {
        (Refusal::Evolution, Some(i)) => &first[..i],
        _ => first,
    }
    .to_string();
    ss::Refused {
        what: what.as_str(),
        version,
        label: label.to_string(),
        reason: reason.to_string(),
        id: String::new(),
        remote_id: None,
    }
}
