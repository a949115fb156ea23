//! Storage: one small synchronous connection trait ([`Conn`]) with a SQLite and a PostgreSQL
//! implementation, a pool that runs every unit of work on tokio's blocking pool, and the
//! transaction helper. The rule logic (`crate::logic`) is written once over [`Conn`].
//!
//! SQL is written once with `?N` placeholders and only portable types (BIGINT-sized integers,
//! TEXT); the PostgreSQL side rewrites `?N` to `$N`.

pub mod migrate;
pub mod pg;
pub mod sqlite;

use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// A value bound to or read from a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Int(i64::from(v))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(v.clone())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => v.into(),
            None => Val::Null,
        }
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Val>);

impl Row {
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.0.get(i) {
            Some(Val::Int(v)) => Ok(*v),
            other => Err(DbError::Other(format!(
                "column {i}: expected an integer, got {other:?}"
            ))),
        }
    }
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        match self.0.get(i) {
            Some(Val::Text(v)) => Ok(v.clone()),
            other => Err(DbError::Other(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.0.get(i) {
            Some(Val::Text(v)) => Ok(Some(v.clone())),
            Some(Val::Null) => Ok(None),
            other => Err(DbError::Other(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.0.get(i) {
            Some(Val::Int(v)) => Ok(Some(*v)),
            Some(Val::Null) => Ok(None),
            other => Err(DbError::Other(format!(
                "column {i}: expected an integer, got {other:?}"
            ))),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unique constraint violated: {0}")]
    Unique(String),
    #[error("database busy: {0}")]
    Busy(String),
    /// The database cannot be reached or cannot write now (a PostgreSQL restart, a lost
    /// connection, a read-only or failing file): 503, retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The disk holding the database is full: 507.
    #[error("database full: {0}")]
    Full(String),
    /// The database refuses writes (a read-only file or file system, a read-only
    /// PostgreSQL transaction): 503.
    #[error("database read-only: {0}")]
    ReadOnly(String),
    /// The database's pages are damaged (SQLite's corrupt or not-a-database, PostgreSQL's
    /// data-corrupted class): 503 until an operator restores it.
    #[error("database damaged: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Other(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The few operations the logic needs from a database connection.
pub trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; returns the number of rows changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError>;
    /// Runs one query and returns all its rows.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError>;
    /// Runs several statements without parameters (migrations, BEGIN/COMMIT).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Whether the connection is still usable after an error.
    fn is_healthy(&self) -> bool {
        true
    }
}

/// What the server has seen of its database since it started, for `GET /healthz`: damaged
/// pages (kept until a restart, which checks the file again) and whether the last write
/// failed for lack of space or because the database refuses writes (kept until a write
/// succeeds). Every error of every connection of the pool is observed here.
#[derive(Default)]
pub struct Health {
    corrupt: Mutex<Option<String>>,
    write_failure: Mutex<Option<String>>,
}

impl Health {
    fn observe(&self, e: &DbError) {
        let slot = match e {
            DbError::Corrupt(_) => &self.corrupt,
            DbError::Full(_) | DbError::ReadOnly(_) => &self.write_failure,
            _ => return,
        };
        if let Ok(mut s) = slot.lock() {
            *s = Some(e.to_string().chars().take(300).collect());
        }
    }

    /// A unit of work that writes records committed: the database takes writes again.
    pub fn write_succeeded(&self) {
        if let Ok(mut s) = self.write_failure.lock() {
            *s = None;
        }
    }

    /// Why the database is not healthy, if it is not (damage first).
    pub fn problem(&self) -> Option<String> {
        let read = |m: &Mutex<Option<String>>| m.lock().ok().and_then(|s| s.clone());
        read(&self.corrupt).or_else(|| read(&self.write_failure))
    }
}

/// A pooled connection as the pool hands it out: every error it returns is observed by the
/// pool's [`Health`].
struct Watched<'a> {
    conn: &'a mut dyn Conn,
    health: &'a Health,
}

impl Conn for Watched<'_> {
    fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        self.conn
            .exec(sql, params)
            .inspect_err(|e| self.health.observe(e))
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, DbError> {
        self.conn
            .query(sql, params)
            .inspect_err(|e| self.health.observe(e))
    }
    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.conn.batch(sql).inspect_err(|e| self.health.observe(e))
    }
    fn is_healthy(&self) -> bool {
        self.conn.is_healthy()
    }
}

/// Options for opening a database (besides its URL).
#[derive(Debug, Clone, Default)]
pub struct DbOptions {
    /// SQLite only: the most pages the database file may hold (`PRAGMA max_page_count` on
    /// every connection); a write that needs more fails as on a full disk (507).
    pub sqlite_max_pages: Option<u64>,
}

impl dyn Conn + '_ {
    pub fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
    pub fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Row, DbError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| DbError::Other("query returned no row".into()))
    }
}

/// Whether a transaction writes (SQLite takes the write lock up front: `BEGIN IMMEDIATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    Read,
    Write,
}

/// Runs `f` in one transaction: commit on `Ok`, roll back on `Err`.
pub fn transaction<T, E: From<DbError>>(
    conn: &mut dyn Conn,
    mode: TxMode,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
) -> Result<T, E> {
    let begin = match (conn.dialect(), mode) {
        (Dialect::Sqlite, TxMode::Write) => "BEGIN IMMEDIATE",
        (Dialect::Sqlite, TxMode::Read) => "BEGIN",
        (Dialect::Postgres, TxMode::Write) => "BEGIN",
        (Dialect::Postgres, TxMode::Read) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    conn.batch(begin)?;
    match f(conn) {
        Ok(v) => {
            if let Err(e) = conn.batch("COMMIT") {
                let _ = conn.batch("ROLLBACK");
                return Err(e.into());
            }
            Ok(v)
        }
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

type Factory = dyn Fn() -> Result<Box<dyn Conn>, DbError> + Send + Sync;

struct PoolInner {
    idle: Mutex<Vec<Box<dyn Conn>>>,
    permits: Semaphore,
    factory: Box<Factory>,
    dialect: Dialect,
    /// SQLite has one writer at a time: writers queue here (fairly, without sleeping in
    /// SQLite's busy handler) instead of contending for the file lock. None on PostgreSQL.
    write_gate: Option<Semaphore>,
    health: Health,
    /// Connections the pool may hold at once (the permits' total).
    size: usize,
}

/// A small pool of blocking connections; every use runs on tokio's blocking threads so the
/// async runtime is never blocked by the database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<PoolInner>,
}

impl Db {
    /// Opens the database named by `url` (`sqlite:PATH` or `postgres://...`), runs the
    /// migrations and returns the pool.
    pub async fn open(url: &str) -> anyhow::Result<Db> {
        Db::open_with(url, DbOptions::default()).await
    }

    /// As [`Db::open`], with options.
    pub async fn open_with(url: &str, options: DbOptions) -> anyhow::Result<Db> {
        let url = url.to_string();
        let db =
            tokio::task::spawn_blocking(move || Db::open_blocking_with(&url, &options)).await??;
        Ok(db)
    }

    pub fn open_blocking(url: &str) -> anyhow::Result<Db> {
        Db::open_blocking_with(url, &DbOptions::default())
    }

    /// Opens the database on this thread. A SQLite file must pass `PRAGMA quick_check`
    /// first: a server never starts on damaged pages.
    pub fn open_blocking_with(url: &str, options: &DbOptions) -> anyhow::Result<Db> {
        let (factory, dialect, size): (Box<Factory>, Dialect, usize) = if let Some(path) =
            url.strip_prefix("sqlite:")
        {
            let path = path.strip_prefix("//").unwrap_or(path).to_string();
            if path.is_empty() {
                anyhow::bail!("the database URL 'sqlite:' names no file");
            }
            if path == ":memory:" || path.contains("mode=memory") {
                anyhow::bail!(
                        "an in-memory SQLite database cannot be shared by the server's connections; name a file"
                    );
            }
            sqlite::prepare_file(&path)?;
            let max_pages = options.sqlite_max_pages;
            (
                Box::new(move || {
                    sqlite::SqliteConn::open(&path, max_pages).map(|c| Box::new(c) as _)
                }),
                Dialect::Sqlite,
                4,
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let url = url.to_string();
            (
                Box::new(move || pg::PgConn::connect(&url).map(|c| Box::new(c) as _)),
                Dialect::Postgres,
                8,
            )
        } else {
            anyhow::bail!(
                "unsupported database URL '{}': use sqlite:PATH or postgres://...",
                url.chars().take(80).collect::<String>()
            );
        };
        let mut first = factory().map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        if dialect == Dialect::Sqlite {
            sqlite::quick_check(first.as_mut())?;
        }
        migrate::migrate(first.as_mut(), dialect)?;
        Ok(Db {
            inner: Arc::new(PoolInner {
                idle: Mutex::new(vec![first]),
                permits: Semaphore::new(size),
                factory,
                dialect,
                write_gate: (dialect == Dialect::Sqlite).then(|| Semaphore::new(1)),
                health: Health::default(),
                size,
            }),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
    }

    /// What the pool has seen of the database's health.
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    fn take_idle(&self) -> Option<Box<dyn Conn>> {
        self.inner.idle.lock().ok().and_then(|mut v| v.pop())
    }

    /// Runs `f` with a connection on the blocking pool.
    pub async fn run<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| DbError::Other("the database pool is closed".into()))?;
        let idle = self.take_idle();
        let inner = self.inner.clone();
        let joined = tokio::task::spawn_blocking(move || {
            // A pooled connection that broke while idle (the server restarted, or ended it)
            // is discarded: this request connects anew.
            let mut conn = match idle.filter(|c| c.is_healthy()) {
                Some(c) => c,
                None => (inner.factory)()?,
            };
            let out = f(&mut Watched {
                conn: conn.as_mut(),
                health: &inner.health,
            });
            if conn.is_healthy() {
                if let Ok(mut v) = inner.idle.lock() {
                    v.push(conn);
                }
            }
            out
        })
        .await;
        drop(permit);
        match joined {
            Ok(r) => r,
            Err(e) => Err(DbError::Other(format!("database task failed: {e}")).into()),
        }
    }

    /// Like [`Db::run`] for work that writes: on SQLite, writers of this process take turns.
    pub async fn run_write<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let _turn = match &self.inner.write_gate {
            Some(gate) => Some(
                gate.acquire()
                    .await
                    .map_err(|_| DbError::Other("the database pool is closed".into()))?,
            ),
            None => None,
        };
        self.run(f).await
    }

    /// Runs `f` with a connection directly on this thread (for the admin CLI).
    pub fn run_blocking<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = match self.take_idle() {
            Some(c) => c,
            None => (self.inner.factory)()?,
        };
        let out = f(&mut Watched {
            conn: conn.as_mut(),
            health: &self.inner.health,
        });
        if let Ok(mut v) = self.inner.idle.lock() {
            v.push(conn);
        }
        out
    }
}

/// How the pool's connections are used right now (for `GET /metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUse {
    pub size: usize,
    pub in_use: usize,
    pub idle: usize,
}

impl Db {
    /// The pool's size, connections lent out now, and open connections waiting idle.
    pub fn pool_use(&self) -> PoolUse {
        let i = &self.inner;
        PoolUse {
            size: i.size,
            in_use: i.size.saturating_sub(i.permits.available_permits()),
            idle: i.idle.lock().map(|v| v.len()).unwrap_or(0),
        }
    }
}

/// Rewrites `?N` placeholders to PostgreSQL's `$N` (our SQL has no `?` inside literals).
pub fn to_pg_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}
