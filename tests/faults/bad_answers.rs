//! Bad answers from the server, client side: a workspace synced with a real server (so it
//! has a cursor, server ids and a base), with pending work, is pointed at a scripted fake
//! server that answers garbage. Each case must end with a clear `Error: ...`, the
//! documented exit code (1 for a bad answer or a refusal, 4 when the connection breaks),
//! no panic, the expected number of requests (garbage and refusals are not retried), and
//! nothing changed in the workspace.

use super::harness::{answer, html, json, Fake, Reply};
use super::harness::{join, problem, Cloud, State, Workspace};
use serde_json::{json as j, Value};

/// A synced workspace with pending work, the real feed it was built from, and its state.
struct Fixture {
    _server: Cloud,
    dev: Workspace,
    cursor: i64,
    /// A generation record as the server sends it in the feed.
    record: Value,
    before: State,
}

fn fixture() -> Fixture {
    let server = Cloud::with_users(&["alice"]);
    let mut dev = join(&server.url(), "alice");
    // The login is bound to the real server; the fake the commands are pointed at
    // (`GRYT_URL`) gets alice's API key from the environment, as a CI job gives it.
    let (key_id, secret) = server.api_key("alice");
    dev.set_env("GRYT_API_KEY_ID", &key_id);
    dev.set_env("GRYT_API_KEY_SECRET", &secret);
    dev.run(&["generation", "new", "v1.0.0", "-d", "Released soon"])
        .ok();
    dev.add_change("v1.0.0", "FEAT-1", "add", "One");
    dev.run(&["sync", "push"]).ok();
    dev.prove_ending("v1.0.0", "FEAT-1", &[0, 4]);
    dev.run(&["sync", "push"]).ok();
    // Pending: a new generation and an edit of a synced one.
    dev.run(&["generation", "new", "v1.1.0"]).ok();
    dev.add_change("v1.0.0", "FEAT-2", "add", "Two");
    let cursor = dev.cursor();
    assert!(cursor > 0, "the workspace has pulled");
    let feed = server.feed("alice", "default");
    let record = feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["kind"] == "generation")
        .expect("a generation in the feed")["record"]
        .clone();
    // The Idempotency-Keys of pending writes are stored before their first request (by
    // design, so a retry re-sends them): one refused push stores them before the snapshot.
    let fake = Fake::start(move |line, _| {
        route(
            line,
            &head_at(cursor),
            &page(&[], cursor, cursor),
            &json(500, &problem(500, "x")),
        )
    });
    dev.run_env(&["sync", "push"], &[("GRYT_URL", &fake.url())])
        .fails(1, &["500"]);
    let before = dev.state();
    Fixture {
        _server: server,
        dev,
        cursor,
        record,
        before,
    }
}

fn route(line: &str, head: &Reply, changes: &Reply, batch: &Reply) -> Reply {
    if line.starts_with("GET /api/v1/sync/head") {
        head.clone()
    } else if line.starts_with("GET /api/v1/sync/changes") {
        changes.clone()
    } else if line.starts_with("POST /api/v1/sync/batch") {
        batch.clone()
    } else {
        json(404, &problem(404, "no such route in the fake"))
    }
}

fn head_at(n: i64) -> Reply {
    json(200, &j!({ "data": { "head": n } }).to_string())
}

fn page(items: &[Value], next: i64, head: i64) -> Reply {
    json(
        200,
        &j!({ "data": { "items": items, "next": next, "head": head } }).to_string(),
    )
}

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    head: Reply,
    changes: Reply,
    batch: Reply,
    code: i32,
    needles: &'static [&'static str],
    /// Exactly how many requests the fake must receive.
    requests: usize,
}

const PULL: &[&str] = &["sync", "pull"];
const PUSH: &[&str] = &["sync", "push"];

/// Runs every case on the fixture; all failures are reported together.
fn check(f: &Fixture, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in &cases {
        let (head, changes, batch) = (c.head.clone(), c.changes.clone(), c.batch.clone());
        let fake = Fake::start(move |line, _| route(line, &head, &changes, &batch));
        let out = f.dev.run_env(c.args, &[("GRYT_URL", &fake.url())]);
        if let Some(p) = out.problem(c.code, c.needles) {
            failures.push(format!("[{}] {p}\n{out:?}", c.name));
        }
        let seen = fake.requests();
        if seen.len() != c.requests {
            failures.push(format!(
                "[{}] expected {} request(s), the fake received {}: {seen:#?}\n{out:?}",
                c.name,
                c.requests,
                seen.len()
            ));
        }
        if let Some(d) = f.before.diff(&f.dev.state()) {
            failures.push(format!("[{}] the workspace changed:\n{d}\n{out:?}", c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad answers were mishandled:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn garbage(name: &'static str, head: Reply, needles: &'static [&'static str]) -> Case {
    Case {
        name,
        args: PULL,
        head,
        changes: json(500, "{}"),
        batch: json(500, "{}"),
        code: 1,
        needles,
        requests: 1,
    }
}

const BAD: &[&str] = &["Bad answer from the server"];

#[test]
fn bad_answers_to_the_head_request() {
    let f = fixture();
    // Nested where the client skips an unknown field.
    let mut nested = b"{\"data\":{\"head\":1,\"extra\":".to_vec();
    nested.extend(std::iter::repeat_n(b'[', 100_000));
    let mut truncated =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            .to_vec();
    truncated.extend_from_slice(b"{\"data\":{\"he");
    let cases = vec![
        garbage("invalid JSON", json(200, "{\"data\": {\"head\": 1"), BAD),
        garbage(
            "head as a string",
            json(200, "{\"data\":{\"head\":\"7\"}}"),
            &["Bad answer from the server", "invalid type"],
        ),
        garbage("no data envelope", json(200, "{\"head\":7}"), BAD),
        garbage("JSON null", json(200, "null"), BAD),
        garbage("a JSON list", json(200, "[1,2,3]"), BAD),
        garbage(
            "an HTML page with 200",
            html(200),
            &["Bad answer from the server", "<!DOCTYPE html>"],
        ),
        garbage("an HTML error page with 500", html(500), &["500"]),
        garbage(
            "500 with a plain-text body",
            answer(500, "text/plain", b"Internal Cloud Error"),
            &["500"],
        ),
        garbage(
            "401 problem",
            json(401, &problem(401, "Invalid credentials")),
            &["refused the credentials", "Invalid credentials"],
        ),
        garbage(
            "401 with an HTML body",
            html(401),
            &["refused the credentials"],
        ),
        garbage(
            "403 problem",
            json(403, &problem(403, "Not yours")),
            &["403", "Not yours"],
        ),
        garbage(
            "404 HTML page (gryt_url names another web site)",
            html(404),
            &["404"],
        ),
        garbage(
            "a body over the client's limit",
            Reply::Huge {
                size: 64 * 1024 * 1024 + 4096,
            },
            &["Bad answer from the server", "larger than 64 MiB"],
        ),
        garbage("an empty body", answer(200, "application/json", b""), BAD),
        garbage(
            "invalid UTF-8",
            answer(
                200,
                "application/json",
                b"{\"data\":{\"head\":\"\xff\xfe\"}}",
            ),
            BAD,
        ),
        garbage(
            "JSON nested 100,000 deep",
            answer(200, "application/json", &nested),
            BAD,
        ),
        Case {
            requests: 3,
            code: 4,
            needles: &["unreachable"],
            ..garbage(
                "a truncated body (Content-Length larger than sent)",
                Reply::Close(truncated),
                &[],
            )
        },
        Case {
            requests: 3,
            code: 4,
            needles: &["unreachable"],
            ..garbage(
                "not HTTP at all",
                Reply::Close(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
                &[],
            )
        },
    ];
    check(&f, cases);
}

#[test]
fn bad_pages_of_the_change_feed() {
    let f = fixture();
    let c = f.cursor;
    let fresh = |edit: &dyn Fn(&mut Value)| -> Value {
        let mut r = f.record.clone();
        r["id"] = j!(9999);
        r["generation_id"] = j!("0e0e0e0e-0000-4000-8000-000000000001");
        r["version"] = j!("v9.9.9");
        r["rev"] = j!(1);
        r["seq"] = j!(c + 1);
        edit(&mut r);
        j!({ "kind": "generation", "record": r })
    };
    let feed = |name: &'static str, changes: Reply, needles: &'static [&'static str]| Case {
        name,
        args: PULL,
        head: head_at(c + 1),
        changes,
        batch: json(500, "{}"),
        code: 1,
        needles,
        requests: 2,
    };
    let one = |edit: &dyn Fn(&mut Value)| page(&[fresh(edit)], c + 1, c + 1);
    let mut truncated =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
            .to_vec();
    truncated
        .extend_from_slice(b"{\"data\":{\"items\":[{\"kind\":\"generation\",\"record\":{\"id\":");
    let cases = vec![
        feed(
            "items not a list",
            json(
                200,
                &j!({ "data": { "items": {}, "next": c + 1, "head": c + 1 } }).to_string(),
            ),
            BAD,
        ),
        feed(
            "next as a string",
            json(
                200,
                &j!({ "data": { "items": [], "next": "later", "head": c + 1 } }).to_string(),
            ),
            BAD,
        ),
        feed(
            "a page that does not move forward",
            page(&[fresh(&|_| {})], c, c + 2),
            &["Bad answer from the server", "did not move forward"],
        ),
        feed(
            "an empty page before the head",
            page(&[], c, c + 2),
            &["Bad answer from the server", "empty page"],
        ),
        feed(
            "a record with an invalid version",
            one(&|r| r["version"] = j!("banana")),
            &["banana"],
        ),
        feed(
            "a record with an invalid change id",
            one(&|r| r["changes"][0]["id"] = j!("feat-1")),
            &["feat-1"],
        ),
        feed(
            "a record with an unknown change type",
            one(&|r| r["changes"][0]["type"] = j!("feature")),
            &["feature"],
        ),
        feed(
            "a record without a version",
            one(&|r| {
                if let Some(m) = r.as_object_mut() {
                    m.remove("version");
                }
            }),
            &["Bad answer from the server", "version"],
        ),
        feed(
            "a record with an unknown status",
            one(&|r| r["status"] = j!("shipped")),
            &["shipped"],
        ),
        feed(
            "a record of an unknown kind",
            page(&[j!({ "kind": "release", "record": {} })], c + 1, c + 1),
            BAD,
        ),
        feed(
            "an HTML page instead of the feed",
            html(200),
            &["Bad answer from the server", "<!DOCTYPE html>"],
        ),
        Case {
            code: 4,
            needles: &["unreachable"],
            requests: 4,
            ..feed("a truncated page", Reply::Close(truncated), &[])
        },
    ];
    check(&f, cases);
}

#[test]
fn bad_answers_to_a_batch_of_writes() {
    let f = fixture();
    let c = f.cursor;
    let batch =
        |name: &'static str, batch: Reply, code: i32, needles: &'static [&'static str]| Case {
            name,
            args: PUSH,
            head: head_at(c),
            changes: json(500, "{}"),
            batch,
            code,
            needles,
            requests: 2,
        };
    let results = |r: Value| json(200, &j!({ "data": { "results": r } }).to_string());
    let not_a_generation = j!({ "status": 201, "body": { "data": { "x": 1 } } });
    let cases = vec![
        batch(
            "the wrong number of results",
            results(j!([])),
            1,
            &["Bad answer from the server", "one result per operation"],
        ),
        batch("results not a list", results(j!({})), 1, BAD),
        batch(
            "a success whose body is not a generation",
            results(j!([not_a_generation.clone(), not_a_generation])),
            1,
            BAD,
        ),
        batch(
            "an HTML page with 200",
            html(200),
            1,
            &["Bad answer from the server", "<!DOCTYPE html>"],
        ),
        batch(
            "422 for the whole batch",
            json(422, &problem(422, "Unprocessable batch")),
            1,
            &["422", "Unprocessable batch"],
        ),
        batch(
            "500 with a non-JSON body",
            answer(500, "text/plain", b"oops"),
            1,
            &["500"],
        ),
        Case {
            requests: 4,
            ..batch(
                "an HTML 502 from a gateway on every attempt",
                html(502),
                4,
                &["unreachable", "502"],
            )
        },
    ];
    check(&f, cases);
}
