//! The rules, written once over [`Conn`]. Every public function here runs inside one
//! transaction opened by its caller (see `crate::app`), so each rule holds atomically on
//! SQLite and PostgreSQL alike.
//!
//! Locking: every write that touches a scope's records first bumps that scope's `seq`
//! (`UPDATE scopes ... RETURNING seq`). On PostgreSQL that takes the scope row's lock until
//! commit, on SQLite `BEGIN IMMEDIATE` already holds the write lock; either way the writers of
//! one scope commit in `seq` order, so the change feed never shows N+1 before N.

use crate::auth::Principal;
use crate::db::{Conn, Row, Val};
use crate::error::{ApiError, Resp};
use axum::http::StatusCode;
use gryt_core::api::ErrorCode;
use gryt_core::api::{
    Data, Evolution, EvolutionCreate, EvolutionList, EvolutionPatch, FeedRecord, Generation,
    GenerationCreate, GenerationList, GenerationPatch, PipelineRunPush, PipelineRunStored,
    PromoteRequest, SyncChanges, SyncHead, WireChange,
};
use gryt_core::evolution::{self, EvolutionFacts};
use gryt_core::gate::check_named;
use gryt_core::generation::ensure_draft;
use gryt_core::{
    gate, limits, ChangeId, EvolutionStatus, GenerationSpec, GenerationStatus, Named, Proof, Target,
};

pub const DEFAULT_PROJECT: &str = "default";
pub const MAX_PAGE: i64 = limits::FEED_PAGE_RECORDS as i64;

/// A new server id for a row of `table`: a random integer from 1 to 2^53 - 1 (exact in
/// JSON numbers everywhere, as the reference client's integer ids need), so that ids do not
/// count the server's records or reveal its activity. Taken ids are drawn again.
pub fn new_record_id(c: &mut dyn Conn, table: &str) -> Result<i64, ApiError> {
    for _ in 0..16 {
        let bits =
            crate::util::random_bytes::<8>().map_err(|_| ApiError::internal("no randomness"))?;
        let id = (u64::from_le_bytes(bits) & ((1u64 << 53) - 1)) as i64;
        if id == 0 {
            continue;
        }
        let sql = format!("SELECT 1 FROM {table} WHERE id = ?1");
        if c.query_opt(&sql, &[Val::Int(id)])?.is_none() {
            return Ok(id);
        }
    }
    Err(ApiError::internal("could not find a free record id"))
}

/// 413 when a whole record (as answered) is over its limit.
fn bounded_record(what: &str, record: &impl serde::Serialize, max: usize) -> Result<(), ApiError> {
    let bytes = serde_json::to_vec(record)
        .map(|v| v.len())
        .map_err(|e| ApiError::internal(format!("cannot encode the {what}: {e}")))?;
    if bytes > max {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            limits::record_too_large(what, bytes, max),
        ));
    }
    Ok(())
}

/// A personal or team scope the caller belongs to.
#[derive(Debug, Clone)]
pub struct Scope {
    pub id: i64,
    pub team_id: Option<String>,
}

fn not_member_team(team_id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Team {} not found",
        team_id.chars().take(64).collect::<String>()
    ))
}

/// The caller's personal scope, or the team's when `team_id` is given and the caller is a
/// member (anything else is 404, never revealing that the team exists).
pub fn resolve_scope(
    c: &mut dyn Conn,
    user: &Principal,
    team_id: Option<&str>,
) -> Result<Scope, ApiError> {
    match team_id {
        None => {
            let r = c.query_one(
                "SELECT id FROM scopes WHERE user_id = ?1",
                &[Val::Int(user.user_id)],
            )?;
            Ok(Scope {
                id: r.int(0)?,
                team_id: None,
            })
        }
        Some(t) => {
            let r = c.query_opt(
                "SELECT s.id FROM teams t JOIN scopes s ON s.team_pk = t.id \
                 JOIN team_members m ON m.team_pk = t.id AND m.user_id = ?2 \
                 WHERE t.team_id = ?1 AND t.deleted = 0",
                &[Val::from(t), Val::Int(user.user_id)],
            )?;
            match r {
                Some(r) => Ok(Scope {
                    id: r.int(0)?,
                    team_id: Some(t.to_string()),
                }),
                None => Err(not_member_team(t)),
            }
        }
    }
}

/// Ids of every scope the caller may read.
fn my_scope_ids(c: &mut dyn Conn, user: &Principal) -> Result<Vec<i64>, ApiError> {
    let rows = c.query(
        "SELECT s.id FROM scopes s WHERE s.user_id = ?1 \
         UNION ALL SELECT s.id FROM scopes s JOIN teams t ON t.id = s.team_pk \
         JOIN team_members m ON m.team_pk = t.id WHERE m.user_id = ?1 AND t.deleted = 0",
        &[Val::Int(user.user_id)],
    )?;
    rows.iter()
        .map(|r| r.int(0).map_err(ApiError::from))
        .collect()
}

fn is_member(c: &mut dyn Conn, user: &Principal, scope_id: i64) -> Result<bool, ApiError> {
    Ok(my_scope_ids(c, user)?.contains(&scope_id))
}

/// Takes the scope's write lock (until commit) and hands out the next feed position.
pub fn next_seq(c: &mut dyn Conn, scope_id: i64) -> Result<i64, ApiError> {
    let r = c.query_one(
        "UPDATE scopes SET seq = seq + 1 WHERE id = ?1 RETURNING seq",
        &[Val::Int(scope_id)],
    )?;
    Ok(r.int(0)?)
}

fn validate_project(p: Option<&str>) -> Result<String, ApiError> {
    let p = p.unwrap_or(DEFAULT_PROJECT);
    let ok = !p.is_empty()
        && p.len() <= 100
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
    if ok {
        Ok(p.to_string())
    } else {
        Err(ApiError::invalid(
            "A project name is 1 to 100 characters: letters, digits, '.', '_', '-' and '/'",
        ))
    }
}

fn validate_uuid(s: &str, what: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(s)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            ApiError::invalid(format!(
                "{what} '{}' is not a UUID",
                s.chars().take(64).collect::<String>()
            ))
        })
}

fn short_text(s: Option<String>, what: &str, max: usize) -> Result<Option<String>, ApiError> {
    match s {
        Some(v) if v.chars().count() > max => Err(ApiError::invalid(format!(
            "{what} may be at most {max} characters"
        ))),
        other => Ok(other),
    }
}

/// Checks the wire changes with gryt-core's rules and returns the contract they form.
fn to_spec(
    version: &str,
    description: Option<String>,
    changes: &[WireChange],
    pipeline_template: Option<String>,
) -> Result<(GenerationSpec, Vec<WireChange>), ApiError> {
    let mut core = Vec::with_capacity(changes.len());
    let mut clean = Vec::with_capacity(changes.len());
    for ch in changes {
        let change = ch.to_change()?;
        if let Some(s) = &ch.status {
            if s.chars().count() > 32 {
                return Err(ApiError::invalid(
                    "A change status may be at most 32 characters",
                ));
            }
        }
        core.push(change);
        clean.push(ch.clone());
    }
    let spec = GenerationSpec {
        version: version.to_string(),
        description,
        changes: core,
        pipeline_template,
    };
    let v = spec.validate()?;
    let spec = GenerationSpec {
        version: v.to_string(),
        ..spec
    };
    Ok((spec, clean))
}

const GEN_COLS: &str = "id, generation_id, version, description, changes, pipeline_template, status, \
     created_at, promoted_at, created_by, promoted_by, team_id, project, rev, seq, deleted, scope_id, \
     promoted_commit";

fn row_to_generation(r: &Row) -> Result<(Generation, i64), ApiError> {
    let changes: Vec<WireChange> = serde_json::from_str(&r.text(4)?)
        .map_err(|e| ApiError::internal(format!("stored changes unreadable: {e}")))?;
    Ok((
        Generation {
            id: r.int(0)?,
            generation_id: r.text(1)?,
            version: r.text(2)?,
            description: r.opt_text(3)?,
            changes,
            pipeline_template: r.opt_text(5)?,
            status: r.text(6)?,
            created_at: r.text(7)?,
            promoted_at: r.opt_text(8)?,
            created_by: r.text(9)?,
            promoted_by: r.opt_text(10)?,
            team_id: r.opt_text(11)?,
            project: r.text(12)?,
            rev: r.int(13)?,
            seq: r.int(14)?,
            deleted: r.int(15)? != 0,
            promoted_commit: r.opt_text(17)?,
        },
        r.int(16)?,
    ))
}

fn gen_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Generation {} not found",
        id.chars().take(64).collect::<String>()
    ))
}

/// Loads a live generation the caller may see (404 otherwise).
pub fn load_generation(
    c: &mut dyn Conn,
    user: &Principal,
    id: i64,
) -> Result<(Generation, i64), ApiError> {
    let sql = format!("SELECT {GEN_COLS} FROM generations WHERE id = ?1");
    let r = c
        .query_opt(&sql, &[Val::Int(id)])?
        .ok_or_else(|| gen_not_found(&id.to_string()))?;
    let (g, scope) = row_to_generation(&r)?;
    if g.deleted || !is_member(c, user, scope)? {
        return Err(gen_not_found(&id.to_string()));
    }
    Ok((g, scope))
}

fn reload_generation(c: &mut dyn Conn, id: i64) -> Result<Generation, ApiError> {
    let sql = format!("SELECT {GEN_COLS} FROM generations WHERE id = ?1");
    let r = c.query_one(&sql, &[Val::Int(id)])?;
    Ok(row_to_generation(&r)?.0)
}

pub fn parse_id(s: &str, what: &str) -> Result<i64, ApiError> {
    s.trim().parse::<i64>().map_err(|_| {
        ApiError::not_found(format!(
            "{what} {} not found",
            s.chars().take(64).collect::<String>()
        ))
    })
}

fn gen_resp(status: u16, g: &Generation) -> Result<Resp, ApiError> {
    Ok(Resp::json(status, &Data { data: g })?.with_rev(g.rev))
}

fn check_if_match(
    if_match: Option<i64>,
    rev: i64,
    current: &impl serde::Serialize,
) -> Result<(), ApiError> {
    match if_match {
        Some(m) if m != rev => Err(ApiError::stale(
            serde_json::to_value(current).unwrap_or_default(),
            rev,
        )),
        _ => Ok(()),
    }
}

fn already_exists_version(
    c: &mut dyn Conn,
    scope: i64,
    project: &str,
    version: &str,
) -> Result<Option<ApiError>, ApiError> {
    let r = c.query_opt(
        "SELECT id, created_by, created_at FROM generations \
         WHERE scope_id = ?1 AND project = ?2 AND version = ?3 AND deleted = 0",
        &[Val::Int(scope), Val::from(project), Val::from(version)],
    )?;
    Ok(match r {
        Some(r) => Some(ApiError::conflict(
            ErrorCode::AlreadyExists,
            format!(
                "Generation {version} already exists (created by {} at {}, id {})",
                r.text(1)?,
                r.text(2)?,
                r.int(0)?
            ),
        )),
        None => None,
    })
}

pub fn create_generation(
    c: &mut dyn Conn,
    user: &Principal,
    body: GenerationCreate,
    now: &str,
) -> Result<Resp, ApiError> {
    body.check_limits()?;
    let uuid = validate_uuid(&body.generation_id, "generation_id")?;
    if let Some(s) = &body.status {
        GenerationStatus::parse(s)?;
    }
    let description = short_text(body.description, "A description", 10_000)?;
    let template = short_text(body.pipeline_template, "A pipeline template", 200)?;
    let (spec, changes) = to_spec(&body.version, description, &body.changes, template)?;
    let project = validate_project(body.project.as_deref())?;
    let created_at =
        short_text(body.created_at, "created_at", 64)?.unwrap_or_else(|| now.to_string());
    let scope = resolve_scope(c, user, body.team_id.as_deref())?;
    let seq = next_seq(c, scope.id)?;
    if c.query_opt(
        "SELECT id FROM generations WHERE scope_id = ?1 AND generation_id = ?2",
        &[Val::Int(scope.id), Val::from(&uuid)],
    )?
    .is_some()
    {
        return Err(ApiError::conflict(
            ErrorCode::AlreadyExists,
            format!("Generation {uuid} already exists"),
        ));
    }
    if let Some(e) = already_exists_version(c, scope.id, &project, &spec.version)? {
        return Err(e);
    }
    let changes_json = serde_json::to_string(&changes)
        .map_err(|e| ApiError::internal(format!("cannot encode changes: {e}")))?;
    let id = new_record_id(c, "generations")?;
    let r = c.query_one(
        "INSERT INTO generations (generation_id, scope_id, team_id, project, version, description, \
         changes, pipeline_template, status, created_at, created_by, rev, seq, deleted, id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'draft', ?9, ?10, 1, ?11, 0, ?12) RETURNING id",
        &[
            Val::from(&uuid),
            Val::Int(scope.id),
            Val::from(scope.team_id.clone()),
            Val::from(&project),
            Val::from(&spec.version),
            Val::from(spec.description.clone()),
            Val::from(changes_json),
            Val::from(spec.pipeline_template.clone()),
            Val::from(created_at),
            Val::from(&user.username),
            Val::Int(seq),
            Val::Int(id),
        ],
    )?;
    let g = reload_generation(c, r.int(0)?)?;
    bounded_record("generation", &g, limits::GENERATION_RECORD_BYTES)?;
    gen_resp(201, &g)
}

pub struct ListFilter {
    pub team_id: Option<String>,
    pub project: Option<String>,
    pub version: Option<String>,
}

pub fn list_generations(
    c: &mut dyn Conn,
    user: &Principal,
    f: &ListFilter,
) -> Result<Resp, ApiError> {
    let scopes = match &f.team_id {
        Some(t) => vec![resolve_scope(c, user, Some(t))?.id],
        None => my_scope_ids(c, user)?,
    };
    let version = match &f.version {
        Some(v) => Some(gryt_core::Version::parse(v)?.to_string()),
        None => None,
    };
    let mut out = Vec::new();
    for s in scopes {
        let sql = format!(
            "SELECT {GEN_COLS} FROM generations WHERE scope_id = ?1 AND deleted = 0 ORDER BY seq"
        );
        for r in c.query(&sql, &[Val::Int(s)])? {
            let (g, _) = row_to_generation(&r)?;
            if f.project.as_ref().is_some_and(|p| p != &g.project) {
                continue;
            }
            if version.as_ref().is_some_and(|v| v != &g.version) {
                continue;
            }
            out.push(g);
        }
    }
    Resp::json(
        200,
        &Data {
            data: GenerationList { generations: out },
        },
    )
}

pub fn get_generation(c: &mut dyn Conn, user: &Principal, id: i64) -> Result<Resp, ApiError> {
    let (g, _) = load_generation(c, user, id)?;
    gen_resp(200, &g)
}

fn already_promoted(g: &Generation) -> ApiError {
    let by = g.promoted_by.as_deref().unwrap_or("someone");
    let at = g.promoted_at.as_deref().unwrap_or("an earlier time");
    ApiError::from(gryt_core::generation::already_promoted(
        &g.version,
        Some(by),
        Some(at),
    ))
    .with_code(ErrorCode::AlreadyPromoted)
}

fn evolution_proofs(c: &mut dyn Conn, gen_pk: i64) -> Result<Vec<Proof>, ApiError> {
    let rows = c.query(
        "SELECT change_id, rc, created_by, status, evolution_id, commit_sha, dirty, fingerprint \
         FROM evolutions WHERE generation_pk = ?1 AND deleted = 0",
        &[Val::Int(gen_pk)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Proof {
            change_id: r.text(0)?,
            rc: u32::try_from(r.int(1)?).unwrap_or(u32::MAX),
            owner: r.text(2)?,
            status: EvolutionStatus::parse(&r.text(3)?)?,
            evolution_id: r.text(4)?,
            commit: r.opt_text(5)?,
            dirty: r.int(6)? != 0,
            fingerprint: r.opt_text(7)?,
        });
    }
    Ok(out)
}

/// A git commit id as a client names it: 7 to 64 hexadecimal digits (SHA-1 or SHA-256).
fn validate_commit(s: Option<String>) -> Result<Option<String>, ApiError> {
    match s {
        None => Ok(None),
        Some(c) if (7..=64).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(c.to_ascii_lowercase()))
        }
        Some(_) => Err(ApiError::invalid(
            "commit must be a git commit id: 7 to 64 hexadecimal digits",
        )),
    }
}

fn validate_fingerprint(s: Option<String>) -> Result<Option<String>, ApiError> {
    match s {
        None => Ok(None),
        Some(f) if gryt_core::change::is_fingerprint(&f) => Ok(Some(f)),
        Some(_) => Err(ApiError::invalid(
            "fingerprint must be `c1:` followed by 32 lowercase hexadecimal digits",
        )),
    }
}

/// Checks a promotion request's own shape (before any lock is taken).
pub fn validate_promote_request(req: PromoteRequest) -> Result<PromoteRequest, ApiError> {
    if req.proofs.len() > 10_000 {
        return Err(ApiError::invalid("A promotion names at most 10000 proofs"));
    }
    for p in &req.proofs {
        if p.change_id.len() > 64 || p.evolution_id.len() > 64 {
            return Err(ApiError::invalid(
                "A named proof's change_id and evolution_id are at most 64 characters",
            ));
        }
    }
    Ok(PromoteRequest {
        commit: validate_commit(req.commit)?,
        proofs: req.proofs,
    })
}

/// The first-wins promotion: the gate from the server's evolutions, then one conditional
/// UPDATE. A request naming its commit or proofs is checked proof by proof (the server has no
/// git history: ancestry is the client's word, the rest the server checks); one naming neither
/// (the reference client's) gets the newest-proof rule.
fn promote_locked(
    c: &mut dyn Conn,
    user: &Principal,
    g: &Generation,
    seq: i64,
    req: &PromoteRequest,
    now: &str,
) -> Result<Generation, ApiError> {
    let (spec, _) = to_spec(
        &g.version,
        g.description.clone(),
        &g.changes,
        g.pipeline_template.clone(),
    )?;
    let proofs = evolution_proofs(c, g.id)?;
    if req.commit.is_none() && req.proofs.is_empty() {
        gate(&spec, &proofs, &Target::none()).check()?;
    } else {
        let named: Vec<Named> = req
            .proofs
            .iter()
            .map(|p| Named {
                change_id: p.change_id.clone(),
                evolution_id: p.evolution_id.clone(),
            })
            .collect();
        check_named(&spec, &proofs, &named).map_err(|(problem, detail)| {
            let status = StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::CONFLICT);
            ApiError::new(
                status,
                problem.code(),
                format!("Cannot promote {}: {detail}", g.version),
            )
        })?;
    }
    let n = c.exec(
        "UPDATE generations SET status = 'promoted', promoted_by = ?1, promoted_at = ?2, \
         rev = rev + 1, seq = ?3, promoted_commit = ?5 \
         WHERE id = ?4 AND status = 'draft' AND deleted = 0",
        &[
            Val::from(&user.username),
            Val::from(now),
            Val::Int(seq),
            Val::Int(g.id),
            Val::from(req.commit.clone()),
        ],
    )?;
    let after = reload_generation(c, g.id)?;
    if n == 0 {
        return Err(already_promoted(&after));
    }
    // Counted in /metrics if the unit of work commits.
    crate::metrics::note_promotion();
    Ok(after)
}

pub fn promote_generation(
    c: &mut dyn Conn,
    user: &Principal,
    id: i64,
    if_match: Option<i64>,
    req: PromoteRequest,
    now: &str,
) -> Result<Resp, ApiError> {
    let (g, scope) = load_generation(c, user, id)?;
    let seq = next_seq(c, scope)?;
    // Re-read under the lock: the answer must reflect the winner if someone just promoted.
    let g = reload_generation(c, g.id).unwrap_or(g);
    if g.status == "promoted" {
        return Err(already_promoted(&g));
    }
    check_if_match(if_match, g.rev, &g)?;
    let g = promote_locked(c, user, &g, seq, &req, now)?;
    gen_resp(200, &g)
}

pub fn patch_generation(
    c: &mut dyn Conn,
    user: &Principal,
    id: i64,
    if_match: Option<i64>,
    p: GenerationPatch,
    now: &str,
) -> Result<Resp, ApiError> {
    p.check_limits()?;
    let (_, scope) = load_generation(c, user, id)?;
    let seq = next_seq(c, scope)?;
    let g = reload_generation(c, id)?;
    let wants_promotion = match p.status.as_deref() {
        None => false,
        Some(s) => GenerationStatus::parse(s)? == GenerationStatus::Promoted,
    };
    if g.status == "promoted" && wants_promotion {
        return Err(already_promoted(&g));
    }
    let status = GenerationStatus::parse(&g.status)?;
    ensure_draft(&g.version, status)?;
    check_if_match(if_match, g.rev, &g)?;
    if let Some(uuid) = &p.generation_id {
        if validate_uuid(uuid, "generation_id")? != g.generation_id {
            return Err(ApiError::invalid("generation_id cannot change"));
        }
    }
    let version = p.version.clone().unwrap_or_else(|| g.version.clone());
    let description = match p.description {
        Some(d) => short_text(Some(d), "A description", 10_000)?,
        None => g.description.clone(),
    };
    let template = match p.pipeline_template {
        Some(t) => short_text(Some(t), "A pipeline template", 200)?,
        None => g.pipeline_template.clone(),
    };
    let changes = p.changes.unwrap_or_else(|| g.changes.clone());
    let (spec, changes) = to_spec(&version, description, &changes, template)?;
    if spec.version != g.version {
        if let Some(e) = already_exists_version(c, scope, &g.project, &spec.version)? {
            return Err(e);
        }
    }
    let unchanged = spec.version == g.version
        && spec.description == g.description
        && spec.pipeline_template == g.pipeline_template
        && changes == g.changes;
    if unchanged && wants_promotion {
        // A promotion that edits nothing (the reference client sends the whole body again).
        let g = promote_locked(c, user, &g, seq, &PromoteRequest::default(), now)?;
        return gen_resp(200, &g);
    }
    let changes_json = serde_json::to_string(&changes)
        .map_err(|e| ApiError::internal(format!("cannot encode changes: {e}")))?;
    c.exec(
        "UPDATE generations SET version = ?1, description = ?2, changes = ?3, pipeline_template = ?4, \
         rev = rev + 1, seq = ?5 WHERE id = ?6",
        &[
            Val::from(&spec.version),
            Val::from(spec.description.clone()),
            Val::from(changes_json),
            Val::from(spec.pipeline_template.clone()),
            Val::Int(seq),
            Val::Int(id),
        ],
    )?;
    let mut g = reload_generation(c, id)?;
    bounded_record("generation", &g, limits::GENERATION_RECORD_BYTES)?;
    if wants_promotion {
        g = promote_locked(c, user, &g, seq, &PromoteRequest::default(), now)?;
    }
    gen_resp(200, &g)
}

pub fn delete_generation(
    c: &mut dyn Conn,
    user: &Principal,
    id: i64,
    if_match: Option<i64>,
) -> Result<Resp, ApiError> {
    let (_, scope) = load_generation(c, user, id)?;
    let seq = next_seq(c, scope)?;
    let g = reload_generation(c, id)?;
    ensure_draft(&g.version, GenerationStatus::parse(&g.status)?)?;
    check_if_match(if_match, g.rev, &g)?;
    c.exec(
        "UPDATE generations SET deleted = 1, rev = rev + 1, seq = ?1 WHERE id = ?2",
        &[Val::Int(seq), Val::Int(id)],
    )?;
    let evs = c.query(
        "SELECT id FROM evolutions WHERE generation_pk = ?1 AND deleted = 0 ORDER BY id",
        &[Val::Int(id)],
    )?;
    for r in evs {
        let s = next_seq(c, scope)?;
        c.exec(
            "UPDATE evolutions SET deleted = 1, rev = rev + 1, seq = ?1 WHERE id = ?2",
            &[Val::Int(s), Val::Int(r.int(0)?)],
        )?;
    }
    let g = reload_generation(c, id)?;
    gen_resp(200, &g)
}

// ---------------------------------------------------------------- evolutions

const EVO_COLS: &str =
    "e.id, e.evolution_id, e.generation_pk, g.generation_id, g.version, e.change_id, \
     e.code_name, e.rc, e.status, e.pipeline_run_id, e.started_at, e.completed_at, e.created_by, \
     e.created_at, g.team_id, g.project, e.rev, e.seq, e.deleted, e.scope_id, e.owner_id, \
     e.commit_sha, e.dirty, e.fingerprint";

fn row_to_evolution(r: &Row) -> Result<(Evolution, i64, i64), ApiError> {
    let version = r.text(4)?;
    let rc = r.int(7)?;
    Ok((
        Evolution {
            id: r.int(0)?,
            evolution_id: r.text(1)?,
            generation_id: r.int(2)?.to_string(),
            generation_uuid: r.text(3)?,
            tag: Some(format!("{version}-rc.{rc}")),
            version,
            change_id: r.text(5)?,
            code_name: r.text(6)?,
            rc,
            status: r.text(8)?,
            pipeline_run_id: r.opt_text(9)?,
            started_at: r.opt_text(10)?,
            completed_at: r.opt_text(11)?,
            created_by: r.text(12)?,
            created_at: r.text(13)?,
            team_id: r.opt_text(14)?,
            project: r.text(15)?,
            rev: r.int(16)?,
            seq: r.int(17)?,
            deleted: r.int(18)? != 0,
            commit: r.opt_text(21)?,
            dirty: r.int(22)? != 0,
            fingerprint: r.opt_text(23)?,
        },
        r.int(19)?,
        r.int(20)?,
    ))
}

fn evo_by_id(c: &mut dyn Conn, id: i64) -> Result<Option<(Evolution, i64, i64)>, ApiError> {
    let sql = format!(
        "SELECT {EVO_COLS} FROM evolutions e JOIN generations g ON g.id = e.generation_pk WHERE e.id = ?1"
    );
    match c.query_opt(&sql, &[Val::Int(id)])? {
        Some(r) => Ok(Some(row_to_evolution(&r)?)),
        None => Ok(None),
    }
}

fn evo_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Evolution {} not found",
        id.chars().take(64).collect::<String>()
    ))
}

/// A live evolution the caller may see: (record, scope id, owner id).
fn load_evolution(
    c: &mut dyn Conn,
    user: &Principal,
    id: i64,
) -> Result<(Evolution, i64, i64), ApiError> {
    let (e, scope, owner) = evo_by_id(c, id)?.ok_or_else(|| evo_not_found(&id.to_string()))?;
    if e.deleted || !is_member(c, user, scope)? {
        return Err(evo_not_found(&id.to_string()));
    }
    Ok((e, scope, owner))
}

fn evo_resp(status: u16, e: &Evolution) -> Result<Resp, ApiError> {
    Ok(Resp::json(status, &Data { data: e })?.with_rev(e.rev))
}

fn parse_evo_status(s: Option<&str>) -> Result<Option<EvolutionStatus>, ApiError> {
    Ok(match s {
        Some(s) => Some(EvolutionStatus::parse(s)?),
        None => None,
    })
}

pub fn create_evolution(
    c: &mut dyn Conn,
    user: &Principal,
    body: EvolutionCreate,
    now: &str,
) -> Result<Resp, ApiError> {
    body.check_limits()?;
    let uuid = validate_uuid(&body.evolution_id, "evolution_id")?;
    let gen_ref = body
        .generation_id
        .as_i64()
        .ok_or_else(|| gen_not_found("?"))?;
    let change = ChangeId::parse(&body.change_id)?;
    let status = parse_evo_status(body.status.as_deref())?.unwrap_or(EvolutionStatus::Pending);
    let code_name = match short_text(body.code_name, "A code name", 100)? {
        Some(n) if !n.trim().is_empty() => n,
        _ => {
            let bits = crate::util::random_bytes::<8>()
                .map_err(|_| ApiError::internal("no randomness"))?;
            gryt_core::evolution::code_name(u64::from_le_bytes(bits))
        }
    };
    let pipeline_run_id = short_text(body.pipeline_run_id, "pipeline_run_id", 200)?;
    let started_at = short_text(body.started_at, "started_at", 64)?;
    let completed_at = short_text(body.completed_at, "completed_at", 64)?;
    let commit = validate_commit(body.commit)?;
    let dirty = body.dirty.unwrap_or(false);
    let fingerprint = validate_fingerprint(body.fingerprint)?;
    let (g, scope) = load_generation(c, user, gen_ref)?;
    let seq = next_seq(c, scope)?;
    let g = reload_generation(c, g.id)?;
    ensure_draft(&g.version, GenerationStatus::parse(&g.status)?)?;
    let Some(current) = g.changes.iter().find(|ch| ch.id == change.as_str()) else {
        let known: Vec<&str> = g.changes.iter().map(|ch| ch.id.as_str()).collect();
        return Err(
            gryt_core::generation::change_not_in(&g.version, change.as_str(), &known).into(),
        );
    };
    // A client that sends no fingerprint (the reference client) proves the change as it is.
    let fingerprint = fingerprint.unwrap_or_else(|| {
        gryt_core::change::fingerprint(&current.id, &current.change_type, &current.title)
    });
    if c.query_opt(
        "SELECT id FROM evolutions WHERE scope_id = ?1 AND evolution_id = ?2",
        &[Val::Int(scope), Val::from(&uuid)],
    )?
    .is_some()
    {
        return Err(ApiError::conflict(
            ErrorCode::AlreadyExists,
            format!("Evolution {uuid} already exists"),
        ));
    }
    let highest = c
        .query_one(
            "SELECT COALESCE(MAX(rc), 0) FROM evolutions WHERE generation_pk = ?1",
            &[Val::Int(g.id)],
        )?
        .int(0)?;
    let highest = u32::try_from(highest)
        .map_err(|_| ApiError::internal("an evolution's rc number is out of range"))?;
    let rc = i64::from(evolution::next_rc([highest]));
    let id = new_record_id(c, "evolutions")?;
    let r = c.query_one(
        "INSERT INTO evolutions (evolution_id, generation_pk, scope_id, change_id, rc, code_name, status, \
         pipeline_run_id, started_at, completed_at, owner_id, created_by, created_at, rev, seq, deleted, id, \
         commit_sha, dirty, fingerprint) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?14, 0, ?15, ?16, ?17, ?18) RETURNING id",
        &[
            Val::from(&uuid),
            Val::Int(g.id),
            Val::Int(scope),
            Val::from(change.as_str()),
            Val::Int(rc),
            Val::from(code_name),
            Val::from(status.as_str()),
            Val::from(pipeline_run_id),
            Val::from(started_at),
            Val::from(completed_at),
            Val::Int(user.user_id),
            Val::from(&user.username),
            Val::from(now),
            Val::Int(seq),
            Val::Int(id),
            Val::from(commit),
            Val::Int(i64::from(dirty)),
            Val::from(fingerprint),
        ],
    )?;
    let (e, _, _) =
        evo_by_id(c, r.int(0)?)?.ok_or_else(|| ApiError::internal("evolution vanished"))?;
    evo_resp(201, &e)
}

pub fn list_evolutions(
    c: &mut dyn Conn,
    user: &Principal,
    generation: Option<&str>,
) -> Result<Resp, ApiError> {
    let mut out = Vec::new();
    match generation {
        Some(gid) => {
            let id = parse_id(gid, "Generation")?;
            let (g, _) = load_generation(c, user, id)?;
            let sql = format!(
                "SELECT {EVO_COLS} FROM evolutions e JOIN generations g ON g.id = e.generation_pk \
                 WHERE e.generation_pk = ?1 AND e.deleted = 0 ORDER BY e.rc"
            );
            for r in c.query(&sql, &[Val::Int(g.id)])? {
                out.push(row_to_evolution(&r)?.0);
            }
        }
        None => {
            for s in my_scope_ids(c, user)? {
                let sql = format!(
                    "SELECT {EVO_COLS} FROM evolutions e JOIN generations g ON g.id = e.generation_pk \
                     WHERE e.scope_id = ?1 AND e.deleted = 0 ORDER BY e.seq"
                );
                for r in c.query(&sql, &[Val::Int(s)])? {
                    out.push(row_to_evolution(&r)?.0);
                }
            }
        }
    }
    Resp::json(
        200,
        &Data {
            data: EvolutionList { evolutions: out },
        },
    )
}

pub fn get_evolution(c: &mut dyn Conn, user: &Principal, id: i64) -> Result<Resp, ApiError> {
    let (e, _, _) = load_evolution(c, user, id)?;
    evo_resp(200, &e)
}

/// The facts the core's evolution rules read, from an evolution as the server holds it.
fn evo_facts<'a>(e: &'a Evolution, tag: &'a str) -> Result<EvolutionFacts<'a>, ApiError> {
    Ok(EvolutionFacts {
        tag,
        version: &e.version,
        change_id: &e.change_id,
        owner: &e.created_by,
        status: EvolutionStatus::parse(&e.status)?,
    })
}

/// An evolution's rc tag (`v1.2.0-rc.3`).
fn evo_tag(e: &Evolution) -> String {
    e.tag
        .clone()
        .unwrap_or_else(|| format!("{}-rc.{}", e.version, e.rc))
}

fn ensure_owner(e: &Evolution, owner: i64, user: &Principal) -> Result<(), ApiError> {
    if owner != user.user_id {
        let tag = evo_tag(e);
        return Err(evolution::not_owner(&evo_facts(e, &tag)?).into());
    }
    Ok(())
}

/// Whether a patch would change anything of the evolution as it is.
fn patch_changes(
    e: &Evolution,
    status: Option<EvolutionStatus>,
    pipeline_run_id: Option<&String>,
    started_at: Option<&String>,
    completed_at: Option<&String>,
    commit: Option<&String>,
    dirty: Option<bool>,
) -> bool {
    let differs =
        |new: Option<&String>, old: &Option<String>| new.is_some_and(|n| Some(n) != old.as_ref());
    status.is_some_and(|s| s.as_str() != e.status)
        || differs(pipeline_run_id, &e.pipeline_run_id)
        || differs(started_at, &e.started_at)
        || differs(completed_at, &e.completed_at)
        || differs(commit, &e.commit)
        || dirty.is_some_and(|d| d != e.dirty)
}

fn gen_status_of(c: &mut dyn Conn, gen_pk: i64) -> Result<(String, GenerationStatus), ApiError> {
    let r = c.query_one(
        "SELECT version, status FROM generations WHERE id = ?1",
        &[Val::Int(gen_pk)],
    )?;
    Ok((r.text(0)?, GenerationStatus::parse(&r.text(1)?)?))
}

pub fn patch_evolution(
    c: &mut dyn Conn,
    user: &Principal,
    id: i64,
    if_match: Option<i64>,
    p: EvolutionPatch,
) -> Result<Resp, ApiError> {
    p.check_limits()?;
    let status = parse_evo_status(p.status.as_deref())?;
    let pipeline_run_id = short_text(p.pipeline_run_id, "pipeline_run_id", 200)?;
    let started_at = short_text(p.started_at, "started_at", 64)?;
    let completed_at = short_text(p.completed_at, "completed_at", 64)?;
    let commit = validate_commit(p.commit)?;
    let (_, scope, _) = load_evolution(c, user, id)?;
    let seq = next_seq(c, scope)?;
    let (e, _, owner) = evo_by_id(c, id)?.ok_or_else(|| evo_not_found(&id.to_string()))?;
    ensure_owner(&e, owner, user)?;
    let gen_pk = parse_id(&e.generation_id, "Generation")?;
    let (version, gstatus) = gen_status_of(c, gen_pk)?;
    ensure_draft(&version, gstatus)?;
    check_if_match(if_match, e.rev, &e)?;
    let tag = evo_tag(&e);
    let facts = evo_facts(&e, &tag)?;
    if facts.status.is_final() {
        // An ended evolution is never completed again. The same result delivered twice
        // changes nothing and is answered with the record as it is.
        if patch_changes(
            &e,
            status,
            pipeline_run_id.as_ref(),
            started_at.as_ref(),
            completed_at.as_ref(),
            commit.as_ref(),
            p.dirty,
        ) {
            evolution::ensure_open(&facts)?;
        }
        return evo_resp(200, &e);
    }
    c.exec(
        "UPDATE evolutions SET status = ?1, pipeline_run_id = ?2, started_at = ?3, completed_at = ?4, \
         rev = rev + 1, seq = ?5, commit_sha = ?7, dirty = ?8 WHERE id = ?6",
        &[
            Val::from(status.map(|s| s.as_str()).unwrap_or(e.status.as_str())),
            Val::from(pipeline_run_id.or(e.pipeline_run_id.clone())),
            Val::from(started_at.or(e.started_at.clone())),
            Val::from(completed_at.or(e.completed_at.clone())),
            Val::Int(seq),
            Val::Int(id),
            Val::from(commit.or(e.commit.clone())),
            Val::Int(i64::from(p.dirty.unwrap_or(e.dirty))),
        ],
    )?;
    let (e, _, _) = evo_by_id(c, id)?.ok_or_else(|| evo_not_found(&id.to_string()))?;
    evo_resp(200, &e)
}

pub fn delete_evolution(
    c: &mut dyn Conn,
    user: &Principal,
    id: i64,
    if_match: Option<i64>,
) -> Result<Resp, ApiError> {
    let (_, scope, _) = load_evolution(c, user, id)?;
    let seq = next_seq(c, scope)?;
    let (e, _, owner) = evo_by_id(c, id)?.ok_or_else(|| evo_not_found(&id.to_string()))?;
    ensure_owner(&e, owner, user)?;
    let gen_pk = parse_id(&e.generation_id, "Generation")?;
    let (version, gstatus) = gen_status_of(c, gen_pk)?;
    ensure_draft(&version, gstatus)?;
    check_if_match(if_match, e.rev, &e)?;
    c.exec(
        "UPDATE evolutions SET deleted = 1, rev = rev + 1, seq = ?1 WHERE id = ?2",
        &[Val::Int(seq), Val::Int(id)],
    )?;
    let (e, _, _) = evo_by_id(c, id)?.ok_or_else(|| evo_not_found(&id.to_string()))?;
    evo_resp(200, &e)
}

// ---------------------------------------------------------------- change feed

/// The scope's head in one statement (this is the cheap "anything new?" call).
pub fn sync_head(
    c: &mut dyn Conn,
    user: &Principal,
    team_id: Option<&str>,
) -> Result<i64, ApiError> {
    let row = match team_id {
        None => c.query_opt(
            "SELECT seq FROM scopes WHERE user_id = ?1",
            &[Val::Int(user.user_id)],
        )?,
        Some(t) => c.query_opt(
            "SELECT s.seq FROM teams t JOIN scopes s ON s.team_pk = t.id \
             JOIN team_members m ON m.team_pk = t.id AND m.user_id = ?2 \
             WHERE t.team_id = ?1 AND t.deleted = 0",
            &[Val::from(t), Val::Int(user.user_id)],
        )?,
    };
    match row {
        Some(r) => Ok(r.int(0)?),
        None => Err(not_member_team(team_id.unwrap_or("?"))),
    }
}
pub fn sync_head_resp(head: i64) -> Result<Resp, ApiError> {
    Resp::json(
        200,
        &Data {
            data: SyncHead { head },
        },
    )
}

/// One page of the feed: records and tombstones with `since < seq <= head`, in seq order.
/// Read in one snapshot (a read transaction), so `head` and the page agree.
pub fn sync_changes(
    c: &mut dyn Conn,
    user: &Principal,
    team_id: Option<&str>,
    project: Option<&str>,
    since: i64,
    limit: i64,
) -> Result<Resp, ApiError> {
    let scope = resolve_scope(c, user, team_id)?;
    let head = c
        .query_one(
            "SELECT seq FROM scopes WHERE id = ?1",
            &[Val::Int(scope.id)],
        )?
        .int(0)?;
    let limit = limit.clamp(1, MAX_PAGE);
    let mut params = vec![
        Val::Int(scope.id),
        Val::Int(since),
        Val::Int(head),
        Val::Int(limit),
    ];
    let (gfilter, efilter) = match project {
        Some(p) => {
            params.push(Val::from(p));
            (" AND project = ?5", " AND g.project = ?5")
        }
        None => ("", ""),
    };
    let mut items: Vec<FeedRecord> = Vec::new();
    let gsql = format!(
        "SELECT {GEN_COLS} FROM generations WHERE scope_id = ?1 AND seq > ?2 AND seq <= ?3{gfilter} \
         ORDER BY seq LIMIT ?4"
    );
    for r in c.query(&gsql, &params)? {
        let (g, _) = row_to_generation(&r)?;
        items.push(FeedRecord::Generation(g));
    }
    let esql = format!(
        "SELECT {EVO_COLS} FROM evolutions e JOIN generations g ON g.id = e.generation_pk \
         WHERE e.scope_id = ?1 AND e.seq > ?2 AND e.seq <= ?3{efilter} ORDER BY e.seq LIMIT ?4"
    );
    for r in c.query(&esql, &params)? {
        items.push(FeedRecord::Evolution(row_to_evolution(&r)?.0));
    }
    // Both lists are in seq order; merged, the first `limit` are this page. When fewer than
    // `limit` records exist up to `head`, the page reaches the head.
    items.sort_by_key(FeedRecord::seq);
    let mut next = if items.len() as i64 >= limit {
        items.truncate(limit as usize);
        items.last().map(FeedRecord::seq).unwrap_or(head)
    } else {
        head
    };
    // A page also stops at FEED_PAGE_BYTES of records (always holding at least one), so
    // its size is bounded whatever `limit` asks for; the reader continues from `next`.
    let mut bytes = 0usize;
    for (i, item) in items.iter().enumerate() {
        bytes += serde_json::to_vec(item).map(|v| v.len()).unwrap_or(0);
        if i > 0 && bytes > limits::FEED_PAGE_BYTES {
            items.truncate(i);
            next = items.last().map(FeedRecord::seq).unwrap_or(head);
            break;
        }
    }
    Resp::json(
        200,
        &Data {
            data: SyncChanges { items, next, head },
        },
    )
}

// ---------------------------------------------------------------- pipeline runs

/// Stores a pipeline run. The authenticated account is its author: only the author may
/// write it again, and only while it is open: once it has an `end_timestamp`, or once an
/// evolution of a promoted generation names it (`pipeline_run_id`), it never changes (409).
/// Sending the very same run again answers 201 with nothing changed (a retry).
pub fn push_pipeline_run(
    c: &mut dyn Conn,
    user: &Principal,
    body: PipelineRunPush,
    now: &str,
) -> Result<Resp, ApiError> {
    body.check_limits()?;
    let pipeline_id = body.pipeline_run.pipeline_id.to_text();
    if pipeline_id.trim().is_empty() {
        return Err(ApiError::invalid(
            "pipeline_run.pipeline_id is required (a string)",
        ));
    }
    let text = serde_json::to_string(&body).map_err(|e| ApiError::internal(e.to_string()))?;
    if text.len() > limits::PIPELINE_RUN_BYTES {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            limits::record_too_large("pipeline run", text.len(), limits::PIPELINE_RUN_BYTES),
        ));
    }
    let scope = resolve_scope(c, user, body.pipeline_run.team_id.as_deref())?;
    // Take the scope's write lock (without moving its feed), so two pushes of one run are
    // decided one after the other.
    c.exec(
        "UPDATE scopes SET seq = seq WHERE id = ?1",
        &[Val::Int(scope.id)],
    )?;
    let shown = pipeline_id.chars().take(64).collect::<String>();
    let existing = c.query_opt(
        "SELECT id, body, created_by FROM pipeline_runs WHERE scope_id = ?1 AND pipeline_id = ?2",
        &[Val::Int(scope.id), Val::from(&pipeline_id)],
    )?;
    let id = match existing {
        None => {
            let id = new_record_id(c, "pipeline_runs")?;
            c.exec(
                "INSERT INTO pipeline_runs (id, scope_id, pipeline_id, body, created_by, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    Val::Int(id),
                    Val::Int(scope.id),
                    Val::from(&pipeline_id),
                    Val::from(text),
                    Val::from(&user.username),
                    Val::from(now),
                ],
            )?;
            id
        }
        Some(r) => {
            let (id, stored, author) = (r.int(0)?, r.text(1)?, r.text(2)?);
            if author != user.username {
                return Err(ApiError::forbidden(format!(
                    "Pipeline run {shown} was written by {author}; only its author may write it"
                )));
            }
            if stored != text {
                if let Some(why) = run_sealed(c, scope.id, &pipeline_id, &stored)? {
                    return Err(ApiError::conflict(
                        ErrorCode::Immutable,
                        format!("Pipeline run {shown} {why} and can no longer change"),
                    ));
                }
                c.exec(
                    "UPDATE pipeline_runs SET body = ?1 WHERE id = ?2",
                    &[Val::from(text), Val::Int(id)],
                )?;
            }
            id
        }
    };
    Resp::json(
        201,
        &Data {
            data: PipelineRunStored { id, pipeline_id },
        },
    )
}

/// Why a stored run may no longer be replaced, if it may not.
fn run_sealed(
    c: &mut dyn Conn,
    scope: i64,
    pipeline_id: &str,
    stored: &str,
) -> Result<Option<&'static str>, ApiError> {
    let proven = c.query_opt(
        "SELECT e.id FROM evolutions e JOIN generations g ON g.id = e.generation_pk \
         WHERE e.scope_id = ?1 AND e.pipeline_run_id = ?2 AND e.deleted = 0 \
         AND g.status = 'promoted'",
        &[Val::Int(scope), Val::from(pipeline_id)],
    )?;
    if proven.is_some() {
        return Ok(Some("is the proof of a promoted generation"));
    }
    let finished = serde_json::from_str::<PipelineRunPush>(stored)
        .map(|r| r.pipeline_run.end_timestamp.is_some())
        .unwrap_or(true);
    Ok(finished.then_some("is finished (it has an end_timestamp)"))
}

/// A run as answered: the run's fields, its id, and each runner with its steps.
#[derive(serde::Serialize)]
struct RunAnswer<'a> {
    #[serde(flatten)]
    run: &'a gryt_core::api::PipelineRun,
    id: i64,
    runners: Vec<RunnerAnswer<'a>>,
}

#[derive(serde::Serialize)]
struct RunnerAnswer<'a> {
    #[serde(flatten)]
    runner: &'a gryt_core::api::PipelineRunner,
    steps: Vec<&'a gryt_core::api::StepOutput>,
}

pub fn get_pipeline_run(
    c: &mut dyn Conn,
    user: &Principal,
    pipeline_id: &str,
) -> Result<Resp, ApiError> {
    let scopes = my_scope_ids(c, user)?;
    for s in scopes {
        if let Some(r) = c.query_opt(
            "SELECT id, body FROM pipeline_runs WHERE scope_id = ?1 AND pipeline_id = ?2",
            &[Val::Int(s), Val::from(pipeline_id)],
        )? {
            let body: PipelineRunPush = serde_json::from_str(&r.text(1)?)
                .map_err(|e| ApiError::internal(format!("stored pipeline run unreadable: {e}")))?;
            let runners = body
                .runners
                .iter()
                .map(|runner| RunnerAnswer {
                    runner,
                    steps: body
                        .step_outputs
                        .iter()
                        .filter(|st| st.runner_id == runner.runner_id)
                        .collect(),
                })
                .collect();
            let data = RunAnswer {
                run: &body.pipeline_run,
                id: r.int(0)?,
                runners,
            };
            return Resp::json(200, &Data { data });
        }
    }
    Err(ApiError::not_found(format!(
        "Pipeline run {} not found",
        pipeline_id.chars().take(64).collect::<String>()
    )))
}
