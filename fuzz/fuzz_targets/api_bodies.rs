//! API request bodies through the server's own code: the body read by gryt-server's
//! `extract::parse_json` (depth and NUL checks, then gryt-core's wire request types), then
//! the use case the route runs (`logic` / `accounts` / `auth` functions) on a real in-memory
//! SQLite database (migrated, one user, one draft generation, one evolution, one team), each
//! input inside a transaction that is rolled back. A batch goes through the server's own
//! batch code (`batch::prepare_batch`, `run_batch`, `batch_answer`): typed operations, one
//! savepoint each, idempotency keys.
//!
//! Input: first byte picks the route, the rest is the JSON body.
//! Properties: no panic; bad input is never a 5xx (a 5xx means the server broke on it);
//! every answer body is JSON.
#![no_main]

use gryt_core::api::{
    ApiKeyCreate, ChangePasswordRequest, EvolutionCreate, EvolutionPatch, GenerationCreate,
    GenerationPatch, MemberAdd, SignupRequest, TeamCreate,
};
use gryt_server::auth::Principal;
use gryt_server::db::{self, Conn, Dialect};
use gryt_server::error::{ApiError, Resp};
use gryt_server::extract::parse_json;
use gryt_server::{accounts, auth, batch, logic, ServerKey};
use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;

struct Fixture {
    conn: Box<dyn Conn>,
    user: Principal,
    key: ServerKey,
    gen_id: i64,
    evo_id: i64,
    team_id: String,
    /// The time every use case is given (fixed, so a run replays the same way).
    now: String,
}

fn fixture() -> Fixture {
    let mut conn: Box<dyn Conn> =
        Box::new(db::sqlite::SqliteConn::open(":memory:", None).expect("in-memory SQLite"));
    db::migrate::migrate(conn.as_mut(), Dialect::Sqlite).expect("migrations");
    let now = "2026-11-22T02:00:00.000000+00:00".to_string();
    let c = conn.as_mut();
    let user_id = accounts::create_user(c, "fuzzer", "x").expect("user");
    accounts::create_user(c, "other", "x").expect("user");
    let user = Principal {
        user_id,
        username: "fuzzer".into(),
        api_key: None,
    };
    let g: GenerationCreate = serde_json::from_str(
        r#"{"generation_id": "e06ea9e7-41a8-4662-87d5-b8384437c040", "version": "v1.0.0",
            "changes": [{"id": "FEAT-1", "type": "add", "title": "t"},
                        {"id": "BUG-2", "type": "fix", "title": "u"}]}"#,
    )
    .expect("seed generation body");
    logic::create_generation(c, &user, g, &now).expect("seed generation");
    let gen_id = c
        .query_one("SELECT id FROM generations", &[])
        .and_then(|r| r.int(0))
        .expect("generation id");
    let e: EvolutionCreate = serde_json::from_value(serde_json::json!({
        "evolution_id": "5dc63613-4a19-47ee-b8e4-beeceeacbe74",
        "generation_id": gen_id, "change_id": "FEAT-1"}))
    .expect("seed evolution body");
    logic::create_evolution(c, &user, e, &now).expect("seed evolution");
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
        now,
    }
}

static FIXTURE: Mutex<Option<Fixture>> = Mutex::new(None);

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

/// Reads the body as the route does; a refusal is checked like any other answer.
fn body_of<'a, T: serde::Deserialize<'a>>(body: &'a [u8], what: &str) -> Option<T> {
    match parse_json(body) {
        Ok(b) => Some(b),
        Err(e) => {
            check(Err(e), what, body);
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let mut guard = FIXTURE.lock().unwrap_or_else(|e| e.into_inner());
    let f = guard.get_or_insert_with(fixture);
    let (u, key, gen_id, evo_id) = (f.user.clone(), f.key.clone(), f.gen_id, f.evo_id);
    let (team_id, now) = (f.team_id.clone(), f.now.clone());
    let c = f.conn.as_mut();
    c.batch("BEGIN IMMEDIATE").expect("begin");
    match sel % 10 {
        0 => {
            if let Some(b) = body_of::<GenerationCreate>(body, "create_generation") {
                check(
                    logic::create_generation(c, &u, b, &now),
                    "create_generation",
                    body,
                );
            }
        }
        1 => {
            if let Some(b) = body_of::<GenerationPatch>(body, "patch_generation") {
                check(
                    logic::patch_generation(c, &u, gen_id, None, b, &now),
                    "patch_generation",
                    body,
                );
            }
        }
        2 => {
            if let Some(b) = body_of::<EvolutionCreate>(body, "create_evolution") {
                check(
                    logic::create_evolution(c, &u, b, &now),
                    "create_evolution",
                    body,
                );
            }
        }
        3 => {
            if let Some(b) = body_of::<EvolutionPatch>(body, "patch_evolution") {
                check(
                    logic::patch_evolution(c, &u, evo_id, None, b),
                    "patch_evolution",
                    body,
                );
            }
        }
        4 => {
            // As handlers/sync.rs `sync_batch`: prepared outside, run in the transaction.
            match batch::prepare_batch(body) {
                Ok(ops) => check(
                    batch::run_batch(c, &u, body, ops).map(batch::batch_answer),
                    "batch",
                    body,
                ),
                Err(e) => check(Err(e), "batch", body),
            }
        }
        5 => {
            if let Some(b) = body_of::<SignupRequest>(body, "signup") {
                // The signup route validates both before hashing (Argon2 is too slow here).
                if auth::validate_username(&b.username).is_ok()
                    && auth::validate_password(&b.password).is_ok()
                {
                    check(
                        accounts::create_user(c, &b.username, "x")
                            .and_then(|id| accounts::signup_resp(id, &b.username)),
                        "signup",
                        body,
                    );
                }
            }
        }
        6 => {
            if let Some(b) = body_of::<ChangePasswordRequest>(body, "change_password") {
                let _ = auth::validate_password(&b.current_password);
                let _ = auth::validate_password(&b.new_password);
            }
        }
        7 => {
            if let Some(b) = body_of::<ApiKeyCreate>(body, "create_api_key") {
                let r = b.check_limits().map_err(ApiError::from).and_then(|()| {
                    accounts::create_api_key(c, &key, u.user_id, &b.name, b.expires_in_days)
                        .and_then(|k| Resp::json(201, &k))
                });
                check(r, "create_api_key", body);
            }
        }
        8 => {
            if let Some(b) = body_of::<TeamCreate>(body, "create_team") {
                let r = b
                    .check_limits()
                    .map_err(ApiError::from)
                    .and_then(|()| accounts::create_team(c, &u, &b.name, b.description));
                check(r, "create_team", body);
            }
        }
        _ => {
            if let Some(b) = body_of::<MemberAdd>(body, "add_member") {
                check(
                    accounts::add_member(c, &u, &team_id, &b.username),
                    "add_member",
                    body,
                );
            }
        }
    }
    c.batch("ROLLBACK").expect("rollback");
});
