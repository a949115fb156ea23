//! The server's database as a file and as a service: where it may be created, what is
//! refused at startup (a missing folder, an empty file, damaged pages), and what requests
//! and `/healthz` answer when the database is full, refuses writes, is damaged or is gone.

use crate::common::*;
use gryt_server::{ServerConfig, TestServer};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

fn sqlite_url(path: &Path) -> String {
    format!("sqlite:{}", path.display())
}

fn config(path: &Path) -> ServerConfig {
    let mut c = ServerConfig::new(sqlite_url(path));
    c.allow_signup = true;
    c
}

fn start_error(c: ServerConfig) -> String {
    match TestServer::start(c) {
        Ok(_) => panic!("the server started"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn a_database_in_a_missing_folder_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let e = start_error(config(&missing.join("server.db")));
    assert!(e.contains("does not exist"), "{e}");
    assert!(e.contains(&missing.display().to_string()), "{e}");
    assert!(!missing.exists(), "the folder was created");
    // The administration commands open the database the same way.
    let e = gryt_server::admin::add_user(
        &config(&missing.join("server.db")),
        "alice",
        "correct horse battery",
    )
    .err()
    .map(|e| format!("{e:#}"))
    .unwrap_or_default();
    assert!(e.contains("does not exist"), "{e}");
    assert!(!missing.exists(), "the folder was created");
}

#[test]
fn an_empty_database_file_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    std::fs::write(&path, b"").unwrap();
    let e = start_error(config(&path));
    assert!(e.contains("empty file (0 bytes)"), "{e}");
    assert!(e.contains("restore"), "{e}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        0,
        "the file changed"
    );
    for side in ["server.db-wal", "server.db-shm"] {
        assert!(!dir.path().join(side).exists(), "{side} was created");
    }
}

#[test]
fn new_database_files_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let server = TestServer::start(config(&path)).unwrap();
    server.add_user("alice", PASSWORD).unwrap();
    // While the server runs, the database, its WAL and shared-memory files and the key.
    for name in [
        "server.db",
        "server.db-wal",
        "server.db-shm",
        "server.db.key",
    ] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {:o}", mode & 0o777);
    }
}

/// Checkpoints the WAL into the file and returns (page size, root page of `table`).
fn settle_and_find(path: &Path, table: &str) -> (u64, u64) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    let root: i64 = c
        .query_row(
            "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .unwrap();
    (page.try_into().unwrap(), root.try_into().unwrap())
}

/// Overwrites page `n` (1-based) of the file with bytes no b-tree page can hold.
fn damage_page(path: &Path, page_size: u64, n: u64) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start((n - 1) * page_size)).unwrap();
    let size = usize::try_from(page_size).unwrap();
    f.write_all(&vec![0xA5; size]).unwrap();
    f.sync_all().unwrap();
}

#[tokio::test]
async fn a_database_with_damaged_pages_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    {
        let server = TestServer::start(config(&path)).unwrap();
        server.add_user("alice", PASSWORD).unwrap();
        let api = Api::new(&server.url(), Auth::Basic("alice".into(), PASSWORD.into()));
        for i in 0..3 {
            let body = generation_body(&new_uuid(), &format!("v1.{i}.0"), &[("F-1", "x")], "draft");
            assert_eq!(api.post("/api/v1/generations", &body).await.status, 201);
        }
    }
    let (page, root) = settle_and_find(&path, "generations");
    damage_page(&path, page, root);
    let e = start_error(config(&path));
    assert!(e.contains("damaged"), "{e}");
    assert!(e.contains("quick_check"), "{e}");
    assert!(e.contains("restore it from a backup"), "{e}");
}

#[tokio::test]
async fn healthz_answers_503_once_damaged_pages_are_met_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let server = TestServer::start(config(&path)).unwrap();
    server.add_user("alice", PASSWORD).unwrap();
    let api = Api::new(&server.url(), Auth::Basic("alice".into(), PASSWORD.into()));
    let body = generation_body(&new_uuid(), "v1.0.0", &[("F-1", "x")], "draft");
    assert_eq!(api.post("/api/v1/generations", &body).await.status, 201);
    assert_eq!(api.get("/healthz").await.status, 200);
    let (page, root) = settle_and_find(&path, "generations");
    damage_page(&path, page, root);
    // A commit by another connection makes the server's connections drop their cached
    // pages, so the next read meets the damaged page on disk.
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch("CREATE TABLE bump (x INTEGER)").unwrap();
    drop(c);
    let list = api.get("/api/v1/generations").await;
    assert_eq!(list.status, 503, "{:?}", list.body);
    assert_problem(&list, "a read of a damaged page");
    assert!(list.body["detail"].as_str().unwrap().contains("damaged"));
    let h = api.get("/healthz").await;
    assert_eq!(h.status, 503, "{:?}", h.body);
    assert_problem(&h, "healthz on a damaged database");
    assert!(h.headers.contains_key("retry-after"));
    assert!(h.detail().contains("damaged"), "{:?}", h.body);
}

#[tokio::test]
async fn a_full_database_answers_507_healthz_503_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    // The pages the new database needs, measured on a first start.
    drop(TestServer::start(config(&path)).unwrap());
    let pages: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let mut c = config(&path);
    c.sqlite_max_pages = Some(u64::try_from(pages).unwrap() + 24);
    let server = TestServer::start(c).unwrap();
    server.add_user("alice", PASSWORD).unwrap();
    let api = Api::new(&server.url(), Auth::Basic("alice".into(), PASSWORD.into()));
    let long = "d".repeat(9_000);
    let mut stored = 0;
    let full = loop {
        assert!(stored < 40, "the database never filled up");
        let body = generation_body(
            &new_uuid(),
            &format!("v1.{stored}.0"),
            &[("F-1", "x")],
            "draft",
        )
        .replace("\"Release ", &format!("\"{long} "));
        let key = format!("fill-{stored}");
        let a = api
            .send(
                "POST",
                "/api/v1/generations",
                Some(&body),
                &[("Idempotency-Key", &key)],
            )
            .await;
        if a.status != 201 {
            break a;
        }
        stored += 1;
    };
    assert!(stored > 0, "nothing fitted: {:?}", full.body);
    assert_eq!(full.status, 507, "{:?}", full.body);
    assert_problem(&full, "a write on a full database");
    assert_eq!(full.body["code"], "insufficient_storage");
    assert!(
        full.detail().contains("nothing was changed"),
        "{:?}",
        full.body
    );
    let h = api.get("/healthz").await;
    assert_eq!(h.status, 503, "{:?}", h.body);
    assert_problem(&h, "healthz on a full database");
    assert!(h.detail().contains("full"), "{:?}", h.body);
    // The server stays up: reads are served, and the refused write left nothing behind.
    let list = api.get("/api/v1/generations").await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(
        list.body["data"]["generations"].as_array().unwrap().len(),
        stored
    );
}

#[tokio::test]
async fn a_database_that_refuses_writes_answers_503_and_healthz_says_so() {
    let Some(admin) = pg_admin_url() else {
        note("GRYT_TEST_POSTGRES is not set; skipping the read-only PostgreSQL test");
        return;
    };
    let env = Env::start("postgres", 1);
    gryt_server::admin::add_user(&env.config, "alice", PASSWORD).unwrap();
    let api = Api::new(&env.url(), Auth::Basic("alice".into(), PASSWORD.into()));
    let create = |v: &str| generation_body(&new_uuid(), v, &[("F-1", "x")], "draft");
    assert_eq!(
        api.post("/api/v1/generations", &create("v1.0.0"))
            .await
            .status,
        201
    );
    let db = env.config.database.rsplit_once('/').unwrap().1.to_string();
    let set_read_only = |on: bool| {
        let (admin, db) = (admin.clone(), db.clone());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            c.batch_execute(&format!(
                "ALTER DATABASE {db} SET default_transaction_read_only = {}",
                if on { "on" } else { "off" }
            ))
            .unwrap();
            // The server's sessions end; its next ones start with the new setting.
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&db],
            )
            .unwrap();
        })
        .join()
        .unwrap();
    };
    set_read_only(true);
    // A request may first meet its ended session (503, connection lost); the next connects
    // anew and meets the read-only database.
    let mut refused = None;
    for i in 0..4 {
        let a = api
            .post("/api/v1/generations", &create(&format!("v2.{i}.0")))
            .await;
        assert_eq!(a.status, 503, "{:?}", a.body);
        assert_problem(&a, "a write on a read-only database");
        if a.detail().contains("does not take writes") {
            refused = Some(a);
            break;
        }
    }
    assert!(refused.is_some(), "never refused as read-only");
    let h = api.get("/healthz").await;
    assert_eq!(h.status, 503, "{:?}", h.body);
    assert!(h.detail().contains("read-only"), "{:?}", h.body);
    // Reads are still served.
    assert_eq!(api.get("/api/v1/generations").await.status, 200);
    // Writable again: the next write succeeds and healthz is back to 200.
    set_read_only(false);
    let mut written = false;
    for i in 0..4 {
        let a = api
            .post("/api/v1/generations", &create(&format!("v3.{i}.0")))
            .await;
        if a.status == 201 {
            written = true;
            break;
        }
        assert_eq!(a.status, 503, "{:?}", a.body);
    }
    assert!(written, "never writable again");
    assert_eq!(api.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn healthz_answers_503_when_the_database_is_gone() {
    let Some(admin) = pg_admin_url() else {
        note("GRYT_TEST_POSTGRES is not set; skipping the lost-database healthz test");
        return;
    };
    let env = Env::start("postgres", 1);
    let anon = Api::new(&env.url(), Auth::None);
    assert_eq!(anon.get("/healthz").await.status, 200);
    let db = env.config.database.rsplit_once('/').unwrap().1.to_string();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .unwrap();
    })
    .join()
    .unwrap();
    for _ in 0..2 {
        let h = anon.get("/healthz").await;
        assert_eq!(h.status, 503, "{:?}", h.body);
        assert_problem(&h, "healthz without a database");
        assert!(h.detail().contains("does not answer"), "{:?}", h.body);
    }
}
