//! Offline. With the server stopped, work in cloud mode is saved, noted as pending (exit 4
//! only with `--strict-sync`); after a restart the next push delivers everything exactly
//! once. A hybrid `gryt run` exits with the pipeline's verdict whatever the server does.

use super::harness::{team_of, Proxy};

#[test]
fn offline_work_in_cloud_mode_is_noted_stays_pending_and_is_delivered_once() {
    let (mut cloud, team, devs) = team_of(&["alice", "bob"]);
    let a = &devs[0];
    a.run(&["config", "execution_mode", "cloud"]).ok();
    // Online, cloud mode pushes every change as it is made.
    a.run(&["generation", "new", "v4.0.0", "-d", "Online"]).ok();
    assert_eq!(
        cloud.generation("alice", &team, "v4.0.0")["description"],
        "Online"
    );

    cloud.stop();
    // The command's own work is done: exit 0, and a note says what is kept pending.
    let out = a.run(&["generation", "new", "v4.1.0", "-d", "Offline"]);
    out.ok()
        .stderr_has("Note: Saved locally, but not synced")
        .stderr_has("pending");
    // With --strict-sync the same outcome is exit 4.
    for (id, title) in [("FEAT-1", "First"), ("FEAT-2", "Second")] {
        a.run(&[
            "--strict-sync",
            "generation",
            "add-change",
            "v4.1.0",
            "--id",
            id,
            "--type",
            "add",
            "--title",
            title,
        ])
        .fails(4, &["not synced"]);
    }
    a.run(&[
        "--strict-sync",
        "generation",
        "add-change",
        "v4.0.0",
        "--id",
        "BUG-1",
        "--type",
        "fix",
        "--title",
        "Edit",
    ])
    .fails(4, &["not synced"]);
    let ev = a.run(&[
        "evolution",
        "start",
        "v4.1.0",
        "--change",
        "FEAT-1",
        "--json",
    ]);
    assert_eq!(ev.code, 0, "{ev:?}");
    ev.stderr_has("Note: Saved locally, but not synced");
    let tag = ev.json()["evolution"]["tag"]
        .as_str()
        .expect("tag")
        .to_string();
    // GRYT_STRICT_SYNC=1 is --strict-sync; under --json the error joins the document.
    let out = super::harness::finish(
        "alice",
        &["evolution complete"],
        a.command(&["evolution", "complete", &tag, "--status", "pass", "--json"])
            .env("GRYT_STRICT_SYNC", "1")
            .output()
            .expect("run gryt"),
    );
    out.fails(4, &["not synced"]);
    let j = out.json();
    assert_eq!(j["evolution"]["status"], "pass", "{out:?}");
    assert_eq!(j["error"]["kind"], "unreachable", "{out:?}");
    assert_eq!(j["error"]["exit_code"], 4, "{out:?}");
    // The work is kept locally.
    assert_eq!(
        a.show("v4.1.0")["generation"]["changes"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Pending, and offline, says status.
    let st = a.sync_status();
    assert_eq!(st["offline"], true, "{st:#}");
    assert_eq!(st["local_only"], serde_json::json!(["v4.1.0"]), "{st:#}");
    let pending: Vec<(&str, &str)> = st["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .map(|p| {
            (
                p["version"].as_str().unwrap_or(""),
                p["what"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(pending.contains(&("v4.1.0", "create")), "{st:#}");
    assert!(pending.contains(&("v4.0.0", "update")), "{st:#}");
    assert_eq!(st["pending_evolutions"], 1, "{st:#}");
    // A push while offline also exits 4 and keeps everything.
    a.run(&["sync", "push"]).fails(4, &["unreachable"]);
    assert_eq!(a.sync_status()["pending_evolutions"], 1);

    cloud.restart();
    // Nothing reached the server while it was down.
    assert_eq!(cloud.generations("alice", &team).len(), 1);
    // The restarted test server listens on a new port: log in there (a login is bound
    // to its server's URL).
    a.login(&cloud.url()).ok();
    a.run(&["sync", "push"])
        .ok()
        .stdout_has("1 created, 1 updated")
        .stdout_has("1 evolution (");
    let count = |cloud: &super::harness::Cloud| {
        let gens = cloud.generations("bob", &team);
        let evs: usize = gens
            .iter()
            .map(|g| cloud.evolutions("bob", &g["id"]).len())
            .sum();
        (gens.len(), evs)
    };
    assert_eq!(count(&cloud), (2, 1));
    let g = cloud.generation("bob", &team, "v4.1.0");
    assert_eq!(g["changes"].as_array().map(Vec::len), Some(2), "{g:#}");
    let g0 = cloud.generation("bob", &team, "v4.0.0");
    assert_eq!(g0["changes"][0]["id"], "BUG-1", "{g0:#}");
    let evs = cloud.evolutions("bob", &g["id"]);
    assert_eq!(evs[0]["status"], "pass");

    // Delivered exactly once: further pushes and commands send nothing more.
    a.run(&["sync", "push"])
        .ok()
        .stdout_has("0 created, 0 updated");
    a.run(&["generation", "list"]).ok();
    assert_eq!(count(&cloud), (2, 1));
    let st = a.sync_status();
    assert_eq!(st["pending"].as_array().map(Vec::len), Some(0), "{st:#}");
    assert_eq!(st["pending_evolutions"], 0, "{st:#}");
    assert_eq!(st["offline"], false, "{st:#}");

    // The log shows the failed push and the successful one.
    let log = a.json(&["sync", "log"]);
    let entries = log["log"].as_array().expect("log");
    assert!(
        entries.iter().any(|e| e["direction"] == "push"
            && e["error"].is_null()
            && e["records"].as_i64() >= Some(3)),
        "{log:#}"
    );
}

#[test]
fn a_lost_answer_is_retried_with_the_same_keys_and_the_server_writes_once() {
    let (cloud, team, devs) = team_of(&["alice", "bob"]);
    let a = &devs[0];
    let proxy = Proxy::start(&cloud.url());
    // Logged in through the proxy (a login is bound to its URL), before any fault.
    a.login(&proxy.url()).ok();
    // Only explicit pushes talk to the server.
    a.run(&["config", "execution_mode", "local"]).ok();
    a.run(&["generation", "new", "v4.2.0"]).ok();
    a.add_change("v4.2.0", "FEAT-1", "add", "Once");

    // The first answer is lost; the client's own retry gets the stored result.
    proxy.lose_batch_answers(1);
    a.run(&["sync", "push"]).ok().stdout_has("1 created");
    assert_eq!(proxy.lost(), 1);
    assert_eq!(cloud.generations("bob", &team).len(), 1);

    // Every answer of a push is lost: it exits 4 and keeps the work pending (with its
    // keys); the next push is answered from the server's stored results.
    a.add_change("v4.2.0", "FEAT-2", "add", "Twice?");
    a.prove("v4.2.0", "FEAT-1");
    proxy.lose_batch_answers(100);
    a.run(&["sync", "push"]).fails(4, &["unreachable"]);
    assert!(proxy.lost() >= 2, "lost {}", proxy.lost());
    proxy.lose_batch_answers(0);
    let st = a.sync_status();
    assert_eq!(st["pending"].as_array().map(Vec::len), Some(1), "{st:#}");
    assert_eq!(st["pending_evolutions"], 1, "{st:#}");
    a.run(&["sync", "push"]).ok();
    let g = cloud.generation("bob", &team, "v4.2.0");
    assert_eq!(g["changes"].as_array().map(Vec::len), Some(2), "{g:#}");
    let evs = cloud.evolutions("bob", &g["id"]);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["status"], "pass");
    let st = a.sync_status();
    assert_eq!(st["pending"].as_array().map(Vec::len), Some(0), "{st:#}");
    assert_eq!(st["pending_evolutions"], 0, "{st:#}");
    assert_eq!(a.show("v4.2.0")["generation"]["sync_status"], "synced");
}

#[test]
fn promotion_while_offline_in_hybrid_mode_exits_4_and_stays_a_draft() {
    let (mut cloud, team, devs) = team_of(&["alice"]);
    let a = &devs[0];
    a.run(&["generation", "new", "v4.3.0"]).ok();
    a.add_change("v4.3.0", "FEAT-1", "add", "Offline promotion");
    a.run(&["sync", "push"]).ok();
    a.prove("v4.3.0", "FEAT-1");
    cloud.stop();
    a.run(&["promote", "v4.3.0"]).fails(4, &["unreachable"]);
    let g = a.show("v4.3.0");
    assert_eq!(g["generation"]["status"], "draft", "{g:#}");
    cloud.restart();
    // The restarted test server listens on a new port: log in there (a login is bound
    // to its server's URL).
    a.login(&cloud.url()).ok();
    assert_eq!(
        cloud.generation("alice", &team, "v4.3.0")["status"],
        "draft"
    );
    a.run(&["promote", "v4.3.0"]).ok();
    assert_eq!(
        cloud.generation("alice", &team, "v4.3.0")["status"],
        "promoted"
    );
    assert_eq!(a.show("v4.3.0")["generation"]["status"], "promoted");
}

#[test]
fn a_hybrid_run_exits_with_the_pipeline_verdict_online_or_offline() {
    let (mut cloud, team, devs) = team_of(&["alice"]);
    let a = &devs[0];
    a.write_pipeline("ok", "steps:\n  - name: ok\n    run: echo fine\n");
    a.write_pipeline("bad", "steps:\n  - name: bad\n    run: exit 7\n");
    a.run(&["generation", "new", "v6.0.0"]).ok();
    for id in ["FEAT-1", "FEAT-2", "FEAT-3", "FEAT-4", "FEAT-5"] {
        a.add_change("v6.0.0", id, "add", id);
    }
    a.run(&["sync", "push"]).ok();
    // A generation that never reached the server: its result waits, and a note says so
    // (it used to be silent).
    a.run(&["generation", "new", "v6.1.0"]).ok();
    a.add_change("v6.1.0", "FEAT-9", "add", "Local only");
    a.run(&["evolution", "start", "v6.1.0", "--change", "FEAT-9"])
        .ok();
    a.run(&["run", "ok"])
        .ok()
        .stderr_has("Note: Evolution results of v6.1.0 are kept pending")
        .stderr_has("gryt sync push");

    let start = |change: &str| {
        a.json(&["evolution", "start", "v6.0.0", "--change", change])["evolution"]["tag"]
            .as_str()
            .expect("tag")
            .to_string()
    };
    // Online: a pass is 0 and sent; a fail is 1 and sent.
    let t1 = start("FEAT-1");
    a.run(&["run", "ok", "--evolution", &t1]).ok();
    let t2 = start("FEAT-2");
    let out = a.run(&["run", "bad", "--evolution", &t2]);
    assert_eq!(out.code, 1, "{out:?}");

    cloud.stop();
    // Offline: the verdict decides the exit code, a note says the result is kept pending.
    let t3 = start("FEAT-3");
    a.run(&["run", "ok", "--evolution", &t3])
        .ok()
        .stderr_has("Note: Saved locally, but not synced");
    let t4 = start("FEAT-4");
    let out = a.run(&["run", "bad", "--evolution", &t4]);
    assert_eq!(out.code, 1, "{out:?}");
    out.stderr_has("Note: Saved locally, but not synced");
    // --strict-sync: a passing run that could not be sent is 4, with the result and the
    // error in one JSON document; a failing run stays 1.
    let t5 = start("FEAT-5");
    let out = a.run(&["--strict-sync", "run", "ok", "--evolution", &t5, "--json"]);
    out.fails(4, &["not synced"]);
    let j = out.json();
    assert_eq!(j["evolution"]["status"], "pass", "{out:?}");
    assert_eq!(j["error"]["kind"], "unreachable", "{out:?}");
    let out = a.run(&["--strict-sync", "run", "bad"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(a.sync_status()["pending_evolutions"], 4);

    cloud.restart();
    // The restarted test server listens on a new port: log in there (a login is bound
    // to its server's URL).
    a.login(&cloud.url()).ok();
    a.run(&["sync", "push"]).ok();
    let g = cloud.generation("alice", &team, "v6.0.0");
    let mut statuses: Vec<(String, String)> = cloud
        .evolutions("alice", &g["id"])
        .iter()
        .map(|e| {
            (
                e["change_id"].as_str().unwrap_or("").to_string(),
                e["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("FEAT-1", "pass"),
            ("FEAT-2", "fail"),
            ("FEAT-3", "pass"),
            ("FEAT-4", "fail"),
            ("FEAT-5", "pass")
        ]
        .map(|(c, s)| (c.to_string(), s.to_string()))
    );
}
