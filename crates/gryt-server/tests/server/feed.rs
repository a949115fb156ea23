//! The change feed under 8 concurrent writers with readers paging at the same time: every
//! reader ends with every record exactly once, in seq order, no record skipped.

use crate::common::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const WRITERS: usize = 8;
const PER_WRITER: usize = 25;
const READERS: usize = 3;

async fn feed_on(backend: &str) {
    let env = Env::start(backend, 1);
    let api = env.user_with_key("writer");
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = tokio::task::JoinSet::new();
    for r in 0..READERS {
        let api = api.clone();
        let done = done.clone();
        readers.spawn(async move {
            let mut since = 0i64;
            let mut seen: HashSet<String> = HashSet::new();
            let mut last_seq = 0i64;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let a = api
                    .get(&format!(
                        "/api/v1/sync/changes?since={since}&limit={}",
                        5 + r * 3
                    ))
                    .await;
                assert_eq!(a.status, 200, "{:?}", a.body);
                let data = &a.body["data"];
                for item in data["items"].as_array().unwrap() {
                    let seq = item["record"]["seq"].as_i64().unwrap();
                    assert!(seq > last_seq, "seq order");
                    last_seq = seq;
                    let uuid = item["record"]["generation_id"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    assert!(seen.insert(uuid), "a record came twice");
                }
                let next = data["next"].as_i64().unwrap();
                let head = data["head"].as_i64().unwrap();
                assert!(next >= since && next <= head);
                since = next;
                // Once the writers are done (observed before this page), a page that reaches
                // the head means the reader has everything.
                if finished && next == head {
                    break;
                }
            }
            seen
        });
    }
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let api = api.clone();
        writers.spawn(async move {
            let mut mine = Vec::new();
            for i in 0..PER_WRITER {
                let uuid = new_uuid();
                let a = api
                    .post(
                        "/api/v1/generations",
                        &generation_body(
                            &uuid,
                            &format!("v{w}.{i}.0"),
                            &[("FEAT-1", "x")],
                            "draft",
                        ),
                    )
                    .await;
                assert_eq!(a.status, 201, "{:?}", a.body);
                mine.push(uuid);
            }
            mine
        });
    }
    let mut all = HashSet::new();
    while let Some(w) = writers.join_next().await {
        all.extend(w.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    assert_eq!(all.len(), WRITERS * PER_WRITER);
    while let Some(r) = readers.join_next().await {
        let seen = r.unwrap();
        assert_eq!(seen, all, "a reader missed records");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_under_concurrent_writers() {
    for b in backends() {
        feed_on(b).await;
    }
}
