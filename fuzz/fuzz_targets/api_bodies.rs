//! API request bodies: `serde_json::from_slice` into gryt-core's wire request types, then
//! the server's own handling of what parsed: gryt-server's `logic` / `accounts` / `auth` /
//! `idem` functions on a real in-memory SQLite database (migrated, one user, one draft
//! generation, one evolution, one team), each input inside a transaction that is rolled back.
//! The batch route's dispatch (app.rs `batch_op_fn`/`run_batch`, private) is replicated.
//!
//! Input: first byte picks the route, the rest is the JSON body.
//! Properties: no panic; bad input is never a 5xx (a 5xx means the server broke on it);
//! every answer body is JSON.
#![no_main]

use gryt_core::wire::{
    ApiKeyCreate, BatchOp, BatchRequest, ChangePasswordRequest, EvolutionCreate, EvolutionPatch,
    GenerationCreate, GenerationPatch, MemberAdd, SignupRequest, TeamCreate,
};
use gryt_server::auth::Principal;
use gryt_server::db::{self, Conn, Dialect};
use gryt_server::error::{ApiError, Resp};
use gryt_server::{accounts, auth, idem, logic, ServerKey};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use std::sync::Mutex;

struct Fixture {
    conn: Box<dyn Conn>,
    user: Principal,
    key: ServerKey,
    gen_id: i64,
    evo_id: i64,
    team_id: String,
}

fn fixture() -> Fixture {
    let mut conn: Box<dyn Conn> =
        Box::new(db::sqlite::SqliteConn::open(":memory:").expect("in-memory SQLite"));
    db::migrate::migrate(conn.as_mut(), Dialect::Sqlite).expect("migrations");
    let c = conn.as_mut();
    let user_id = accounts::create_user(c, "fuzzer", "x").expect("user");
    accounts::create_user(c, "other", "x").expect("user");
    let user = Principal {
        user_id,
        username: "fuzzer".into(),
    };
    let g: GenerationCreate = serde_json::from_str(
        r#"{"generation_id": "e06ea9e7-41a8-4662-87d5-b8384437c040", "version": "v1.0.0",
            "changes": [{"id": "FEAT-1", "type": "add", "title": "t"},
                        {"id": "BUG-2", "type": "fix", "title": "u"}]}"#,
    )
    .expect("seed generation body");
    logic::create_generation(c, &user, g).expect("seed generation");
    let gen_id = c
        .query_one("SELECT id FROM generations", &[])
        .and_then(|r| r.int(0))
        .expect("generation id");
    let e: EvolutionCreate = serde_json::from_value(serde_json::json!({
        "evolution_id": "5dc63613-4a19-47ee-b8e4-beeceeacbe74",
        "generation_id": gen_id, "change_id": "FEAT-1"}))
    .expect("seed evolution body");
    logic::create_evolution(c, &user, e).expect("seed evolution");
    let evo_id = c
        .query_one("SELECT id FROM evolutions", &[])
        .and_then(|r| r.int(0))
        .expect("evolution id");
    let t = accounts::create_team(c, &user, "team", None).expect("seed team");
    let t: serde_json::Value = serde_json::from_str(&t.body).expect("team JSON");
    let team_id = t["data"]["team_id"].as_str().expect("team id").to_string();
    Fixture {
        conn,
        user,
        key: ServerKey::from_bytes([7; 32]),
        gen_id,
        evo_id,
        team_id,
    }
}

static FIXTURE: Mutex<Option<Fixture>> = Mutex::new(None);

/// As app.rs `parse_json`.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

fn check(r: Result<Resp, ApiError>, what: &str, body: &[u8]) {
    let resp = match r {
        Ok(r) => r,
        Err(e) => {
            assert!(
                !e.status.is_server_error(),
                "{what}: {} {} for body {}",
                e.status,
                e.detail,
                String::from_utf8_lossy(body)
            );
            e.to_resp()
        }
    };
    assert!(
        serde_json::from_str::<serde_json::Value>(&resp.body).is_ok(),
        "{what}: answer is not JSON: {}",
        resp.body
    );
}

/// app.rs `batch_op_fn` + `run_batch`, one savepoint per operation.
fn run_op(c: &mut dyn Conn, u: &Principal, op: BatchOp) -> Result<Resp, ApiError> {
    let body = op.body.clone().unwrap_or(serde_json::Value::Null);
    let id = || op.id.ok_or_else(|| ApiError::invalid("needs an id"));
    let need = |v: serde_json::Value| -> Result<Vec<u8>, ApiError> {
        if v.is_null() {
            Err(ApiError::invalid("needs a body"))
        } else {
            serde_json::to_vec(&v).map_err(|e| ApiError::internal(e.to_string()))
        }
    };
    let de = |b: Vec<u8>| -> Result<serde_json::Value, ApiError> {
        serde_json::from_slice(&b).map_err(|e| ApiError::invalid(e.to_string()))
    };
    let m = op.if_match;
    macro_rules! body {
        ($t:ty) => {
            serde_json::from_value::<$t>(de(need(body)?)?)
                .map_err(|e| ApiError::invalid(e.to_string()))?
        };
    }
    match op.op.as_str() {
        "create_generation" => logic::create_generation(c, u, body!(GenerationCreate)),
        "update_generation" => {
            let id = id()?;
            logic::patch_generation(c, u, id, m, body!(GenerationPatch))
        }
        "delete_generation" => logic::delete_generation(c, u, id()?, m),
        "promote_generation" => logic::promote_generation(c, u, id()?, m),
        "create_evolution" => logic::create_evolution(c, u, body!(EvolutionCreate)),
        "update_evolution" => {
            let id = id()?;
            logic::patch_evolution(c, u, id, m, body!(EvolutionPatch))
        }
        "delete_evolution" => logic::delete_evolution(c, u, id()?, m),
        _ => Err(ApiError::invalid("Unknown batch operation")),
    }
}

fn batch(c: &mut dyn Conn, u: &Principal, b: BatchRequest, raw: &[u8]) {
    if b.operations.len() > 500 {
        return;
    }
    for op in b.operations {
        let key = op.idempotency_key.clone();
        let hash = gryt_server::util::sha256_hex(&[
            b"batch",
            serde_json::to_string(&op).unwrap_or_default().as_bytes(),
        ]);
        if let Some(k) = &key {
            if idem::validate_key(k).is_err() {
                continue;
            }
        }
        c.batch("SAVEPOINT gryt_op").expect("savepoint");
        if let Some(k) = &key {
            match idem::claim(c, u.user_id, k, &hash) {
                Ok(idem::Claim::Fresh) => {}
                Ok(_) => {
                    c.batch("RELEASE SAVEPOINT gryt_op").expect("release");
                    continue;
                }
                Err(e) => {
                    c.batch("ROLLBACK TO SAVEPOINT gryt_op; RELEASE SAVEPOINT gryt_op")
                        .expect("rollback to");
                    check(Err(e), "batch claim", raw);
                    continue;
                }
            }
        }
        let r = run_op(c, u, op);
        match &r {
            Ok(resp) => {
                if let Some(k) = &key {
                    idem::finish(c, u.user_id, k, resp).expect("idem finish");
                }
                c.batch("RELEASE SAVEPOINT gryt_op").expect("release");
            }
            Err(_) => {
                c.batch("ROLLBACK TO SAVEPOINT gryt_op; RELEASE SAVEPOINT gryt_op")
                    .expect("rollback to");
            }
        }
        check(r, "batch op", raw);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let mut guard = FIXTURE.lock().unwrap_or_else(|e| e.into_inner());
    let f = guard.get_or_insert_with(fixture);
    let (u, key, gen_id, evo_id) = (f.user.clone(), f.key.clone(), f.gen_id, f.evo_id);
    let team_id = f.team_id.clone();
    let c = f.conn.as_mut();
    c.batch("BEGIN IMMEDIATE").expect("begin");
    match sel % 10 {
        0 => {
            if let Some(b) = parse::<GenerationCreate>(body) {
                check(logic::create_generation(c, &u, b), "create_generation", body);
            }
        }
        1 => {
            if let Some(b) = parse::<GenerationPatch>(body) {
                check(logic::patch_generation(c, &u, gen_id, None, b), "patch_generation", body);
            }
        }
        2 => {
            if let Some(b) = parse::<EvolutionCreate>(body) {
                check(logic::create_evolution(c, &u, b), "create_evolution", body);
            }
        }
        3 => {
            if let Some(b) = parse::<EvolutionPatch>(body) {
                check(logic::patch_evolution(c, &u, evo_id, None, b), "patch_evolution", body);
            }
        }
        4 => {
            if let Some(b) = parse::<BatchRequest>(body) {
                batch(c, &u, b, body);
            }
        }
        5 => {
            if let Some(b) = parse::<SignupRequest>(body) {
                // The signup route validates both before hashing (Argon2 is too slow here).
                if auth::validate_username(&b.username).is_ok() {
                    let _ = auth::validate_password(&b.password);
                    check(
                        accounts::create_user(c, &b.username, "x").map(|id| {
                            accounts::signup_resp(id, &b.username).expect("signup answer")
                        }),
                        "signup",
                        body,
                    );
                }
            }
        }
        6 => {
            if let Some(b) = parse::<ChangePasswordRequest>(body) {
                let _ = auth::validate_password(&b.current_password);
                let _ = auth::validate_password(&b.new_password);
            }
        }
        7 => {
            if let Some(b) = parse::<ApiKeyCreate>(body) {
                let r = accounts::create_api_key(c, &key, u.user_id, &b.name, b.expires_in_days)
                    .and_then(|k| Resp::json(201, &k));
                check(r, "create_api_key", body);
            }
        }
        8 => {
            if let Some(b) = parse::<TeamCreate>(body) {
                check(accounts::create_team(c, &u, &b.name, b.description), "create_team", body);
            }
        }
        _ => {
            if let Some(b) = parse::<MemberAdd>(body) {
                check(accounts::add_member(c, &u, &team_id, &b.username), "add_member", body);
            }
        }
    }
    c.batch("ROLLBACK").expect("rollback");
});
