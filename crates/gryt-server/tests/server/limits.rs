//! Field and record limits (gryt_core::limits): every text field one character over its
//! limit answers 422 naming the field and the limit, a whole record over its limit answers
//! 413, nothing changes; a change-feed page stays bounded in bytes whatever `limit` asks.

use crate::common::*;
use gryt_core::limits as L;
use serde_json::{json, Value};

fn over(n: usize) -> Value {
    json!("x".repeat(n + 1))
}

/// `v` with the field at `pointer` set (added when absent).
fn with(mut v: Value, pointer: &str, new: Value) -> String {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let p = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).unwrap()
    };
    p.as_object_mut().unwrap().insert(key.to_string(), new);
    v.to_string()
}

fn generation(changes: Value) -> Value {
    json!({
        "generation_id": new_uuid(), "version": "v5.0.0", "description": "Release",
        "changes": changes, "pipeline_template": null, "status": "draft",
        "created_at": "2026-11-22T01:51:08.262983", "team_id": null, "project": "default"
    })
}

fn one_change() -> Value {
    json!([{"id": "FEAT-1", "type": "add", "title": "Login", "description": null,
            "status": "pending", "pipeline": null}])
}

fn run(extra: Value) -> Value {
    let mut r = json!({
        "pipeline_run": {"pipeline_id": "run-1", "name": "ci", "start_timestamp": "2026-11-22T02:00:00",
                         "end_timestamp": null, "status": "running", "config_json": "{}", "team_id": null},
        "runners": [{"runner_id": "r1", "pipeline_id": "run-1", "name": "build", "execution_order": 0, "status": "running"}],
        "step_outputs": [{"step_id": "s1", "runner_id": "r1", "name": "test", "output_json": "{}",
                          "stdout": "ok", "stderr": "", "status": "passed", "duration": 1.5,
                          "timestamp": "2026-11-22T02:05:00"}]
    });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            *r.pointer_mut(&k).unwrap() = v;
        }
    }
    r
}

/// (field as named in `detail`, method, path, body, the limit named in `detail`).
fn table(gid: i64, eid: i64) -> Vec<(&'static str, &'static str, String, String, usize)> {
    const G: &str = "/api/v1/generations";
    let g = || generation(one_change());
    let gp = format!("{G}/{gid}");
    let ep = format!("/api/v1/evolutions/{eid}");
    let evo =
        || -> Value { serde_json::from_str(&evolution_body(&new_uuid(), gid, "FEAT-1")).unwrap() };
    let big_pipeline = json!({"stages": "p".repeat(L::CHANGE_PIPELINES_BYTES)});
    let raw_over = |n: usize| json!("j".repeat(n));
    vec![
        // generation create
        (
            "version",
            "POST",
            G.into(),
            with(g(), "/version", over(L::VERSION)),
            L::VERSION,
        ),
        (
            "description",
            "POST",
            G.into(),
            with(g(), "/description", over(L::GENERATION_DESCRIPTION)),
            L::GENERATION_DESCRIPTION,
        ),
        (
            "pipeline_template",
            "POST",
            G.into(),
            with(g(), "/pipeline_template", over(L::PIPELINE_TEMPLATE)),
            L::PIPELINE_TEMPLATE,
        ),
        (
            "created_at",
            "POST",
            G.into(),
            with(g(), "/created_at", over(L::TIMESTAMP)),
            L::TIMESTAMP,
        ),
        (
            "team_id",
            "POST",
            G.into(),
            with(g(), "/team_id", over(L::NAME)),
            L::NAME,
        ),
        (
            "project",
            "POST",
            G.into(),
            with(g(), "/project", over(L::PROJECT)),
            L::PROJECT,
        ),
        (
            "status",
            "POST",
            G.into(),
            with(g(), "/status", over(L::STATUS)),
            L::STATUS,
        ),
        (
            "generation_id",
            "POST",
            G.into(),
            with(g(), "/generation_id", over(L::NAME)),
            L::NAME,
        ),
        (
            "changes[0].id",
            "POST",
            G.into(),
            with(g(), "/changes/0/id", over(L::CHANGE_ID)),
            L::CHANGE_ID,
        ),
        (
            "changes[0].type",
            "POST",
            G.into(),
            with(g(), "/changes/0/type", over(L::STATUS)),
            L::STATUS,
        ),
        (
            "changes[0].title",
            "POST",
            G.into(),
            with(g(), "/changes/0/title", over(L::CHANGE_TITLE)),
            L::CHANGE_TITLE,
        ),
        (
            "changes[0].description",
            "POST",
            G.into(),
            with(g(), "/changes/0/description", over(L::CHANGE_DESCRIPTION)),
            L::CHANGE_DESCRIPTION,
        ),
        (
            "changes[0].status",
            "POST",
            G.into(),
            with(g(), "/changes/0/status", over(L::STATUS)),
            L::STATUS,
        ),
        (
            "changes[0].assignee",
            "POST",
            G.into(),
            with(g(), "/changes/0/assignee", over(L::NAME)),
            L::NAME,
        ),
        (
            "changes[0].pipeline",
            "POST",
            G.into(),
            with(g(), "/changes/0/pipeline", big_pipeline.clone()),
            L::CHANGE_PIPELINES_BYTES,
        ),
        (
            "changes[0].pipelines",
            "POST",
            G.into(),
            with(g(), "/changes/0/pipelines", json!([big_pipeline])),
            L::CHANGE_PIPELINES_BYTES,
        ),
        (
            "changes",
            "POST",
            G.into(),
            with(
                g(),
                "/changes",
                Value::Array(
                    (1..=L::CHANGES + 1)
                        .map(|i| json!({"id": format!("FEAT-{i}"), "type": "add", "title": "t"}))
                        .collect(),
                ),
            ),
            L::CHANGES,
        ),
        // generation patch
        (
            "description",
            "PATCH",
            gp.clone(),
            json!({"description": over(L::GENERATION_DESCRIPTION)}).to_string(),
            L::GENERATION_DESCRIPTION,
        ),
        (
            "version",
            "PATCH",
            gp.clone(),
            json!({"version": over(L::VERSION)}).to_string(),
            L::VERSION,
        ),
        (
            "pipeline_template",
            "PATCH",
            gp.clone(),
            json!({"pipeline_template": over(L::PIPELINE_TEMPLATE)}).to_string(),
            L::PIPELINE_TEMPLATE,
        ),
        (
            "changes[0].assignee",
            "PATCH",
            gp.clone(),
            with(
                json!({"changes": one_change()}),
                "/changes/0/assignee",
                over(L::NAME),
            ),
            L::NAME,
        ),
        // evolution create and patch
        (
            "code_name",
            "POST",
            "/api/v1/evolutions".into(),
            with(evo(), "/code_name", over(L::CODE_NAME)),
            L::CODE_NAME,
        ),
        (
            "tag",
            "POST",
            "/api/v1/evolutions".into(),
            with(evo(), "/tag", over(L::CODE_NAME)),
            L::CODE_NAME,
        ),
        (
            "created_by",
            "POST",
            "/api/v1/evolutions".into(),
            with(evo(), "/created_by", over(L::NAME)),
            L::NAME,
        ),
        (
            "pipeline_run_id",
            "POST",
            "/api/v1/evolutions".into(),
            with(evo(), "/pipeline_run_id", over(L::RUN_ID)),
            L::RUN_ID,
        ),
        (
            "started_at",
            "POST",
            "/api/v1/evolutions".into(),
            with(evo(), "/started_at", over(L::TIMESTAMP)),
            L::TIMESTAMP,
        ),
        (
            "completed_at",
            "POST",
            "/api/v1/evolutions".into(),
            with(evo(), "/completed_at", over(L::TIMESTAMP)),
            L::TIMESTAMP,
        ),
        (
            "status",
            "POST",
            "/api/v1/evolutions".into(),
            with(evo(), "/status", over(L::STATUS)),
            L::STATUS,
        ),
        (
            "pipeline_run_id",
            "PATCH",
            ep.clone(),
            json!({"pipeline_run_id": over(L::RUN_ID)}).to_string(),
            L::RUN_ID,
        ),
        (
            "completed_at",
            "PATCH",
            ep.clone(),
            json!({"completed_at": over(L::TIMESTAMP)}).to_string(),
            L::TIMESTAMP,
        ),
        (
            "started_at",
            "PATCH",
            ep.clone(),
            json!({"started_at": over(L::TIMESTAMP)}).to_string(),
            L::TIMESTAMP,
        ),
        // pipeline runs
        (
            "pipeline_run.pipeline_id",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/pipeline_run/pipeline_id": over(L::RUN_ID)})).to_string(),
            L::RUN_ID,
        ),
        (
            "pipeline_run.name",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/pipeline_run/name": over(L::RUN_NAME)})).to_string(),
            L::RUN_NAME,
        ),
        (
            "pipeline_run.start_timestamp",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/pipeline_run/start_timestamp": over(L::TIMESTAMP)})).to_string(),
            L::TIMESTAMP,
        ),
        (
            "pipeline_run.end_timestamp",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/pipeline_run/end_timestamp": over(L::TIMESTAMP)})).to_string(),
            L::TIMESTAMP,
        ),
        (
            "pipeline_run.status",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/pipeline_run/status": over(L::STATUS)})).to_string(),
            L::STATUS,
        ),
        (
            "pipeline_run.config_json",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/pipeline_run/config_json": raw_over(L::RUN_JSON_BYTES)})).to_string(),
            L::RUN_JSON_BYTES,
        ),
        (
            "pipeline_run.team_id",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/pipeline_run/team_id": over(L::NAME)})).to_string(),
            L::NAME,
        ),
        (
            "runners[0].runner_id",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/runners/0/runner_id": over(L::RUN_ID)})).to_string(),
            L::RUN_ID,
        ),
        (
            "runners[0].pipeline_id",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/runners/0/pipeline_id": over(L::RUN_ID)})).to_string(),
            L::RUN_ID,
        ),
        (
            "runners[0].name",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/runners/0/name": over(L::RUN_NAME)})).to_string(),
            L::RUN_NAME,
        ),
        (
            "runners[0].execution_order",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/runners/0/execution_order": json!(vec![0; 40])})).to_string(),
            L::SCALAR_BYTES,
        ),
        (
            "runners[0].status",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/runners/0/status": over(L::STATUS)})).to_string(),
            L::STATUS,
        ),
        (
            "runners",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/runners": Value::Array(vec![json!({}); L::RUNNERS + 1])})).to_string(),
            L::RUNNERS,
        ),
        (
            "step_outputs[0].step_id",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs/0/step_id": over(L::RUN_ID)})).to_string(),
            L::RUN_ID,
        ),
        (
            "step_outputs[0].runner_id",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs/0/runner_id": over(L::RUN_ID)})).to_string(),
            L::RUN_ID,
        ),
        (
            "step_outputs[0].name",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs/0/name": over(L::RUN_NAME)})).to_string(),
            L::RUN_NAME,
        ),
        (
            "step_outputs[0].output_json",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs/0/output_json": raw_over(L::RUN_JSON_BYTES)})).to_string(),
            L::RUN_JSON_BYTES,
        ),
        (
            "step_outputs[0].stdout",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs/0/stdout": over(L::STEP_OUTPUT)})).to_string(),
            L::STEP_OUTPUT,
        ),
        (
            "step_outputs[0].stderr",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs/0/stderr": over(L::STEP_OUTPUT)})).to_string(),
            L::STEP_OUTPUT,
        ),
        (
            "step_outputs[0].status",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs/0/status": over(L::STATUS)})).to_string(),
            L::STATUS,
        ),
        (
            "step_outputs[0].duration",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs/0/duration": json!(vec![0; 40])})).to_string(),
            L::SCALAR_BYTES,
        ),
        (
            "step_outputs[0].timestamp",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs/0/timestamp": over(L::TIMESTAMP)})).to_string(),
            L::TIMESTAMP,
        ),
        (
            "step_outputs",
            "POST",
            "/api/v1/pipeline-runs".into(),
            run(json!({"/step_outputs": Value::Array(vec![json!({}); L::STEPS + 1])})).to_string(),
            L::STEPS,
        ),
        // teams, keys, members
        (
            "name",
            "POST",
            "/api/v1/teams".into(),
            json!({"name": over(L::TEAM_NAME)}).to_string(),
            L::TEAM_NAME,
        ),
        (
            "description",
            "POST",
            "/api/v1/teams".into(),
            json!({"name": "t", "description": over(L::TEAM_DESCRIPTION)}).to_string(),
            L::TEAM_DESCRIPTION,
        ),
        (
            "name",
            "POST",
            "/api/v1/api-keys".into(),
            json!({"name": over(L::API_KEY_NAME)}).to_string(),
            L::API_KEY_NAME,
        ),
    ]
}

async fn fields_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("alice");
    // Keys are managed with the password (see records.rs), so the key-name case uses it.
    let basic = Api::new(&env.url(), Auth::Basic("alice".into(), PASSWORD.into()));
    let g = api
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "Login")], "draft"),
        )
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let gid = g.body["data"]["id"].as_i64().unwrap();
    let e = api
        .post(
            "/api/v1/evolutions",
            &evolution_body(&new_uuid(), gid, "FEAT-1"),
        )
        .await;
    assert_eq!(e.status, 201, "{:?}", e.body);
    let eid = e.body["data"]["id"].as_i64().unwrap();
    // A team member to add, for the member-name case.
    let t = api
        .post("/api/v1/teams", &json!({"name": "core"}).to_string())
        .await;
    assert_eq!(t.status, 201, "{:?}", t.body);
    let team = t.body["team_id"].as_str().unwrap().to_string();
    let mut cases = table(gid, eid);
    cases.push((
        "username",
        "POST",
        format!("/api/v1/teams/{team}/members"),
        json!({"username": over(L::NAME)}).to_string(),
        L::NAME,
    ));
    let mut failures = Vec::new();
    for (field, method, path, body, max) in &cases {
        let client = if path.contains("api-keys") {
            &basic
        } else {
            &api
        };
        let before = scope_state(&api, None).await;
        let a = client.send(method, path, Some(body), &[]).await;
        let ctx = format!("[{backend}] {method} {path} {field}");
        let detail = a.detail();
        if a.status != 422 {
            failures.push(format!("{ctx}: want 422, got {} {detail}", a.status));
            continue;
        }
        assert_problem(&a, &ctx);
        if !detail.contains(field) || !detail.contains(&max.to_string()) {
            failures.push(format!(
                "{ctx}: detail {detail:?} names not {field} and {max}"
            ));
        }
        if scope_state(&api, None).await != before {
            failures.push(format!("{ctx}: the scope changed"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Exactly at the limit is accepted.
    let at = |n: usize| json!("y".repeat(n));
    let mut body = generation(one_change());
    body["version"] = json!("v9.0.0");
    body["description"] = at(L::GENERATION_DESCRIPTION);
    body["changes"][0]["title"] = at(L::CHANGE_TITLE);
    body["changes"][0]["description"] = at(L::CHANGE_DESCRIPTION);
    body["changes"][0]["assignee"] = at(L::NAME);
    let ok = api.post("/api/v1/generations", &body.to_string()).await;
    assert_eq!(ok.status, 201, "[{backend}] {:?}", ok.detail());
    let mut r = run(json!({}));
    r["step_outputs"][0]["stdout"] = at(L::STEP_OUTPUT);
    let ok = api.post("/api/v1/pipeline-runs", &r.to_string()).await;
    assert_eq!(ok.status, 201, "[{backend}] {:?}", ok.detail());
}

#[tokio::test]
async fn every_field_over_its_limit_is_refused_by_name() {
    for b in backends() {
        fields_on(b).await;
    }
}

/// `n` changes with 10,000-character descriptions (about 10 KB each).
fn fat_changes(n: usize) -> Value {
    Value::Array(
        (1..=n)
            .map(|i| {
                json!({"id": format!("FEAT-{i}"), "type": "add", "title": "t",
                       "description": "d".repeat(L::CHANGE_DESCRIPTION)})
            })
            .collect(),
    )
}

async fn records_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("alice");
    // Seven fat changes make a record over 64 KiB: 413, nothing stored.
    let mut body = generation(fat_changes(7));
    let before = scope_state(&api, None).await;
    let a = api.post("/api/v1/generations", &body.to_string()).await;
    assert_eq!(a.status, 413, "[{backend}] {:?}", a.body);
    assert_problem(&a, backend);
    assert!(
        a.detail().contains("generation")
            && a.detail().contains(&L::GENERATION_RECORD_BYTES.to_string()),
        "{}",
        a.detail()
    );
    assert_eq!(scope_state(&api, None).await, before);
    // Five fit; a PATCH that would grow the record over the limit is refused the same way.
    body["changes"] = fat_changes(5);
    let ok = api.post("/api/v1/generations", &body.to_string()).await;
    assert_eq!(ok.status, 201, "[{backend}] {:?}", ok.detail());
    let gid = ok.body["data"]["id"].as_i64().unwrap();
    let before = scope_state(&api, None).await;
    let p = api
        .patch(
            &format!("/api/v1/generations/{gid}"),
            &json!({"changes": fat_changes(7)}).to_string(),
        )
        .await;
    assert_eq!(p.status, 413, "[{backend}] {:?}", p.body);
    assert_eq!(scope_state(&api, None).await, before);
    // In a batch, the same refusal is that operation's answer.
    let mut fat = generation(fat_changes(7));
    fat["version"] = json!("v6.0.0");
    let b = api
        .post(
            "/api/v1/sync/batch",
            &json!({"operations": [{"op": "create_generation", "body": fat}]}).to_string(),
        )
        .await;
    assert_eq!(b.status, 200);
    assert_eq!(b.body["data"]["results"][0]["status"], 413);
    assert_eq!(scope_state(&api, None).await, before);
}

#[tokio::test]
async fn a_record_over_its_limit_is_413() {
    for b in backends() {
        records_on(b).await;
    }
}

async fn feed_page_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("alice");
    // 400 records of about 50 KB each: 20 MB of records, more than one page's byte budget.
    let (batches, per_batch) = (5, 80);
    for b in 0..batches {
        let ops: Vec<Value> = (0..per_batch)
            .map(|i| {
                let mut g = generation(fat_changes(5));
                g["version"] = json!(format!("v{b}.{i}.0"));
                json!({"op": "create_generation", "body": g})
            })
            .collect();
        let r = api
            .post(
                "/api/v1/sync/batch",
                &json!({ "operations": ops }).to_string(),
            )
            .await;
        assert_eq!(r.status, 200, "[{backend}] {:?}", r.detail());
        for res in r.body["data"]["results"].as_array().unwrap() {
            assert_eq!(res["status"], 201, "[{backend}] {res}");
        }
    }
    let total = batches * per_batch;
    let mut since = 0;
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let a = api
            .get(&format!("/api/v1/sync/changes?since={since}&limit=1000"))
            .await;
        assert_eq!(a.status, 200);
        let d = &a.body["data"];
        let items = d["items"].as_array().unwrap();
        assert!(!items.is_empty());
        let bytes: usize = items.iter().map(|i| i.to_string().len()).sum();
        assert!(
            bytes <= L::FEED_PAGE_BYTES + L::GENERATION_RECORD_BYTES,
            "[{backend}] a page of {bytes} bytes"
        );
        seen += items.len();
        pages += 1;
        let (next, head) = (d["next"].as_i64().unwrap(), d["head"].as_i64().unwrap());
        if next >= head {
            break;
        }
        since = next;
    }
    assert_eq!(seen, total, "[{backend}] every record arrives once");
    assert!(pages >= 2, "[{backend}] the byte budget split the feed");
}

#[tokio::test]
async fn a_feed_page_is_bounded_in_bytes() {
    for b in backends() {
        feed_page_on(b).await;
    }
}
