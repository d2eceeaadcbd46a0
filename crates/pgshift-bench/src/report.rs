//! The report: a table for people, JSON for tools, and the targets.

use crate::bench::{Method, Results, METHODS};
use crate::stats::{kib_to_mb, Summary};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// `pgshift up` may take at most this many times the psql floor.
const MAX_RATIO_TO_FLOOR: f64 = 1.1;
/// The per-file loop must take at least this many times `pgshift up`.
const MIN_SPEEDUP_OVER_LOOP: f64 = 3.0;
/// No-op `up` and `status` at 1,000 applied, milliseconds (median): ahead
/// of refinery's 17 ms in the measurement.
const MAX_NOOP_MS: f64 = 15.0;
/// Peak resident memory of a no-op `up`, MB (the issue measured sqlx at 7.1).
const MAX_NOOP_RSS_MB: f64 = 8.0;
/// Peak resident memory of any pgshift run, MB.
const MAX_RSS_MB: f64 = 20.0;

/// One target and how the run fared.
#[derive(Debug)]
struct Target {
    what: &'static str,
    measured: Option<f64>,
    shown: String,
    pass: Option<bool>,
}

fn summary(results: &Results, method: Method) -> Option<Summary> {
    Summary::of(results.runs_of(method))
}

fn ratio(a: Option<Summary>, b: Option<Summary>) -> Option<f64> {
    Some(a?.median / b?.median)
}

/// `method`'s time against `base`'s, round by round (see
/// [`paired_ratio`](crate::stats::paired_ratio)).
fn paired_ratio(results: &Results, method: Method, base: Method) -> Option<f64> {
    crate::stats::paired_ratio(results.runs_of(method), results.runs_of(base))
}

fn targets(results: &Results) -> Vec<Target> {
    let pgshift = summary(results, Method::Pgshift);
    let floor = summary(results, Method::PsqlSession);
    let looped = summary(results, Method::PsqlLoop);
    let noop = Summary::of(&results.noop_up);
    let status = Summary::of(&results.status);
    let rss_full = results
        .runs_of(Method::Pgshift)
        .iter()
        .chain([&results.setup_up])
        .map(|m| m.max_rss_kib)
        .max()
        .map(kib_to_mb);
    let rss_noop = noop.map(|s| kib_to_mb(s.max_rss_kib));
    let rss_status = status.map(|s| kib_to_mb(s.max_rss_kib));
    let below = |v: Option<f64>, limit: f64| v.map(|v| v < limit);
    let vs_floor = paired_ratio(results, Method::Pgshift, Method::PsqlSession);
    let speedup = ratio(looped, pgshift);
    let noop_ms = noop.map(|s| s.median * 1e3);
    let status_ms = status.map(|s| s.median * 1e3);
    let fmt = |v: Option<f64>, unit: &str, digits: usize| match v {
        Some(v) => format!("{v:.digits$}{unit}"),
        None => "not run".into(),
    };
    vec![
        Target {
            what: "pgshift up within 1.1x of the psql floor",
            measured: vs_floor,
            shown: match ratio(pgshift, floor) {
                Some(of_medians) => format!(
                    "{} per round ({of_medians:.2}x of medians)",
                    fmt(vs_floor, "x", 2)
                ),
                None => fmt(vs_floor, "x", 2),
            },
            pass: vs_floor.map(|r| r <= MAX_RATIO_TO_FLOOR),
        },
        Target {
            what: "pgshift up at least 3x faster than the per-file loop",
            measured: speedup,
            shown: fmt(speedup, "x", 1),
            pass: speedup.map(|r| r >= MIN_SPEEDUP_OVER_LOOP),
        },
        Target {
            what: "no-op up within 15 ms (median, TCP, fsync on)",
            measured: noop_ms,
            shown: fmt(noop_ms, " ms", 1),
            pass: noop_ms.map(|v| v <= MAX_NOOP_MS),
        },
        Target {
            what: "status within 15 ms (median, TCP, fsync on)",
            measured: status_ms,
            shown: fmt(status_ms, " ms", 1),
            pass: status_ms.map(|v| v <= MAX_NOOP_MS),
        },
        Target {
            what: "peak memory of a full up under 20 MB",
            measured: rss_full,
            shown: fmt(rss_full, " MB", 1),
            pass: below(rss_full, MAX_RSS_MB),
        },
        Target {
            what: "peak memory of no-op up within 8 MB",
            measured: rss_noop,
            shown: fmt(rss_noop, " MB", 1),
            pass: rss_noop.map(|v| v <= MAX_NOOP_RSS_MB),
        },
        Target {
            what: "peak memory of status under 20 MB",
            measured: rss_status,
            shown: fmt(rss_status, " MB", 1),
            pass: below(rss_status, MAX_RSS_MB),
        },
    ]
}

/// The human-readable report.
pub fn text(results: &Results) -> String {
    let mut out = String::new();
    let n = results.migrations;
    let _ = writeln!(
        out,
        "\npgshift benchmark: {n} migrations (CREATE TABLE + CREATE INDEX + INSERT each)"
    );
    let _ = writeln!(
        out,
        "server PostgreSQL {} (throwaway cluster in {}, fsync off, unix socket)",
        results.server_version,
        results.tmpdir.display()
    );
    let _ = writeln!(
        out,
        "psql: {} ({})",
        results.psql_path.display(),
        results.psql_version
    );
    let _ = writeln!(
        out,
        "pgshift: {} ({})",
        results.pgshift_path.display(),
        results.pgshift_version
    );
    let _ = writeln!(
        out,
        "{} round(s), per-file loop in {}, {} warm-up; wall time of the whole process\n",
        results.rounds, results.loop_rounds, results.warmup
    );

    let floor = summary(results, Method::PsqlSession);
    let _ = writeln!(
        out,
        "{:<36} {:>4} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7}",
        "method",
        "runs",
        "median s",
        "min s",
        "max s",
        "vs floor",
        "ms/migr",
        "client s",
        "server s",
        "peak MB"
    );
    for method in METHODS {
        let Some(s) = summary(results, method) else {
            let _ = writeln!(out, "{:<36} {:>4}", method.label(), 0);
            continue;
        };
        let _ = writeln!(
            out,
            "{:<36} {:>4} {:>9.3} {:>8.3} {:>8.3} {:>7.2}x {:>8.2} {:>9.3} {:>9} {:>7.1}",
            method.label(),
            s.runs,
            s.median,
            s.min,
            s.max,
            ratio(Some(s), floor).unwrap_or(f64::NAN),
            s.median * 1e3 / f64::from(n),
            s.cpu,
            s.server_cpu
                .map_or_else(|| "-".to_string(), |c| format!("{c:.2}")),
            kib_to_mb(s.max_rss_kib)
        );
    }
    let _ = writeln!(
        out,
        "(medians; client s = CPU of the client process(es), server s = CPU of their \
         backends, 10 ms ticks)"
    );

    let _ = writeln!(out, "\nwith all {n} migrations applied:");
    let _ = writeln!(
        out,
        "{:<36} {:>4} {:>9} {:>8} {:>8} {:>9} {:>7}",
        "command", "runs", "median ms", "min ms", "max ms", "client ms", "peak MB"
    );
    let refinery = results.refinery_noop.as_ref();
    for (label, runs) in [
        ("pgshift up (nothing to apply)", Some(&results.noop_up)),
        ("pgshift status", Some(&results.status)),
        ("refinery migrate (nothing to apply)", refinery),
        (
            "psql -c 'SELECT 1' (start+connect)",
            Some(&results.select_one),
        ),
    ]
    .into_iter()
    .filter_map(|(label, runs)| Some((label, runs?)))
    {
        if let Some(s) = Summary::of(runs) {
            let _ = writeln!(
                out,
                "{:<36} {:>4} {:>9.1} {:>8.1} {:>8.1} {:>9.1} {:>7.1}",
                label,
                s.runs,
                s.median * 1e3,
                s.min * 1e3,
                s.max * 1e3,
                s.cpu * 1e3,
                kib_to_mb(s.max_rss_kib)
            );
        }
    }

    let _ = writeln!(out, "\ntargets (informational):");
    for t in targets(results) {
        let verdict = match t.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "----",
        };
        let _ = writeln!(out, "  {verdict}  {:<54} {}", t.what, t.shown);
    }
    out
}

/// The JSON report.
pub fn json(results: &Results) -> Value {
    let floor = summary(results, Method::PsqlSession);
    let methods: Vec<Value> = METHODS
        .iter()
        .map(|&method| {
            let runs = results.runs_of(method);
            let s = Summary::of(runs);
            json!({
                "method": method.key(),
                "label": method.label(),
                "runs_s": runs.iter().map(|m| m.elapsed.as_secs_f64()).collect::<Vec<_>>(),
                "median_s": s.map(|s| s.median),
                "min_s": s.map(|s| s.min),
                "max_s": s.map(|s| s.max),
                "ratio_to_floor": ratio(s, floor),
                "paired_ratio_to_floor": paired_ratio(results, method, Method::PsqlSession),
                "client_cpu_s": s.map(|s| s.cpu),
                "server_cpu_s": s.and_then(|s| s.server_cpu),
                "peak_rss_kib": s.map(|s| s.max_rss_kib),
            })
        })
        .collect();
    let series = |runs: &[crate::measure::Measured]| {
        let s = Summary::of(runs);
        json!({
            "runs_ms": runs.iter().map(|m| m.elapsed.as_secs_f64() * 1e3).collect::<Vec<_>>(),
            "median_ms": s.map(|s| s.median * 1e3),
            "min_ms": s.map(|s| s.min * 1e3),
            "max_ms": s.map(|s| s.max * 1e3),
            "client_cpu_ms": s.map(|s| s.cpu * 1e3),
            "peak_rss_kib": s.map(|s| s.max_rss_kib),
        })
    };
    json!({
        "migrations": results.migrations,
        "rounds": results.rounds,
        "loop_rounds": results.loop_rounds,
        "warmup": results.warmup,
        "server_version": results.server_version,
        "psql": results.psql_path,
        "tmpdir": results.tmpdir,
        "psql_version": results.psql_version,
        "pgshift": results.pgshift_path,
        "pgshift_version": results.pgshift_version,
        "methods": methods,
        "applied": {
            "setup_up_peak_rss_kib": results.setup_up.max_rss_kib,
            "noop_up": series(&results.noop_up),
            "status": series(&results.status),
            "psql_select_1": series(&results.select_one),
            "refinery_noop": results.refinery_noop.as_deref().map(series),
        },
        "targets": targets(results).iter().map(|t| json!({
            "target": t.what,
            "measured": t.measured,
            "pass": t.pass,
        })).collect::<Vec<_>>(),
    })
}
