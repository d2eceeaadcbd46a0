//! `pgshift-bench --lock-contention`: what a migration blocked by a long
//! reader does to the application, with psql and with pgshift.
//!
//! On one throwaway cluster, for each method in turn, on a fresh database
//! initialised by `pgbench -i`:
//!
//! 1. `pgbench -c 8 -j 2` runs its TPC-B-like load (the application);
//! 2. a probe client, standing for one more application user, reads one
//!    row of `pgbench_accounts` every 10 ms and records how long each read
//!    took;
//! 3. after a second, a reader opens a transaction, reads the table (its
//!    `ACCESS SHARE` lock is held to the end of the transaction) and
//!    keeps it open for `--reader-secs` (default 15 s; 4 s with `--quick`);
//! 4. half a second later the migration starts:
//!    `ALTER TABLE pgbench_accounts ADD COLUMN note text`, run by
//!    `psql -c` (which waits for its lock as long as it takes) or by
//!    `pgshift up` with its defaults;
//! 5. the reader commits; the run goes on until the migration has ended
//!    and two more seconds have passed.
//!
//! A probe read slower than [`STALL`] counts as the application frozen for
//! that long. Reported per method: the longest stall, the total frozen time
//! (the sum of the stalls), how long after the reader ended the migration
//! finished, its exit status, and pgbench's transactions per second.
//!
//! Targets (from the issue): with pgshift, total frozen ≤ 2 s and the
//! migration done within 3 s of the reader ending. psql is the baseline.

use crate::Args;
use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A probe read slower than this counts as a stall.
const STALL: Duration = Duration::from_millis(100);

/// The probe's pace.
const PROBE_EVERY: Duration = Duration::from_millis(10);

/// Target: total frozen time with pgshift.
const TARGET_FROZEN: Duration = Duration::from_secs(2);

/// Target: the migration done this soon after the reader ended.
const TARGET_AFTER_READER: Duration = Duration::from_secs(3);

/// The migration.
const ALTER: &str = "ALTER TABLE pgbench_accounts ADD COLUMN note text";

/// One method's run.
#[derive(Debug)]
pub struct Scenario {
    /// `psql` or `pgshift`.
    pub method: &'static str,
    /// The longest probe read.
    pub longest_stall: Duration,
    /// The sum of the probe reads slower than [`STALL`].
    pub total_frozen: Duration,
    /// Probe reads slower than [`STALL`].
    pub stalls: usize,
    /// Probe reads in all.
    pub probes: usize,
    /// The migration's end minus the reader's (negative: before it).
    pub done_after_reader: f64,
    /// Whether the migration succeeded.
    pub succeeded: bool,
    /// pgbench's reported tps (excluding connections), if it said.
    pub tps: Option<f64>,
}

/// The whole benchmark.
#[derive(Debug)]
pub struct LockResults {
    /// How long the reader held its lock.
    pub reader: Duration,
    /// `SHOW server_version`.
    pub server_version: String,
    /// The pgbench binary.
    pub pgbench: PathBuf,
    /// psql, then pgshift.
    pub scenarios: Vec<Scenario>,
}

/// Runs the scenario for psql, then for pgshift.
pub fn run(args: &Args, pgshift: PathBuf) -> Result<LockResults> {
    let reader = Duration::from_secs(args.reader_secs.unwrap_or(if args.quick { 4 } else { 15 }));
    let pgbench = crate::snapshot::server_tool("pgbench");
    let psql = crate::snapshot::server_tool("psql");
    crate::bench::version_of(pgbench.as_os_str())
        .with_context(|| format!("pgbench makes the load; cannot run {}", pgbench.display()))?;
    let cluster = crate::bench::start_cluster()?;
    let mut admin = postgres::Client::connect(&cluster.url("postgres"), postgres::NoTls)
        .context("cannot connect to the temporary cluster")?;
    let server_version: String = admin.query_one("SHOW server_version", &[])?.get(0);
    let work = tempfile::tempdir()?;
    let mut scenarios = Vec::new();
    for method in ["psql", "pgshift"] {
        let db = format!("lock_{method}");
        admin.batch_execute(&format!("CREATE DATABASE {db}"))?;
        let url = cluster.url(&db);
        let status = Command::new(&pgbench)
            .args(["-i", "-q", "-s", "1", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .context("cannot run pgbench -i")?;
        ensure!(
            status.status.success(),
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        let migrate = match method {
            "psql" => {
                let mut cmd = Command::new(&psql);
                cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c", ALTER]);
                cmd
            }
            _ => {
                let dir = work.path().join("migration_scripts");
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("001_note.sql"), format!("{ALTER};\n"))?;
                let mut cmd = Command::new(&pgshift);
                cmd.current_dir(work.path())
                    .args(["up", "--database-url", &url])
                    .env_remove("DATABASE_URL");
                cmd
            }
        };
        crate::bench::progress(&format!(
            "{method}: pgbench load, a reader holding its lock {:.0} s, the migration",
            reader.as_secs_f64()
        ));
        let scenario = scenario(method, &url, &pgbench, migrate, reader)?;
        crate::bench::progress(&format!(
            "{method}: longest stall {:.2} s, frozen {:.2} s in all, done {:+.2} s after the reader",
            scenario.longest_stall.as_secs_f64(),
            scenario.total_frozen.as_secs_f64(),
            scenario.done_after_reader
        ));
        scenarios.push(scenario);
    }
    drop(admin);
    cluster
        .destroy()
        .context("cannot stop the temporary cluster")?;
    Ok(LockResults {
        reader,
        server_version,
        pgbench,
        scenarios,
    })
}

/// One run of the timeline in the module documentation.
fn scenario(
    method: &'static str,
    url: &str,
    pgbench: &Path,
    mut migrate: Command,
    reader_for: Duration,
) -> Result<Scenario> {
    // The whole timeline: a second before the reader, the reader, then the
    // migration's few seconds and two more.
    let load_secs = (reader_for.as_secs() + 6).to_string();
    let load = Command::new(pgbench)
        .args(["-n", "-c", "8", "-j", "2", "-T", &load_secs, url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start pgbench")?;
    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let stop = Arc::clone(&stop);
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        std::thread::spawn(move || -> Result<Vec<Duration>> {
            let read = client.prepare("SELECT abalance FROM pgbench_accounts WHERE aid = $1")?;
            let mut reads = Vec::new();
            let mut aid = 0i32;
            while !stop.load(Ordering::Relaxed) {
                aid = aid % 100_000 + 1;
                let started = Instant::now();
                client.query_one(&read, &[&aid])?;
                let took = started.elapsed();
                reads.push(took);
                std::thread::sleep(PROBE_EVERY.saturating_sub(took));
            }
            Ok(reads)
        })
    };
    let outcome = (|| -> Result<(f64, bool)> {
        std::thread::sleep(Duration::from_secs(1));
        let mut reader = postgres::Client::connect(url, postgres::NoTls)?;
        reader.batch_execute(
            "SET application_name = 'long-report'; BEGIN; SELECT count(*) FROM pgbench_accounts",
        )?;
        let reader_until = Instant::now() + reader_for;
        std::thread::sleep(Duration::from_millis(500));
        let mut migration = migrate
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the migration")?;
        std::thread::sleep(reader_until.saturating_duration_since(Instant::now()));
        reader.batch_execute("COMMIT")?;
        let reader_ended = Instant::now();
        let status = migration.wait()?;
        let done = Instant::now();
        let after = if done >= reader_ended {
            done.duration_since(reader_ended).as_secs_f64()
        } else {
            -reader_ended.duration_since(done).as_secs_f64()
        };
        std::thread::sleep(Duration::from_secs(2));
        Ok((after, status.success()))
    })();
    stop.store(true, Ordering::Relaxed);
    let reads = probe
        .join()
        .map_err(|_| anyhow::anyhow!("the probe panicked"))?;
    let output = load.wait_with_output()?;
    let (done_after_reader, succeeded) = outcome?;
    let reads = reads.context("the probe's query failed")?;
    if reads.is_empty() {
        bail!("the probe made no reads");
    }
    let stalls: Vec<Duration> = reads.iter().copied().filter(|d| *d > STALL).collect();
    Ok(Scenario {
        method,
        longest_stall: reads.iter().copied().max().unwrap_or_default(),
        total_frozen: stalls.iter().sum(),
        stalls: stalls.len(),
        probes: reads.len(),
        done_after_reader,
        succeeded,
        tps: tps(&String::from_utf8_lossy(&output.stdout)),
    })
}

/// `tps = 1234.5 (without initial connection time)` from pgbench's report.
fn tps(report: &str) -> Option<f64> {
    report
        .lines()
        .find(|l| l.starts_with("tps = "))?
        .trim_start_matches("tps = ")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// The report as text.
pub fn text(r: &LockResults) -> String {
    let mut out = format!(
        "Lock contention: pgbench -c 8 load, a reader holding ACCESS SHARE on pgbench_accounts for {:.0} s,\n\
         `{ALTER}` started 0.5 s into it. PostgreSQL {}; a probe read slower than {} ms is a stall.\n\n",
        r.reader.as_secs_f64(),
        r.server_version,
        STALL.as_millis()
    );
    out.push_str(&format!(
        "{:<9} {:>14} {:>14} {:>8} {:>20} {:>9} {:>8}\n",
        "method", "longest stall", "total frozen", "stalls", "done after reader", "result", "tps"
    ));
    for s in &r.scenarios {
        out.push_str(&format!(
            "{:<9} {:>12.2} s {:>12.2} s {:>8} {:>18.2} s {:>9} {:>8}\n",
            s.method,
            s.longest_stall.as_secs_f64(),
            s.total_frozen.as_secs_f64(),
            s.stalls,
            s.done_after_reader,
            if s.succeeded { "applied" } else { "FAILED" },
            s.tps
                .map(|t| format!("{t:.0}"))
                .unwrap_or_else(|| "?".into()),
        ));
    }
    if let Some(p) = r.scenarios.iter().find(|s| s.method == "pgshift") {
        let frozen_ok = p.total_frozen <= TARGET_FROZEN;
        let after_ok = p.succeeded && p.done_after_reader <= TARGET_AFTER_READER.as_secs_f64();
        out.push_str(&format!(
            "\ntarget: pgshift total frozen <= {:.0} s: {:.2} s {}\n\
             target: pgshift done within {:.0} s of the reader ending: {:+.2} s {}\n",
            TARGET_FROZEN.as_secs_f64(),
            p.total_frozen.as_secs_f64(),
            verdict(frozen_ok),
            TARGET_AFTER_READER.as_secs_f64(),
            p.done_after_reader,
            verdict(after_ok),
        ));
    }
    out
}

/// The report as JSON.
pub fn json(r: &LockResults) -> Value {
    json!({
        "reader_secs": r.reader.as_secs_f64(),
        "server_version": r.server_version,
        "pgbench": r.pgbench,
        "stall_threshold_ms": STALL.as_millis() as u64,
        "targets": {
            "total_frozen_secs": TARGET_FROZEN.as_secs_f64(),
            "done_after_reader_secs": TARGET_AFTER_READER.as_secs_f64(),
        },
        "scenarios": r.scenarios.iter().map(|s| json!({
            "method": s.method,
            "longest_stall_secs": s.longest_stall.as_secs_f64(),
            "total_frozen_secs": s.total_frozen.as_secs_f64(),
            "stalls": s.stalls,
            "probes": s.probes,
            "done_after_reader_secs": s.done_after_reader,
            "succeeded": s.succeeded,
            "tps": s.tps,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tps_from_the_pgbench_report() {
        let report =
            "latency average = 5.1 ms\ntps = 1563.402151 (without initial connection time)\n";
        assert_eq!(tps(report), Some(1563.402151));
        assert_eq!(tps("nothing"), None);
    }
}
