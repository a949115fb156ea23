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
        let url = url.to_string();
        let db = tokio::task::spawn_blocking(move || Db::open_blocking(&url)).await??;
        Ok(db)
    }

    pub fn open_blocking(url: &str) -> anyhow::Result<Db> {
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
            (
                Box::new(move || sqlite::SqliteConn::open(&path).map(|c| Box::new(c) as _)),
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
        migrate::migrate(first.as_mut(), dialect)?;
        Ok(Db {
            inner: Arc::new(PoolInner {
                idle: Mutex::new(vec![first]),
                permits: Semaphore::new(size),
                factory,
                dialect,
                write_gate: (dialect == Dialect::Sqlite).then(|| Semaphore::new(1)),
            }),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.inner.dialect
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
            let out = f(conn.as_mut());
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
        let out = f(conn.as_mut());
        if let Ok(mut v) = self.inner.idle.lock() {
            v.push(conn);
        }
        out
    }
}

/// Rewrites `?N` placeholders to PostgreSQL's `$N` (our SQL has no `?` inside literals).
pub fn to_pg_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}
