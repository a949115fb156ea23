//! The client's own limits against servers that misbehave (issue 13): a server dripping its
//! answer a byte at a time meets the whole-request deadline (`GRYT_HTTP_TIMEOUT_MS`); a
//! redirect is refused, naming its target, and never followed; a password written into
//! `gryt_url` never appears in an error; `Retry-After` is honoured in both its forms; a
//! batch whose operations the server could not take now (503) keeps the work pending
//! (exit 4); a change-feed page too large to accept is asked again with fewer records, and
//! a single record too large is named. Outcomes only: the fake server itself checks that a retry came after the
//! time it asked for.

use super::harness::{answer, json, Fake, Reply};
use super::harness::{bare, join, join_fake, problem, Cloud};
use serde_json::json as j;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const PULL: &[&str] = &["sync", "pull"];

fn head_at(n: i64) -> Reply {
    json(200, &j!({ "data": { "head": n } }).to_string())
}

#[test]
fn a_server_dripping_its_answer_meets_the_whole_request_deadline() {
    // 60 bytes, one every 100 ms: no single read waits long, the whole answer takes 6 s.
    let mut body = j!({ "data": { "head": 0 } }).to_string().into_bytes();
    body.resize(60, b' ');
    let fake = Fake::start(move |_, _| Reply::Drip {
        body: body.clone(),
        every_ms: 100,
    });
    let dev = join_fake(&fake.url(), "alice");
    dev.run_env(
        PULL,
        &[("GRYT_HTTP_TIMEOUT_MS", "500"), ("GRYT_HTTP_ATTEMPTS", "1")],
    )
    .fails(4, &["unreachable", "500 ms"]);
    assert_eq!(fake.requests().len(), 1, "{:#?}", fake.requests());
}

fn redirect_to(location: &str) -> Reply {
    Reply::Bytes(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes(),
    )
}

#[test]
fn a_redirect_is_refused_naming_its_target_and_never_followed() {
    let elsewhere = Fake::start(|_, _| head_at(0));
    let target = format!("{}/api/v1/sync/head", elsewhere.url());
    let t = target.clone();
    let fake = Fake::start(move |_, _| redirect_to(&t));
    let dev = join_fake(&fake.url(), "alice");
    dev.run(PULL)
        .err(1, &["redirect", &target])
        .hint("gryt_url");
    assert_eq!(
        fake.requests().len(),
        1,
        "not retried: {:#?}",
        fake.requests()
    );
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect was followed: {:#?}",
        elsewhere.requests()
    );
}

#[test]
fn a_password_in_gryt_url_never_appears_in_errors() {
    const PW: &str = "url-pw-5ecret";
    let elsewhere = Fake::start(|_, _| head_at(0));
    let hostport = |url: &str| url.trim_start_matches("http://").to_string();
    let target = format!(
        "http://alice:{PW}@{}/api/v1/sync/head",
        hostport(&elsewhere.url())
    );
    let fake = Fake::start(move |_, _| redirect_to(&target));
    let redirecting = format!("http://alice:{PW}@{}", hostport(&fake.url()));
    let dead = format!("http://alice:{PW}@127.0.0.1:1");
    // The configuration refuses such a URL; given through the environment, it must still
    // never be echoed.
    let dev = bare("alice");
    dev.run(&["init"]).ok();
    let outs = vec![
        dev.run_env(PULL, &[("GRYT_URL", &dead)]),
        dev.run_env(&["sync", "push"], &[("GRYT_URL", &dead)]),
        dev.run_env(PULL, &[("GRYT_URL", &redirecting)]),
        dev.run_env(&["sync", "status"], &[("GRYT_URL", &dead)]),
        dev.run_env(&["sync", "status", "--json"], &[("GRYT_URL", &dead)]),
        dev.run_env(&["sync", "status"], &[("GRYT_URL", &redirecting)]),
        dev.run(&["config", "--global", "gryt_url", &dead]),
    ];
    assert!(outs[0].code != 0 && outs[2].code != 0, "{outs:?}");
    for out in &outs {
        assert!(
            !out.stdout.contains(PW) && !out.stderr.contains(PW),
            "the password shows\n{out:?}"
        );
    }
    assert!(elsewhere.requests().is_empty());
}

/// `Retry-After` as an HTTP date `secs` seconds (at least) from now.
fn http_date_in(secs: u64) -> (String, SystemTime) {
    let now = chrono::Utc::now();
    let at = now + chrono::Duration::seconds(secs as i64 + 1);
    // Whole seconds: the date names the start of its second.
    let text = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(at.timestamp() as u64);
    (text, whole)
}

#[test]
fn retry_after_is_honoured_as_seconds_and_as_an_http_date() {
    for form in ["seconds", "date"] {
        // The fake answers 503 asking for a wait, and 503 again to any retry that comes
        // before the time it asked for; only a retry that waited gets the answer.
        let not_before: Arc<Mutex<Option<SystemTime>>> = Arc::new(Mutex::new(None));
        let nb = not_before.clone();
        let fake = Fake::start(move |_, _| {
            let mut nb = nb.lock().expect("lock");
            match *nb {
                Some(t) if SystemTime::now() >= t => head_at(0),
                Some(_) => answer(503, "application/json", b"{\"detail\":\"too early\"}"),
                None => {
                    let (header, until) = if form == "seconds" {
                        ("1".to_string(), SystemTime::now() + Duration::from_secs(1))
                    } else {
                        http_date_in(1)
                    };
                    *nb = Some(until);
                    Reply::Bytes(
                        format!(
                            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {header}\r\nContent-Length: 0\r\n\r\n"
                        )
                        .into_bytes(),
                    )
                }
            }
        });
        let dev = join_fake(&fake.url(), "alice");
        // Without honouring it, the retry would come at once (backoff base 1 ms).
        dev.run_env(
            PULL,
            &[("GRYT_HTTP_ATTEMPTS", "2"), ("GRYT_HTTP_BACKOFF_MS", "1")],
        )
        .ok();
        assert_eq!(fake.requests().len(), 2, "{form}: {:#?}", fake.requests());
    }
}

#[test]
fn operations_the_server_cannot_take_now_stay_pending_and_exit_4() {
    let batches = Arc::new(AtomicUsize::new(0));
    let b = batches.clone();
    let fake = Fake::start(move |line, body| {
        if line.starts_with("GET /api/v1/sync/head") {
            return head_at(0);
        }
        if line.starts_with("POST /api/v1/sync/batch") {
            b.fetch_add(1, Ordering::SeqCst);
            let ops = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["operations"].as_array().map(Vec::len))
                .unwrap_or(0);
            let one = j!({ "status": 503, "body": serde_json::from_str::<serde_json::Value>(&problem(503, "The database is busy; retry shortly")).unwrap_or_default() });
            let results: Vec<_> = (0..ops).map(|_| one.clone()).collect();
            return json(200, &j!({ "data": { "results": results } }).to_string());
        }
        json(404, &problem(404, "no such route in the fake"))
    });
    let dev = join_fake(&fake.url(), "alice");
    dev.run(&["generation", "new", "v1.0.0"]).ok();
    dev.run(&["sync", "push"])
        .err(4, &["could not take", "503"])
        .hint("kept locally as pending");
    assert_eq!(batches.load(Ordering::SeqCst), 1);
    let st = dev.sync_status();
    assert_eq!(st["local_only"], j!(["v1.0.0"]), "{st:#}");
    assert_eq!(st["refused"], j!([]), "{st:#}");
    // Still pending: the next push sends it again.
    dev.run(&["sync", "push"]).err(4, &["503"]);
    assert_eq!(batches.load(Ordering::SeqCst), 2);
}

/// The `limit` of a change-feed request line.
fn limit_of(line: &str) -> usize {
    line.split(['?', '&', ' '])
        .find_map(|p| p.strip_prefix("limit="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

const TOO_LARGE: usize = 64 * 1024 * 1024 + 4096;

#[test]
fn a_feed_page_too_large_is_asked_again_with_fewer_records() {
    // Three generations, as a real server lists them in its feed.
    let server = Cloud::with_users(&["alice"]);
    let writer = join(&server.url(), "alice");
    for v in ["v1.0.0", "v1.1.0", "v1.2.0"] {
        writer.run(&["generation", "new", v]).ok();
    }
    writer.run(&["sync", "push"]).ok();
    let feed = server.feed("alice", "default");
    let items = feed["items"].as_array().expect("items").clone();
    let head = feed["head"].as_i64().expect("head");
    assert_eq!(items.len(), 3);
    // A fake serving them, but answering more than the client takes for any page of more
    // than one record (as ten 7 MiB records would).
    let fake = Fake::start(move |line, _| {
        if line.starts_with("GET /api/v1/sync/head") {
            return head_at(head);
        }
        let since: i64 = line
            .split(['?', '&', ' '])
            .find_map(|p| p.strip_prefix("since="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if limit_of(line) > 1 {
            let start = j!({ "data": { "items": [items[0]] } }).to_string();
            return Reply::HugeAfter {
                size: TOO_LARGE,
                prefix: start.into_bytes(),
            };
        }
        let next = items
            .iter()
            .find(|i| i["record"]["seq"].as_i64().unwrap_or(0) > since)
            .cloned();
        match next {
            Some(i) => {
                let seq = i["record"]["seq"].as_i64().unwrap_or(0);
                json(
                    200,
                    &j!({ "data": { "items": [i], "next": seq, "head": head } }).to_string(),
                )
            }
            None => json(
                200,
                &j!({ "data": { "items": [], "next": head, "head": head } }).to_string(),
            ),
        }
    });
    let reader = join_fake(&fake.url(), "alice");
    reader.run(PULL).ok();
    let list = reader.json(&["generation", "list"]);
    assert_eq!(
        list["generations"].as_array().map(Vec::len),
        Some(3),
        "{list:#}"
    );
    let limits: Vec<usize> = fake
        .requests()
        .iter()
        .filter(|l| l.starts_with("GET /api/v1/sync/changes"))
        .map(|l| limit_of(l))
        .collect();
    assert_eq!(limits.first(), Some(&1000), "{limits:?}");
    assert!(
        limits.iter().filter(|l| **l == 1).count() == 3,
        "{limits:?}"
    );
    assert_eq!(reader.cursor(), head);
}

#[test]
fn a_single_record_larger_than_the_client_takes_is_named() {
    let fake = Fake::start(|line, _| {
        if line.starts_with("GET /api/v1/sync/head") {
            return head_at(4);
        }
        Reply::HugeAfter {
            size: TOO_LARGE,
            prefix: br#"{"data":{"items":[{"kind":"generation","record":{"id":5,"generation_id":"0b5e","version":"v9.9.9","description":""#.to_vec(),
        }
    });
    let dev = join_fake(&fake.url(), "alice");
    let before = dev.state();
    dev.run(PULL).err(
        1,
        &["generation v9.9.9 (server id 5)", "larger than 64 MiB"],
    );
    let limits: Vec<usize> = fake
        .requests()
        .iter()
        .filter(|l| l.starts_with("GET /api/v1/sync/changes"))
        .map(|l| limit_of(l))
        .collect();
    assert_eq!(limits.last(), Some(&1), "down to one record: {limits:?}");
    before.assert_same(&dev.state(), "a pull stopped by a too-large record");
}
