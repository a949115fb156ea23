//! `gryt server`: the clap arguments the CLI mounts, and [`run`].
//!
//! - this file: the arguments (every server flag also from a `GRYT_SERVER_*` variable, the
//!   logging ones from `GRYT_LOG` and `GRYT_LOG_FORMAT`) and the dispatch;
//! - `serve.rs`: serving (TLS, the plain-HTTP check, logging, signals, hardening);
//! - `admin.rs`: the administration commands (users, API keys, backups) and their output.

mod admin;
mod serve;

use crate::{ServerConfig, ServerKey, TlsFiles};
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Run gryt's sync server, or administer its database.
///
/// Every option can also be set with the environment variable shown beside it (a flag
/// given on the command line wins).
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port). Over plain HTTP, an address other
    /// than loopback (127.0.0.0/8, ::1) needs --tls-cert/--tls-key or --insecure-http.
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8080",
        env = "GRYT_SERVER_LISTEN"
    )]
    pub listen: String,
    /// Database URL: sqlite:PATH or postgres://USER@HOST:PORT/DB
    /// [default: sqlite:<data dir>/gryt/server.db]
    #[arg(long, value_name = "URL", env = "GRYT_SERVER_DATABASE", global = true)]
    pub database: Option<String>,
    /// Allow anyone to create an account with POST /api/v1/accounts/create.
    #[arg(
        long,
        env = "GRYT_SERVER_ALLOW_SIGNUP",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
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
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first).
    #[arg(
        long,
        value_name = "PEM",
        env = "GRYT_SERVER_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        value_name = "PEM",
        env = "GRYT_SERVER_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback, where passwords (HTTP Basic)
    /// cross the network unencrypted: only behind a reverse proxy that terminates TLS.
    #[arg(
        long,
        env = "GRYT_SERVER_INSECURE_HTTP",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub insecure_http: bool,
    /// Open connections at most, in total (more are answered 503 and closed).
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_MAX_CONNECTIONS,
          env = "GRYT_SERVER_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// Open connections at most from one client address.
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
          env = "GRYT_SERVER_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: usize,
    /// Seconds a connection has to send a complete request head (after opening, or after
    /// its previous answer; over TLS, also to finish the handshake) before it is closed.
    #[arg(long, value_name = "SECS", default_value_t = crate::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..), env = "GRYT_SERVER_HEADER_TIMEOUT")]
    pub header_timeout: u64,
    /// Seconds a request may take in all (body included) before it is answered 408.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..), env = "GRYT_SERVER_REQUEST_TIMEOUT")]
    pub request_timeout: u64,
    /// Request-body bytes the server holds in memory at most, in total (503 beyond it).
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_BODY_MEMORY,
          env = "GRYT_SERVER_BODY_MEMORY")]
    pub body_memory: usize,
    /// Request-body bytes held in memory at most for one client address (429 beyond it).
    #[arg(long, value_name = "BYTES", default_value_t = crate::DEFAULT_BODY_MEMORY_PER_ADDRESS,
          env = "GRYT_SERVER_BODY_MEMORY_PER_ADDRESS")]
    pub body_memory_per_address: usize,
    /// Failed password logins from one address within 5 minutes before it is answered 429.
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_AUTH_FAILURES_PER_ADDRESS,
          env = "GRYT_SERVER_AUTH_FAILURES_PER_ADDRESS")]
    pub auth_failures_per_address: u32,
    /// Failed password logins to one account within 5 minutes before its password logins
    /// are answered 429 (except from an address where it logged in within a day).
    #[arg(long, value_name = "N", default_value_t = crate::DEFAULT_AUTH_FAILURES_PER_ACCOUNT,
          env = "GRYT_SERVER_AUTH_FAILURES_PER_ACCOUNT")]
    pub auth_failures_per_account: u32,
    /// Who may read GET /metrics (Prometheus text): loopback (peers on this host only),
    /// everyone, or off (404).
    #[arg(long, value_enum, value_name = "WHO", default_value_t = crate::metrics::MetricsAccess::Loopback,
          env = "GRYT_SERVER_METRICS")]
    pub metrics: crate::metrics::MetricsAccess,
    /// What the server logs, as a tracing filter: a level (error, warn, info, debug, trace)
    /// or per-module directives such as "warn,gryt_server=debug".
    #[arg(
        long,
        value_name = "FILTER",
        default_value = "warn,gryt_server=info",
        env = "GRYT_LOG"
    )]
    pub log: String,
    /// How log lines are written on standard error: text, or json (one JSON object per
    /// line, for log collectors).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text,
          env = "GRYT_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Machine-readable output of the administration commands; set by the caller from
    /// `gryt --json` (the CLI's global flag).
    #[arg(skip)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<ServerCommand>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (timestamp, level, target, message and fields).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys (for HMAC-signed requests).
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Copy a SQLite database to FILE while the server runs (PostgreSQL: use pg_dump).
    ///
    /// The copy is consistent (one moment of the database, taken with SQLite's online
    /// backup API) and created readable by its owner only (0600); an existing FILE is never
    /// overwritten. To restore: stop the server, put the copy in place of the database (or
    /// point --database sqlite:FILE at it) with the same server key file, and start it.
    /// For a PostgreSQL database this prints the pg_dump command to use and exits 2.
    Backup {
        /// Where to write the copy (must not exist).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        /// The user name: 1 to 64 letters, digits, '.', '_' or '-'.
        name: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users: name, created, disabled since, number of live API keys.
    List,
    /// Set a user's password, read from the first line of standard input. Their API keys
    /// stay valid (revoke them with `gryt server api-key revoke` if they were exposed).
    Passwd {
        /// The user whose password changes.
        name: String,
        /// Read the new password from standard input (required: never on the command line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Refuse every password login and every API key of a user until `user enable`.
    Disable {
        /// The user to disable.
        name: String,
    },
    /// Let a disabled user log in again (their API keys work again too).
    Enable {
        /// The user to enable.
        name: String,
    },
    /// Remove a user: their API keys are revoked and their team memberships end. The
    /// records they made stay (they belong to the teams), and the name is not given again.
    /// A user who owns a team cannot be removed (disable them instead).
    Remove {
        /// The user to remove.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for USER; prints the key id and the secret once.
    Create {
        /// The user the key signs requests for.
        user: String,
        /// A name to recognise the key by (for example the machine or CI job using it).
        #[arg(long)]
        name: String,
        /// Days until the key expires (1 to 3650) [default: never].
        #[arg(long, value_name = "N")]
        expires_in_days: Option<i64>,
    },
    /// Revoke an API key.
    Revoke {
        /// The key's id (gk_...), as `api-key list` shows it.
        key_id: String,
    },
    /// List API keys (of USER only, when given): id, name, user, created, expires,
    /// revoked, last used. Never a secret.
    List {
        /// Only this user's keys.
        user: Option<String>,
    },
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
    config.metrics = args.metrics;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    if let Some(k) = &args.server_key {
        config.server_key =
            Some(ServerKey::from_hex(k).map_err(|e| anyhow::anyhow!("GRYT_SERVER_KEY: {e}"))?);
    }
    Ok(config)
}

/// Runs `gryt server ...`; returns the exit code (2: `backup` of a PostgreSQL database,
/// which is pg_dump's work). Errors come back as `Err` with a message meant for
/// "Error: ..." (the caller prints it and exits non-zero).
pub fn run(args: ServerArgs) -> anyhow::Result<i32> {
    let config = config_of(&args)?;
    match args.command {
        Some(command) => admin::run(command, &config, args.json),
        None => serve::serve_blocking(&args, config),
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
        // TLS needs both files.
        let e = Wrapper::try_parse_from(["server", "--tls-cert", "c.pem"]).unwrap_err();
        assert!(e.to_string().contains("--tls-key"), "{e}");
    }

    /// Every flag of `gryt server` itself (the serving options and the global ones the
    /// administration commands share) can come from the environment: `GRYT_SERVER_*`, or
    /// `GRYT_LOG`/`GRYT_LOG_FORMAT` for logging, and the help shows each variable. The
    /// options of one administration command (`user add --password-stdin`, `api-key create
    /// --name`, ...) describe that one action, not the server, and are not walked.
    #[test]
    fn every_server_flag_has_an_environment_variable() {
        let cmd = Wrapper::command();
        let help = Wrapper::command().render_long_help().to_string();
        let logging = ["GRYT_LOG", "GRYT_LOG_FORMAT"];
        let mut seen = 0;
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.is_positional() || id == "help" || id == "version" {
                continue;
            }
            let env = arg
                .get_env()
                .and_then(|e| e.to_str())
                .unwrap_or_else(|| panic!("--{id} has no environment variable"));
            assert!(
                env.starts_with("GRYT_SERVER_") || logging.contains(&env),
                "--{id} reads {env}, not a GRYT_SERVER_* variable"
            );
            if !arg.is_hide_set() {
                assert!(help.contains(env), "the help does not show {env}:\n{help}");
            }
            seen += 1;
        }
        assert!(seen >= 17, "only {seen} flags walked");
        // The same for every subcommand: the global flags reach them with their variables.
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments().filter(|a| a.is_global_set()) {
                assert!(
                    arg.get_env().is_some(),
                    "{}: --{}",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
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
