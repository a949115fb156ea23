//! The connection layer: an accept loop that caps open connections (in total and per peer
//! address), times out clients that are slow to send their request head (and idle
//! keep-alive connections), and a budget of request-body bytes held in memory (in total
//! and per peer address), so that unauthenticated or slow clients cannot exhaust the
//! server. See docs/api.md, "Limits". Over TLS ([`tls_acceptor`]) the same caps apply, and
//! the handshake must end within the header timeout too.

use crate::error::ApiError;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use gryt_core::api::ErrorCode;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Open connections, counted in total and per peer address.
pub struct ConnTracker {
    max_total: usize,
    max_per_peer: usize,
    state: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; dropping it frees its place.
pub struct ConnGuard {
    tracker: Arc<ConnTracker>,
    ip: IpAddr,
}

impl ConnTracker {
    pub fn new(max_total: usize, max_per_peer: usize) -> Arc<ConnTracker> {
        Arc::new(ConnTracker {
            max_total: max_total.max(1),
            max_per_peer: max_per_peer.max(1),
            state: Mutex::new((0, HashMap::new())),
        })
    }

    /// Admits a connection from `ip`, or `None` when a cap is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnGuard> {
        let mut st = self.state.lock().ok()?;
        let (total, peers) = &mut *st;
        let mine = peers.get(&ip).copied().unwrap_or(0);
        if *total >= self.max_total || mine >= self.max_per_peer {
            return None;
        }
        *total += 1;
        peers.insert(ip, mine + 1);
        Some(ConnGuard {
            tracker: self.clone(),
            ip,
        })
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if let Ok(mut st) = self.tracker.state.lock() {
            let (total, peers) = &mut *st;
            *total = total.saturating_sub(1);
            if let Some(n) = peers.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    peers.remove(&self.ip);
                }
            }
        }
    }
}

/// Request-body bytes held in memory, in total and per peer address.
pub struct BodyBudget {
    total: usize,
    per_peer: usize,
    state: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// Bytes reserved from a [`BodyBudget`]; dropping it gives them back.
pub struct BodyReservation {
    budget: Arc<BodyBudget>,
    ip: IpAddr,
    held: usize,
}

impl BodyBudget {
    pub fn new(total: usize, per_peer: usize) -> Arc<BodyBudget> {
        Arc::new(BodyBudget {
            total,
            per_peer,
            state: Mutex::new((0, HashMap::new())),
        })
    }

    /// An empty reservation for a peer, grown with [`BodyReservation::grow`].
    pub fn start(self: &Arc<Self>, ip: IpAddr) -> BodyReservation {
        BodyReservation {
            budget: self.clone(),
            ip,
            held: 0,
        }
    }
}

impl BodyReservation {
    /// Reserves `n` more bytes: 429 when this peer holds its share already, 503 when the
    /// server as a whole does.
    pub fn grow(&mut self, n: usize) -> Result<(), ApiError> {
        let b = &self.budget;
        let Ok(mut st) = b.state.lock() else {
            return Err(ApiError::internal("the body budget is unusable"));
        };
        let (total, peers) = &mut *st;
        let mine = peers.get(&self.ip).copied().unwrap_or(0);
        if mine.saturating_add(n) > b.per_peer {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                format!(
                    "This address is already sending {} bytes of request bodies (limit {}); retry once those requests are answered",
                    mine, b.per_peer
                ),
            ));
        }
        if total.saturating_add(n) > b.total {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Busy,
                "The server is receiving too many request bodies at once; retry shortly",
            ));
        }
        *total += n;
        peers.insert(self.ip, mine + n);
        self.held += n;
        Ok(())
    }
}

impl Drop for BodyReservation {
    fn drop(&mut self) {
        if self.held == 0 {
            return;
        }
        if let Ok(mut st) = self.budget.state.lock() {
            let (total, peers) = &mut *st;
            *total = total.saturating_sub(self.held);
            if let Some(n) = peers.get_mut(&self.ip) {
                *n = n.saturating_sub(self.held);
                if *n == 0 {
                    peers.remove(&self.ip);
                }
            }
        }
    }
}

/// The peer address of a request (set by [`serve`]); `0.0.0.0` when unknown (a request
/// built in a test without a connection).
pub fn peer_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// How the accept loop treats connections.
#[derive(Clone, Debug)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub max_connections_per_peer: usize,
    /// A connection must deliver a complete request head within this time after it opens
    /// or after its previous answer (so an idle keep-alive connection closes after it too).
    pub header_timeout: Duration,
}

/// The answer to a connection over a cap, written before closing it.
fn over_capacity_answer() -> Vec<u8> {
    let body = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::TooManyConnections,
        "Too many open connections from this address or in total; retry shortly",
    )
    .to_resp()
    .body;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n\
         Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads a PEM certificate chain and its PEM private key (PKCS#8, PKCS#1 or SEC1) and makes
/// the TLS side of the server: rustls on ring (the provider the CLI's client uses), TLS 1.2
/// and 1.3, HTTP/1.1 by ALPN. Every failure names the file and what is wrong with it: a
/// file that cannot be read, holds no certificate or no key, or a key that does not belong
/// to the certificate.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |path: &Path, what: &str| {
        std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read the TLS {what} {}: {e}", path.display()))
    };
    let cert_pem = read(cert, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow::anyhow!(
                "the TLS certificate {} is not readable PEM: {e}",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        anyhow::bail!(
            "the TLS certificate {} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
            cert.display()
        );
    }
    let key_pem = read(key, "key")?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => anyhow::anyhow!(
            "the TLS key {} holds no private key (expected PEM: -----BEGIN PRIVATE KEY-----, \
             RSA PRIVATE KEY or EC PRIVATE KEY)",
            key.display()
        ),
        e => anyhow::anyhow!("the TLS key {} is not readable PEM: {e}", key.display()),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("cannot set up TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            anyhow::anyhow!(
                "the TLS key {} does not fit the certificate {}: {e}",
                key.display(),
                cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` (HTTP/1.1, over TLS when `tls` is given) until `shutdown`
/// completes; then stops accepting and lets the requests in flight finish.
///
/// A connection over a cap is answered 503 and closed on plain HTTP; over TLS it is closed
/// at once (an answer would cost a handshake). Over TLS, the handshake must end within the
/// header timeout.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: ConnLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let tracker = ConnTracker::new(limits.max_connections, limits.max_connections_per_peer);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let refusal: Arc<[u8]> = over_capacity_answer().into();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(guard) = tracker.admit(peer.ip()) else {
            if tls.is_some() {
                drop(stream);
                continue;
            }
            let answer = refusal.clone();
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    let _ = stream.write_all(&answer).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            },
        );
        let svc = hyper_util::service::TowerToHyperService::new(svc);
        // Taken now, in the loop: a shutdown waits for this connection from here on.
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let ended = move |r: Result<(), hyper::Error>| {
            if let Err(e) = r {
                tracing::debug!("connection from {peer} ended: {e}");
            }
        };
        match &tls {
            None => {
                let conn = builder.serve_connection(TokioIo::new(stream), svc);
                let conn = watcher.watch(conn);
                tokio::spawn(async move {
                    ended(conn.await);
                    drop(guard);
                });
            }
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                let limit = limits.header_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(limit, handshake).await {
                        Ok(Ok(stream)) => {
                            let conn = builder.serve_connection(TokioIo::new(stream), svc);
                            ended(watcher.watch(conn).await);
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                    drop(guard);
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_caps() {
        let t = ConnTracker::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = t.admit(a).unwrap();
        let _a2 = t.admit(a).unwrap();
        assert!(t.admit(a).is_none(), "per-peer cap");
        let _b1 = t.admit(b).unwrap();
        assert!(t.admit(b).is_none(), "total cap");
        drop(a1);
        assert!(t.admit(b).is_some(), "a closed connection frees its place");
    }

    #[test]
    fn body_budget() {
        let budget = BodyBudget::new(100, 60);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut r1 = budget.start(a);
        r1.grow(50).unwrap();
        let mut r2 = budget.start(a);
        assert_eq!(
            r2.grow(20).unwrap_err().status,
            StatusCode::TOO_MANY_REQUESTS
        );
        let mut r3 = budget.start(b);
        r3.grow(50).unwrap();
        assert_eq!(
            r3.grow(1).unwrap_err().status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(r1);
        r2.grow(20).unwrap();
        r3.grow(1).unwrap();
    }
}
