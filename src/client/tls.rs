//! Telling a TLS certificate failure from a server that cannot be reached.
//!
//! The client is reqwest on rustls with rustls-platform-verifier: on Linux and the BSDs the
//! trusted authorities are the system's (rustls-native-certs), replaced by the certificates
//! of `SSL_CERT_FILE` and/or the directories of `SSL_CERT_DIR` when either is set; on macOS
//! and Windows they are the system's trust settings. A certificate the verifier refuses
//! surfaces as a `rustls::Error` deep in the source chain of reqwest's error (inside an
//! `io::Error`, whose own `source()` skips it), so the whole chain is searched.

use crate::error::CliError;

/// Why the server's certificate was refused, in words (what rustls said), and what to do.
#[derive(Debug, Clone)]
pub struct CertificateProblem {
    /// E.g. "issued by an authority this machine does not trust".
    pub reason: String,
    /// The most specific fix first.
    pub hints: Vec<String>,
}

const SSL_CERT_FILE_HINT: &str = "if the server's certificate comes from a private certificate authority (or is self-signed), point SSL_CERT_FILE at that authority's certificate (or the self-signed one) in PEM, as `SSL_CERT_FILE=/path/ca.pem gryt ...`: gryt then trusts the certificates of that file only; or add it to the system's trust store";

/// The certificate problem behind `err`, if a TLS certificate check is what failed.
pub fn certificate_problem(err: &(dyn std::error::Error + 'static)) -> Option<CertificateProblem> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return from_rustls(r);
        }
        // An io::Error's `source()` skips the error it wraps: look inside it first.
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                return from_rustls(r);
            }
            cur = Some(inner);
            continue;
        }
        cur = e.source();
    }
    None
}

fn from_rustls(e: &rustls::Error) -> Option<CertificateProblem> {
    use rustls::CertificateError as C;
    let trust = || vec![SSL_CERT_FILE_HINT.to_string()];
    match e {
        rustls::Error::InvalidCertificate(c) => {
            let name = short_name(c);
            let (reason, hints) = match c {
                C::UnknownIssuer => (
                    "it is issued by an authority this machine does not trust".to_string(),
                    trust(),
                ),
                C::NotValidForName | C::NotValidForNameContext { .. } => (
                    c.to_string(),
                    vec![
                        "use the server's name as its certificate gives it in gryt_url (`gryt config gryt_url URL`)".to_string(),
                        SSL_CERT_FILE_HINT.to_string(),
                    ],
                ),
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => (
                    c.to_string(),
                    vec![
                        "the server's administrator must renew its certificate (or check this machine's clock)".to_string(),
                    ],
                ),
                _ if name == "CaUsedAsEndEntity" => (
                    "the server presents a certificate authority's certificate (CA:TRUE) as its own, which is refused".to_string(),
                    vec![
                        "give the server a certificate signed by that authority (or a self-signed one with CA:FALSE), then trust the authority with SSL_CERT_FILE".to_string(),
                    ],
                ),
                _ => (
                    format!(
                        "it does not verify against the authorities this machine trusts: {name}"
                    ),
                    trust(),
                ),
            };
            Some(CertificateProblem { reason, hints })
        }
        // rustls-platform-verifier found no authority at all to trust (no system store,
        // or an SSL_CERT_FILE without certificates).
        rustls::Error::General(msg) if msg.contains("CA certificates") => {
            Some(CertificateProblem {
                reason: format!("no trusted certificate authority could be loaded: {msg}"),
                hints: trust(),
            })
        }
        _ => None,
    }
}

/// The name of a certificate error without its details, e.g. `BadSignature` or, for an
/// error of the verifier below rustls, its own name (`CaUsedAsEndEntity`).
fn short_name(c: &rustls::CertificateError) -> String {
    let debug = format!("{c:?}");
    let inner = debug
        .strip_prefix("Other(OtherError(")
        .unwrap_or(&debug)
        .to_string();
    let end = inner.find(['(', '{', ' ', ')']).unwrap_or(inner.len());
    inner[..end].to_string()
}

impl CertificateProblem {
    /// The one-line text of [`super::RemoteError::Certificate`].
    pub fn text(&self, base: &str) -> String {
        format!("the certificate of {base} is not trusted ({})", self.reason)
    }

    /// The CLI error: exit code 1 (retrying cannot help, and it is not an outage).
    pub fn into_cli_error(self, base: &str) -> CliError {
        let mut e = CliError::error(format!(
            "The server's certificate is not trusted ({}): nothing was sent to {base}",
            self.reason
        ));
        for h in self.hints {
            e = e.hint(h);
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error whose source is `inner`, as hyper and reqwest wrap what failed below them.
    #[derive(Debug)]
    struct Wrapper(std::io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn wrapped(e: rustls::Error) -> Wrapper {
        Wrapper(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    #[test]
    fn a_certificate_error_is_found_inside_an_io_error() {
        let e = wrapped(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        let p = certificate_problem(&e).expect("a certificate problem");
        assert!(p.reason.contains("does not trust"), "{p:?}");
        assert!(p.hints.iter().any(|h| h.contains("SSL_CERT_FILE")), "{p:?}");
        let cli = p.into_cli_error("https://h:1");
        assert_eq!(cli.exit_code(), 1);
        assert!(cli.message.contains("not trusted"), "{}", cli.message);

        let e = wrapped(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Expired,
        ));
        let p = certificate_problem(&e).expect("a certificate problem");
        assert!(p.hints.iter().any(|h| h.contains("renew")), "{p:?}");
    }

    #[test]
    fn other_failures_are_not_certificate_problems() {
        let refused = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(certificate_problem(&refused).is_none());
        let alert = wrapped(rustls::Error::HandshakeNotComplete);
        assert!(certificate_problem(&alert).is_none());
    }
}
