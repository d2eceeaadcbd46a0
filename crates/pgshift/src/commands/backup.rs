//! `pgshift backup` and `pgshift restore`, and the `--backup` option.

use super::migrator;
use crate::args::{BackupArgs, RestoreArgs, SafetyArgs};
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use crate::settings::Settings;
use pgshift_core::backup::{Backup, BackupOptions};
use pgshift_core::destructive::group_thousands;

/// What `--backup[=DIR]` asks for.
pub fn options(settings: &Settings, safety: &SafetyArgs) -> Option<BackupOptions> {
    let dir = safety.backup.as_ref()?;
    Some(BackupOptions {
        dir: dir.clone().unwrap_or_else(|| settings.backup_dir.clone()),
        tools: settings.tools.clone(),
    })
}

/// The progress line for a backup written.
pub fn describe(backup: &Backup) -> String {
    format!(
        "backed up {} ({}) to {} ({} bytes)",
        backup.database,
        backup
            .version
            .as_deref()
            .map(|v| format!("version {v}"))
            .unwrap_or_else(|| "no migration applied".into()),
        backup.path.display(),
        group_thousands(i64::try_from(backup.bytes).unwrap_or(i64::MAX))
    )
}

pub fn backup(
    settings: &Settings,
    args: &BackupArgs,
    out: &mut Output,
) -> Result<ExitStatus, Failure> {
    let migrator = migrator(settings, out)?;
    let options = BackupOptions {
        dir: args
            .backup_dir
            .clone()
            .unwrap_or_else(|| settings.backup_dir.clone()),
        tools: settings.tools.clone(),
    };
    let backup = migrator.backup(&options).map_err(Failure::from)?;
    if out.json {
        out.json_value(&serde_json::json!({ "ok": true, "backup": backup }));
    } else {
        out.progress(describe(&backup));
        out.line(backup.path.display().to_string());
    }
    Ok(ExitStatus::Success)
}

pub fn restore(
    settings: &Settings,
    args: &RestoreArgs,
    out: &mut Output,
) -> Result<ExitStatus, Failure> {
    let migrator = migrator(settings, out)?;
    // A missing file, or one that is no backup, is said before anything
    // is asked or announced.
    pgshift_core::backup::locate(pgshift_core::backup::Tool::PgRestore, &settings.tools)
        .and_then(|pg_restore| pgshift_core::backup::read_archive(&pg_restore, &args.file))
        .map_err(|e| Failure::from(pgshift_core::Error::from(e)))?;
    if args.into.is_none() && !args.yes {
        let target = migrator.connection().redacted();
        if !out.interactive || out.json {
            return Err(Failure::new(
                ExitStatus::Declined,
                Problem::error(format!(
                    "restoring {} replaces the data of {target}, so pgshift needs a confirmation, and stdin is not a terminal",
                    args.file.display()
                ))
                .with_help("pass --yes to confirm, or restore --into NEW_DB to look at the backup first"),
            ));
        }
        let preview = migrator
            .restore_preview(&args.file, &settings.tools)
            .map_err(Failure::from)?;
        out.diagnostic(format!(
            "{} this will replace the contents of {target} with {}{}{}:\n",
            out.paint(Style::Warn, "warning:"),
            args.file.display(),
            preview
                .archive
                .database
                .as_deref()
                .map(|d| format!(", a backup of database {d}"))
                .unwrap_or_default(),
            preview
                .archive
                .created
                .as_deref()
                .map(|c| format!(" taken {c}"))
                .unwrap_or_default()
        ));
        for (table, rows, in_archive) in &preview.tables {
            let rows = rows
                .map(|n| format!("{} row(s)", group_thousands(n)))
                .unwrap_or_else(|| "rows not counted".into());
            if *in_archive {
                out.diagnostic(format!(
                    "  {}  {table} — {rows} now, replaced by the backup's\n",
                    out.paint(Style::Error, "replace")
                ));
            } else {
                out.diagnostic(format!(
                    "  {}     {table} — {rows}, not in the backup: left as it is\n",
                    out.paint(Style::Dim, "keep")
                ));
            }
        }
        if out.ask("Type `yes` to continue: ").as_deref() != Some("yes") {
            out.diagnostic("Restore cancelled; nothing was changed.\n");
            return Ok(ExitStatus::Declined);
        }
    }
    out.progress(format!("restoring {}", args.file.display()));
    let restored = migrator
        .restore(&args.file, args.into.as_deref(), &settings.tools)
        .map_err(Failure::from)?;
    if out.json {
        out.json_value(&serde_json::json!({ "ok": true, "restored": restored }));
    } else {
        out.line(format!(
            "{} {} into {}{}; it is at version {}.",
            out.paint(Style::Ok, "Restored"),
            args.file.display(),
            restored.database,
            if restored.created { " (created)" } else { "" },
            restored.version.as_deref().unwrap_or("none")
        ));
    }
    Ok(ExitStatus::Success)
}
