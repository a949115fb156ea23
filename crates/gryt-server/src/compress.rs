//! Compressed answers (`Accept-Encoding`: zstd preferred, gzip for the reference client and
//! proxies that only know it). Every answer of this server is a whole body in memory (JSON,
//! the OpenAPI document, Prometheus text), so it is compressed in one call and sent as one
//! frame with its `Content-Length`. A streaming compressor (tower-http's) hands the answer on
//! in 4 KiB frames, one chunk of the chunked encoding each, and on loopback that framing cost
//! more than the bytes it saved (`cargo bench --bench wire`, docs/performance.md).

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Answers smaller than this go as they are: a frame's header would eat the gain.
const MIN_SIZE: u64 = 512;
/// Answers larger than this go as they are (none is: a feed page stops at 16 MiB).
const MAX_SIZE: u64 = 64 * 1024 * 1024;
/// zstd level 1, the fastest positive level: on a feed page it packs about as small as the
/// default 3 for less time; the faster negative levels (-1, -3, -5) measured no faster on a
/// first pull over loopback and sent 1.6 to 1.9 times the bytes.
const ZSTD_LEVEL: i32 = 1;
/// gzip level 1, for the same reason.
const GZIP_LEVEL: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Zstd,
    Gzip,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding to answer in, from the request's `Accept-Encoding`: the one of highest weight
/// among zstd and gzip (`*` names both), zstd on a tie; none when neither is accepted.
fn choose(accept: Option<&HeaderValue>) -> Option<Coding> {
    let accept = accept?.to_str().ok()?;
    let (mut zstd, mut gzip, mut star) = (None::<f32>, None::<f32>, None::<f32>);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
        }
        if name.eq_ignore_ascii_case("zstd") {
            zstd = Some(q);
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q);
        } else if name == "*" {
            star = Some(q);
        }
    }
    let z = zstd.or(star).unwrap_or(0.0);
    let g = gzip.or(star).unwrap_or(0.0);
    if z <= 0.0 && g <= 0.0 {
        None
    } else if z >= g {
        Some(Coding::Zstd)
    } else {
        Some(Coding::Gzip)
    }
}

fn pack(coding: Coding, body: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Zstd => zstd::bulk::compress(body, ZSTD_LEVEL),
        Coding::Gzip => {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::new(GZIP_LEVEL),
            );
            e.write_all(body)?;
            e.finish()
        }
    }
}

/// The middleware: compresses the answer when the client accepts a coding and the body is
/// worth it; every answer says that it varies by `Accept-Encoding`.
pub async fn compress_answers(req: Request, next: Next) -> Response {
    let coding = choose(req.headers().get(header::ACCEPT_ENCODING));
    let head = req.method() == Method::HEAD;
    let mut res = next.run(req).await;
    res.headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let Some(coding) = coding else { return res };
    let size = res.body().size_hint().exact();
    let worth_it = !head
        && !matches!(
            res.status(),
            StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
        )
        && !res.headers().contains_key(header::CONTENT_ENCODING)
        && !res.headers().contains_key(header::CONTENT_RANGE)
        && size.is_some_and(|n| (MIN_SIZE..=MAX_SIZE).contains(&n));
    if !worth_it {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // The size is exact and bounded: this reads what is already in memory.
    let bytes = match axum::body::to_bytes(body, MAX_SIZE as usize).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("an answer's body could not be read for compression: {e}");
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return r;
        }
    };
    match pack(coding, &bytes) {
        Ok(packed) if packed.len() < bytes.len() => {
            parts.headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.name()),
            );
            parts
                .headers
                .insert(header::CONTENT_LENGTH, packed.len().into());
            Response::from_parts(parts, Body::from(packed))
        }
        // No gain (or the coder failed): the answer goes as it is.
        _ => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coding_follows_accept_encoding() {
        let cases = [
            ("zstd, gzip", Some(Coding::Zstd)),
            ("gzip, zstd", Some(Coding::Zstd)),
            ("gzip, deflate", Some(Coding::Gzip)),
            ("gzip, deflate, br, zstd", Some(Coding::Zstd)),
            ("GZIP", Some(Coding::Gzip)),
            ("x-gzip", Some(Coding::Gzip)),
            ("zstd;q=0.5, gzip", Some(Coding::Gzip)),
            ("zstd;q=0, gzip;q=0", None),
            ("*", Some(Coding::Zstd)),
            ("*;q=0.1, gzip;q=0.5", Some(Coding::Gzip)),
            ("gzip;q=0, *", Some(Coding::Zstd)),
            ("identity", None),
            ("br, deflate", None),
            ("", None),
            ("zstd;q=nonsense, gzip", Some(Coding::Gzip)),
        ];
        for (accept, want) in cases {
            let h = HeaderValue::from_str(accept).unwrap();
            assert_eq!(choose(Some(&h)), want, "{accept}");
        }
        assert_eq!(choose(None), None);
    }

    #[test]
    fn packed_bodies_round_trip() {
        let body = br#"{"data":{"items":[]}}"#.repeat(100);
        let z = pack(Coding::Zstd, &body).unwrap();
        assert_eq!(zstd::decode_all(&z[..]).unwrap(), body);
        let g = pack(Coding::Gzip, &body).unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&g[..]), &mut out).unwrap();
        assert_eq!(out, body);
    }
}
