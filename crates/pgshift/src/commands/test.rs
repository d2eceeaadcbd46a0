//! `pgshift test`: prove every migration on a scratch database.

use super::{create_scratch, load_set, scratch_server, show_progress};
use crate::args::TestArgs;
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::settings::Settings;
use pgshift_core::migrator::Progress;
use pgshift_core::proof::{prove, Outcome, ProofEvent, ProofOptions, Scope};

pub fn run(settings: &Settings, args: &TestArgs, out: &mut Output) -> Result<ExitStatus, Failure> {
    let set = load_set(settings)?;
    let proof = ProofOptions {
        idempotency: !args.no_idempotency
            && settings
                .config
                .test
                .as_ref()
                .and_then(|t| t.idempotent)
                .unwrap_or(true),
        scope: match (&args.from, &args.only) {
            (_, Some(only)) => Scope::Only(only.clone()),
            (Some(from), None) => Scope::From(from.clone()),
            (None, None) => Scope::All,
        },
    };
    // An unknown version is refused before a scratch database is made.
    proof
        .scope
        .range(&set)
        .map_err(|e| Failure::from(pgshift_core::Error::Plan(e)))?;
    let server = scratch_server(settings, &args.scratch, out)?;
    let scratch = create_scratch(&server, out)?;
    let result = prove(
        &set,
        &settings.table,
        scratch.connection(),
        &settings.run,
        &proof,
        &mut |event| show(out, event),
    );
    // Dropped before reporting, so a failure to drop is seen.
    let name = scratch.name().to_string();
    if let Err(e) = scratch.drop_now() {
        out.diagnostic(format!(
            "{} could not drop scratch database {name}: {e}\n",
            out.paint(Style::Warn, "warning:")
        ));
    }
    let report = result.map_err(Failure::from)?;

    let mut report = report;
    let aborted = report.aborted.take().map(|a| {
        (
            (a.version, a.check),
            Failure::from(pgshift_core::Error::Exec(Box::new(a.failure))),
        )
    });
    let status = if aborted.is_some() {
        ExitStatus::MigrationFailed
    } else if report.findings.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    };

    if out.json {
        let migrations: Vec<serde_json::Value> = report
            .migrations
            .iter()
            .map(|m| {
                let checks: serde_json::Map<String, serde_json::Value> = m
                    .checks
                    .iter()
                    .map(|(check, outcome)| (check.to_string(), serde_json::json!(outcome)))
                    .collect();
                serde_json::json!({
                    "version": m.version,
                    "description": m.description,
                    "checks": checks,
                })
            })
            .collect();
        out.json_value(&serde_json::json!({
            "ok": status == ExitStatus::Success,
            "exit_code": status as u8,
            "migrations": migrations,
            "seed": report.seed,
            "seed_rows": report.seed_rows,
            "findings": report.findings,
            "warnings": report.warnings,
            "aborted": aborted.as_ref().map(|((version, check), failure)| serde_json::json!({
                "version": version,
                "check": check,
                "errors": failure.problems.iter().map(|p| p.to_json()).collect::<Vec<_>>(),
            })),
        }));
        return Ok(status);
    }

    for warning in &report.warnings {
        out.diagnostic(format!(
            "{} {warning}\n",
            out.paint(Style::Warn, "warning:")
        ));
    }
    for finding in &report.findings {
        let at = match &finding.version {
            Some(v) => format!("{v} {}", finding.check),
            None => finding.check.to_string(),
        };
        out.line(format!(
            "{} [{at}] {}",
            out.paint(Style::Error, "FAIL"),
            finding.message
        ));
    }
    if let Some(((version, check), failure)) = &aborted {
        for problem in &failure.problems {
            out.diagnostic(problem.render(out.color));
        }
        out.line(format!(
            "{} [{} {}] the {} step failed on the server; later migrations were not tested",
            out.paint(Style::Error, "FAIL"),
            version,
            check,
            check
        ));
    }
    let tested = report.migrations.len();
    if status == ExitStatus::Success {
        let seed = match report.seed {
            Some(Outcome::Passed) => ", seed_data.sql twice",
            _ => "",
        };
        let again = if proof.idempotency {
            "idempotent re-run, "
        } else {
            ""
        };
        out.line(format!(
            "{} {tested} migration(s) proven: apply, {again}exact rollback, re-apply{seed}",
            out.paint(Style::Ok, "ok:")
        ));
    } else {
        out.line(format!(
            "{} problem(s) in {tested} migration(s) tested",
            report.findings.len() + usize::from(aborted.is_some())
        ));
    }
    Ok(status)
}

fn show(out: &mut Output, event: ProofEvent<'_>) {
    match event {
        ProofEvent::Migration {
            migration,
            position,
            total,
        } => out.progress(format!(
            "[{position}/{total}] {} {}",
            out.paint(Style::Bold, &migration.version),
            migration.description
        )),
        ProofEvent::Checked { check, outcome } => {
            let mark = match outcome {
                Outcome::Passed => out.paint(Style::Ok, "✓"),
                Outcome::Failed => out.paint(Style::Error, "✗"),
                Outcome::Skipped => out.paint(Style::Dim, "-"),
            };
            let what = match check {
                pgshift_core::proof::Check::Apply => "apply",
                pgshift_core::proof::Check::Idempotent => "idempotent re-run",
                pgshift_core::proof::Check::Rollback => "rollback restores the schema",
                pgshift_core::proof::Check::Reapply => "re-apply",
                pgshift_core::proof::Check::Seed => "seed_data.sql twice, same row counts",
            };
            out.progress(format!("  {mark} {what}"));
        }
        ProofEvent::Prefix { count, before } => out.progress(format!(
            "applying the {count} migration(s) before {before} without checks"
        )),
        ProofEvent::Seed => out.progress("[seed] seed_data.sql"),
        ProofEvent::Exec(event) => match event {
            // Started/Finished lines would repeat what the checks say.
            pgshift_core::executor::Event::Started { .. }
            | pgshift_core::executor::Event::Finished { .. }
            | pgshift_core::executor::Event::Statement { .. } => {}
            // Re-running idempotent files raises "already exists, skipping"
            // notices by design; only warnings are worth showing here.
            pgshift_core::executor::Event::Notice { notice, .. }
                if notice.severity != "WARNING" => {}
            other => show_progress(out, Progress::Exec(other)),
        },
        _ => {}
    }
}
