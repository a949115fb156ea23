//! Compression on the wire, both ways.
//!
//! - **Answers**: every request asks for `Accept-Encoding: zstd, gzip` (unless
//!   `GRYT_COMPRESSION=off`); the answer is decoded here, as it is read, so the client's
//!   limit on an answer ([`super::MAX_BODY`]) holds on the *decoded* bytes: a small
//!   compressed answer that expands past it (a decompression bomb) is refused there, never
//!   held whole in memory. A zstd frame may not ask for a window larger than that limit.
//!   Damaged compressed data is a bad answer, not a broken connection.
//! - **Request bodies**: a batch body is sent as zstd only once the server has said that it
//!   takes compressed bodies (RFC 7694: `Accept-Encoding` on its answers names `zstd`), and
//!   only when it is large enough to gain. The HMAC signature covers the bytes as sent (the
//!   compressed ones), as the server verifies them before it decodes.

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

/// What every request asks for (zstd first: gryt's server prefers it; gzip for servers and
/// proxies that only know gzip).
pub const ACCEPT: &str = "zstd, gzip";

/// Request bodies smaller than this are sent as they are: compressing them gains nothing
/// worth the server's decoding.
pub const MIN_COMPRESSED_BODY: usize = 1024;

/// The zstd level of request bodies: level 1, the fastest of the positive levels; on
/// gryt's JSON it packs as small as the default level 3 (`cargo bench --bench wire`).
const LEVEL: i32 = 1;

/// How an answer's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Zstd,
    Gzip,
}

impl Coding {
    pub fn name(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding named by an answer's `Content-Encoding` (none: identity). `Err` holds the
/// value shown when it names a coding gryt does not decode (or several stacked).
pub fn coding(content_encoding: Option<&[u8]>) -> Result<Coding, String> {
    let Some(raw) = content_encoding else {
        return Ok(Coding::Identity);
    };
    let text = String::from_utf8_lossy(raw);
    let v = text.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("identity") {
        Ok(Coding::Identity)
    } else if v.eq_ignore_ascii_case("zstd") {
        Ok(Coding::Zstd)
    } else if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") {
        Ok(Coding::Gzip)
    } else {
        Err(text.chars().filter(|c| !c.is_control()).take(64).collect())
    }
}

/// Whether an `Accept-Encoding` value (on an answer: what the server takes in request
/// bodies, RFC 7694) accepts zstd: named with a weight above zero, or `*` so.
pub fn accepts_zstd(accept_encoding: &[u8]) -> bool {
    let text = String::from_utf8_lossy(accept_encoding);
    text.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        if !(name.eq_ignore_ascii_case("zstd") || name == "*") {
            return false;
        }
        // `q=0` means "not acceptable"; any other weight (or none) accepts.
        !parts.any(|p| {
            let p = p.trim();
            let Some(q) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) else {
                return false;
            };
            q.trim().parse::<f32>().map(|q| q <= 0.0).unwrap_or(false)
        })
    })
}

/// `body` as one zstd frame; `None` when it should go as it is (too small to gain, or
/// the encoder failed: sending it plain is always correct).
pub fn compress(body: &[u8]) -> Option<Vec<u8>> {
    if body.len() < MIN_COMPRESSED_BODY {
        return None;
    }
    let packed = zstd::bulk::compress(body, LEVEL).ok()?;
    (packed.len() < body.len()).then_some(packed)
}

/// The largest zstd window an answer may ask for: the size of the answer limit (an answer
/// within the limit never needs more), so a frame cannot make the decoder reserve more.
pub fn zstd_window_log(limit: u64) -> u32 {
    (u64::BITS - limit.saturating_sub(1).leading_zeros()).clamp(10, 31)
}

/// What happened on the connection beneath a decoder: the bytes read off the wire, and
/// whether reading them failed (a broken connection, as opposed to damaged data).
#[derive(Clone, Default)]
pub struct Wire {
    pub bytes: Rc<Cell<u64>>,
    pub broke: Rc<Cell<bool>>,
}

/// A reader of the raw answer that counts what it reads into a [`Wire`].
struct Counted<R> {
    inner: R,
    wire: Wire,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.wire.bytes.set(self.wire.bytes.get() + n as u64);
                Ok(n)
            }
            Err(e) => {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    self.wire.broke.set(true);
                }
                Err(e)
            }
        }
    }
}

/// A reader of the decoded body of `raw` (sent with `coding`), counting the raw bytes into
/// the returned [`Wire`]. zstd frames asking for a window larger than `limit` are refused.
pub fn decoder<R: Read + 'static>(
    coding: Coding,
    raw: R,
    limit: u64,
) -> std::io::Result<(Box<dyn Read>, Wire)> {
    let wire = Wire::default();
    let counted = Counted {
        inner: raw,
        wire: wire.clone(),
    };
    let reader: Box<dyn Read> = match coding {
        Coding::Identity => Box::new(counted),
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
        Coding::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(counted)?;
            d.window_log_max(zstd_window_log(limit))?;
            Box::new(d)
        }
    };
    Ok((reader, wire))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(coding: Coding, raw: Vec<u8>, limit: u64) -> std::io::Result<(Vec<u8>, u64)> {
        let (mut r, wire) = decoder(coding, std::io::Cursor::new(raw), limit)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok((out, wire.bytes.get()))
    }

    #[test]
    fn codings_by_header() {
        assert_eq!(coding(None), Ok(Coding::Identity));
        assert_eq!(coding(Some(b" ZSTD ")), Ok(Coding::Zstd));
        assert_eq!(coding(Some(b"gzip")), Ok(Coding::Gzip));
        assert_eq!(coding(Some(b"x-gzip")), Ok(Coding::Gzip));
        assert_eq!(coding(Some(b"identity")), Ok(Coding::Identity));
        assert_eq!(coding(Some(b"br")), Err("br".to_string()));
        assert!(coding(Some(b"gzip, zstd")).is_err());
    }

    #[test]
    fn a_server_accepting_zstd_is_recognised() {
        for yes in [
            "zstd, gzip",
            "gzip,ZSTD",
            "zstd;q=0.5",
            "*",
            " gzip ; q=1, zstd ",
        ] {
            assert!(accepts_zstd(yes.as_bytes()), "{yes}");
        }
        for no in ["", "gzip", "identity", "zstd;q=0", "zstd; q=0.0", "zstdx"] {
            assert!(!accepts_zstd(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn small_bodies_go_as_they_are_and_large_ones_round_trip() {
        assert_eq!(compress(b"{}"), None);
        let body = br#"{"op":"create_generation","body":{"version":"v1.0.0"}}"#.repeat(100);
        let packed = compress(&body).expect("compressed");
        assert!(packed.len() * 4 < body.len(), "{}", packed.len());
        let (out, wire) = read_all(Coding::Zstd, packed.clone(), 1 << 20).expect("decoded");
        assert_eq!(out, body);
        assert_eq!(wire, packed.len() as u64);
    }

    #[test]
    fn gzip_and_identity_answers_are_read_and_counted() {
        let text = b"{\"data\":{\"head\":1}}".repeat(50);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&text).expect("gzip");
        let gz = e.finish().expect("gzip");
        let (out, wire) = read_all(Coding::Gzip, gz.clone(), 1 << 20).expect("gzip");
        assert_eq!((out, wire), (text.clone(), gz.len() as u64));
        let (out, wire) = read_all(Coding::Identity, text.clone(), 1 << 20).expect("plain");
        assert_eq!((out, wire), (text.clone(), text.len() as u64));
        assert!(read_all(Coding::Gzip, b"not gzip".to_vec(), 1 << 20).is_err());
        assert!(read_all(Coding::Zstd, b"not zstd".to_vec(), 1 << 20).is_err());
    }

    #[test]
    fn a_zstd_window_larger_than_the_limit_is_refused() {
        // A frame written with a 2 MiB window (its header says so, whatever the content).
        let text = b"{\"data\":{\"items\":[]}}".repeat(10_000);
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("encoder");
        enc.window_log(21).expect("window");
        enc.write_all(&text).expect("write");
        let packed = enc.finish().expect("finish");
        assert!(read_all(Coding::Zstd, packed.clone(), 4 << 20).is_ok());
        assert!(read_all(Coding::Zstd, packed, 64 * 1024).is_err());
        assert_eq!(zstd_window_log(64 * 1024 * 1024), 26);
        assert_eq!(zstd_window_log(1), 10);
    }
}
