//! The one HTTP/1.1 message reader of the test servers and the proxy: a head, then a
//! Content-Length or chunked body, kept byte for byte as framed on the wire.

use std::io::BufRead;

/// One HTTP/1.1 message: its head and its body exactly as framed on the wire.
pub struct Message {
    pub head: Vec<u8>,
    pub body: Vec<u8>,
}

impl Message {
    /// The request or status line, without its line end.
    pub fn first_line(&self) -> String {
        let end = self
            .head
            .iter()
            .position(|b| *b == b'\r' || *b == b'\n')
            .unwrap_or(self.head.len());
        String::from_utf8_lossy(&self.head[..end]).into_owned()
    }

    /// An answer's status code (0 when unreadable).
    pub fn status(&self) -> u16 {
        self.first_line()
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Head and body as one text (lossy), as a test reads a request.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut v = self.head.clone();
        v.extend_from_slice(&self.body);
        v
    }
}

/// Reads one message; `None` at a clean end of stream. `bodiless`: the answer to a HEAD
/// request (no body whatever the headers say).
pub fn read_message(r: &mut impl BufRead, bodiless: bool) -> std::io::Result<Option<Message>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if let Some(v) = text.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if text.starts_with("transfer-encoding:") && text.contains("chunked") {
            chunked = true;
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let mut body = Vec::new();
    if bodiless {
        // HEAD answers and the like: no body whatever the headers say.
    } else if chunked {
        loop {
            let mut size_line = Vec::new();
            r.read_until(b'\n', &mut size_line)?;
            body.extend_from_slice(&size_line);
            let size_text = String::from_utf8_lossy(&size_line);
            let size = usize::from_str_radix(size_text.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            if size == 0 {
                // Trailers end with an empty line.
                loop {
                    let mut t = Vec::new();
                    r.read_until(b'\n', &mut t)?;
                    body.extend_from_slice(&t);
                    if t == b"\r\n" || t.is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0u8; size + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
        }
    } else {
        body = vec![0u8; length];
        r.read_exact(&mut body)?;
    }
    Ok(Some(Message { head, body }))
}

/// A complete answer with `status`, a content type, `extra` header lines (each ending in
/// `\r\n`) and a body (Content-Length framing).
pub fn answer(status: u16, reason: &str, content_type: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// A problem+json body as the server writes it.
pub fn problem(status: u16, detail: &str) -> String {
    serde_json::json!({ "type": "about:blank", "title": "injected", "status": status, "detail": detail, "code": "injected" })
        .to_string()
}
