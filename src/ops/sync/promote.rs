//! Cloud-first promotion: the server decides first, then the local record and the git tag
//! follow. See docs/sync.md.

use super::*;
use gryt_core::api::ErrorCode;

/// The outcome of a cloud-first promotion.
pub enum CloudPromotion {
    /// Promoted on the server (now, or by an earlier attempt of ours that this one settled).
    Promoted(Box<GenerationRecord>),
    /// Already promoted before this command, with no promotion of ours pending: the caller
    /// may complete a missing tag, or refuses.
    AlreadyPromoted(Box<GenerationRecord>),
    /// Someone else promoted first.
    Refused(CliError),
}

/// How often a promotion the server reports as still in flight (409 `idempotency_in_flight`)
/// is asked again under the same key, and the first pause between asks (doubling).
pub(super) const IN_FLIGHT_ATTEMPTS: u32 = 5;
pub(super) const IN_FLIGHT_PAUSE_MS: u64 = 200;

/// Cloud-first promotion: pull, refuse a dirty tree, gate against the commit checked out,
/// push the generation and its evolutions, then the atomic promotion on the server with a
/// stored Idempotency-Key and a body naming the commit and the proof counted per change;
/// only then the local record. A promotion of ours still pending (its answer lost, or still
/// in flight) is re-sent as it was first sent, under the same key.
pub fn promote(
    ctx: &Context,
    ws: &mut Workspace,
    cloud: &Cloud,
    version: &str,
    allow_dirty: bool,
    tag: bool,
) -> Result<CloudPromotion> {
    let mut noop = |_: u64, _: u64| {};
    let v = crate::ops::parse_version(version)?.to_string();
    pull(ctx, ws, cloud, &Filter::default(), &mut noop)?;
    let rec = crate::ops::load_generation(&ws.store.conn, &v)?;
    let state = crate::store::promotion_state(&ws.store.conn, &rec.generation_id)?;
    let pending = state.key.is_some();
    if rec.status == GenerationStatus::Promoted && !pending {
        return Ok(CloudPromotion::AlreadyPromoted(Box::new(rec)));
    }
    if !pending {
        let tree = crate::ops::tree_state(&ws.repo)?;
        crate::ops::check_clean(&tree, &v, allow_dirty)?;
        let (evs, report) =
            crate::ops::gate_at(&ws.repo, &ws.store.conn, &rec, tree.commit.as_deref())?;
        crate::ops::check_gate(&evs, &report)?;
        let pushed = push(ctx, ws, cloud, Some(&v), &mut noop)?;
        push_verdict(&pushed)?;
        // The push pulled first: count the proofs as they stand now.
        let rec = crate::ops::load_generation(&ws.store.conn, &v)?;
        let (_, report) =
            crate::ops::gate_at(&ws.repo, &ws.store.conn, &rec, tree.commit.as_deref())?;
        report.check()?;
        let body = crate::ops::promote_body(&report)?;
        // The key and body are stored before the request: a retry after a lost answer (or
        // while the first attempt is still in flight) sends exactly this again.
        let tx = ws.store.write()?;
        key_for(
            &tx,
            ss::KeySlot::GenerationPromote,
            &rec.generation_id,
            None,
        )?;
        crate::store::set_promotion(&tx, &rec.generation_id, tree.commit.as_deref(), &body, tag)?;
        tx.commit()?;
    }
    let rec = crate::ops::load_generation(&ws.store.conn, &v)?;
    let Some(rid) = rec.remote_id.clone() else {
        return Err(CliError::error(format!(
            "Generation {v} did not reach the server"
        )));
    };
    let state = crate::store::promotion_state(&ws.store.conn, &rec.generation_id)?;
    let Some(key) = state.key.clone() else {
        return Err(CliError::error(format!(
            "The promotion of {v} lost its key"
        )));
    };
    let route = routes::promote_generation(rid);
    let body = state.body.clone().map(String::into_bytes);
    let mut attempt = 0;
    let resp = loop {
        let resp =
            cloud
                .remote
                .send_route(&route, body.as_deref(), &[("Idempotency-Key", &key)])?;
        attempt += 1;
        if !(resp.status == 409 && answer_code(&resp.body) == ErrorCode::IdempotencyInFlight)
            || attempt >= IN_FLIGHT_ATTEMPTS
        {
            break resp;
        }
        std::thread::sleep(std::time::Duration::from_millis(
            IN_FLIGHT_PAUSE_MS << (attempt - 1),
        ));
    };
    let now = ctx.now();
    if (200..300).contains(&resp.status) {
        let g: Data<wire::Generation> = crate::client::decode(&resp.body)?;
        let content = content_of_wire(&g.data)?;
        let tx = ws.store.write()?;
        ss::take_remote(&tx, &rec.generation_id, &g.data, &content, &now)?;
        ss::clear_promote_key(&tx, &rec.generation_id)?;
        ss::log(
            &tx,
            &now,
            &ss::LogEntry {
                direction: "promote",
                records: 1,
                conflicts: 0,
                requests: i64::from(attempt),
                bytes: 0,
                error: None,
                detail: Some(&v),
            },
        )?;
        tx.commit()?;
        let rec = crate::ops::load_generation(&ws.store.conn, &v)?;
        crate::ops::write_contract_fast(&ws.store.conn, &ws.repo, &rec)?;
        return Ok(CloudPromotion::Promoted(Box::new(rec)));
    }
    let err = crate::client::http_error(&resp);
    let code = answer_code(&resp.body);
    let in_flight = resp.status == 409 && code == ErrorCode::IdempotencyInFlight;
    {
        let tx = ws.store.write()?;
        if !in_flight {
            // A final answer: the next attempt is a new promotion with a new key and body.
            ss::forget_promotion_attempt(&tx, &rec.generation_id)?;
        }
        ss::log(
            &tx,
            &now,
            &ss::LogEntry {
                direction: "promote",
                records: 0,
                conflicts: 0,
                requests: i64::from(attempt),
                bytes: 0,
                error: Some(&err_text(&err)),
                detail: Some(&v),
            },
        )?;
        tx.commit()?;
    }
    if in_flight {
        return Err(CliError::new(
            Kind::Unreachable,
            format!("The server is still processing the promotion of {v}; it was kept pending"),
        )
        .hint(format!(
            "run `gryt promote {v}` again (or `gryt sync push`) to settle it; the tag follows once the server confirms"
        )));
    }
    match (resp.status, code) {
        (409, ErrorCode::GateFailed) => {
            // The server's gate counts only the proofs it holds: one of ours did not reach
            // it, or it refused it.
            let _ = pull(ctx, ws, cloud, &Filter::default(), &mut noop);
            Err(CliError::error(format!("The server refused the promotion: {}", http_detail(&err)))
                .hint(format!("the server counts only the proofs it holds; `gryt sync status` lists work it refused or that is still pending, and `gryt sync status {v}` each change's proof")))
        }
        (409, ErrorCode::AlreadyPromoted) => {
            // Lost the race (or promoted earlier by someone): bring the winner's record here.
            let _ = pull(ctx, ws, cloud, &Filter::default(), &mut noop);
            Ok(CloudPromotion::Refused(
                CliError::new(Kind::Attention, http_detail(&err))
                    .hint("the first promotion wins; release your work as a new version"),
            ))
        }
        (409 | 422, _) => Err(CliError::error(format!(
            "The server refused to promote {v}: {}",
            http_detail(&err)
        ))
        .hint(format!(
            "pull the latest proofs (`gryt sync pull`), see `gryt generation show {v}`, and prove what it names"
        ))),
        _ => Err(err.into()),
    }
}

/// The typed `code` of an error answer ([`ErrorCode::Unknown`] when it has none, one this
/// build does not know, or the body is not JSON).
fn answer_code(body: &[u8]) -> ErrorCode {
    #[derive(serde::Deserialize)]
    struct Coded {
        #[serde(default)]
        code: ErrorCode,
    }
    serde_json::from_slice::<Coded>(body).map_or(ErrorCode::Unknown, |c| c.code)
}

fn http_detail(e: &RemoteError) -> String {
    match e {
        RemoteError::Http { detail, .. } => detail.clone(),
        other => err_text(other),
    }
}

fn err_text(e: &RemoteError) -> String {
    e.text()
}
