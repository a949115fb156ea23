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

/// Rewrites every time in a JSON document (a string under a key named `at` or ending in
/// `_at`, that parses as RFC 3339) to [`rfc3339`]: records pulled from a server may carry
/// `+00:00` where local ones carry `Z`.
pub fn normalize_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "at" || k.ends_with("_at") {
                    if let Some(t) = v.as_str().and_then(parse) {
                        *v = serde_json::Value::String(rfc3339(t));
                        continue;
                    }
                }
                normalize_json(v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(normalize_json),
        _ => {}
    }
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
    fn json_times_use_one_format() {
        let mut doc = json!({
            "generation": {
                "created_at": "2026-11-22T01:52:05.251312+00:00",
                "updated_at": "2026-11-22T01:52:05Z",
                "promoted_at": null,
                "title": "2026-11-22T01:52:05+00:00",
                "changes": [{ "last_synced_at": "2026-11-22T03:52:05.1+02:00" }],
            },
            "log": [{ "at": "2026-11-22T01:52:05.251312Z" }],
        });
        normalize_json(&mut doc);
        assert_eq!(
            doc,
            json!({
                "generation": {
                    "created_at": "2026-11-22T01:52:05.251312Z",
                    "updated_at": "2026-11-22T01:52:05.000000Z",
                    "promoted_at": null,
                    // Not a time field: user text stays as written.
                    "title": "2026-11-22T01:52:05+00:00",
                    "changes": [{ "last_synced_at": "2026-11-22T01:52:05.100000Z" }],
                },
                "log": [{ "at": "2026-11-22T01:52:05.251312Z" }],
            })
        );
    }
}
