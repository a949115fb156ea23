//! gryt-server: a self-hostable sync server for gryt (axum on tokio), on SQLite or
//! PostgreSQL, that speaks the Gryt Cloud API v1 plus gryt's extensions and enforces every
//! sync rule itself. See docs/api.md.
//!
//! Entry points: [`serve`] on a listener you bound, [`TestServer`] for tests and demos,
//! [`admin`] for user and API-key administration, and [`cli`] for `gryt server`.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod auth;
pub mod batch;
pub mod cli;
pub mod compress;
pub mod db;
pub mod decompress;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod idem;
pub mod logic;
pub mod metrics;
pub mod net;
pub mod request_id;
pub mod router;
mod testserver;
pub mod util;

pub use auth::ServerKey;
pub use testserver::TestServer;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;

/// How to run a server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// `sqlite:PATH` or `postgres://...`.
    pub database: String,
    /// Allow `POST /api/v1/accounts/create` without authentication.
    pub allow_signup: bool,
    /// The key that encrypts API key secrets at rest. When `None`, it is read from
    /// `key_file` (created with mode 0600 on first start).
    pub server_key: Option<ServerKey>,
    /// Where the server key lives; default: next to a SQLite database (`PATH.key`), or
    /// `<data dir>/gryt/server.key` for PostgreSQL.
    pub key_file: Option<PathBuf>,
    /// Largest accepted request body in bytes (413 beyond it).
    pub body_limit: usize,
    /// Requests taking longer than this are answered 408.
    pub request_timeout: Duration,
    /// Open connections at most, in total (more are answered 503 and closed).
    pub max_connections: usize,
    /// Open connections at most from one peer address.
    pub max_connections_per_address: usize,
    /// A connection must send a complete request head within this time after it opens or
    /// after its previous answer (slow and idle clients are disconnected).
    pub header_timeout: Duration,
    /// Request-body bytes held in memory at most, in total (503 beyond it).
    pub body_memory: usize,
    /// Request-body bytes held in memory at most for one peer address (429 beyond it).
    pub body_memory_per_address: usize,
    /// Failed password logins from one address, within [`auth::FAILURE_WINDOW`], after
    /// which that address is answered 429.
    pub auth_failures_per_address: u32,
    /// Failed password logins for one account, within [`auth::FAILURE_WINDOW`], after
    /// which its password logins are answered 429 (except from an address where the
    /// account logged in recently).
    pub auth_failures_per_account: u32,
    /// SQLite only: the most pages the database may hold (`PRAGMA max_page_count` on every
    /// connection); a write needing more answers 507 as on a full disk. `None`: no cap
    /// beyond SQLite's own. Tests use it to reach the full-disk path without filling a disk.
    pub sqlite_max_pages: Option<u64>,
    /// Who may read `GET /metrics` (default: loopback peers only).
    pub metrics: metrics::MetricsAccess,
    /// Serve HTTPS with this certificate and key (`None`: plain HTTP).
    pub tls: Option<TlsFiles>,
}

/// The PEM files of a TLS server: the certificate chain (the server's certificate first)
/// and its private key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 64;
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_MEMORY: usize = 64 * 1024 * 1024;
pub const DEFAULT_BODY_MEMORY_PER_ADDRESS: usize = 16 * 1024 * 1024;
pub const DEFAULT_AUTH_FAILURES_PER_ADDRESS: u32 = 10;
pub const DEFAULT_AUTH_FAILURES_PER_ACCOUNT: u32 = 50;

impl ServerConfig {
    pub fn new(database: impl Into<String>) -> ServerConfig {
        ServerConfig {
            database: database.into(),
            allow_signup: false,
            server_key: None,
            key_file: None,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: Duration::from_secs(60),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_memory: DEFAULT_BODY_MEMORY,
            body_memory_per_address: DEFAULT_BODY_MEMORY_PER_ADDRESS,
            auth_failures_per_address: DEFAULT_AUTH_FAILURES_PER_ADDRESS,
            auth_failures_per_account: DEFAULT_AUTH_FAILURES_PER_ACCOUNT,
            sqlite_max_pages: None,
            metrics: metrics::MetricsAccess::default(),
            tls: None,
        }
    }

    /// The key file used when no key is given.
    pub fn default_key_file(&self) -> Option<PathBuf> {
        if let Some(p) = &self.key_file {
            return Some(p.clone());
        }
        if let Some(path) = self.database.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            return Some(PathBuf::from(format!("{path}.key")));
        }
        dirs::data_dir().map(|d| d.join("gryt").join("server.key"))
    }

    /// The server key: given, or loaded from (or created in) the key file.
    pub fn resolve_key(&self) -> anyhow::Result<ServerKey> {
        if let Some(k) = &self.server_key {
            return Ok(k.clone());
        }
        let path = self.default_key_file().ok_or_else(|| {
            anyhow::anyhow!("no place for the server key: set GRYT_SERVER_KEY or --key-file")
        })?;
        ServerKey::load_or_create(&path)
    }
}

/// Opens the database (running migrations) and builds the application state.
pub async fn build(config: &ServerConfig) -> anyhow::Result<app::Shared> {
    let options = db::DbOptions {
        sqlite_max_pages: config.sqlite_max_pages,
    };
    let db = db::Db::open_with(&config.database, options).await?;
    let key = config.resolve_key()?;
    Ok(Arc::new(app::App {
        replay: auth::ReplayLog::start(db.clone()),
        db,
        key,
        cache: auth::CredentialCache::new()?,
        keys: auth::KeyCache::new(),
        hashing: tokio::sync::Semaphore::new(4),
        allow_signup: config.allow_signup,
        body_limit: config.body_limit,
        bodies: net::BodyBudget::new(config.body_memory, config.body_memory_per_address),
        limiter: auth::AuthLimiter::new(
            config.auth_failures_per_address,
            config.auth_failures_per_account,
        ),
        metrics: metrics::Metrics::new(),
        metrics_access: config.metrics,
    }))
}

/// Serves the API on `listener` until `shutdown` completes; in-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = build(&config).await?;
    run(listener, state, &config, shutdown).await
}

/// Serves an already built state (see [`build`]).
pub async fn run(
    listener: tokio::net::TcpListener,
    state: app::Shared,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // The certificate and key are read before anything runs: bad files stop the start.
    let tls = match &config.tls {
        Some(f) => Some(net::tls_acceptor(&f.cert, &f.key)?),
        None => None,
    };
    let sweeper = {
        let db = state.db.clone();
        tokio::spawn(async move {
            // First after one period, not at startup: expired keys are already treated as
            // new by a claim, so sweeping is housekeeping, and the server's first write is
            // then always a request's (a test can tell that a request waits on the lock).
            let period = Duration::from_secs(300);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tick.tick().await;
                let r = db
                    .run(|c| db::transaction(c, db::TxMode::Write, idem::sweep))
                    .await;
                if let Err(e) = r {
                    tracing::warn!("sweeping expired keys failed: {}", e.detail);
                }
            }
        })
    };
    // Outermost last: compression; the request's id, metrics and log line (it sees the
    // answer uncompressed, to add `request_id` to problem bodies); problem bodies for bare
    // errors and the request codings taken (`Accept-Encoding`); timeout; routes.
    let router = router::router(state.clone())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(axum::middleware::map_response(
            router::problem_for_bare_errors,
        ))
        .layer(axum::middleware::map_response(
            router::advertise_request_encodings,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            request_id::observe,
        ))
        .layer(axum::middleware::from_fn(compress::compress_answers));
    let limits = net::ConnLimits {
        max_connections: config.max_connections,
        max_connections_per_peer: config.max_connections_per_address,
        header_timeout: config.header_timeout,
    };
    let result = net::serve(listener, router, limits, tls, shutdown).await;
    sweeper.abort();
    result
}
