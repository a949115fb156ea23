//! Server URLs: the identity credentials are bound to, and user information (never sent,
//! never shown).

/// A server's identity for binding credentials: lower-case scheme and host, the port when
/// it is not the scheme's default, and the base path without a trailing `/` (no user
/// information, query or fragment). `None` when `url` is not an http(s) URL.
pub fn server_key(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(strip_userinfo(url.trim()).as_str()).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?.to_ascii_lowercase();
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!(
        "{}://{host}{port}{}",
        u.scheme(),
        u.path().trim_end_matches('/')
    ))
}

/// The byte range of a URL's user information (`user:password`), without the `@`.
fn userinfo_range(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    Some((start, start + at))
}

/// Whether a URL carries user information (`http://user:password@host`).
pub fn has_userinfo(url: &str) -> bool {
    userinfo_range(url).is_some()
}

/// The URL without its user information: gryt never sends credentials a URL carries.
pub fn strip_userinfo(url: &str) -> String {
    match userinfo_range(url) {
        Some((a, b)) => format!("{}{}", &url[..a], &url[b + 1..]),
        None => url.to_string(),
    }
}

/// The URL fit to display: a password inside it is replaced by `****`.
pub fn redact_url(url: &str) -> String {
    match userinfo_range(url) {
        Some((a, b)) => match url[a..b].find(':') {
            Some(c) => format!("{}:****{}", &url[..a + c], &url[b..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_keys_normalise_origin_and_base_path() {
        let k = |u| server_key(u).unwrap_or_default();
        assert_eq!(k("HTTP://Gryt.Example.COM:80/"), "http://gryt.example.com");
        assert_eq!(k("https://h:443/api/"), "https://h/api");
        assert_eq!(k("https://h:8443/api"), "https://h:8443/api");
        assert_eq!(k("http://u:pw@h:1/x?q#f"), "http://h:1/x");
        assert_ne!(k("http://h/a"), k("http://h/b"));
        assert_ne!(k("http://h"), k("https://h"));
        assert_eq!(server_key("ftp://h"), None);
        assert_eq!(server_key("not a url"), None);
    }

    #[test]
    fn passwords_in_urls_are_redacted_and_stripped() {
        assert_eq!(redact_url("http://u:pw@h:1/x"), "http://u:****@h:1/x");
        assert_eq!(redact_url("http://u@h/x"), "http://u@h/x");
        assert_eq!(redact_url("http://h/x@y"), "http://h/x@y");
        assert_eq!(strip_userinfo("https://u:p@w@h/x"), "https://h/x");
        assert_eq!(strip_userinfo("http://h:1"), "http://h:1");
        assert!(has_userinfo("http://u:pw@h") && !has_userinfo("http://h/@"));
    }
}
