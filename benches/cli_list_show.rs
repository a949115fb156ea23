//! Benchmark (not a test): wall time of `gryt generation list` and `gryt generation show`
//! on a repository holding 1,000 generations of 10 changes and 5 evolutions each.
//!
//! Run: `cargo bench --bench cli_list_show` (release build). It prints the median, p90
//! and min of 50 runs of each command; it never passes or fails on a clock.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GENERATIONS: usize = 1_000;
const CHANGES: usize = 10;
const EVOLUTIONS: usize = 5;
const RUNS: usize = 50;

fn gryt(dir: &Path, config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gryt"));
    c.args(args)
        .current_dir(dir)
        .env("GRYT_CONFIG_DIR", config)
        .env("USER", "bench")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

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
    let root = std::env::temp_dir().join(format!("gryt-bench-{}", std::process::id()));
    let repo = root.join("repo");
    let config = root.join("config");
    std::fs::create_dir_all(&repo).unwrap();
    let st = gryt(&repo, &config, &["init"]).output().unwrap();
    assert!(st.status.success());
    seed(&repo.join(".gryt/gryt.db"));
    println!(
        "repository: {GENERATIONS} generations x {CHANGES} changes x {EVOLUTIONS} evolutions; binary {}",
        env!("CARGO_BIN_EXE_gryt")
    );
    measure("gryt generation list", || {
        gryt(&repo, &config, &["generation", "list"])
    });
    measure("gryt generation list --json", || {
        gryt(&repo, &config, &["generation", "list", "--json"])
    });
    measure("gryt generation show v5.50.0", || {
        gryt(&repo, &config, &["generation", "show", "v5.50.0"])
    });
    measure("gryt generation show v5.50.0 --json", || {
        gryt(&repo, &config, &["generation", "show", "v5.50.0", "--json"])
    });
    let _ = std::fs::remove_dir_all(&root);
}
