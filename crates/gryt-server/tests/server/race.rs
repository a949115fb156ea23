//! The promotion race: 16 concurrent promotions of one version, 100 rounds; exactly one
//! success and fifteen 409s every round, the record promoted once. Half go through
//! POST .../promote and half through PATCH {"status": "promoted"}: one rule for both.

use crate::common::*;

const ROUNDS: usize = 100;
const CONTENDERS: usize = 16;

async fn race(apis: &[Api], rounds: usize) {
    for round in 0..rounds {
        let version = format!("v1.{round}.0");
        let gid = ready_generation(&apis[0], &version).await;
        let mut set = tokio::task::JoinSet::new();
        for i in 0..CONTENDERS {
            let api = apis[i % apis.len()].clone();
            set.spawn(async move {
                let a = if i % 2 == 0 {
                    api.post(&format!("/api/v1/generations/{gid}/promote"), "")
                        .await
                } else {
                    api.patch(
                        &format!("/api/v1/generations/{gid}"),
                        r#"{"status": "promoted"}"#,
                    )
                    .await
                };
                (a.status, a.detail())
            });
        }
        let mut ok = 0;
        let mut conflicts = 0;
        while let Some(r) = set.join_next().await {
            let (status, detail) = r.unwrap();
            match status {
                200 => ok += 1,
                409 => {
                    assert!(
                        detail.contains("already promoted"),
                        "round {round}: {detail}"
                    );
                    conflicts += 1;
                }
                other => panic!("round {round}: unexpected {other}: {detail}"),
            }
        }
        assert_eq!((ok, conflicts), (1, CONTENDERS - 1), "round {round}");
        let g = apis[0].get(&format!("/api/v1/generations/{gid}")).await;
        assert_eq!(g.body["data"]["status"], "promoted");
        // Created (1), promoted once (2): a second promotion would have bumped rev again.
        assert_eq!(g.body["data"]["rev"], 2, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_race_sqlite() {
    let env = Env::start("sqlite", 1);
    let api = env.user_with_key("racer");
    race(&[api], ROUNDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_race_postgres() {
    if pg_admin_url().is_none() {
        note("GRYT_TEST_POSTGRES is not set; skipping the PostgreSQL promotion race");
        return;
    }
    let env = Env::start("postgres", 1);
    let api = env.user_with_key("racer");
    race(&[api], ROUNDS).await;
}

/// Two server processes sharing one PostgreSQL: this test process runs one server, and a
/// second OS process (this same test binary, re-run as `child_server`) runs the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_race_two_processes_one_postgres() {
    use std::io::BufRead;
    if pg_admin_url().is_none() {
        note("GRYT_TEST_POSTGRES is not set; skipping the two-process promotion race");
        return;
    }
    let env = Env::start("postgres", 1);
    let key_hex = env.key_hex.clone();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "race::child_server",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GRYT_CHILD_DATABASE", &env.config.database)
        .env("GRYT_CHILD_KEY", &key_hex)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (url_tx, url_rx) = std::sync::mpsc::channel::<String>();
    // Read the child's output to its end (so it never writes into a closed pipe).
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest may print "test race::child_server ... " on the same line first.
            if let Some((_, u)) = line.split_once("listening on ") {
                let _ = url_tx.send(u.trim().to_string());
            }
        }
    });
    let url = url_rx
        .recv()
        .expect("the child server never said where it listens");
    assert_ne!(child.id(), std::process::id());
    let a = env.user_with_key("racer");
    let b = a.with_base(&url);
    assert_eq!(b.get("/healthz").await.status, 200);
    race(&[a, b], ROUNDS).await;
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    reader.join().unwrap();
}

/// Not a test on its own: the second server process of the test above.
#[test]
#[ignore = "run as a child process by promotion_race_two_processes_one_postgres"]
fn child_server() {
    use std::io::{BufRead, Write};
    let Ok(database) = std::env::var("GRYT_CHILD_DATABASE") else {
        return;
    };
    let key = std::env::var("GRYT_CHILD_KEY").unwrap();
    let mut config = gryt_server::ServerConfig::new(database);
    config.server_key = Some(gryt_server::ServerKey::from_hex(&key).unwrap());
    let server = gryt_server::TestServer::start(config).unwrap();
    println!("listening on {}", server.url());
    std::io::stdout().flush().unwrap();
    // Serve until the parent closes our standard input.
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    server.stop().unwrap();
}
