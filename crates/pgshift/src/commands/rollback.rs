//! `pgshift rollback`: undo the newest migrations, after an informed yes.

use super::confirm::{confirm, Confirmation};
use super::{migrator, show_progress};
use crate::args::{BaselineArgs, RedoArgs, RollbackArgs};
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::settings::Settings;
use pgshift_core::migration::Version;
use pgshift_core::migrator::Progress;
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
    let migrator =
        migrator(settings, out)?.with_backup(super::backup::options(settings, &args.safety));
    super::name_database(out, &migrator, false);
    let checks = super::check::load(settings, args.safety.no_checks)?;
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
        let stakes = migrator
            .stakes(
                steps
                    .iter()
                    .filter_map(|&i| set.migrations()[i].rollback.as_ref())
                    .map(|r| &r.script),
            )
            .map_err(Failure::from)?;
        out.raw(preview::rollback_script(
            set,
            &steps,
            migrator.table(),
            &settings.run,
            &stakes,
        ));
        return Ok(ExitStatus::Success);
    }
    let versions: Vec<Version> = steps
        .iter()
        .map(|&i| set.migrations()[i].version.clone())
        .collect();
    let scripts = steps
        .iter()
        .map(|&i| {
            let m = &set.migrations()[i];
            let rollback = m.rollback.as_ref().expect("planned rollbacks have a file");
            (m, &rollback.script)
        })
        .collect();
    let confirmation = Confirmation {
        verb: "roll back, newest first,",
        scripts,
        always: true,
    };
    if !confirm(out, &migrator, &confirmation, args.yes)? {
        out.diagnostic("Rollback cancelled; nothing was changed.\n");
        return Ok(ExitStatus::Declined);
    }
    let mut backup = None;
    let report = migrator
        .rollback(&target, Some(&versions), &mut |p| {
            if let Progress::BackedUp { backup: written } = &p {
                backup = Some(written.path.clone());
            }
            show_progress(out, p)
        })
        .map_err(Failure::from)?;
    let checked = super::check::after_change(&migrator, &checks, "the rollback", &[], out)?;
    if out.json {
        out.json_value(&serde_json::json!({
            "ok": true,
            "rolled_back": report.done,
            "backup": backup,
            "checks": checked.map(|c| c.results),
        }));
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

/// `pgshift redo`: the newest migration, rolled back and applied again.
pub fn redo(settings: &Settings, args: &RedoArgs, out: &mut Output) -> Result<ExitStatus, Failure> {
    let migrator =
        migrator(settings, out)?.with_backup(super::backup::options(settings, &args.safety));
    super::name_database(out, &migrator, false);
    let checks = super::check::load(settings, args.safety.no_checks)?;
    let (plan, _) = migrator.plan().map_err(Failure::from)?;
    let set = migrator.set();
    let steps = plan
        .rollback_steps(set, &RollbackTarget::Steps(1))
        .map_err(|e| Failure::from(pgshift_core::Error::from(e)))?;
    let Some(&index) = steps.first() else {
        out.line("Nothing to redo: no migration is applied.");
        return Ok(ExitStatus::Success);
    };
    let migration = &set.migrations()[index];
    let rollback = migration
        .rollback
        .as_ref()
        .expect("planned rollbacks have a file");
    let confirmation = Confirmation {
        verb: "roll back and re-apply",
        scripts: vec![(migration, &rollback.script)],
        always: true,
    };
    if !confirm(out, &migrator, &confirmation, args.yes)? {
        out.diagnostic("Redo cancelled; nothing was changed.\n");
        return Ok(ExitStatus::Declined);
    }
    let mut backup = None;
    let report = migrator
        .redo(Some(&migration.version), &mut |p| {
            if let Progress::BackedUp { backup: written } = &p {
                backup = Some(written.path.clone());
            }
            show_progress(out, p)
        })
        .map_err(Failure::from)?;
    let checked = super::check::after_change(&migrator, &checks, "the redo", &[], out)?;
    if out.json {
        out.json_value(&serde_json::json!({
            "ok": true,
            "done": report.done,
            "backup": backup,
            "checks": checked.map(|c| c.results),
        }));
    } else {
        out.line(format!(
            "{} {}: rolled back and applied again",
            out.paint(Style::Ok, "Redone"),
            migration.version
        ));
    }
    Ok(ExitStatus::Success)
}

/// `pgshift baseline VERSION`.
pub fn baseline(
    settings: &Settings,
    args: &BaselineArgs,
    out: &mut Output,
) -> Result<ExitStatus, Failure> {
    let migrator = migrator(settings, out)?;
    let marked = migrator.baseline(&args.version).map_err(Failure::from)?;
    if out.json {
        out.json_value(&serde_json::json!({ "ok": true, "marked": marked }));
    } else if marked.is_empty() {
        out.line(format!(
            "Nothing to mark: every migration up to {} is already applied.",
            args.version
        ));
    } else {
        out.line(format!(
            "{} {} migration(s) as applied without running them: {}",
            out.paint(Style::Ok, "Marked"),
            marked.len(),
            marked
                .iter()
                .map(Version::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(ExitStatus::Success)
}
