//! A server that tests (and `gryt demo`) can start: bound to 127.0.0.1:0, on its own thread
//! and runtime, shut down on drop.

use crate::ServerConfig;
use gryt_core::api::ApiKeyCreated;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::thread::JoinHandle;

pub struct TestServer {
    addr: SocketAddr,
    config: ServerConfig,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
    temp_dir: Option<PathBuf>,
}

impl TestServer {
    /// Starts a server with `config` on 127.0.0.1 and a free port; returns once it accepts.
    pub fn start(config: ServerConfig) -> anyhow::Result<TestServer> {
        Self::start_inner(config, None)
    }

    /// Starts a server on a fresh SQLite database in a temporary folder (removed on drop),
    /// with signup allowed.
    pub fn start_sqlite() -> anyhow::Result<TestServer> {
        let bits =
            crate::util::random_bytes::<8>().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let dir = std::env::temp_dir().join(format!("gryt-server-{}", hex::encode(bits)));
        std::fs::create_dir_all(&dir)?;
        let mut config = ServerConfig::new(format!("sqlite:{}", dir.join("server.db").display()));
        config.allow_signup = true;
        Self::start_inner(config, Some(dir))
    }

    fn start_inner(config: ServerConfig, temp_dir: Option<PathBuf>) -> anyhow::Result<TestServer> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        let cfg = config.clone();
        let thread = std::thread::Builder::new()
            .name("gryt-test-server".into())
            .spawn(move || -> anyhow::Result<()> {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)?;
                    let state = match crate::build(&cfg).await {
                        Ok(s) => {
                            let _ = ready_tx.send(Ok(()));
                            s
                        }
                        Err(e) => {
                            let msg = format!("{e:#}");
                            let _ = ready_tx.send(Err(e));
                            anyhow::bail!(msg);
                        }
                    };
                    crate::run(listener, state, &cfg, async move {
                        let _ = rx.await;
                    })
                    .await
                })
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let r = thread.join();
                anyhow::bail!("the test server thread stopped early: {r:?}");
            }
        }
        Ok(TestServer {
            addr,
            config,
            shutdown: Some(tx),
            thread: Some(thread),
            temp_dir,
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Adds a user directly in the database.
    pub fn add_user(&self, username: &str, password: &str) -> anyhow::Result<()> {
        crate::admin::add_user(&self.config, username, password).map(|_| ())
    }

    /// Creates an API key for `username`; the answer holds the secret.
    pub fn create_api_key(
        &self,
        username: &str,
        name: &str,
        expires_in_days: Option<i64>,
    ) -> anyhow::Result<ApiKeyCreated> {
        crate::admin::create_api_key(&self.config, username, name, expires_in_days)
    }

    /// Stops the server, waiting for in-flight requests.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(r) => r?,
                Err(_) => anyhow::bail!("the test server thread panicked"),
            }
        }
        Ok(())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
        if let Some(dir) = self.temp_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
