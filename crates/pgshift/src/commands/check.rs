//! `pgshift check`, and the health checks that follow `up`, `rollback`
//! and `redo`.

use super::migrator;
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::check as render;
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use crate::settings::Settings;
use pgshift_core::check::{CheckReport, HealthChecks};
use pgshift_core::executor::Outcome;
use pgshift_core::migrator::Migrator;

/// Loads the checks folder (empty when it does not exist), before anything
/// changes, so a broken check file stops the run early.
pub fn load(settings: &Settings, skip: bool) -> Result<HealthChecks, Failure> {
    if skip {
        return Ok(HealthChecks::default());
    }
    HealthChecks::load(&settings.checks_dir)
        .map_err(|e| Failure::from(pgshift_core::Error::from(e)))
}

pub fn run(settings: &Settings, out: &mut Output) -> Result<ExitStatus, Failure> {
    let checks = load(settings, false)?;
    let migrator = migrator(settings, out)?;
    if checks.is_empty() {
        if out.json {
            out.json_value(&serde_json::json!({ "ok": true, "checks": [] }));
        } else {
            out.line(format!(
                "No health checks: {} has no .sql files.",
                settings.checks_dir.display()
            ));
        }
        return Ok(ExitStatus::Success);
    }
    let report = migrator.check(&checks).map_err(Failure::from)?;
    if out.json {
        out.json_value(&serde_json::json!({ "ok": report.passed(), "checks": report.results }));
        return Ok(if report.passed() {
            ExitStatus::Success
        } else {
            ExitStatus::HealthCheckFailed
        });
    }
    for result in &report.results {
        let mark = if result.failed() {
            out.paint(Style::Error, "failed")
        } else {
            out.paint(Style::Ok, "passed")
        };
        out.line(format!(
            "{mark}  {}  ({} ms)",
            result.name, result.duration_ms
        ));
    }
    if report.passed() {
        out.line(format!(
            "All {} health check(s) passed.",
            report.results.len()
        ));
        return Ok(ExitStatus::Success);
    }
    Err(Failure {
        status: ExitStatus::HealthCheckFailed,
        problems: render::problems(&report),
        completed: Vec::new(),
        failed_rollback: None,
    })
}

/// Runs the checks after a change that succeeded. A failure exits 8 and
/// says that the change itself stays; `completed` lists applied
/// migrations for that summary.
pub fn after_change(
    migrator: &Migrator,
    checks: &HealthChecks,
    what: &str,
    completed: &[Outcome],
    out: &mut Output,
) -> Result<Option<CheckReport>, Failure> {
    if checks.is_empty() {
        return Ok(None);
    }
    out.progress("running health checks");
    let report = migrator.check(checks).map_err(Failure::from)?;
    render::progress(out, &report);
    if report.passed() {
        return Ok(Some(report));
    }
    let failed: Vec<&str> = report.failures().map(|r| r.name.as_str()).collect();
    let mut problems = vec![Problem::error(format!(
        "{what} succeeded, but health check(s) failed: {}",
        failed.join(", ")
    ))
    .with_code("health-check")
    .with_help("the change was not undone; investigate, then `pgshift rollback` if needed")];
    problems.extend(render::problems(&report));
    Err(Failure {
        status: ExitStatus::HealthCheckFailed,
        problems,
        completed: completed.to_vec(),
        failed_rollback: None,
    })
}
