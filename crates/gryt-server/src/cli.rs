//! `gryt server`: the clap arguments the CLI mounts, and [`run`].

use crate::{ServerConfig, ServerKey};
use clap::{Args, Subcommand};
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Run gryt's sync server, or administer its database.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Database URL: sqlite:PATH or postgres://USER@HOST:PORT/DB
    /// [default: sqlite:<data dir>/gryt/server.db]
    #[arg(long, value_name = "URL", env = "GRYT_SERVER_DATABASE", global = true)]
    pub database: Option<String>,
    /// Allow anyone to create an account with POST /api/v1/accounts/create.
    #[arg(long)]
    pub allow_signup: bool,
    /// File holding the key that encrypts API key secrets (created 0600 if missing)
    /// [default: next to a SQLite database, or <data dir>/gryt/server.key].
    #[arg(long, value_name = "PATH", env = "GRYT_SERVER_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,
    /// The server key itself, 64 hex characters (only from the environment).
    #[arg(
        long,
        env = "GRYT_SERVER_KEY",
        hide = true,
        hide_env_values = true,
        global = true
    )]
    pub server_key: Option<String>,
    /// Open connections at most, in total (more are answered 503 and closed).
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Open connections at most from one client address.
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)]
    pub max_connections_per_address: usize,
    /// Seconds a connection has to send a complete request head (after opening, or after
    /// its previous answer) before it is closed.
    #[arg(long, value_name = "SECS", default_value_t = crate::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Seconds a request may take in all (body included) before it is answered 408.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: u64,
    /// Request-body bytes the server holds in memory at most, in total (503 beyond it).
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_BODY_MEMORY)]
    pub body_memory: usize,
    /// Request-body bytes held in memory at most for one client address (429 beyond it).
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_BODY_MEMORY_PER_ADDRESS)]
    pub body_memory_per_address: usize,
    /// Failed password logins from one address within 5 minutes before it is answered 429.
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_AUTH_FAILURES_PER_ADDRESS)]
    pub auth_failures_per_address: u32,
    /// Failed password logins to one account within 5 minutes before its password logins
    /// are answered 429 (except from an address where it logged in within a day).
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_AUTH_FAILURES_PER_ACCOUNT)]
    pub auth_failures_per_account: u32,
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys (for HMAC-signed requests).
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        name: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for USER; prints the key id and the secret once.
    Create {
        user: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "N")]
        expires_in_days: Option<i64>,
    },
    /// Revoke an API key.
    Revoke { key_id: String },
}

/// `sqlite:<data dir>/gryt/server.db`; the folder is created (0700) when missing, since it
/// is the server's own default place (a `--database` naming a missing folder is an error).
fn default_database() -> anyhow::Result<String> {
    let dir = dirs::data_dir()
        .ok_or_else(|| anyhow::anyhow!("no user data folder; pass --database"))?
        .join("gryt");
    create_private_dir(&dir)?;
    Ok(format!("sqlite:{}", dir.join("server.db").display()))
}

fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| anyhow::anyhow!("cannot create the folder {}: {e}", dir.display()))
}

fn config_of(args: &ServerArgs) -> anyhow::Result<ServerConfig> {
    let database = match &args.database {
        Some(d) => d.clone(),
        None => default_database()?,
    };
    let mut config = ServerConfig::new(database);
    config.allow_signup = args.allow_signup;
    config.key_file = args.key_file.clone();
    config.max_connections = args.max_connections;
    config.max_connections_per_address = args.max_connections_per_address;
    config.header_timeout = std::time::Duration::from_secs(args.header_timeout);
    config.request_timeout = std::time::Duration::from_secs(args.request_timeout);
    config.body_memory = args.body_memory;
    config.body_memory_per_address = args.body_memory_per_address;
    config.auth_failures_per_address = args.auth_failures_per_address;
    config.auth_failures_per_account = args.auth_failures_per_account;
    if let Some(k) = &args.server_key {
        config.server_key =
            Some(ServerKey::from_hex(k).map_err(|e| anyhow::anyhow!("GRYT_SERVER_KEY: {e}"))?);
    }
    Ok(config)
}

/// Runs `gryt server ...`; returns the exit code. Errors come back as `Err` with a message
/// meant for "Error: ..." (the caller prints it and exits non-zero).
pub fn run(args: ServerArgs) -> anyhow::Result<i32> {
    let config = config_of(&args)?;
    let mut out = std::io::stdout().lock();
    match args.command {
        Some(ServerCommand::User(UserCommand::Add {
            name,
            password_stdin,
        })) => {
            if !password_stdin {
                anyhow::bail!("pass --password-stdin and give the password on standard input");
            }
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let password = line.trim_end_matches(['\n', '\r']);
            crate::admin::add_user(&config, &name, password)?;
            writeln!(out, "added user {name}")?;
            Ok(0)
        }
        Some(ServerCommand::ApiKey(ApiKeyCommand::Create {
            user,
            name,
            expires_in_days,
        })) => {
            let k = crate::admin::create_api_key(&config, &user, &name, expires_in_days)?;
            writeln!(out, "key id: {}", k.key_id)?;
            writeln!(out, "secret: {}", k.secret)?;
            if let Some(e) = &k.expires_at {
                writeln!(out, "expires: {e}")?;
            }
            writeln!(out, "The secret is shown only now; store it safely.")?;
            Ok(0)
        }
        Some(ServerCommand::ApiKey(ApiKeyCommand::Revoke { key_id })) => {
            crate::admin::revoke_api_key(&config, &key_id)?;
            writeln!(out, "revoked {key_id}")?;
            Ok(0)
        }
        None => {
            drop(out);
            serve_blocking(&args.listen, config)
        }
    }
}

fn serve_blocking(listen: &str, config: ServerConfig) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("GRYT_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_writer(std::io::stderr)
            .try_init();
        // Before the key is read or a password seen: a crash must not write them to a core
        // file, and other processes of the same user must not read this one's memory.
        harden_process();
        let state = crate::build(&config).await?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        // The signal handlers are installed before "listening on" is printed: a SIGTERM sent
        // as soon as the address is known must start a graceful shutdown, never kill the
        // process with the default action.
        let shutdown = shutdown_signal()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{addr}")?;
            out.flush()?;
        }
        crate::run(listener, state, &config, shutdown).await?;
        Ok(0)
    })
}

/// Turns core dumps off (`RLIMIT_CORE` 0, soft and hard) and, on Linux, makes the process
/// not dumpable (`PR_SET_DUMPABLE` 0: no core file, no ptrace or `/proc/PID/mem` by other
/// processes of the same user). The server holds decrypted API-key secrets and sees
/// passwords. A refusal (a sandbox forbidding the call) is logged, not fatal.
fn harden_process() {
    #[cfg(unix)]
    {
        use rustix::process::{setrlimit, Resource, Rlimit};
        let none = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        if let Err(e) = setrlimit(Resource::Core, none) {
            tracing::warn!("cannot turn core dumps off (RLIMIT_CORE): {e}");
        }
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{set_dumpable_behavior, DumpableBehavior};
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            tracing::warn!("cannot make the process not dumpable (PR_SET_DUMPABLE): {e}");
        }
    }
}

/// Installs the SIGTERM and SIGINT handlers now (not when the returned future is first
/// polled) and gives the future that completes on the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| anyhow::anyhow!("cannot install the SIGTERM handler: {e}"))?;
        let mut int = signal(SignalKind::interrupt())
            .map_err(|e| anyhow::anyhow!("cannot install the SIGINT handler: {e}"))?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutdown requested: finishing the requests in flight");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutdown requested: finishing the requests in flight");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServerArgs,
    }

    #[test]
    fn arguments() {
        Wrapper::command().debug_assert();
        let w = Wrapper::try_parse_from([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite:/tmp/x.db",
            "--allow-signup",
        ])
        .unwrap();
        assert_eq!(w.args.listen, "127.0.0.1:0");
        assert!(w.args.allow_signup);
        let w = Wrapper::try_parse_from([
            "server",
            "api-key",
            "create",
            "alice",
            "--name",
            "ci",
            "--expires-in-days",
            "7",
        ])
        .unwrap();
        assert!(matches!(
            w.args.command,
            Some(ServerCommand::ApiKey(ApiKeyCommand::Create {
                expires_in_days: Some(7),
                ..
            }))
        ));
        let w =
            Wrapper::try_parse_from(["server", "user", "add", "bob", "--password-stdin"]).unwrap();
        assert!(matches!(
            w.args.command,
            Some(ServerCommand::User(UserCommand::Add {
                password_stdin: true,
                ..
            }))
        ));
    }

    #[test]
    fn bad_database_urls_are_errors() {
        let w = Wrapper::try_parse_from([
            "server",
            "--database",
            "mysql://x",
            "--listen",
            "127.0.0.1:0",
        ])
        .unwrap();
        let e = run(w.args).unwrap_err();
        assert!(
            format!("{e:#}").contains("unsupported database URL"),
            "{e:#}"
        );
    }
}
