//! `pgshift-bench --snapshot`: reading a large schema, pgshift's catalog
//! snapshot against `pg_dump --schema-only`, on the same database in the
//! same run.
//!
//! The schema: `--tables` (default 2,000) tables of six columns (serial
//! primary key, text, numeric with a default, timestamptz with a default,
//! a foreign key to the previous table, a check constraint), each with an
//! index and a comment, plus one view and one function per 200 tables.
//!
//! Timed, in alternating order each round (`--rounds`, median reported):
//!
//! - `pgshift dump`: the whole process, as a user runs it: start,
//!   connect, snapshot, render SQL, write it (to /dev/null);
//! - `pg_dump --schema-only`: the same for pg_dump (the binary installed
//!   with the server programs);
//! - the library call `snapshot()` alone on an open connection, for where
//!   the time goes.
//!
//! Target (from the issue): `pgshift dump` at least as fast as pg_dump.

use crate::Args;
use anyhow::{ensure, Context, Result};
use pgshift_core::snapshot::{snapshot, SnapshotOptions};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What was measured.
#[derive(Debug)]
pub struct SnapshotResults {
    /// Tables generated.
    pub tables: u32,
    /// `SHOW server_version`.
    pub server_version: String,
    /// The pg_dump binary and its version.
    pub pg_dump: (PathBuf, String),
    /// The pgshift binary.
    pub pgshift: PathBuf,
    /// `pgshift dump` process times.
    pub pgshift_dump: Vec<Duration>,
    /// `pg_dump --schema-only` process times.
    pub pg_dump_runs: Vec<Duration>,
    /// In-process `snapshot()` times.
    pub library: Vec<Duration>,
    /// Output sizes (pgshift, pg_dump), bytes.
    pub sizes: (usize, usize),
}

/// The generated schema.
fn schema_sql(tables: u32) -> String {
    let mut sql = String::new();
    for i in 0..tables {
        let fk = if i > 0 {
            format!(" REFERENCES t{} (id) ON DELETE CASCADE", i - 1)
        } else {
            String::new()
        };
        sql.push_str(&format!(
            "CREATE TABLE t{i} (id serial PRIMARY KEY, name text NOT NULL, \
             amount numeric(12,2) DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now(), \
             parent int{fk}, note varchar(200), CONSTRAINT t{i}_amount_check CHECK (amount >= 0));\n\
             CREATE INDEX t{i}_name_idx ON t{i} (name);\n\
             COMMENT ON TABLE t{i} IS 'table {i}';\n"
        ));
        if i % 200 == 199 {
            sql.push_str(&format!(
                "CREATE VIEW v{i} AS SELECT id, name, amount FROM t{i} WHERE amount > 0;\n\
                 CREATE FUNCTION f{i}(x integer) RETURNS bigint LANGUAGE sql STABLE \
                 AS 'SELECT count(*) FROM t{i} WHERE id > x';\n"
            ));
        }
    }
    sql
}

/// Runs the snapshot benchmark.
pub fn run(args: &Args, pgshift: PathBuf) -> Result<SnapshotResults> {
    let pg_dump = server_tool("pg_dump");
    let pg_dump_version = crate::bench::version_of(pg_dump.as_os_str())
        .with_context(|| format!("pg_dump is the baseline; cannot run {}", pg_dump.display()))?;
    let cluster = crate::bench::start_cluster()?;
    let url = cluster.url("postgres");
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)
        .context("cannot connect to the temporary cluster")?;
    let server_version: String = admin.query_one("SHOW server_version", &[])?.get(0);
    admin.batch_execute("CREATE DATABASE snapshot_bench")?;
    let db_url = cluster.url("snapshot_bench");
    let mut client = postgres::Client::connect(&db_url, postgres::NoTls)?;
    crate::bench::progress(&format!("creating {} tables", args.tables));
    client.batch_execute(&schema_sql(args.tables))?;
    client.batch_execute("VACUUM ANALYZE")?;

    let work = tempfile::tempdir()?;
    // `pgshift dump` loads the (here empty) migration folder first.
    std::fs::create_dir(work.path().join("migration_scripts"))?;
    let pgshift_cmd = || {
        let mut cmd = Command::new(&pgshift);
        cmd.current_dir(work.path())
            .args(["dump", "--database-url", &db_url])
            .env_remove("DATABASE_URL");
        cmd
    };
    let pg_dump_cmd = || {
        let mut cmd = Command::new(&pg_dump);
        cmd.args(["--schema-only", "--no-password", "--dbname", &db_url]);
        cmd
    };
    // Check both once, and warm the caches.
    let ours = output_of(pgshift_cmd())?;
    let theirs = output_of(pg_dump_cmd())?;
    let created = ours.matches("CREATE TABLE ").count();
    ensure!(
        created == args.tables as usize,
        "pgshift dump created {created} tables, expected {}",
        args.tables
    );

    let (mut a, mut b, mut lib) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..args.rounds {
        let first_pgshift = round % 2 == 0;
        for turn in 0..2 {
            if (turn == 0) == first_pgshift {
                a.push(time(pgshift_cmd())?);
            } else {
                b.push(time(pg_dump_cmd())?);
            }
        }
        let started = Instant::now();
        let schema = snapshot(&mut client, &SnapshotOptions::default())?;
        lib.push(started.elapsed());
        ensure!(
            schema.tables.len() == args.tables as usize,
            "snapshot missed tables"
        );
        crate::bench::progress(&format!(
            "round {}/{}: pgshift dump {:.3} s, pg_dump --schema-only {:.3} s, snapshot() {:.3} s",
            round + 1,
            args.rounds,
            a.last().unwrap().as_secs_f64(),
            b.last().unwrap().as_secs_f64(),
            lib.last().unwrap().as_secs_f64()
        ));
    }
    drop(client);
    drop(admin);
    cluster
        .destroy()
        .context("cannot stop the temporary cluster")?;
    Ok(SnapshotResults {
        tables: args.tables,
        server_version,
        pg_dump: (pg_dump, pg_dump_version),
        pgshift,
        pgshift_dump: a,
        pg_dump_runs: b,
        library: lib,
        sizes: (ours.len(), theirs.len()),
    })
}

fn output_of(mut cmd: Command) -> Result<String> {
    let output = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    ensure!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn time(mut cmd: Command) -> Result<Duration> {
    let started = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let elapsed = started.elapsed();
    ensure!(status.success(), "{cmd:?} failed");
    Ok(elapsed)
}

/// A program installed with the server binaries (not Debian's wrapper on
/// PATH), else from PATH.
pub(crate) fn server_tool(name: &str) -> PathBuf {
    pgshift_cluster::Binaries::find()
        .ok()
        .and_then(|b| std::fs::canonicalize(b.initdb()).ok())
        .and_then(|initdb| Some(initdb.parent()?.join(name)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn median(values: &[Duration]) -> f64 {
    let mut v: Vec<f64> = values.iter().map(Duration::as_secs_f64).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min(values: &[Duration]) -> f64 {
    values
        .iter()
        .map(Duration::as_secs_f64)
        .fold(f64::INFINITY, f64::min)
}

/// The report as text.
pub fn text(r: &SnapshotResults) -> String {
    let (ours, theirs) = (median(&r.pgshift_dump), median(&r.pg_dump_runs));
    let ratio = theirs / ours;
    format!(
        "schema snapshot of {} tables (PostgreSQL {}), median of {} rounds\n\
         pgshift:  {}\n\
         pg_dump:  {} ({})\n\n\
         {:<28} {:>9} {:>9}\n\
         {:<28} {:>8.3}s {:>8.3}s\n\
         {:<28} {:>8.3}s {:>8.3}s\n\
         {:<28} {:>8.3}s {:>8.3}s\n\n\
         output: pgshift dump {} bytes, pg_dump {} bytes\n\
         ratio pg_dump / pgshift dump: {ratio:.2}x ({})\n\
         target: pgshift dump at least as fast as pg_dump --schema-only: {}\n",
        r.tables,
        r.server_version,
        r.pgshift_dump.len(),
        r.pgshift.display(),
        r.pg_dump.0.display(),
        r.pg_dump.1,
        "",
        "median",
        "min",
        "pgshift dump (process)",
        ours,
        min(&r.pgshift_dump),
        "pg_dump --schema-only",
        theirs,
        min(&r.pg_dump_runs),
        "snapshot() (library call)",
        median(&r.library),
        min(&r.library),
        r.sizes.0,
        r.sizes.1,
        if ratio >= 1.0 {
            "pgshift faster"
        } else {
            "pgshift slower"
        },
        if ratio >= 1.0 { "PASS" } else { "MISS" },
    )
}

/// The report as JSON.
pub fn json(r: &SnapshotResults) -> serde_json::Value {
    let secs = |v: &[Duration]| v.iter().map(Duration::as_secs_f64).collect::<Vec<_>>();
    serde_json::json!({
        "benchmark": "snapshot",
        "tables": r.tables,
        "server_version": r.server_version,
        "pg_dump": { "path": r.pg_dump.0, "version": r.pg_dump.1 },
        "pgshift": r.pgshift,
        "pgshift_dump_s": secs(&r.pgshift_dump),
        "pg_dump_s": secs(&r.pg_dump_runs),
        "snapshot_library_s": secs(&r.library),
        "median_s": {
            "pgshift_dump": median(&r.pgshift_dump),
            "pg_dump": median(&r.pg_dump_runs),
            "snapshot_library": median(&r.library),
        },
        "ratio_pg_dump_over_pgshift": median(&r.pg_dump_runs) / median(&r.pgshift_dump),
        "output_bytes": { "pgshift": r.sizes.0, "pg_dump": r.sizes.1 },
        "target_met": median(&r.pg_dump_runs) >= median(&r.pgshift_dump),
    })
}
