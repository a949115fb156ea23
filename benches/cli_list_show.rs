//! Benchmark (not a test): wall time of `gryt generation list` and `gryt generation show`
//! on a repository holding 1,000 generations of 10 changes and 5 evolutions each.
//!
//! Run: `cargo bench --bench cli_list_show` (release build). It prints the median, p90
//! and min of 50 runs of each command; it never passes or fails on a clock.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::Workspace;

const GENERATIONS: usize = 1_000;
const CHANGES: usize = 10;
const EVOLUTIONS: usize = 5;
const RUNS: usize = 50;

fn seed(db: &Path) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut g = tx
            .prepare(
                "INSERT INTO generations (generation_id, version, description, status, created_at, created_by, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, '2026-01-01T00:00:00Z', 'bench', '2026-01-01T00:00:00Z')",
            )
            .unwrap();
        let mut c = tx
            .prepare(
                "INSERT INTO changes (generation_id, position, change_id, type, title) VALUES (?1, ?2, ?3, 'add', ?4)",
            )
            .unwrap();
        let mut e = tx
            .prepare(
                "INSERT INTO evolutions (evolution_id, generation_id, change_id, rc, code_name, owner, status, started_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'bench', ?6, '2026-01-01T00:00:00Z')",
            )
            .unwrap();
        for i in 0..GENERATIONS {
            let id = format!("gen-{i}");
            let version = format!("v{}.{}.0", i / 100, i % 100);
            let status = if i % 3 == 0 { "promoted" } else { "draft" };
            g.execute(rusqlite::params![
                id,
                version,
                format!("Release {version}"),
                status
            ])
            .unwrap();
            for j in 0..CHANGES {
                c.execute(rusqlite::params![
                    id,
                    j as i64,
                    format!("FEAT-{j}"),
                    format!("change {j} of {version}")
                ])
                .unwrap();
            }
            for k in 0..EVOLUTIONS {
                let status = if k % 2 == 0 { "pass" } else { "fail" };
                e.execute(rusqlite::params![
                    format!("evo-{i}-{k}"),
                    id,
                    format!("FEAT-{}", k * 2),
                    (k + 1) as i64,
                    format!("code-{i}-{k}"),
                    status
                ])
                .unwrap();
            }
        }
    }
    tx.commit().unwrap();
}

fn measure(label: &str, mut make: impl FnMut() -> Command) {
    // One warm-up run (page cache), then RUNS timed runs.
    let out = make().output().unwrap();
    assert!(
        out.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let mut cmd = make();
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            let t = Instant::now();
            let status = cmd.status().unwrap();
            let d = t.elapsed();
            assert!(status.success());
            d
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<40} median {:>6.2} ms   p90 {:>6.2} ms   min {:>6.2} ms   ({RUNS} runs, {} bytes of output)",
        ms(times[RUNS / 2]),
        ms(times[RUNS * 9 / 10]),
        ms(times[0]),
        out.stdout.len()
    );
}

fn main() {
    // The hermetic command of the tests: a cleared environment, a temporary HOME and config
    // dir.
    let ws = Workspace::bare("bench");
    ws.run(&["init"]).ok();
    seed(&ws.db());
    println!(
        "repository: {GENERATIONS} generations x {CHANGES} changes x {EVOLUTIONS} evolutions; binary {}",
        support::gryt_bin()
    );
    measure("gryt generation list", || {
        ws.command(&["generation", "list"])
    });
    measure("gryt generation list --json", || {
        ws.command(&["generation", "list", "--json"])
    });
    measure("gryt generation show v5.50.0", || {
        ws.command(&["generation", "show", "v5.50.0"])
    });
    measure("gryt generation show v5.50.0 --json", || {
        ws.command(&["generation", "show", "v5.50.0", "--json"])
    });
}
