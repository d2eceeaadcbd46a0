//! `pgshift rollback`: undo the newest migrations, after an informed yes.

use super::{migrator, show_progress};
use crate::args::RollbackArgs;
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use crate::settings::Settings;
use pgshift_core::migration::Version;
use pgshift_core::plan::RollbackTarget;
use pgshift_core::preview;

pub fn run(
    settings: &Settings,
    args: &RollbackArgs,
    out: &mut Output,
) -> Result<ExitStatus, Failure> {
    let target = match &args.to {
        Some(version) => RollbackTarget::To(version.clone()),
        None => RollbackTarget::Steps(args.steps.unwrap_or(1)),
    };
    let migrator = migrator(settings, out)?;
    let (plan, _) = migrator.plan().map_err(Failure::from)?;
    let steps = plan
        .rollback_steps(migrator.set(), &target)
        .map_err(|e| Failure::from(pgshift_core::Error::from(e)))?;
    let set = migrator.set();
    if steps.is_empty() {
        out.line("Nothing to roll back.");
        return Ok(ExitStatus::Success);
    }
    if args.dry_run {
        out.raw(preview::rollback_script(
            set,
            &steps,
            migrator.table(),
            &settings.run,
        ));
        return Ok(ExitStatus::Success);
    }
    let versions: Vec<Version> = steps
        .iter()
        .map(|&i| set.migrations()[i].version.clone())
        .collect();
    if !args.yes {
        if !out.interactive || out.json {
            return Err(Failure::new(
                ExitStatus::Declined,
                Problem::error(format!(
                    "rolling back {} needs confirmation, and stdin is not a terminal",
                    versions
                        .iter()
                        .map(Version::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_help("pass --yes to confirm non-interactively"),
            ));
        }
        out.diagnostic(format!(
            "{} this will roll back, newest first, on {}:\n",
            out.paint(Style::Warn, "warning:"),
            migrator.connection().redacted()
        ));
        for &index in &steps {
            let m = &set.migrations()[index];
            let rollback = m.rollback.as_ref().expect("planned rollbacks have a file");
            out.diagnostic(format!(
                "  {} {}  ({})\n",
                m.version,
                m.description,
                rollback.script.file().path().display()
            ));
        }
        let answer = out.ask("Type `yes` to continue: ");
        if answer.as_deref() != Some("yes") {
            out.diagnostic("Rollback cancelled; nothing was changed.\n");
            return Ok(ExitStatus::Declined);
        }
    }
    let report = migrator
        .rollback(&target, Some(&versions), &mut |p| show_progress(out, p))
        .map_err(Failure::from)?;
    if out.json {
        out.json_value(&serde_json::json!({ "ok": true, "rolled_back": report.done }));
    } else {
        out.line(format!(
            "{} {} migration(s): {}",
            out.paint(Style::Ok, "Rolled back"),
            report.done.len(),
            versions
                .iter()
                .map(Version::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(ExitStatus::Success)
}
