//! Answers lost after the server committed: the proxy forwards the request, reads the
//! server's whole answer and closes the client's connection without sending it. The
//! client's retry carries the same Idempotency-Key, so the server answers the stored result:
//! nothing is written twice, and the command reports success. When every attempt loses its
//! answer the command exits 4 with the work kept pending, and the next push settles it —
//! still without a duplicate.

use super::harness::{change_ids, join, Cloud, Workspace};
use super::harness::{Fault, Proxy};

const BATCH: &str = "POST /api/v1/sync/batch";
const PROMOTE: &str = "POST /api/v1/generations/";

fn online() -> (Cloud, Proxy, Workspace) {
    let server = Cloud::with_users(&["alice"]);
    let proxy = Proxy::start(&server.url());
    let dev = join(&proxy.url(), "alice");
    (server, proxy, dev)
}

/// Every version the server holds, each once; and the feed lists each record once.
#[track_caller]
fn assert_no_duplicates(server: &Cloud, expected: &[&str]) {
    let gens = server.personal_generations("alice", "default");
    let mut versions: Vec<String> = gens
        .iter()
        .map(|g| g["version"].as_str().unwrap_or("").to_string())
        .collect();
    versions.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(versions, want, "the server's generations: {gens:#?}");
    let feed = server.feed("alice", "default");
    let items = feed["items"].as_array().expect("items");
    let mut ids: Vec<String> = items
        .iter()
        .map(|i| format!("{}:{}", i["kind"], i["record"]["id"]))
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a record listed twice in the feed: {feed:#}");
}

#[test]
fn a_lost_batch_answer_is_retried_with_the_same_keys_and_reports_success() {
    let (server, proxy, a) = online();
    a.run(&["generation", "new", "v1.0.0", "-d", "First"]).ok();
    a.add_change("v1.0.0", "FEAT-1", "add", "One");
    a.run(&["generation", "new", "v1.1.0"]).ok();

    proxy.inject(BATCH, Fault::DropAfterCommit, 1);
    a.run(&["sync", "push"]).ok().stdout_has("2 created");
    assert_eq!(proxy.count(BATCH), 2, "one lost answer, one retry");
    assert_no_duplicates(&server, &["v1.0.0", "v1.1.0"]);
    let st = a.sync_status();
    assert_eq!(st["pending"], serde_json::json!([]), "{st:#}");
    assert_eq!(st["local_only"], serde_json::json!([]), "{st:#}");

    // Nothing is left to send: the next push writes nothing.
    a.run(&["sync", "push"])
        .ok()
        .stdout_has("0 created, 0 updated");
    assert_no_duplicates(&server, &["v1.0.0", "v1.1.0"]);

    // A lost answer to an update: the edit lands once, with one more revision.
    let rev_before = server
        .personal_generations("alice", "default")
        .iter()
        .find(|g| g["version"] == "v1.0.0")
        .map(|g| g["rev"].as_i64().unwrap_or(0))
        .unwrap_or(0);
    a.add_change("v1.0.0", "FEAT-2", "add", "Two");
    proxy.inject(BATCH, Fault::DropAfterCommit, 1);
    a.run(&["sync", "push"]).ok().stdout_has("1 updated");
    let g = server
        .personal_generations("alice", "default")
        .into_iter()
        .find(|g| g["version"] == "v1.0.0")
        .expect("v1.0.0");
    assert_eq!(g["changes"].as_array().map(Vec::len), Some(2), "{g:#}");
    assert_eq!(
        g["rev"].as_i64(),
        Some(rev_before + 1),
        "written once: {g:#}"
    );
    assert_eq!(a.generation("v1.0.0")["sync_status"], "synced");
}

#[test]
fn answers_lost_on_every_attempt_exit_4_and_the_next_push_settles_without_duplicates() {
    let (server, proxy, a) = online();
    a.run(&["generation", "new", "v2.0.0"]).ok();
    a.add_change("v2.0.0", "FEAT-1", "add", "One");
    a.run(&["sync", "push"]).ok();

    // A create and an update, whose answers are lost on all three attempts.
    a.run(&["generation", "new", "v2.1.0"]).ok();
    a.add_change("v2.0.0", "FEAT-2", "add", "Two");
    proxy.reset_log();
    push_with_answers_lost(&a, &proxy);
    assert_eq!(proxy.count(BATCH), 3, "three attempts, then exit 4");
    // The server committed (once); locally the work is still pending.
    assert_no_duplicates(&server, &["v2.0.0", "v2.1.0"]);
    let st = a.sync_status();
    assert_eq!(st["local_only"], serde_json::json!(["v2.1.0"]), "{st:#}");
    assert_eq!(st["pending"].as_array().map(Vec::len), Some(2), "{st:#}");

    // The next push settles both, writing nothing twice.
    a.run(&["sync", "push"]).ok();
    assert_no_duplicates(&server, &["v2.0.0", "v2.1.0"]);
    let g = server
        .personal_generations("alice", "default")
        .into_iter()
        .find(|g| g["version"] == "v2.0.0")
        .expect("v2.0.0");
    assert_eq!(g["changes"].as_array().map(Vec::len), Some(2), "{g:#}");
    let st = a.sync_status();
    assert_eq!(st["pending"], serde_json::json!([]), "{st:#}");
    assert_eq!(st["conflicts"], serde_json::json!([]), "{st:#}");
    for v in ["v2.0.0", "v2.1.0"] {
        assert_eq!(a.generation(v)["sync_status"], "synced", "{v}");
    }
}

/// v3.0.0 with FEAT-1 proven, pushed.
fn ready_to_promote(a: &Workspace) {
    a.run(&["generation", "new", "v3.0.0"]).ok();
    a.add_change("v3.0.0", "FEAT-1", "add", "One");
    a.run(&["sync", "push"]).ok();
    a.prove_ending("v3.0.0", "FEAT-1", &[0, 4]);
    a.run(&["sync", "push"]).ok();
}

#[test]
fn a_lost_promotion_answer_is_retried_and_answers_the_original_success() {
    let (server, proxy, a) = online();
    ready_to_promote(&a);
    proxy.reset_log();
    proxy.inject(PROMOTE, Fault::DropAfterCommit, 1);
    a.run(&["promote", "v3.0.0"]).ok();
    let promotes = proxy
        .log()
        .iter()
        .filter(|s| s.line.starts_with(PROMOTE) && s.line.contains("/promote "))
        .count();
    assert_eq!(
        promotes,
        2,
        "one lost answer, one retry: {:#?}",
        proxy.log()
    );
    // Both attempts carried the same Idempotency-Key (the retry answered the stored success).
    assert_eq!(a.generation("v3.0.0")["status"], "promoted");
    let g = server
        .personal_generations("alice", "default")
        .into_iter()
        .find(|g| g["version"] == "v3.0.0")
        .expect("v3.0.0");
    assert_eq!(g["status"], "promoted", "{g:#}");
    assert_eq!(g["promoted_by"], "alice", "{g:#}");
    assert_no_duplicates(&server, &["v3.0.0"]);
}

#[test]
fn a_promotion_whose_answers_are_all_lost_stays_a_draft_until_the_server_confirms() {
    let (server, proxy, a) = online();
    ready_to_promote(&a);
    proxy.inject(PROMOTE, Fault::DropAfterCommit, 3);
    a.run(&["promote", "v3.0.0"]).fails(4, &["unreachable"]);
    // Never promoted locally before the server agrees...
    assert_eq!(a.generation("v3.0.0")["status"], "draft");
    // ...though the server did promote (once).
    let g = server
        .personal_generations("alice", "default")
        .into_iter()
        .find(|g| g["version"] == "v3.0.0")
        .expect("v3.0.0");
    assert_eq!(g["status"], "promoted", "{g:#}");
    // The next sync brings the promotion here.
    a.run(&["sync", "push"]).ok();
    let local = a.generation("v3.0.0");
    assert_eq!(local["status"], "promoted", "{local:#}");
    assert_eq!(local["promoted_by"], "alice", "{local:#}");
    assert_no_duplicates(&server, &["v3.0.0"]);
}

#[test]
fn running_promote_again_after_all_answers_were_lost_answers_the_original_success() {
    let (server, proxy, a) = online();
    ready_to_promote(&a);
    proxy.inject(PROMOTE, Fault::DropAfterCommit, 3);
    a.run(&["promote", "v3.0.0"]).fails(4, &["unreachable"]);
    // The user simply runs the command again: the stored key makes the server answer
    // the promotion it already made, not "already promoted by alice".
    a.run(&["promote", "v3.0.0"])
        .ok()
        .stdout_has("Promoted v3.0.0");
    assert_eq!(a.generation("v3.0.0")["status"], "promoted");
    // Once answered, a further `promote` is a second promotion: exit 3.
    a.run(&["promote", "v3.0.0"])
        .fails(3, &["already promoted"]);
    assert_no_duplicates(&server, &["v3.0.0"]);
}

#[test]
fn a_lost_answer_to_an_evolution_result_is_retried_without_a_second_evolution() {
    let (server, proxy, a) = online();
    a.run(&["generation", "new", "v4.0.0"]).ok();
    a.add_change("v4.0.0", "FEAT-1", "add", "One");
    a.run(&["sync", "push"]).ok();
    let ev = a.json(&["evolution", "start", "v4.0.0", "--change", "FEAT-1"]);
    let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
    proxy.reset_log();
    // Hybrid mode sends the result as it is recorded; its answer is lost once.
    proxy.inject(BATCH, Fault::DropAfterCommit, 1);
    a.run(&["evolution", "complete", &tag, "--status", "pass"])
        .ok();
    assert_eq!(proxy.count(BATCH), 2, "{:#?}", proxy.log());
    assert_one_passing_evolution(&server, "v4.0.0");
    assert_eq!(a.sync_status()["pending_evolutions"], 0);
}

/// Found by the model test (seed 10194): an evolution created on the server with every
/// answer lost. The next pull took its server id, and the push then sent its state as an
/// update under the create's key: "This Idempotency-Key was already used with a different
/// request" (422), and the proof was set aside for good.
#[test]
fn an_evolution_whose_create_answers_were_all_lost_is_settled_by_the_next_push() {
    let (server, proxy, a) = online();
    a.run(&["generation", "new", "v4.2.0"]).ok();
    a.add_change("v4.2.0", "FEAT-1", "add", "One");
    a.run(&["sync", "push"]).ok();
    a.run(&["config", "execution_mode", "local"]).ok();
    a.prove_ending("v4.2.0", "FEAT-1", &[0, 4]);
    push_with_answers_lost(&a, &proxy);

    let out = a.run(&["sync", "push"]);
    out.ok();
    assert!(!out.stderr.contains("422"), "{out:?}");
    assert_one_passing_evolution(&server, "v4.2.0");
    let st = a.sync_status();
    assert_eq!(st["pending_evolutions"], 0, "{st:#}");
    assert_settled(&a);
}

/// `version` with FEAT-1 on the server, and a running proof of it whose create the server
/// took with every answer lost (the workspace left in hybrid mode): (its tag, the server's
/// generation).
fn proof_created_with_answers_lost(
    server: &Cloud,
    proxy: &Proxy,
    a: &Workspace,
    version: &str,
) -> (String, serde_json::Value) {
    a.run(&["generation", "new", version]).ok();
    a.add_change(version, "FEAT-1", "add", "One");
    a.run(&["sync", "push"]).ok();
    a.run(&["config", "execution_mode", "local"]).ok();
    let ev = a.json(&["evolution", "start", version, "--change", "FEAT-1"]);
    let tag = ev["evolution"]["tag"].as_str().expect("tag").to_string();
    // The push's evolution create reaches the server; every answer is lost.
    push_with_answers_lost(a, proxy);
    let g = server
        .personal_generations("alice", "default")
        .into_iter()
        .find(|g| g["version"] == version)
        .expect("the generation on the server");
    assert_eq!(
        server.evolutions("alice", &g["id"]).len(),
        1,
        "the server took the create"
    );
    // Hybrid mode sends the result as it is recorded, with no pull before it.
    a.run(&["config", "execution_mode", "hybrid"]).ok();
    (tag, g)
}

/// Found by the model test (seed 68252): the server took an evolution's create, every
/// answer was lost, and the proof was completed here. Its result went, with no pull before
/// it (hybrid mode's send on `evolution complete`), as a create
/// again under a new key: "Evolution … already exists" (409), and the proof was set aside
/// as refused. Now the server's copy is looked up and the result goes as its update.
#[test]
fn a_proof_completed_after_its_create_answers_were_lost_reaches_the_server_as_an_update() {
    let (server, proxy, a) = online();
    let (tag, _) = proof_created_with_answers_lost(&server, &proxy, &a, "v4.3.0");
    let out = a.run(&["evolution", "complete", &tag, "--status", "pass"]);
    out.ok();
    assert!(!out.stderr.contains("refused"), "{out:?}");
    assert_one_passing_evolution(&server, "v4.3.0");
    let st = a.sync_status();
    assert_eq!(st["pending_evolutions"], 0, "{st:#}");
    assert_eq!(st["refused"], serde_json::json!([]), "{st:#}");
    a.run(&["sync", "push"]).ok();
    assert_one_passing_evolution(&server, "v4.3.0");
}

/// The same, but the server's copy was deleted there before the result came: the lookup
/// finds nothing, and the proof is set aside as refused with that reason (listed, exit 3 at
/// the next push), never sent again by itself.
#[test]
fn a_proof_whose_server_copy_was_deleted_there_is_set_aside_as_refused() {
    let (server, proxy, a) = online();
    let (tag, g) = proof_created_with_answers_lost(&server, &proxy, &a, "v4.4.0");
    let evs = server.evolutions("alice", &g["id"]);
    let path = format!("/api/v1/evolutions/{}", evs[0]["id"]);
    let (status, body) = server.request("alice", "DELETE", &path, None);
    assert!((200..300).contains(&status), "{status} {body}");

    a.run(&["evolution", "complete", &tag, "--status", "pass"])
        .ok()
        .stderr_has("no longer lists it");
    let st = a.sync_status();
    let refused = st["refused"].as_array().expect("refused");
    assert_eq!(refused.len(), 1, "{st:#}");
    assert_eq!(refused[0]["what"], "evolution", "{st:#}");
    assert!(server.evolutions("alice", &g["id"]).is_empty());
    a.run(&["sync", "push"]).fails(3, &["refused"]);
    assert!(server.evolutions("alice", &g["id"]).is_empty());
}

/// The server holds exactly one evolution of `version`, passed.
#[track_caller]
fn assert_one_passing_evolution(server: &Cloud, version: &str) {
    let g = server
        .personal_generations("alice", "default")
        .into_iter()
        .find(|g| g["version"] == version)
        .unwrap_or_else(|| panic!("{version} on the server"));
    let evs = server.evolutions("alice", &g["id"]);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0]["status"], "pass", "{evs:#?}");
}

/// A second workspace of the same user, talking to the server directly.
fn second_workspace(server: &Cloud) -> Workspace {
    join(&server.url(), "alice")
}

fn changes_on_server(server: &Cloud, version: &str) -> Vec<String> {
    let g = server
        .personal_generations("alice", "default")
        .into_iter()
        .find(|g| g["version"] == version)
        .unwrap_or_else(|| panic!("{version} on the server"));
    change_ids(&g)
}

/// Nothing waits to be sent and nothing is in conflict.
#[track_caller]
fn assert_settled(a: &Workspace) {
    let st = a.sync_status();
    assert_eq!(st["pending"], serde_json::json!([]), "{st:#}");
    assert_eq!(st["pending_deletes"], serde_json::json!([]), "{st:#}");
    assert_eq!(st["conflicts"], serde_json::json!([]), "{st:#}");
}

/// Found by the model test (seed 5018): after a create whose answers were all lost, the
/// record's base was taken to be whatever the server held at the next pull. A change a
/// teammate removed meanwhile looked like one added here, and the push put it back.
#[test]
fn a_lost_create_is_merged_against_what_it_sent_so_a_teammates_edit_survives() {
    let (server, proxy, a) = online();
    let b = second_workspace(&server);
    draft_created_with_answers_lost(&a, &proxy, "v4.0.0");
    assert_eq!(changes_on_server(&server, "v4.0.0"), ["FEAT-1"]);

    // Here: one more change. There: FEAT-1 removed, pushed first.
    a.add_change("v4.0.0", "FEAT-2", "add", "Two");
    b.run(&["sync", "pull"]).ok();
    b.run(&["generation", "remove-change", "v4.0.0", "FEAT-1"])
        .ok();
    b.run(&["sync", "push"]).ok().stdout_has("1 updated");
    assert_eq!(changes_on_server(&server, "v4.0.0"), Vec::<String>::new());

    // Both edits hold: FEAT-2 added here, FEAT-1 removed there.
    a.run(&["sync", "push"]).ok();
    assert_eq!(changes_on_server(&server, "v4.0.0"), ["FEAT-2"]);
    assert_no_duplicates(&server, &["v4.0.0"]);
    assert_eq!(a.generation("v4.0.0")["sync_status"], "synced");
    b.run(&["sync", "pull"]).ok();
    assert_eq!(change_ids(&b.generation("v4.0.0")), ["FEAT-2"]);
}

/// Found by the model test (seed 6123): an update whose answers were all lost, then undone
/// here. The server had applied it and a teammate built on it; the next pull merged against
/// the base before the lost update, so the update looked like the teammate's work and the
/// local undo was dropped. The pull now asks the server what became of the lost update
/// (re-sent under its key, it cannot apply twice) and merges against it.
#[test]
fn an_update_whose_answer_was_lost_then_undone_here_stays_undone() {
    let (server, proxy, a) = online();
    let b = second_workspace(&server);
    a.run(&["generation", "new", "v4.1.0"]).ok();
    a.add_change("v4.1.0", "FEAT-1", "add", "One");
    a.run(&["sync", "push"]).ok().stdout_has("1 created");
    a.add_change("v4.1.0", "FEAT-2", "add", "Two");
    push_with_answers_lost(&a, &proxy);
    assert_eq!(changes_on_server(&server, "v4.1.0"), ["FEAT-1", "FEAT-2"]);
    a.run(&["generation", "remove-change", "v4.1.0", "FEAT-2"])
        .ok();

    b.run(&["sync", "pull"]).ok();
    b.add_change("v4.1.0", "FEAT-3", "add", "Three");
    b.run(&["sync", "push"]).ok().stdout_has("1 updated");

    a.run(&["sync", "push"]).ok();
    assert_eq!(changes_on_server(&server, "v4.1.0"), ["FEAT-1", "FEAT-3"]);
    assert_no_duplicates(&server, &["v4.1.0"]);
    assert_settled(&a);
}

/// Found by the model test (seeds 1134 and 1163): a draft deleted here after its create
/// reached the server with the answer lost had no server id to journal the deletion by, so
/// the draft came back at the next pull.
#[test]
fn a_draft_deleted_after_its_create_answer_was_lost_stays_deleted() {
    let (server, proxy, a) = online();
    draft_created_with_answers_lost(&a, &proxy, "v5.0.0");
    assert_no_duplicates(&server, &["v5.0.0"]);

    a.run(&["generation", "delete", "v5.0.0"]).ok();
    a.run(&["sync", "push"]).ok().stdout_has("1 deleted");
    assert_no_duplicates(&server, &[]);
    a.run(&["sync", "pull"]).ok();
    a.run(&["generation", "show", "v5.0.0"])
        .fails(1, &["v5.0.0"]);
    let b = second_workspace(&server);
    b.run(&["sync", "pull"]).ok();
    b.run(&["generation", "show", "v5.0.0"])
        .fails(1, &["v5.0.0"]);
    assert_settled(&a);
}

/// The same deletion when the server never got the create: nothing comes back and nothing
/// is sent.
#[test]
fn a_draft_deleted_after_its_create_never_arrived_is_simply_gone() {
    let (server, proxy, a) = online();
    a.run(&["generation", "new", "v5.1.0"]).ok();
    proxy.always(BATCH, Fault::Unavailable { retry_after: None });
    a.run(&["sync", "push"]).fails(4, &[]);
    proxy.clear();
    assert_no_duplicates(&server, &[]);
    a.run(&["generation", "delete", "v5.1.0"]).ok();
    a.run(&["sync", "push"]).ok();
    assert_no_duplicates(&server, &[]);
    a.run(&["generation", "show", "v5.1.0"])
        .fails(1, &["v5.1.0"]);
}

/// Found by the model test (seed 71261, session 9's long run): a create reached the server
/// with every answer lost; a teammate promoted that release; here the draft was renamed, so
/// the pull made it a conflict, linked to the server's copy only by its UUID. Deleting it
/// here journaled nothing (it had no server id), and the promoted release was gone from this
/// workspace for good: the cursor was past it. The deletion now goes to the conflict's server
/// copy; the server refuses it (the release is final) and the release comes back.
#[test]
fn deleting_a_conflicted_draft_known_only_by_its_uuid_never_loses_the_release_promoted_there() {
    let (server, proxy, a) = online();
    let b = second_workspace(&server);
    draft_created_with_answers_lost(&a, &proxy, "v4.5.0");

    b.run(&["sync", "pull"]).ok();
    b.prove_ending("v4.5.0", "FEAT-1", &[0, 4]);
    b.run(&["sync", "push"]).ok();
    b.run(&["promote", "v4.5.0", "--no-tag"]).ok();
    b.run(&["sync", "push"]).ok();

    a.run(&["generation", "rename", "v4.5.0", "v4.6.0"]).ok();
    a.run(&["sync", "pull"]).fails(3, &["conflict"]);
    a.run(&["generation", "delete", "v4.6.0"]).ok();
    let _ = a.run(&["sync", "push"]);
    a.run(&["sync", "pull"]).ok();
    let g = a.generation("v4.5.0");
    assert_eq!(g["status"], "promoted", "{g:#}");
    assert_no_duplicates(&server, &["v4.5.0"]);
}

/// `gryt sync push` whose batches reach the server and whose every answer is lost: exit 4.
fn push_with_answers_lost(a: &Workspace, proxy: &Proxy) {
    proxy.inject(BATCH, Fault::DropAfterCommit, 3);
    a.run(&["sync", "push"]).fails(4, &["unreachable"]);
}

/// A new draft `version` with change FEAT-1, created on the server by a push whose every
/// answer is lost.
fn draft_created_with_answers_lost(a: &Workspace, proxy: &Proxy, version: &str) {
    a.run(&["generation", "new", version]).ok();
    a.add_change(version, "FEAT-1", "add", "One");
    push_with_answers_lost(a, proxy);
}
