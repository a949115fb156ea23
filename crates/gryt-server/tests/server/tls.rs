//! TLS (`--tls-cert`/`--tls-key`): a round trip with a certificate made here, signed by a
//! certificate authority made here (rcgen), with reqwest trusting only that authority;
//! bad certificate and key files refused with what is wrong; and the accept loop's limits
//! over TLS: a connection that never finishes its handshake or never sends a request head
//! is closed, and a connection over the per-address cap is closed at once.

use crate::common::*;
use gryt_server::TlsFiles;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A safety net against a hang (a failure, not a measurement).
const NET: Duration = Duration::from_secs(60);

/// A certificate authority and a server certificate for localhost and 127.0.0.1, written
/// as PEM files in `dir`.
struct Pki {
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "gryt test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let (cert_path, key_path) = (dir.join("server.pem"), dir.join("server.key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert: cert_path,
        key: key_path,
    }
}

/// An HTTPS client that trusts only `ca_pem`.
fn client_trusting(ca_pem: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}

fn tls_env(pki: &Pki, tweak: impl Fn(&mut gryt_server::ServerConfig)) -> Env {
    let files = TlsFiles {
        cert: pki.cert.clone(),
        key: pki.key.clone(),
    };
    Env::start_with("sqlite", 1, move |c| {
        c.tls = Some(files.clone());
        tweak(c);
    })
}

#[tokio::test]
async fn a_tls_round_trip_with_a_certificate_made_in_the_test() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let env = tls_env(&pki, |_| {});
    let port = env.server().addr().port();
    let signed = env.user_with_key("alice");
    let base = format!("https://localhost:{port}");
    let alice = Api {
        http: client_trusting(&pki.ca_pem),
        base: base.clone(),
        ..signed
    };
    // A signed write and read, and a password login, over TLS.
    let g = alice
        .post(
            "/api/v1/generations",
            &generation_body(&new_uuid(), "v1.0.0", &[("FEAT-1", "x")], "draft"),
        )
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let list = alice.get("/api/v1/generations").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["data"]["generations"][0]["version"], "v1.0.0");
    let basic = Api {
        auth: Auth::Basic("alice".into(), PASSWORD.into()),
        ..alice.clone()
    };
    assert_eq!(basic.get("/api/v1/accounts/me").await.status, 200);
    // By IP address too (the certificate names 127.0.0.1).
    let by_ip = alice.with_base(&format!("https://127.0.0.1:{port}"));
    assert_eq!(by_ip.get("/api/v1/generations").await.status, 200);

    // A client that does not trust the authority is refused by its own TLS check; plain
    // HTTP to the TLS port gets no answer.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap();
    let e = untrusting
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e:?}");
    let plain = http_client()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.as_ref().is_ok_and(|r| r.status() != 200),
        "{plain:?}"
    );
}

#[test]
fn bad_certificate_and_key_files_are_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let other = tempfile::tempdir().unwrap();
    let other_pki = make_pki(other.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let err = |cert: &Path, key: &Path| {
        format!(
            "{:#}",
            gryt_server::net::tls_acceptor(cert, key).err().unwrap()
        )
    };
    let e = err(&missing, &pki.key);
    assert!(
        e.contains("cannot read the TLS certificate") && e.contains("missing.pem"),
        "{e}"
    );
    let e = err(&garbage, &pki.key);
    assert!(e.contains("holds no certificate"), "{e}");
    let e = err(&pki.cert, &garbage);
    assert!(e.contains("holds no private key"), "{e}");
    // A certificate given as the key: no private key in it either.
    let e = err(&pki.cert, &pki.cert);
    assert!(e.contains("holds no private key"), "{e}");
    let e = err(&pki.cert, &other_pki.key);
    assert!(e.contains("does not fit the certificate"), "{e}");
    assert!(gryt_server::net::tls_acceptor(&pki.cert, &pki.key).is_ok());
}

/// Whether the server closes `s` (end of stream or a reset) before sending anything.
async fn closed_without_answer(s: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(NET, s.read(&mut buf)).await {
        Err(_) => panic!("the server kept the connection open"),
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => false,
    }
}

fn connector(ca_pem: &str) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn limits_hold_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut buf = [0u8; 64];

    let env = tls_env(&pki, |c| c.header_timeout = Duration::from_secs(1));
    let addr = env.server().addr();
    // A connection that never starts its handshake is closed (the header timeout).
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(closed_without_answer(&mut silent).await);
    // A connection that completes its handshake but sends no request head is closed too.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut idle = connector(&pki.ca_pem)
        .connect(name.clone(), tcp)
        .await
        .unwrap();
    let n = tokio::time::timeout(NET, idle.read(&mut buf))
        .await
        .expect("the server closes an idle connection");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");

    // One connection per address: while one is open (handshake done, a request answered,
    // and the header timeout far away), a second one is closed before its handshake.
    let env = tls_env(&pki, |c| {
        c.max_connections_per_address = 1;
        c.header_timeout = NET;
    });
    let addr = env.server().addr();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut held = connector(&pki.ca_pem)
        .connect(name.clone(), tcp)
        .await
        .unwrap();
    held.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        let n = tokio::time::timeout(NET, held.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let second = connector(&pki.ca_pem).connect(name.clone(), tcp).await;
    assert!(second.is_err(), "a second connection was admitted");
    drop(held);
}
