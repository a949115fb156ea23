//! Request bodies sent with `Content-Encoding: zstd` or `gzip`: decoded after the signature
//! is checked over the bytes as sent, with the body limit applied to the *decoded* bytes,
//! which are counted against the memory budget as they appear. A small body that expands
//! past the limit (a decompression bomb) is stopped there and answered 413.

use crate::error::ApiError;
use crate::net::BodyReservation;
use axum::http::{header, HeaderMap, StatusCode};
use gryt_core::api::ErrorCode;
use std::io::Read;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
        }
    }
}

/// The body's `Content-Encoding`: none or `identity`, `gzip` or `zstd` (one of them, any
/// case); anything else (another coding, or several stacked) is 415.
pub fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(v) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let s = v.to_str().unwrap_or("").trim();
    for e in [Encoding::Identity, Encoding::Gzip, Encoding::Zstd] {
        if s.eq_ignore_ascii_case(e.name()) {
            return Ok(e);
        }
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        format!(
            "Content-Encoding '{}' is not supported: send the body as zstd, gzip or uncompressed",
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(64)
                .collect::<String>()
        ),
    ))
}

/// The largest zstd window a body may ask for: the size of the body limit (a body no
/// larger than the limit never needs more), so a frame cannot make the decoder allocate
/// more memory than the limit allows.
fn zstd_window_log(limit: usize) -> u32 {
    (usize::BITS - limit.saturating_sub(1).leading_zeros()).clamp(10, 27)
}

/// Decodes `raw` (blocking: call off the async runtime for large bodies). Beyond `limit`
/// decoded bytes: 413; damaged data: 400; the decoded bytes are reserved in `reservation`
/// as they are produced (429/503 when the budget is spent).
pub fn decode(
    enc: Encoding,
    raw: &[u8],
    limit: usize,
    reservation: &mut BodyReservation,
) -> Result<Vec<u8>, ApiError> {
    let damaged = |e: std::io::Error| {
        ApiError::bad_request(format!(
            "The request body is not valid {} data: {e}",
            enc.name()
        ))
    };
    let mut reader: Box<dyn Read + '_> = match enc {
        Encoding::Identity => return Ok(raw.to_vec()),
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Encoding::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(raw).map_err(damaged)?;
            d.window_log_max(zstd_window_log(limit)).map_err(damaged)?;
            Box::new(d)
        }
    };
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(damaged(e)),
        };
        if out.len().saturating_add(n) > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TooLarge,
                format!("The request body decompresses to more than the limit of {limit} bytes"),
            ));
        }
        reservation.grow(n)?;
        out.extend_from_slice(&chunk[..n]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    fn budget() -> BodyReservation {
        crate::net::BodyBudget::new(1 << 30, 1 << 30).start("127.0.0.1".parse().unwrap())
    }

    #[test]
    fn encodings_by_header() {
        let mut h = HeaderMap::new();
        assert_eq!(encoding(&h).unwrap(), Encoding::Identity);
        for (v, want) in [
            ("gzip", Encoding::Gzip),
            ("ZSTD", Encoding::Zstd),
            (" identity ", Encoding::Identity),
        ] {
            h.insert(header::CONTENT_ENCODING, v.parse().unwrap());
            assert_eq!(encoding(&h).unwrap(), want, "{v}");
        }
        for bad in ["br", "deflate", "gzip, zstd", "x-gzip"] {
            h.insert(header::CONTENT_ENCODING, bad.parse().unwrap());
            assert_eq!(
                encoding(&h).unwrap_err().status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{bad}"
            );
        }
    }

    #[test]
    fn round_trips_and_limits_on_decoded_bytes() {
        let text = br#"{"version":"v1.0.0"}"#.repeat(100);
        let mut r = budget();
        assert_eq!(
            decode(Encoding::Gzip, &gzip(&text), 10_000, &mut r).unwrap(),
            text
        );
        let z = zstd::encode_all(&text[..], 3).unwrap();
        assert_eq!(decode(Encoding::Zstd, &z, 10_000, &mut r).unwrap(), text);
        assert_eq!(
            decode(Encoding::Identity, &text, 10_000, &mut r).unwrap(),
            text
        );
        // Exactly at the limit passes; one byte over is 413, for both codings.
        let n = text.len();
        assert!(decode(Encoding::Gzip, &gzip(&text), n, &mut r).is_ok());
        let e = decode(Encoding::Gzip, &gzip(&text), n - 1, &mut r).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        let e = decode(Encoding::Zstd, &z, n - 1, &mut r).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        // Damaged data is 400.
        let e = decode(Encoding::Gzip, b"not gzip", n, &mut r).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = decode(Encoding::Zstd, b"not zstd", n, &mut r).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn decoded_bytes_are_reserved_from_the_budget() {
        let text = vec![b'a'; 300_000];
        let budget = crate::net::BodyBudget::new(1 << 30, 100_000);
        let mut r = budget.start("127.0.0.1".parse().unwrap());
        let e = decode(Encoding::Gzip, &gzip(&text), 1 << 20, &mut r).unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn the_zstd_window_follows_the_limit() {
        assert_eq!(zstd_window_log(8 * 1024 * 1024), 23);
        assert_eq!(zstd_window_log(8 * 1024 * 1024 + 1), 24);
        assert_eq!(zstd_window_log(1), 10);
        assert_eq!(zstd_window_log(usize::MAX), 27);
    }
}
