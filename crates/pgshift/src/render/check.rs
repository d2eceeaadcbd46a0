//! Health check results: one line per check, and a diagnostic per failure
//! with the check's file, the statement, and the rows it returned or the
//! error it raised.

use super::problem::{Problem, Snippet};
use crate::output::{Output, Style};
use pgshift_core::check::{CheckOutcome, CheckReport, CheckResult};

/// The most rows shown per failing check.
const SHOWN_ROWS: usize = 10;

/// One progress line per check on stderr.
pub fn progress(out: &mut Output, report: &CheckReport) {
    for result in &report.results {
        let mark = if result.failed() {
            out.paint(Style::Error, "✗")
        } else {
            out.paint(Style::Ok, "✓")
        };
        out.progress(format!(
            "  {mark} health check {} ({} ms)",
            result.name, result.duration_ms
        ));
    }
}

/// A diagnostic per failed check.
pub fn problems(report: &CheckReport) -> Vec<Problem> {
    report.failures().map(problem).collect()
}

fn problem(result: &CheckResult) -> Problem {
    match &result.outcome {
        CheckOutcome::Passed => Problem::error(format!("health check {} passed", result.name)),
        CheckOutcome::Rows {
            columns,
            rows,
            total,
            span,
        } => {
            let mut table = format!("returned {total} row(s):\n  {}", columns.join(" | "));
            for row in rows.iter().take(SHOWN_ROWS) {
                let cells: Vec<&str> = row.iter().map(|c| c.as_deref().unwrap_or("NULL")).collect();
                table.push_str(&format!("\n  {}", cells.join(" | ")));
            }
            if *total > SHOWN_ROWS.min(rows.len()) {
                table.push_str(&format!(
                    "\n  … and {} more",
                    total - SHOWN_ROWS.min(rows.len())
                ));
            }
            Problem::error(format!(
                "health check {} failed: {total} row(s) returned",
                result.name
            ))
            .with_code("health-check")
            .with_snippet(Snippet::new(
                &result.file,
                *span,
                "this query must return no rows",
            ))
            .with_help(table)
        }
        CheckOutcome::Raised { server, span } => {
            let mut problem = Problem::error(format!(
                "health check {} failed: {}",
                result.name, server.message
            ))
            .with_code(server.code.clone())
            .with_snippet(Snippet::new(&result.file, *span, "raised here"));
            for (label, value) in [
                ("detail", &server.detail),
                ("context", &server.context),
                ("hint", &server.hint),
            ] {
                if let Some(value) = value {
                    problem = problem.with_help(format!("{label}: {value}"));
                }
            }
            problem
        }
    }
}
