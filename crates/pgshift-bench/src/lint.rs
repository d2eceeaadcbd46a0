//! `--lint`: how long `pgshift lint` takes on a folder of `--migrations`
//! generated migrations of about 100 lines each (the target: 1,000
//! of them in under a second).
//!
//! Each migration is a realistic file of the kind the seed describes: a
//! table of thirty-odd columns, two indexes, a trigger function, comments,
//! an idempotent insert, an update and a view, with a rollback file that
//! drops what it created. No database is involved.
//!
//! Measured, interleaved within each round:
//! - `pgshift lint`: every default rule, squawk's included;
//! - `pgshift lint --exclude squawk`: pgshift's own rules only;
//! - `cat` of every file: the floor for reading the folder at all.
//!
//! Then, for how lint grows with one file's size, `pgshift lint` on a single
//! migration of `--lint-mb / 4` and `--lint-mb` MB of one-row `INSERT`s,
//! each a `non-idempotent` finding (text and `--format json`). The issue
//! measured 0.86 s for 1 MB and 11.8 s for 4 MB (quadratic); the target is
//! linear growth and 4 MB in 0.5 s.

use crate::measure::{Measured, Runner};
use crate::stats::{kib_to_mb, Summary};
use crate::Args;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The target for linting 1,000 migrations, in seconds.
const TARGET_SECONDS: f64 = 1.0;

/// The target for linting one 4 MB migration, in seconds.
const LARGE_TARGET_SECONDS: f64 = 0.5;

/// What was measured.
#[derive(Debug)]
pub struct LintResults {
    migrations: u32,
    lines: usize,
    rounds: Vec<(&'static str, Vec<Measured>)>,
    /// One large migration: its size in bytes, the output format, runs.
    large: Vec<(u64, &'static str, Vec<Measured>)>,
}

/// Writes one migration of about `bytes` of one-row INSERTs into `dir`.
fn generate_large(dir: &Path, bytes: u64) -> Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut sql = String::from("-- Description: many rows\n");
    let mut i = 0u64;
    while (sql.len() as u64) < bytes {
        i += 1;
        let _ = writeln!(sql, "INSERT INTO t (id, name) VALUES ({i}, 'name {i}');");
    }
    for (name, text) in [
        ("001_rows.sql", sql.as_str()),
        ("rollback_001.sql", "DELETE FROM t;\n"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(sql.len() as u64)
}

/// One forward migration of about 100 lines.
fn migration_sql(i: u32) -> String {
    let mut sql = format!(
        "-- Migration: {i:04}\n-- Description: Add table t{i} with its indexes, trigger and view\n\
         -- Author: pgshift-bench\n\nCREATE TABLE IF NOT EXISTS t{i} (\n    \
         id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
    );
    for column in 0..48 {
        let kind = ["TEXT", "BIGINT", "BOOLEAN DEFAULT false", "TIMESTAMPTZ"][column % 4];
        let _ = writeln!(sql, "    col_{column} {kind},");
    }
    let _ = write!(
        sql,
        "    created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    \
         updated_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP\n);\n\n\
         CREATE INDEX IF NOT EXISTS t{i}_col_0_idx ON t{i} (col_0);\n\
         CREATE INDEX IF NOT EXISTS t{i}_created_idx ON t{i} (created_at DESC)\n    \
         WHERE col_2 IS NOT TRUE;\n\n\
         CREATE OR REPLACE FUNCTION t{i}_touch() RETURNS trigger\nLANGUAGE plpgsql AS $$\nBEGIN\n    \
         -- keep updated_at honest; a semicolon; in a comment\n    \
         NEW.updated_at := CURRENT_TIMESTAMP;\n    \
         IF NEW.col_0 IS NULL THEN\n        NEW.col_0 := 'n/a';\n    END IF;\n    \
         RETURN NEW;\nEND\n$$;\n\n\
         DROP TRIGGER IF EXISTS t{i}_touch ON t{i};\n\
         CREATE TRIGGER t{i}_touch BEFORE UPDATE ON t{i}\n    \
         FOR EACH ROW EXECUTE FUNCTION t{i}_touch();\n\n\
         COMMENT ON TABLE t{i} IS 'generated table {i}';\n\
         COMMENT ON COLUMN t{i}.col_0 IS 'the first column; indexed';\n\n\
         INSERT INTO t{i} (col_0, col_1, col_2)\nVALUES ('a', 1, true), ('b', 2, false)\n\
         ON CONFLICT DO NOTHING;\n\n\
         UPDATE t{i} SET col_4 = 'x' WHERE col_4 IS NULL;\n\n\
         CREATE OR REPLACE VIEW t{i}_recent AS\nSELECT id, col_0, created_at\nFROM t{i}\n\
         WHERE created_at > CURRENT_TIMESTAMP - INTERVAL '7 days';\n\n\
         -- Verification\nDO $$\nBEGIN\n    \
         IF NOT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_name = 't{i}') THEN\n        \
         RAISE EXCEPTION 'table t{i} missing';\n    END IF;\nEND\n$$;\n"
    );
    sql
}

/// Its rollback.
fn rollback_sql(i: u32) -> String {
    format!(
        "-- Rollback: {i:04}\nDROP VIEW IF EXISTS t{i}_recent;\nDROP TRIGGER IF EXISTS t{i}_touch ON t{i};\n\
         DROP FUNCTION IF EXISTS t{i}_touch();\nDROP TABLE IF EXISTS t{i};\n"
    )
}

/// Writes the folder; returns every file written and the forward files'
/// total line count.
fn generate(dir: &Path, count: u32) -> Result<(Vec<PathBuf>, usize)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = Vec::new();
    let mut lines = 0;
    for i in 1..=count {
        let forward = migration_sql(i);
        lines += forward.lines().count();
        for (name, text) in [
            (format!("{i:04}_t{i}.sql"), forward),
            (format!("rollback_{i:04}.sql"), rollback_sql(i)),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            files.push(path);
        }
    }
    Ok((files, lines))
}

/// Runs the rounds.
pub fn run(args: &Args, pgshift: PathBuf) -> Result<LintResults> {
    let root = match &args.tmpdir {
        Some(dir) => tempfile::tempdir_in(dir),
        None if Path::new("/dev/shm").is_dir() => tempfile::tempdir_in("/dev/shm"),
        None => tempfile::tempdir(),
    }
    .context("cannot create a temporary folder")?;
    let dir = root.path().join("migrations");
    eprintln!(
        "pgshift-bench: writing {} migrations of about 100 lines",
        args.migrations
    );
    let (files, lines) = generate(&dir, args.migrations)?;
    let runner = Runner::new(root.path())?;
    let pgshift = pgshift.into_os_string();
    let dir_arg = dir.clone().into_os_string();
    let cat_args: Vec<&OsStr> = files.iter().map(|f| f.as_os_str()).collect();
    let lint_all: Vec<&OsStr> = vec![OsStr::new("--dir"), &dir_arg, OsStr::new("lint")];
    let lint_own: Vec<&OsStr> = lint_all
        .iter()
        .copied()
        .chain([OsStr::new("--exclude"), OsStr::new("squawk")])
        .collect();
    let methods: [(&'static str, &OsStr, &[&OsStr]); 3] = [
        ("pgshift lint", &pgshift, &lint_all),
        ("pgshift lint --exclude squawk", &pgshift, &lint_own),
        (
            "cat every file (reading floor)",
            OsStr::new("cat"),
            &cat_args,
        ),
    ];
    let mut rounds: Vec<(&'static str, Vec<Measured>)> = methods
        .iter()
        .map(|(label, _, _)| (*label, Vec::new()))
        .collect();
    for round in 0..args.warmup + args.rounds {
        let timed = round >= args.warmup;
        for (i, (label, program, argv)) in methods.iter().enumerate() {
            let measured = runner.run(program, argv)?;
            if i < 2 && !measured.stdout.contains("no lint findings") {
                bail!(
                    "`{label}` found something in the generated folder:\n{}",
                    measured.stdout
                );
            }
            if timed {
                rounds[i].1.push(measured);
            }
        }
        eprintln!(
            "pgshift-bench: lint round {}/{}{}",
            round + 1,
            args.warmup + args.rounds,
            if timed { "" } else { " (warm-up)" }
        );
    }
    let mut large = Vec::new();
    let mb = u64::from(args.lint_mb) * 1024 * 1024;
    for bytes in [mb / 4, mb] {
        let dir = root.path().join(format!("large_{bytes}"));
        let size = generate_large(&dir, bytes)?;
        let dir_arg = dir.into_os_string();
        for format in ["text", "json"] {
            let argv: [&OsStr; 5] = [
                "--dir".as_ref(),
                &dir_arg,
                "lint".as_ref(),
                "--format".as_ref(),
                format.as_ref(),
            ];
            let mut runs = Vec::new();
            for _ in 0..args.rounds.min(3) {
                runs.push(runner.run(&pgshift, &argv)?);
            }
            eprintln!(
                "pgshift-bench: lint of one {:.1} MB migration ({format}): {:.3} s",
                size as f64 / 1048576.0,
                Summary::of(&runs).map_or(0.0, |s| s.median)
            );
            large.push((size, format, runs));
        }
    }
    Ok(LintResults {
        migrations: args.migrations,
        lines,
        rounds,
        large,
    })
}

/// The report as text.
pub fn text(results: &LintResults) -> String {
    let mut out = format!(
        "pgshift lint benchmark: {} migrations, {} lines of forward SQL (about {} a file), with rollbacks\n\n",
        results.migrations,
        results.lines,
        results.lines / results.migrations.max(1) as usize
    );
    let _ = writeln!(
        out,
        "{:<34} {:>5} {:>9} {:>8} {:>8} {:>9} {:>7}",
        "method", "runs", "median s", "min s", "max s", "client s", "peak MB"
    );
    for (label, runs) in &results.rounds {
        if let Some(s) = Summary::of(runs) {
            let _ = writeln!(
                out,
                "{label:<34} {:>5} {:>9.3} {:>8.3} {:>8.3} {:>9.3} {:>7.1}",
                s.runs,
                s.median,
                s.min,
                s.max,
                s.cpu,
                kib_to_mb(s.max_rss_kib)
            );
        }
    }
    if let Some(s) = Summary::of(&results.rounds[0].1) {
        let scaled = s.median * 1000.0 / f64::from(results.migrations.max(1));
        let _ = writeln!(
            out,
            "\ntarget (informational):\n  {}  lint 1,000 migrations under {TARGET_SECONDS:.0} s   {scaled:.3} s (median, per 1,000)",
            if scaled < TARGET_SECONDS { "PASS" } else { "MISS" }
        );
    }
    let _ = writeln!(
        out,
        "\none migration of one-row INSERTs, a non-idempotent finding each:\n{:<10} {:>8} {:>9} {:>9} {:>8}",
        "file MB", "format", "median s", "s per MB", "peak MB"
    );
    for (bytes, format, runs) in &results.large {
        if let Some(s) = Summary::of(runs) {
            let mb = *bytes as f64 / 1048576.0;
            let _ = writeln!(
                out,
                "{mb:<10.1} {format:>8} {:>9.3} {:>9.3} {:>8.1}",
                s.median,
                s.median / mb,
                kib_to_mb(s.max_rss_kib)
            );
        }
    }
    if let Some((bytes, _, runs)) = results.large.iter().rfind(|(_, f, _)| *f == "text") {
        if let Some(s) = Summary::of(runs) {
            let mb = *bytes as f64 / 1048576.0;
            let _ = writeln!(
                out,
                "  {}  lint one {mb:.0} MB migration under {LARGE_TARGET_SECONDS} s   {:.3} s (median, text)",
                if s.median <= LARGE_TARGET_SECONDS { "PASS" } else { "MISS" },
                s.median
            );
        }
    }
    out
}

/// The report as JSON.
pub fn json(results: &LintResults) -> Value {
    let methods: Vec<Value> = results
        .rounds
        .iter()
        .filter_map(|(label, runs)| {
            Summary::of(runs).map(|s| {
                json!({
                    "method": label,
                    "runs": s.runs,
                    "median_s": s.median,
                    "min_s": s.min,
                    "max_s": s.max,
                    "client_cpu_s": s.cpu,
                    "peak_mb": kib_to_mb(s.max_rss_kib),
                })
            })
        })
        .collect();
    let large: Vec<Value> = results
        .large
        .iter()
        .filter_map(|(bytes, format, runs)| {
            Summary::of(runs).map(|s| {
                json!({
                    "file_mb": *bytes as f64 / 1048576.0,
                    "format": format,
                    "median_s": s.median,
                    "peak_mb": kib_to_mb(s.max_rss_kib),
                })
            })
        })
        .collect();
    json!({
        "benchmark": "lint",
        "migrations": results.migrations,
        "forward_lines": results.lines,
        "methods": methods,
        "large_file": large,
    })
}
