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
        eprintln!("note: GRYT_TEST_POSTGRES is not set; skipping the PostgreSQL promotion race");
        return;
    }
    let env = Env::start("postgres", 1);
    let api = env.user_with_key("racer");
    race(&[api], ROUNDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_race_two_servers_one_postgres() {
    if pg_admin_url().is_none() {
        eprintln!("note: GRYT_TEST_POSTGRES is not set; skipping the two-server promotion race");
        return;
    }
    let env = Env::start("postgres", 2);
    let a = env.user_with_key("racer");
    let b = a.with_base(&env.servers[1].url());
    race(&[a, b], ROUNDS).await;
}
