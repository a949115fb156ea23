//! `POST /api/v1/sync/batch`: the operations read (typed by [`BatchOpKind`]) without a JSON
//! tree of the body, each run in its own savepoint of one write transaction and answered as
//! its single route would answer it.

use crate::auth::Principal;
use crate::db::Conn;
use crate::error::{ApiError, Resp};
use crate::extract::parse_json;
use crate::handlers::generations::promote_request;
use crate::idem::{self, Claim};
use crate::logic;
use crate::util::now_rfc3339;
use gryt_core::api::{
    BatchOp, BatchOpKind, EvolutionCreate, EvolutionPatch, GenerationCreate, GenerationPatch,
    PromoteRequest,
};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Maximum operations in one batch request.
pub const MAX_BATCH: usize = 500;

/// One unit of work run inside a write transaction.
type WriteFn = Box<dyn FnOnce(&mut dyn Conn, &Principal) -> Result<Resp, ApiError> + Send>;

/// A batch request as received: each operation kept as its raw JSON text (a slice of the
/// request body), so no JSON tree of the body is ever built.
#[derive(Deserialize)]
struct RawBatch<'a> {
    #[serde(borrow)]
    operations: Vec<&'a RawValue>,
}

/// One batch operation, its body still raw JSON text: it is read straight into the typed
/// request of its route (fields no route reads are skipped, never held).
#[derive(Deserialize)]
struct RawOp<'a> {
    op: String,
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    if_match: Option<i64>,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default, borrow)]
    body: Option<&'a RawValue>,
}

fn batch_op_fn(op: RawOp<'_>) -> Result<WriteFn, ApiError> {
    let Some(kind) = BatchOpKind::from_name(&op.op) else {
        return Err(ApiError::invalid(format!(
            "Unknown batch operation '{}'",
            op.op.chars().take(40).collect::<String>()
        )));
    };
    let body = op.body.map(|r| r.get().as_bytes());
    let id = || {
        op.id
            .ok_or_else(|| ApiError::invalid(format!("{kind} needs an id")))
    };
    let needed = || body.ok_or_else(|| ApiError::invalid(format!("{kind} needs a body")));
    let m = op.if_match;
    Ok(match kind {
        BatchOpKind::CreateGeneration => {
            let b: GenerationCreate = parse_json(needed()?)?;
            Box::new(move |c, u| logic::create_generation(c, u, b, &now_rfc3339()))
        }
        BatchOpKind::UpdateGeneration => {
            let id = id()?;
            let b: GenerationPatch = parse_json(needed()?)?;
            Box::new(move |c, u| logic::patch_generation(c, u, id, m, b, &now_rfc3339()))
        }
        BatchOpKind::DeleteGeneration => {
            let id = id()?;
            Box::new(move |c, u| logic::delete_generation(c, u, id, m))
        }
        BatchOpKind::PromoteGeneration => {
            let id = id()?;
            let b = match body {
                None => PromoteRequest::default(),
                Some(raw) => promote_request(raw)?,
            };
            Box::new(move |c, u| logic::promote_generation(c, u, id, m, b, &now_rfc3339()))
        }
        BatchOpKind::CreateEvolution => {
            let b: EvolutionCreate = parse_json(needed()?)?;
            Box::new(move |c, u| logic::create_evolution(c, u, b, &now_rfc3339()))
        }
        BatchOpKind::UpdateEvolution => {
            let id = id()?;
            let b: EvolutionPatch = parse_json(needed()?)?;
            Box::new(move |c, u| logic::patch_evolution(c, u, id, m, b))
        }
        BatchOpKind::DeleteEvolution => {
            let id = id()?;
            Box::new(move |c, u| logic::delete_evolution(c, u, id, m))
        }
    })
}

/// The request fingerprint of one batch operation: SHA-256 over its bytes as received
/// (marked `b2:`, so it is told apart from the form used before, see [`legacy_op_hash`]).
fn op_hash(raw: &[u8]) -> String {
    format!("b2:{}", crate::util::sha256_hex(&[b"batch", raw]))
}

/// The fingerprint servers before `b2:` stored for a batch operation: SHA-256 over the
/// operation re-encoded from a JSON tree. Computed only when a key stored in that form
/// meets a retry (keys live 24 hours), for that one operation.
fn legacy_op_hash(raw: &[u8]) -> Option<String> {
    let op: BatchOp = serde_json::from_slice(raw).ok()?;
    let text = serde_json::to_string(&op).ok()?;
    Some(crate::util::sha256_hex(&[b"batch", text.as_bytes()]))
}

/// One prepared batch operation: its key, request hash, where its bytes are in the
/// request body, and its work (or why it cannot run).
pub struct Prepared {
    key: Option<String>,
    hash: String,
    raw: std::ops::Range<usize>,
    work: Result<WriteFn, ApiError>,
}

/// Runs every operation in ONE write transaction (one commit for the whole push), each
/// inside its own savepoint: a failed operation is rolled back alone and answers what the
/// single route would; the others stay.
pub fn run_batch(
    c: &mut dyn Conn,
    user: &Principal,
    body: &[u8],
    ops: Vec<Prepared>,
) -> Result<Vec<Resp>, ApiError> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let work = match op.work {
            Ok(w) => w,
            Err(e) => {
                out.push(e.to_resp());
                continue;
            }
        };
        c.batch("SAVEPOINT gryt_op")?;
        if let Some(key) = &op.key {
            let raw = body.get(op.raw.clone()).unwrap_or_default();
            let legacy = || legacy_op_hash(raw);
            match idem::claim_compat(c, user.user_id, key, &op.hash, &legacy) {
                Ok(Claim::Fresh) => {}
                Ok(Claim::Replay(r)) => {
                    let r = match idem::reauthorize(c, user, &r, None) {
                        Ok(()) => r,
                        Err(e) if e.status.is_server_error() => {
                            c.batch("ROLLBACK TO SAVEPOINT gryt_op; RELEASE SAVEPOINT gryt_op")?;
                            return Err(e);
                        }
                        Err(e) => e.to_resp(),
                    };
                    c.batch("RELEASE SAVEPOINT gryt_op")?;
                    out.push(r);
                    continue;
                }
                Err(e) => {
                    c.batch("ROLLBACK TO SAVEPOINT gryt_op; RELEASE SAVEPOINT gryt_op")?;
                    if e.status.is_server_error() {
                        return Err(e);
                    }
                    out.push(e.to_resp());
                    continue;
                }
            }
        }
        match work(c, user) {
            Ok(r) => {
                if let Some(key) = &op.key {
                    idem::finish(c, user.user_id, key, &r)?;
                }
                c.batch("RELEASE SAVEPOINT gryt_op")?;
                out.push(r);
            }
            Err(e) => {
                c.batch("ROLLBACK TO SAVEPOINT gryt_op; RELEASE SAVEPOINT gryt_op")?;
                if e.status.is_server_error() {
                    return Err(e);
                }
                let r = e.to_resp();
                if let Some(key) = &op.key {
                    // Remember the refusal too, as the single route does.
                    if let Claim::Fresh = idem::claim(c, user.user_id, key, &op.hash)? {
                        idem::finish(c, user.user_id, key, &r)?;
                    }
                }
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// The operations of a batch body, typed; the body is never held as a JSON tree.
pub fn prepare_batch(body: &[u8]) -> Result<Vec<Prepared>, ApiError> {
    let batch: RawBatch<'_> = parse_json(body)?;
    if batch.operations.len() > MAX_BATCH {
        return Err(ApiError::invalid(format!(
            "A batch may hold at most {MAX_BATCH} operations"
        )));
    }
    let start = body.as_ptr() as usize;
    let mut ops = Vec::with_capacity(batch.operations.len());
    for raw in batch.operations {
        let text = raw.get();
        // Where the operation's text lies in the body (it is a slice of it).
        let from = (text.as_ptr() as usize).saturating_sub(start);
        let op: RawOp<'_> = serde_json::from_str(text)
            .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))?;
        let key = op.idempotency_key.clone();
        let work = match &key {
            Some(k) => idem::validate_key(k).and_then(|()| batch_op_fn(op)),
            None => batch_op_fn(op),
        };
        ops.push(Prepared {
            key,
            hash: op_hash(text.as_bytes()),
            raw: from..from + text.len(),
            work,
        });
    }
    Ok(ops)
}

/// `{"data": {"results": [{"status": S, "body": B}, ...]}}`, each body the single route's
/// answer as it was encoded (written into the answer, not parsed into a tree again).
pub fn batch_answer(rs: Vec<Resp>) -> Resp {
    use std::fmt::Write;
    let size: usize = rs.iter().map(|r| r.body.len() + 32).sum();
    let mut out = String::with_capacity(size + 32);
    out.push_str(r#"{"data":{"results":["#);
    for (i, r) in rs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let body = match serde_json::from_str::<&RawValue>(&r.body) {
            Ok(v) => v.get(),
            Err(_) => "null",
        };
        let _ = write!(out, r#"{{"status":{},"body":{}}}"#, r.status, body);
    }
    out.push_str("]}}");
    Resp {
        status: 200,
        body: out,
        etag: None,
    }
}
