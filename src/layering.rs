//! Tests that keep the layers of docs/architecture.md ("CLI modules") apart: they read the
//! CLI's own sources and fail when SQL appears outside `src/store/`, a server API path
//! outside `src/client/`, or a command reaches the database connection itself.

use std::path::{Path, PathBuf};

/// A string literal of a source file: the file, its line, its text (escapes as written).
#[derive(Debug)]
struct Literal {
    file: PathBuf,
    line: usize,
    text: String,
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read a source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The string literals of Rust source `text` (plain, byte and raw strings), outside
/// comments. Char literals and lifetimes are skipped, so a `'"'` opens no string.
fn literals(file: &Path, text: &str) -> Vec<Literal> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < b.len() {
        match b[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if b[i] == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            b'\'' => {
                // '\x', 'x' (one char, maybe multi-byte) or a lifetime.
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    let ch_len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                    if b.get(i + 1 + ch_len) == Some(&b'\'') {
                        i += 2 + ch_len;
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' | b'b'
                if (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
                    && raw_start(b, i).is_some() =>
            {
                let (hashes, body) = raw_start(b, i).expect("checked above");
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                let start_line = line;
                let mut j = body;
                while j < b.len() && !b[j..].starts_with(&close) {
                    if b[j] == b'\n' {
                        line += 1;
                    }
                    j += 1;
                }
                out.push(Literal {
                    file: file.to_path_buf(),
                    line: start_line,
                    text: text[body..j.min(b.len())].to_string(),
                });
                i = j + close.len();
            }
            b'"' => {
                let start_line = line;
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    if b.get(j) == Some(&b'\n') {
                        line += 1;
                    }
                    j += 1;
                }
                out.push(Literal {
                    file: file.to_path_buf(),
                    line: start_line,
                    text: text[i + 1..j.min(b.len())].to_string(),
                });
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// At `i`, a raw string's opening (`r"`, `r#"`, `br#"`): the number of `#` and where its
/// text starts.
fn raw_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if b.get(j) == Some(&b'b') {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while b.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    (b.get(j) == Some(&b'"')).then_some((hashes, j + 1))
}

/// The literals of every file under src/ outside the given folders (relative to src/).
fn literals_outside(allowed: &[&str]) -> Vec<Literal> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).expect("under src/");
        if allowed.iter().any(|a| rel.starts_with(a)) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read a source file");
        out.extend(literals(rel, &text));
    }
    out
}

/// Whether a literal reads as an SQL statement (keywords as the CLI writes them).
fn is_sql(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    let pair = |a: &str, b: &str| words.windows(2).any(|w| w[0] == a && w[1] == b);
    let has = |w: &str| words.contains(&w);
    (has("SELECT") && (has("FROM") || text.contains("SELECT 1") || text.contains("SELECT COUNT")))
        || pair("INSERT", "INTO")
        || pair("INSERT", "OR")
        || (has("UPDATE") && has("SET"))
        || pair("DELETE", "FROM")
        || pair("CREATE", "TABLE")
        || pair("CREATE", "INDEX")
        || pair("ALTER", "TABLE")
        || pair("DROP", "TABLE")
        || has("PRAGMA")
        || pair("BEGIN", "IMMEDIATE")
}

fn report(found: &[Literal]) -> String {
    found
        .iter()
        .map(|l| format!("  src/{}:{}: \"{}\"", l.file.display(), l.line, l.text))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn sql_lives_only_in_the_store() {
    let found: Vec<Literal> = literals_outside(&["store", "layering.rs"])
        .into_iter()
        .filter(|l| is_sql(&l.text))
        .collect();
    assert!(
        found.is_empty(),
        "SQL outside src/store/ (move it into a store function):\n{}",
        report(&found)
    );
}

#[test]
fn api_paths_live_only_in_the_client() {
    let found: Vec<Literal> = literals_outside(&["client", "layering.rs"])
        .into_iter()
        .filter(|l| l.text.contains("/api/v1"))
        .collect();
    assert!(
        found.is_empty(),
        "server API paths outside src/client/ (add a route to src/client/routes.rs):\n{}",
        report(&found)
    );
}

#[test]
fn commands_never_reach_the_database_connection() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let mut found = Vec::new();
    for file in rust_files(&dir) {
        let text = std::fs::read_to_string(&file).expect("read a source file");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains(".conn") || code.contains("rusqlite") {
                found.push(format!("  {}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "commands reach the database (load through ops, e.g. a Workspace method in ops/query.rs):\n{}",
        found.join("\n")
    );
}

/// Words that mean a command is sending requests itself instead of calling an op.
fn http_in_command(code: &str) -> Option<&'static str> {
    let words = code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    for w in words {
        match w {
            "Remote" => return Some("the client (Remote)"),
            "call_route" | "send_route" | "call" | "send" | "send_once"
                if code.contains(&format!(".{w}(")) || code.contains(&format!("::{w}(")) =>
            {
                return Some("a request");
            }
            "routes" if code.contains("routes::") => return Some("a route"),
            "reqwest" => return Some("the HTTP library"),
            _ => {}
        }
    }
    None
}

#[test]
fn commands_never_send_requests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let mut found = Vec::new();
    for file in rust_files(&dir) {
        let text = std::fs::read_to_string(&file).expect("read a source file");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if let Some(what) = http_in_command(code) {
                found.push(format!(
                    "  {}:{}: {what}: {}",
                    file.display(),
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "commands send requests (add a typed method in src/client/ and call it from an op):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_request_check_tells_a_request_from_a_word() {
    assert!(http_in_command("let r = remote.call_route(&route, None, &[])?;").is_some());
    assert!(http_in_command("use crate::client::{routes, Remote};").is_some());
    assert!(http_in_command("let k = routes::api_keys();").is_some());
    assert!(http_in_command("matches!(e, crate::client::RemoteError::Unreachable(_))").is_none());
    assert!(http_in_command("ctx.ui.info(\"call it back\");").is_none());
    assert!(http_in_command("cloud.remote.base.clone()").is_none());
}

#[test]
fn the_scanner_finds_sql_and_ignores_comments_and_chars() {
    let src = r##"
        // "SELECT a FROM b" in a comment
        /* "DELETE FROM x" in a block */
        let c = '"'; let l: &'static str = "plain";
        let q = "SELECT version FROM generations";
        let r = r#"UPDATE t SET a = 1"#;
        let m = "DELETE"; // an HTTP method
        let e = "an escaped \" quote, then INSERT INTO t";
    "##;
    let found: Vec<String> = literals(Path::new("x.rs"), src)
        .into_iter()
        .filter(|l| is_sql(&l.text))
        .map(|l| format!("{}:{}", l.line, l.text))
        .collect();
    assert_eq!(
        found,
        vec![
            "5:SELECT version FROM generations",
            "6:UPDATE t SET a = 1",
            "8:an escaped \\\" quote, then INSERT INTO t",
        ]
    );
}
