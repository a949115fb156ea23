//! `gryt server` without a subcommand: checks the settings, then serves until SIGTERM or
//! SIGINT.

use super::{LogFormat, ServerArgs};
use crate::ServerConfig;
use std::io::Write;
use std::net::SocketAddr;

/// Serves with `config` on `args.listen`. Everything that can be wrong with the settings
/// (the log filter, plain HTTP on a non-loopback address, the TLS files, the database) is
/// found before the address is bound: a refused start leaves nothing listening.
pub(super) fn serve_blocking(args: &ServerArgs, config: ServerConfig) -> anyhow::Result<i32> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .map_err(|e| anyhow::anyhow!("bad log filter {:?} (--log, GRYT_LOG): {e}", args.log))?;
    init_logging(filter, args.log_format);
    let listen = args.listen.clone();
    let insecure_http = args.insecure_http;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot use the listen address {listen}: {e}"))?
            .collect();
        check_plain_http(&addrs, config.tls.is_some(), insecure_http)?;
        if let Some(f) = &config.tls {
            crate::net::tls_acceptor(&f.cert, &f.key)?;
        }
        // Before the key is read or a password seen: a crash must not write them to a core
        // file, and other processes of the same user must not read this one's memory.
        harden_process();
        let state = crate::build(&config).await?;
        let listener = tokio::net::TcpListener::bind(addrs.as_slice())
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        // The signal handlers are installed before "listening on" is printed: a SIGTERM sent
        // as soon as the address is known must start a graceful shutdown, never kill the
        // process with the default action.
        let shutdown = shutdown_signal()?;
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        if insecure_http && config.tls.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(
                "serving plain HTTP on {addr} (--insecure-http): passwords and API-key \
                 requests are only protected by the TLS proxy in front of this server"
            );
        }
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            database = %redact_url(&config.database),
            tls = config.tls.is_some(),
            signup = config.allow_signup,
            "gryt server started on {scheme}://{addr}"
        );
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {scheme}://{addr}")?;
            out.flush()?;
        }
        crate::run(listener, state, &config, shutdown).await?;
        tracing::info!("gryt server stopped");
        Ok(0)
    })
}

fn init_logging(filter: tracing_subscriber::EnvFilter, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// Refuses plain HTTP on an address other than loopback (127.0.0.0/8, ::1; `0.0.0.0` and
/// `::` listen on every address, so they are not): HTTP Basic would send passwords across
/// the network in clear text. TLS, or `--insecure-http` behind a TLS-terminating proxy,
/// lifts it.
pub(crate) fn check_plain_http(
    addrs: &[SocketAddr],
    tls: bool,
    insecure_http: bool,
) -> anyhow::Result<()> {
    if tls || insecure_http {
        return Ok(());
    }
    match addrs.iter().find(|a| !a.ip().is_loopback()) {
        None => Ok(()),
        Some(a) => anyhow::bail!(
            "refusing to serve plain HTTP on {a}: it is not a loopback address, and passwords \
             (HTTP Basic) would cross the network unencrypted. Either serve TLS with \
             --tls-cert PEM --tls-key PEM (GRYT_SERVER_TLS_CERT, GRYT_SERVER_TLS_KEY), or, \
             when a reverse proxy in front of this server terminates TLS, pass \
             --insecure-http (GRYT_SERVER_INSECURE_HTTP=1)"
        ),
    }
}

/// A database URL fit for a log: a PostgreSQL password is replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}")
        }
        None => url.to_string(),
    }
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

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in ["127.0.0.1:8080", "127.3.4.5:1", "[::1]:8080"] {
            check_plain_http(&addrs(&[ok]), false, false).unwrap();
        }
        for refused in [
            "0.0.0.0:8080",
            "[::]:8080",
            "192.0.2.7:8080",
            "[2001:db8::1]:80",
        ] {
            let e = check_plain_http(&addrs(&[refused]), false, false).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("--tls-cert") && msg.contains("--insecure-http"),
                "{msg}"
            );
            // TLS or the explicit opt-out lift it.
            check_plain_http(&addrs(&[refused]), true, false).unwrap();
            check_plain_http(&addrs(&[refused]), false, true).unwrap();
        }
        // A name resolving to loopback and another address is refused.
        check_plain_http(&addrs(&["127.0.0.1:80", "192.0.2.7:80"]), false, false).unwrap_err();
    }

    #[test]
    fn database_passwords_are_not_logged() {
        assert_eq!(
            redact_url("postgres://gryt:s3cret@db.example:5432/gryt"),
            "postgres://gryt:***@db.example:5432/gryt"
        );
        assert_eq!(
            redact_url("postgres://gryt@db/gryt"),
            "postgres://gryt@db/gryt"
        );
        assert_eq!(
            redact_url("sqlite:/var/lib/gryt/server.db"),
            "sqlite:/var/lib/gryt/server.db"
        );
    }
}
