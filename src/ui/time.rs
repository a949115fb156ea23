//! Times as people read them and as programs read them: relative ("3 minutes ago") in human
//! tables, one RFC 3339 UTC format with `Z` and microseconds in JSON.

use chrono::{DateTime, SecondsFormat, Utc};

/// The one machine format: `2026-11-22T01:52:05.251312Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `then` relative to `now`: "just now", "3 minutes ago", "2 days ago", "in 5 hours". Text
/// that is not an RFC 3339 time is returned as it is.
pub fn ago(then: &str, now: DateTime<Utc>) -> String {
    let Some(t) = parse(then) else {
        return then.to_string();
    };
    let secs = (now - t).num_seconds();
    let span = secs.unsigned_abs();
    if span < 5 {
        return "just now".to_string();
    }
    const UNITS: [(u64, &str); 6] = [
        (365 * 86_400, "year"),
        (30 * 86_400, "month"),
        (7 * 86_400, "week"),
        (86_400, "day"),
        (3_600, "hour"),
        (60, "minute"),
    ];
    let (n, unit) = UNITS
        .iter()
        .find(|(size, _)| span >= *size)
        .map(|(size, unit)| (span / size, *unit))
        .unwrap_or((span, "second"));
    let amount = super::plural(n, unit, &format!("{unit}s"));
    if secs >= 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// Rewrites every time in a pretty-printed JSON document (a string under a key named `at` or
/// ending in `_at`, that parses as RFC 3339) to [`rfc3339`]: records pulled from a server may
/// carry `+00:00` where local ones carry `Z`.
///
/// It works on the text serde_json wrote, so the document keeps its fields in the order the
/// types give them, and a document that is already right (the usual case) costs one scan, no
/// second tree. The text is exact to read: inside a string every `"` is escaped, so the
/// four bytes `": "` only ever follow a key and open its string value.
pub fn normalize_json(text: String) -> String {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for (i, _) in text.match_indices("\": \"") {
        let key = &text[..i];
        // `at` itself: its opening quote follows the indentation (an escaped `\"at` inside
        // a longer key does not).
        if !(key.ends_with("_at") || key.ends_with(" \"at")) {
            continue;
        }
        let start = i + 4;
        let Some(len) = text[start..].find(['"', '\\']) else {
            continue;
        };
        let value = &text[start..start + len];
        // An escape inside the value: no time (times hold none).
        if !text[start + len..].starts_with('"') || is_canonical(value) {
            continue;
        }
        let Some(t) = parse(value) else {
            continue;
        };
        let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
        o.push_str(&text[copied..start]);
        o.push_str(&rfc3339(t));
        copied = start + len;
    }
    match out {
        None => text,
        Some(mut o) => {
            o.push_str(&text[copied..]);
            o
        }
    }
}

/// Whether `text` is already in the one machine format (`2026-11-22T01:52:05.251312Z`), as
/// every time gryt writes itself is: checked by shape, which costs far less than parsing and
/// formatting it again. A string of that shape that is no real time stays as it is, as any
/// text that does not parse does.
fn is_canonical(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 27
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse("2026-11-22T12:00:00Z").expect("a time")
    }

    #[test]
    fn relative_times() {
        let cases = [
            ("2026-11-22T12:00:00Z", "just now"),
            ("2026-11-22T11:59:58+00:00", "just now"),
            ("2026-11-22T11:59:30Z", "30 seconds ago"),
            ("2026-11-22T11:59:00Z", "1 minute ago"),
            ("2026-11-22T11:57:00.5Z", "2 minutes ago"),
            ("2026-11-22T11:00:00Z", "1 hour ago"),
            ("2026-11-22T09:00:00+00:00", "3 hours ago"),
            ("2026-11-21T12:00:00Z", "1 day ago"),
            ("2026-11-20T11:00:00Z", "2 days ago"),
            ("2026-11-08T12:00:00Z", "2 weeks ago"),
            ("2026-09-01T12:00:00Z", "2 months ago"),
            ("2024-11-01T12:00:00Z", "2 years ago"),
            ("2026-11-22T17:00:00Z", "in 5 hours"),
            ("2026-11-23T12:00:00Z", "in 1 day"),
            // An offset is a time like any other.
            ("2026-11-22T13:00:00+02:00", "1 hour ago"),
            ("never", "never"),
            ("", ""),
        ];
        for (then, expected) in cases {
            assert_eq!(ago(then, now()), expected, "{then}");
        }
    }

    #[test]
    fn only_the_machine_format_itself_skips_the_rewrite() {
        assert!(is_canonical("2026-11-22T01:52:05.251312Z"));
        for other in [
            "2026-11-22T01:52:05Z",
            "2026-11-22T01:52:05.251312+00:00",
            "2026-11-22T01:52:05.2513120",
            "2026-11-22 01:52:05.251312Z",
            "2026-11-22T01:52:05.25131xZ",
            "",
        ] {
            assert!(!is_canonical(other), "{other}");
        }
        // What the rewrite writes is what the check accepts.
        let t = parse("2026-11-22T03:52:05.1+02:00").expect("a time");
        assert!(is_canonical(&rfc3339(t)));
    }

    fn normalized(doc: serde_json::Value) -> String {
        normalize_json(serde_json::to_string_pretty(&doc).expect("json"))
    }

    #[test]
    fn json_times_use_one_format() {
        let doc = json!({
            "generation": {
                "created_at": "2026-11-22T01:52:05.251312+00:00",
                "updated_at": "2026-11-22T01:52:05Z",
                "promoted_at": null,
                "title": "2026-11-22T01:52:05+00:00",
                "changes": [{ "last_synced_at": "2026-11-22T03:52:05.1+02:00" }],
            },
            "log": [{ "at": "2026-11-22T01:52:05.251312Z" }, { "at": " 2026-11-22T01:52:05Z " }],
        });
        let text = normalized(doc);
        let back: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(
            back,
            json!({
                "generation": {
                    "created_at": "2026-11-22T01:52:05.251312Z",
                    "updated_at": "2026-11-22T01:52:05.000000Z",
                    "promoted_at": null,
                    // Not a time field: user text stays as written.
                    "title": "2026-11-22T01:52:05+00:00",
                    "changes": [{ "last_synced_at": "2026-11-22T01:52:05.100000Z" }],
                },
                "log": [{ "at": "2026-11-22T01:52:05.251312Z" }, { "at": "2026-11-22T01:52:05.000000Z" }],
            })
        );
    }

    #[test]
    fn text_that_only_looks_like_a_time_field_stays() {
        // A time-looking value under keys that are not time fields, written so that their
        // escaped text ends like one; and a time field whose value holds an escape.
        let doc = json!({
            "x\"at": "2026-11-22T01:52:05+00:00",
            "note": "\"at\": \"2026-11-22T01:52:05+00:00\"",
            "said_at": "2026-11-22T01:52:05+00:00\\",
            "count_at": 3,
        });
        let before = serde_json::to_string_pretty(&doc).expect("json");
        assert_eq!(normalize_json(before.clone()), before);
    }

    #[test]
    fn fields_keep_the_order_their_type_gives() {
        #[derive(serde::Serialize)]
        struct Row {
            version: &'static str,
            updated_at: &'static str,
            created_at: &'static str,
        }
        let row = Row {
            version: "v1.0.0",
            updated_at: "2026-11-22T01:52:05+00:00",
            created_at: "2026-11-22T01:52:05.251312Z",
        };
        let text = normalize_json(serde_json::to_string_pretty(&row).expect("json"));
        assert_eq!(
            text,
            "{\n  \"version\": \"v1.0.0\",\n  \"updated_at\": \"2026-11-22T01:52:05.000000Z\",\n  \"created_at\": \"2026-11-22T01:52:05.251312Z\"\n}"
        );
    }

    #[test]
    fn a_document_already_right_is_returned_as_it_is() {
        let doc = json!({ "generation": { "created_at": "2026-11-22T01:52:05.251312Z", "b": 1, "a": 2 } });
        let before = serde_json::to_string_pretty(&doc).expect("json");
        assert_eq!(normalize_json(before.clone()), before);
    }
}
