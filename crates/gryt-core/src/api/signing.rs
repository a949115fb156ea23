//! The canonical message of an HMAC-signed request (`Authorization: HMAC
//! key_id:timestamp:signature`), as the reference client signs it: the upper-case method,
//! the path with its query, the timestamp and the body, joined by `\n`. The signature is the
//! lower-case hex HMAC-SHA256 of this message under the key's secret; the client computes
//! it to sign, the server to verify.

/// The bytes an HMAC signature covers.
pub fn signing_message(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut m =
        Vec::with_capacity(method.len() + path_and_query.len() + timestamp.len() + body.len() + 3);
    m.extend_from_slice(method.to_ascii_uppercase().as_bytes());
    m.push(b'\n');
    m.extend_from_slice(path_and_query.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(timestamp.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_method_path_timestamp_body_on_lines() {
        assert_eq!(
            signing_message(
                "post",
                "/api/v1/generations?x=1",
                "2026-11-22T01:52:05+00:00",
                b"{}"
            ),
            b"POST\n/api/v1/generations?x=1\n2026-11-22T01:52:05+00:00\n{}".to_vec()
        );
        assert_eq!(
            signing_message("GET", "/p", "t", b""),
            b"GET\n/p\nt\n".to_vec()
        );
    }
}
