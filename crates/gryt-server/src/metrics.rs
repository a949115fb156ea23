//! The server's own counters and their Prometheus text exposition (`GET /metrics`).
//!
//! Written by hand rather than with `prometheus-client`: the set is small and closed
//! (counters, gauges and one histogram), every label value comes from a bounded set (route
//! patterns, a fixed list of methods, status codes, refusal reasons), and the text format
//! is a few lines of code, so no dependency is needed. Requests are counted by route
//! *pattern* (`/api/v1/generations/{id}`), never by raw path, so ids never become labels.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the request latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// Who may read `GET /metrics` (`gryt server --metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MetricsAccess {
    /// Peers on a loopback address only (a local Prometheus agent, `curl` on the host).
    #[default]
    Loopback,
    /// Any peer (the metrics reveal request counts and the feed head, not records).
    Everyone,
    /// Not served (404).
    Off,
}

impl MetricsAccess {
    /// Whether a peer at `ip` may read the metrics.
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            MetricsAccess::Everyone => true,
            MetricsAccess::Off => false,
            MetricsAccess::Loopback => match ip {
                IpAddr::V4(v4) => v4.is_loopback(),
                IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
            },
        }
    }
}

/// Why an HMAC-signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureRefusal {
    /// The signature does not match the request (or the key expired meanwhile).
    Signature,
    /// The same signature was seen before.
    Replay,
    /// The key is unknown, revoked or expired.
    Key,
    /// The timestamp is unreadable or too far from the server clock.
    Timestamp,
}

impl SignatureRefusal {
    const ALL: [SignatureRefusal; 4] = [
        SignatureRefusal::Signature,
        SignatureRefusal::Replay,
        SignatureRefusal::Key,
        SignatureRefusal::Timestamp,
    ];
    fn label(self) -> &'static str {
        match self {
            SignatureRefusal::Signature => "signature",
            SignatureRefusal::Replay => "replay",
            SignatureRefusal::Key => "key",
            SignatureRefusal::Timestamp => "timestamp",
        }
    }
}

/// The method label: the standard methods as they are, anything else `other` (a client
/// may send any token as a method; labels must stay a bounded set).
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[derive(Default, Clone)]
struct Histogram {
    /// Per bucket (not cumulative); the last slot counts what exceeds every bound.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i] += 1;
        self.sum += secs;
        self.count += 1;
    }
}

#[derive(Default)]
struct Requests {
    /// (route, method, status) -> answers.
    counts: BTreeMap<(String, &'static str, u16), u64>,
    /// (route, method) -> latency.
    latency: BTreeMap<(String, &'static str), Histogram>,
}

/// What the server counted since it started.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<Requests>,
    promotions: AtomicU64,
    races_lost: AtomicU64,
    refused: [AtomicU64; 4],
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// One answered request: its route pattern (or [`UNMATCHED`]), method label, status and
    /// latency. `lost_race`: the answer was a 409 `already_promoted`.
    pub fn request(
        &self,
        route: &str,
        method: &'static str,
        status: u16,
        latency: Duration,
        lost_race: bool,
    ) {
        if lost_race {
            self.races_lost.fetch_add(1, Ordering::Relaxed);
        }
        let Ok(mut r) = self.requests.lock() else {
            return;
        };
        *r.counts
            .entry((route.to_string(), method, status))
            .or_insert(0) += 1;
        r.latency
            .entry((route.to_string(), method))
            .or_default()
            .observe(latency.as_secs_f64());
    }

    /// Generations promoted by units of work that committed.
    pub fn promoted(&self, n: u64) {
        if n > 0 {
            self.promotions.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// An HMAC-signed request refused.
    pub fn signature_refused(&self, why: SignatureRefusal) {
        let i = SignatureRefusal::ALL
            .iter()
            .position(|r| *r == why)
            .unwrap_or(0);
        self.refused[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4) of the counters and of `db`.
    pub fn render(&self, db: &DbFigures) -> String {
        let mut out = String::new();
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        let (counts, latency) = match self.requests.lock() {
            Ok(r) => (r.counts.clone(), r.latency.clone()),
            Err(_) => (BTreeMap::new(), BTreeMap::new()),
        };
        head(
            &mut out,
            "gryt_http_requests_total",
            "counter",
            "HTTP requests answered, by route pattern, method and status.",
        );
        for ((route, method, status), n) in &counts {
            let _ = writeln!(
                out,
                "gryt_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        head(
            &mut out,
            "gryt_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its answer, by route pattern and method.",
        );
        for ((route, method), h) in &latency {
            let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
            let mut cumulative = 0u64;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i];
                let _ = writeln!(
                    out,
                    "gryt_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "gryt_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "gryt_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "gryt_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        head(
            &mut out,
            "gryt_promotions_total",
            "counter",
            "Generations promoted (committed) by this process.",
        );
        let _ = writeln!(
            out,
            "gryt_promotions_total {}",
            self.promotions.load(Ordering::Relaxed)
        );
        head(
            &mut out,
            "gryt_promotion_races_lost_total",
            "counter",
            "Promotions answered 409 already_promoted: another request promoted first.",
        );
        let _ = writeln!(
            out,
            "gryt_promotion_races_lost_total {}",
            self.races_lost.load(Ordering::Relaxed)
        );
        head(
            &mut out,
            "gryt_signatures_refused_total",
            "counter",
            "HMAC-signed requests refused, by reason (signature, replay, key, timestamp).",
        );
        for (i, r) in SignatureRefusal::ALL.iter().enumerate() {
            let _ = writeln!(
                out,
                "gryt_signatures_refused_total{{reason=\"{}\"}} {}",
                r.label(),
                self.refused[i].load(Ordering::Relaxed)
            );
        }
        head(
            &mut out,
            "gryt_database_up",
            "gauge",
            "1 when the database answered the scrape's query, else 0.",
        );
        let _ = writeln!(out, "gryt_database_up {}", u8::from(db.feed_head.is_some()));
        if let Some(h) = db.feed_head {
            head(
                &mut out,
                "gryt_feed_head",
                "gauge",
                "The highest change-feed position of any scope.",
            );
            let _ = writeln!(out, "gryt_feed_head {h}");
        }
        head(
            &mut out,
            "gryt_db_pool_size",
            "gauge",
            "Database connections the pool may hold at once.",
        );
        let _ = writeln!(out, "gryt_db_pool_size {}", db.pool.size);
        head(
            &mut out,
            "gryt_db_pool_connections",
            "gauge",
            "Database connections of the pool, by state (in_use, idle).",
        );
        let _ = writeln!(
            out,
            "gryt_db_pool_connections{{state=\"in_use\"}} {}",
            db.pool.in_use
        );
        let _ = writeln!(
            out,
            "gryt_db_pool_connections{{state=\"idle\"}} {}",
            db.pool.idle
        );
        out
    }
}

/// What a scrape reads from the database and its pool.
#[derive(Debug, Clone, Default)]
pub struct DbFigures {
    /// `None` when the database did not answer.
    pub feed_head: Option<i64>,
    pub pool: crate::db::PoolUse,
}

/// A label value as the text format writes it: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

thread_local! {
    /// Promotions made by the unit of work running on this thread (see [`counted`]).
    static UNIT_PROMOTIONS: Cell<u64> = const { Cell::new(0) };
}

/// Notes a promotion made by the unit of work running on this thread; it is counted only
/// if that unit commits (see [`counted`]).
pub fn note_promotion() {
    UNIT_PROMOTIONS.with(|c| c.set(c.get().saturating_add(1)));
}

/// Runs one unit of work (a transaction, on a database thread) and gives what it noted with
/// [`note_promotion`]; the caller records those only when the unit committed.
pub fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    UNIT_PROMOTIONS.with(|c| c.set(0));
    let out = f();
    let n = UNIT_PROMOTIONS.with(|c| c.replace(0));
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_by_peer() {
        let lo: IpAddr = "127.0.0.9".parse().unwrap();
        let lo6: IpAddr = "::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let far: IpAddr = "192.0.2.7".parse().unwrap();
        let far6: IpAddr = "2001:db8::1".parse().unwrap();
        for ip in [lo, lo6, mapped] {
            assert!(MetricsAccess::Loopback.allows(ip), "{ip}");
        }
        for ip in [far, far6] {
            assert!(!MetricsAccess::Loopback.allows(ip), "{ip}");
            assert!(MetricsAccess::Everyone.allows(ip), "{ip}");
        }
        assert!(!MetricsAccess::Off.allows(lo));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_counts_by_pattern() {
        let m = Metrics::new();
        let r = "/api/v1/generations/{id}";
        m.request(r, "GET", 200, Duration::from_micros(500), false);
        m.request(r, "GET", 200, Duration::from_millis(30), false);
        m.request(r, "GET", 404, Duration::from_secs(20), false);
        let text = m.render(&DbFigures::default());
        assert!(text.contains(&format!(
            "gryt_http_requests_total{{route=\"{r}\",method=\"GET\",status=\"200\"}} 2"
        )));
        let b = |le: &str| {
            format!("gryt_http_request_duration_seconds_bucket{{route=\"{r}\",method=\"GET\",le=\"{le}\"}}")
        };
        assert!(text.contains(&format!("{} 1\n", b("0.001"))), "{text}");
        assert!(text.contains(&format!("{} 1\n", b("0.025"))), "{text}");
        assert!(text.contains(&format!("{} 2\n", b("0.05"))), "{text}");
        assert!(text.contains(&format!("{} 2\n", b("10"))), "{text}");
        assert!(text.contains(&format!("{} 3\n", b("+Inf"))), "{text}");
        assert!(text.contains("gryt_database_up 0\n"));
        assert!(!text.contains("gryt_feed_head "));
    }

    #[test]
    fn promotions_count_only_what_a_unit_noted() {
        let ((), n) = counted(|| {
            note_promotion();
            note_promotion();
        });
        assert_eq!(n, 2);
        note_promotion();
        // A unit starts from zero: what an earlier, uncounted unit noted is not its own.
        let ((), n) = counted(|| ());
        assert_eq!(n, 0);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
