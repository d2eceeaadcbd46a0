//! `--memory`: peak memory of `pgshift up` on large migrations, against
//! the target of the largest file plus 64 MB.
//!
//! Three migrations are generated, each applied by `pgshift up` to a fresh
//! database of one throwaway cluster:
//! - one statement of `--memory-mb / 4` MB: a single `INSERT` with many
//!   rows;
//! - bulk `INSERT`s (1,000 rows each) filling `--memory-mb / 2` MB;
//! - the same filling `--memory-mb` MB.
//!
//! The issue measured 442 MB, 839 MB and 1.89 GB for 50, 100 and 200 MB.
//! Each run is checked (every row arrived). The default 200 MB takes a
//! few minutes; `--memory-mb 20` is a quick look.

use crate::bench::progress;
use crate::measure::{Measured, Runner};
use crate::stats::kib_to_mb;
use crate::Args;
use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Peak memory may exceed the largest file by this much (the target).
const HEADROOM_MB: f64 = 64.0;

/// Rows per statement in the bulk files.
const ROWS_PER_STATEMENT: u64 = 1000;

/// One measured migration.
#[derive(Debug)]
pub struct MemoryRun {
    label: String,
    file_bytes: u64,
    rows: u64,
    measured: Measured,
}

/// What was measured.
#[derive(Debug)]
pub struct MemoryResults {
    runs: Vec<MemoryRun>,
}

/// One row of the generated data, about 100 bytes.
fn row(i: u64) -> String {
    format!("({i}, 'row {i:012} of the generated bulk data for the memory benchmark', {i}.5)")
}

/// Writes `001_bulk.sql` into `dir`: rows until `bytes`, in statements of
/// `rows_per_statement` rows. Returns the file's size and its row count.
fn generate(dir: &Path, bytes: u64, rows_per_statement: u64) -> Result<(u64, u64)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("001_bulk.sql");
    let file =
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = CountingWriter {
        inner: std::io::BufWriter::new(file),
        written: 0,
    };
    let fail = |e: std::io::Error| {
        anyhow::Error::new(e).context(format!("cannot write {}", path.display()))
    };
    out.put(
        "-- Description: bulk data\nCREATE TABLE bulk (id bigint, name text, amount numeric);\n",
    )
    .map_err(fail)?;
    let mut rows = 0;
    while out.written < bytes {
        out.put("INSERT INTO bulk (id, name, amount) VALUES\n")
            .map_err(fail)?;
        let mut in_statement = 0;
        loop {
            rows += 1;
            in_statement += 1;
            let last = in_statement == rows_per_statement || out.written >= bytes;
            out.put(&row(rows)).map_err(fail)?;
            out.put(if last { ";\n" } else { ",\n" }).map_err(fail)?;
            if last {
                break;
            }
        }
    }
    let written = out.written;
    out.inner.flush().map_err(fail)?;
    Ok((written, rows))
}

/// A buffered file that counts what was written to it.
struct CountingWriter {
    inner: std::io::BufWriter<std::fs::File>,
    written: u64,
}

impl CountingWriter {
    fn put(&mut self, text: &str) -> std::io::Result<()> {
        self.written += text.len() as u64;
        self.inner.write_all(text.as_bytes())
    }
}
/// Runs the three migrations.
pub fn run(args: &Args, pgshift: PathBuf) -> Result<MemoryResults> {
    let root = match &args.tmpdir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .context("cannot create a temporary folder")?;
    let mb = u64::from(args.memory_mb) * 1024 * 1024;
    let cases = [
        ("one statement".to_string(), mb / 4, u64::MAX),
        ("bulk INSERTs".to_string(), mb / 2, ROWS_PER_STATEMENT),
        ("bulk INSERTs".to_string(), mb, ROWS_PER_STATEMENT),
    ];
    let cwd = root.path().join("cwd");
    std::fs::create_dir(&cwd).with_context(|| format!("cannot create {}", cwd.display()))?;
    let runner = Runner::new(&cwd)?;
    let cluster = crate::bench::start_cluster()?;
    let mut admin = postgres::Client::connect(&cluster.socket_url("postgres"), postgres::NoTls)
        .context("cannot connect to the temporary cluster")?;
    let mut runs = Vec::new();
    for (i, (label, bytes, per_statement)) in cases.into_iter().enumerate() {
        let dir = root.path().join(format!("case{i}"));
        progress(&format!(
            "writing {label}: {:.0} MB",
            bytes as f64 / 1048576.0
        ));
        let (file_bytes, rows) = generate(&dir, bytes, per_statement)?;
        let db = format!("bench_memory_{i}");
        admin.batch_execute(&format!("CREATE DATABASE {db}"))?;
        let url = cluster.socket_url(&db);
        let argv: [&OsStr; 5] = [
            "up".as_ref(),
            "--dir".as_ref(),
            dir.as_os_str(),
            "--database-url".as_ref(),
            url.as_ref(),
        ];
        progress(&format!("pgshift up: {label}"));
        let measured = runner.run(pgshift.as_os_str(), &argv)?;
        let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
        let count: i64 = client.query_one("SELECT count(*) FROM bulk", &[])?.get(0);
        ensure!(
            count as u64 == rows,
            "{label}: {count} rows arrived of {rows}"
        );
        drop(client);
        admin.batch_execute(&format!("DROP DATABASE {db}"))?;
        std::fs::remove_dir_all(&dir).ok();
        progress(&format!(
            "  {:.1} MB file: peak {:.1} MB",
            file_bytes as f64 / 1048576.0,
            kib_to_mb(measured.max_rss_kib)
        ));
        runs.push(MemoryRun {
            label,
            file_bytes,
            rows,
            measured,
        });
    }
    drop(admin);
    cluster
        .destroy()
        .context("cannot stop the temporary cluster")?;
    Ok(MemoryResults { runs })
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

/// The report as text.
pub fn text(results: &MemoryResults) -> String {
    let mut out = String::from("pgshift up memory benchmark: large migrations\n\n");
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>10} {:>9} {:>9} {:>9}  target: peak <= file + {HEADROOM_MB:.0} MB",
        "migration", "file MB", "rows", "time s", "peak MB", "limit MB"
    );
    for run in &results.runs {
        let peak = kib_to_mb(run.measured.max_rss_kib);
        let limit = mb(run.file_bytes) + HEADROOM_MB;
        let _ = writeln!(
            out,
            "{:<16} {:>9.1} {:>10} {:>9.2} {:>9.1} {:>9.1}  {}",
            run.label,
            mb(run.file_bytes),
            run.rows,
            run.measured.elapsed.as_secs_f64(),
            peak,
            limit,
            if peak <= limit { "PASS" } else { "MISS" }
        );
    }
    out
}

/// The report as JSON.
pub fn json(results: &MemoryResults) -> Value {
    let runs: Vec<Value> = results
        .runs
        .iter()
        .map(|run| {
            json!({
                "migration": run.label,
                "file_mb": mb(run.file_bytes),
                "rows": run.rows,
                "seconds": run.measured.elapsed.as_secs_f64(),
                "peak_mb": kib_to_mb(run.measured.max_rss_kib),
                "limit_mb": mb(run.file_bytes) + HEADROOM_MB,
            })
        })
        .collect();
    json!({ "benchmark": "memory", "runs": runs })
}
