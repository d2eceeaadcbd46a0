//! Summaries of repeated measurements.

use crate::measure::Measured;

/// Median, minimum and maximum wall time (seconds) and peak memory of a
/// series of runs of one command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of runs.
    pub runs: usize,
    /// Median seconds.
    pub median: f64,
    /// Fastest run, seconds.
    pub min: f64,
    /// Slowest run, seconds.
    pub max: f64,
    /// Largest peak resident set size of any run, KiB.
    pub max_rss_kib: u64,
    /// Median client CPU seconds (user + system).
    pub cpu: f64,
    /// Median server CPU seconds, when every run measured it.
    pub server_cpu: Option<f64>,
}

impl Summary {
    /// Summarises `runs`; `None` when there are none.
    pub fn of(runs: &[Measured]) -> Option<Summary> {
        let mut secs: Vec<f64> = runs.iter().map(|m| m.elapsed.as_secs_f64()).collect();
        secs.sort_by(f64::total_cmp);
        let n = secs.len();
        let server: Option<Vec<f64>> = runs
            .iter()
            .map(|m| m.server_cpu.map(|d| d.as_secs_f64()))
            .collect();
        Some(Summary {
            runs: n,
            median: median(secs.clone())?,
            min: secs[0],
            max: secs[n - 1],
            max_rss_kib: runs.iter().map(|m| m.max_rss_kib).max().unwrap_or(0),
            cpu: median(runs.iter().map(|m| m.cpu.as_secs_f64()).collect())?,
            server_cpu: server.and_then(median),
        })
    }
}

/// The median over rounds of the time of `runs[i]` divided by that of
/// `base[i]` (rounds where both ran). Methods alternate within a round, so
/// a pair ran under the same load: on a shared machine whose speed drifts
/// from one minute to the next, this is a steadier estimate of the ratio
/// than the ratio of the medians, which compares runs from different
/// moments.
pub fn paired_ratio(runs: &[Measured], base: &[Measured]) -> Option<f64> {
    let ratios = runs
        .iter()
        .zip(base)
        .map(|(a, b)| a.elapsed.as_secs_f64() / b.elapsed.as_secs_f64())
        .collect();
    median(ratios)
}

/// The median (mean of the middle two for an even count).
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// KiB as (decimal) megabytes, the unit of the memory target.
pub fn kib_to_mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn run(ms: u64, rss: u64) -> Measured {
        Measured {
            elapsed: Duration::from_millis(ms),
            max_rss_kib: rss,
            cpu: Duration::from_millis(ms / 2),
            server_cpu: None,
            stdout: String::new(),
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let odd = Summary::of(&[run(30, 1), run(10, 5), run(20, 3)]).unwrap();
        assert_eq!((odd.median, odd.min, odd.max), (0.02, 0.01, 0.03));
        assert_eq!(odd.max_rss_kib, 5);
        assert_eq!((odd.cpu, odd.server_cpu), (0.01, None));
        let even = Summary::of(&[run(40, 0), run(10, 0), run(20, 0), run(30, 0)]).unwrap();
        assert!((even.median - 0.025).abs() < 1e-12);
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn paired_ratio_compares_runs_of_the_same_round() {
        // The machine slowed down in the second round: both methods took
        // twice as long, the ratio stayed 1.1.
        let pgshift = [run(1100, 0), run(2200, 0), run(1100, 0)];
        let floor = [run(1000, 0), run(2000, 0), run(1000, 0)];
        let ratio = paired_ratio(&pgshift, &floor).unwrap();
        assert!((ratio - 1.1).abs() < 1e-9, "{ratio}");
        assert_eq!(paired_ratio(&[], &floor), None);
    }

    #[test]
    fn megabytes_are_decimal() {
        assert!((kib_to_mb(19_531) - 19.999_744).abs() < 1e-6);
    }
}
