//! `pgshift up`: apply pending migrations.

use super::confirm::{confirm, Confirmation};
use super::{migrator, show_progress};
use crate::args::UpArgs;
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use pgshift_core::connect::ConnectionSettings;
use pgshift_core::executor::Outcome;
use pgshift_core::lint::{self, LintOptions};
use pgshift_core::migrator::Progress;
use pgshift_core::plan::{Plan, UpOptions};
use pgshift_core::preview;

pub fn run(
    settings: &crate::settings::Settings,
    args: &UpArgs,
    out: &mut Output,
) -> Result<ExitStatus, Failure> {
    let options = UpOptions {
        target: args.to.clone(),
        allow_modified: args.allow_modified,
        allow_missing: args.allow_missing,
        allow_unverified: args.allow_unverified,
        allow_out_of_order: args.allow_out_of_order,
        resume: args.resume,
    };
    let migrator =
        migrator(settings, out)?.with_backup(super::backup::options(settings, &args.safety));
    super::name_database(out, &migrator, false);

    if args.dry_run {
        let (_plan, steps) = migrator.up_preview(&options).map_err(Failure::from)?;
        let stakes = migrator
            .stakes(
                steps
                    .iter()
                    .map(|s| &migrator.set().migrations()[s.migration].script),
            )
            .map_err(Failure::from)?;
        let sql = preview::up_script(
            migrator.set(),
            &steps,
            migrator.table(),
            &settings.run,
            &stakes,
        );
        if out.json {
            out.json_value(&serde_json::json!({
                "ok": true,
                "dry_run": true,
                "pending": steps.iter().map(|s| &migrator.set().migrations()[s.migration].version).collect::<Vec<_>>(),
                "sql": sql,
            }));
        } else {
            out.raw(sql);
        }
        return Ok(ExitStatus::Success);
    }

    // A broken check file stops the run before anything changes.
    let checks = super::check::load(settings, args.safety.no_checks)?;

    // Lint what would run, then ask before pending migrations that destroy
    // data; `up` plans again under the lock.
    let (plan, pending) = migrator.up_preview(&options).map_err(Failure::from)?;
    if pending.is_empty() && plan.entries.iter().any(|e| e.applied.is_some()) {
        // Nothing to do: answer from the preview rather than taking the
        // lock on two more sessions. An empty database still goes through
        // `up` below, which creates the tracking table.
        report(
            out,
            migrator.connection(),
            &plan,
            &[],
            serde_json::json!({}),
        );
        return Ok(ExitStatus::Success);
    }
    if !args.no_lint {
        let mut rules = LintOptions {
            errors_only: true,
            ..super::lint::configured(settings)?
        };
        super::lint::judge_for_server(&mut rules, &migrator)?;
        let errors: Vec<Problem> = lint::lint_migrations(
            pending
                .iter()
                .map(|s| &migrator.set().migrations()[s.migration]),
            &rules,
        )
        .into_iter()
        .filter(|v| v.is_error())
        .map(|v| super::lint::problem(&v))
        .collect();
        if !errors.is_empty() {
            let mut failure = Failure::new(
                ExitStatus::Findings,
                Problem::error(format!(
                    "{} lint error(s) in pending migrations; nothing was applied",
                    errors.len()
                ))
                .with_help("fix them, silence one with `-- pgshift:ignore RULE` above the statement, or pass --no-lint"),
            );
            failure.problems.splice(0..0, errors);
            return Err(failure);
        }
    }
    let scripts = pending
        .iter()
        .map(|s| {
            let m = &migrator.set().migrations()[s.migration];
            (m, &m.script)
        })
        .collect();
    let confirmation = Confirmation {
        verb: "apply",
        scripts,
        always: false,
    };
    if !confirm(out, &migrator, &confirmation, args.yes)? {
        out.diagnostic("Cancelled; nothing was changed.\n");
        return Ok(ExitStatus::Declined);
    }

    let rehearsal = if args.rehearse && !pending.is_empty() {
        out.progress("rehearsing on a copy of the database first");
        out.progress_prefix = "rehearsal: ";
        let rehearsal = migrator.rehearse(&options, &checks, &settings.tools, &mut |progress| {
            show_progress(out, progress)
        });
        out.progress_prefix = "";
        let rehearsal = rehearsal.map_err(Failure::from)?;
        out.progress(format!(
            "  {} rehearsal passed on a copy ({} migration(s), {} health check(s)); the copy was dropped",
            out.paint(Style::Ok, "✓"),
            rehearsal.report.done.len(),
            rehearsal.checks.results.len()
        ));
        out.progress("applying to the real database");
        Some(rehearsal)
    } else {
        None
    };

    let mut backup = None;
    let outcome = migrator
        .up(&options, &mut |progress| {
            if let Progress::BackedUp { backup: written } = &progress {
                backup = Some(written.path.clone());
            }
            show_progress(out, progress)
        })
        .map_err(Failure::from)?;
    let done = &outcome.report.done;
    let checked = if done.is_empty() {
        None
    } else {
        super::check::after_change(&migrator, &checks, "the migration", done, out)?
    };
    report(
        out,
        migrator.connection(),
        &outcome.plan,
        done,
        serde_json::json!({
            "backup": backup,
            "rehearsal": rehearsal,
            "checks": checked.map(|c| c.results),
        }),
    );
    Ok(ExitStatus::Success)
}

/// Prints what `up` did, given the plan it started from; `extra` holds
/// more keys for the JSON document (backup, rehearsal, checks).
fn report(
    out: &mut Output,
    connection: &ConnectionSettings,
    plan: &Plan,
    done: &[Outcome],
    extra: serde_json::Value,
) {
    let current = plan
        .entries
        .iter()
        .filter(|e| e.applied.is_some())
        .map(|e| e.version.to_string())
        .chain(done.iter().map(|o| o.version.to_string()))
        .last();
    if out.json {
        let mut value = serde_json::json!({
            "ok": true,
            "database": connection.redacted(),
            "applied": done,
            "current_version": current,
        });
        if let (Some(map), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            map.extend(extra);
        }
        out.json_value(&value);
    } else if done.is_empty() {
        out.line(format!(
            "Nothing to apply; the database is up to date{}.",
            current
                .map(|v| format!(" at version {v}"))
                .unwrap_or_default()
        ));
    } else {
        // Waits for a busy database count: the time is the whole run's.
        let total: u64 = done.iter().map(|o| o.total_ms).sum();
        let attempts: u32 = done.iter().map(|o| o.attempts).sum();
        let retried = if attempts as usize > done.len() {
            format!(" ({attempts} attempts: the database was busy)")
        } else {
            String::new()
        };
        out.line(format!(
            "{} {} migration(s) in {total} ms{retried}; the database is at version {}.",
            out.paint(Style::Ok, "Applied"),
            done.len(),
            current.unwrap_or_default()
        ));
    }
}
