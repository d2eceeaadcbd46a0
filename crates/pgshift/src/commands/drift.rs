//! `pgshift drift`: compare the database with what its applied migrations
//! build on a scratch database.

use super::{connection, create_scratch, load_set, scratch_server, show_progress};
use crate::args::DriftArgs;
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use crate::settings::Settings;
use pgshift_core::diff::Change;
use pgshift_core::drift::{correction_sql, detect, Drift};
use pgshift_core::migrator::Progress;
use std::path::PathBuf;

pub fn run(settings: &Settings, args: &DriftArgs, out: &mut Output) -> Result<ExitStatus, Failure> {
    let set = load_set(settings)?;
    let target = connection(settings, out)?;
    let server = scratch_server(settings, &args.scratch, out)?;
    let scratch = create_scratch(&server, out)?;
    let result = detect(
        &set,
        &settings.table,
        &target,
        scratch.connection(),
        &settings.run,
        &mut |event| match event {
            pgshift_core::executor::Event::Notice { notice, .. }
                if notice.severity != "WARNING" => {}
            other => show_progress(out, Progress::Exec(other)),
        },
    );
    let name = scratch.name().to_string();
    if let Err(e) = scratch.drop_now() {
        out.diagnostic(format!(
            "{} could not drop scratch database {name}: {e}\n",
            out.paint(Style::Warn, "warning:")
        ));
    }
    let drift = match result.map_err(Failure::from)? {
        Ok(drift) => drift,
        Err(e) => {
            return Err(Failure::new(
                ExitStatus::Validation,
                Problem::error(e.to_string())
                    .with_code("missing-file")
                    .with_help("restore the files (e.g. from version control) and run drift again"),
            ))
        }
    };
    for version in &drift.modified {
        out.diagnostic(format!(
            "{} migration {version} changed since it was applied; the expected schema uses the file as it is now\n",
            out.paint(Style::Warn, "warning:")
        ));
    }

    let correction = if args.write_correction && !drift.changes.is_empty() {
        Some(write_correction(
            settings,
            &set,
            &drift,
            &target.redacted(),
        )?)
    } else {
        None
    };

    if out.json {
        out.json_value(&serde_json::json!({
            "drift": !drift.changes.is_empty(),
            "replayed": drift.replayed,
            "modified": drift.modified,
            "changes": drift.changes,
            "correction": correction.as_ref().map(|(f, r)| serde_json::json!({
                "migration": f.display().to_string(),
                "rollback": r.display().to_string(),
            })),
        }));
    } else if drift.changes.is_empty() {
        out.line(format!(
            "{} no drift: the database matches its {} applied migration(s)",
            out.paint(Style::Ok, "ok:"),
            drift.replayed.len()
        ));
    } else {
        out.line(format!(
            "drift: the database differs from what its {} applied migration(s) build:",
            drift.replayed.len()
        ));
        for change in &drift.changes {
            let (mark, text) = match change {
                Change::Added { object } => (
                    out.paint(Style::Ok, "+"),
                    format!("{object} is in the database but not in the migrations"),
                ),
                Change::Removed { object } => (
                    out.paint(Style::Error, "-"),
                    format!("{object} is in the migrations but missing from the database"),
                ),
                other => (
                    out.paint(Style::Warn, "~"),
                    format!("{other} (migrations → database)"),
                ),
            };
            out.line(format!("{mark} {text}"));
        }
        out.line(format!("{} difference(s)", drift.changes.len()));
        if let Some((forward, rollback)) = &correction {
            out.line(format!(
                "wrote {} and {}: review them before `pgshift up`",
                forward.display(),
                rollback.display()
            ));
        } else if !args.write_correction {
            out.line("`pgshift drift --write-correction` writes a migration that corrects it");
        }
    }
    Ok(if drift.changes.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}

/// Writes `NNN_drift_correction.sql` (database → migrations) and
/// `rollback_NNN.sql` (empty: see below).
fn write_correction(
    settings: &Settings,
    set: &pgshift_core::migration::MigrationSet,
    drift: &Drift,
    target: &str,
) -> Result<(PathBuf, PathBuf), Failure> {
    let version = set.next_version();
    let forward = settings.dir.join(format!("{version}_drift_correction.sql"));
    let rollback = settings.dir.join(format!("rollback_{version}.sql"));
    let date = chrono::Utc::now().format("%Y-%m-%d");
    let found: String = drift
        .changes
        .iter()
        .map(|c| format!("--   {c}\n"))
        .collect();
    let header = |description: &str, what: &str| {
        format!(
            "-- Migration: {version}\n\
             -- Description: {description}\n\
             -- Date: {date}\n\
             --\n\
             -- REVIEW: generated by pgshift drift from {target}.\n\
             -- REVIEW: {what}\n\
             -- REVIEW: Read every statement before applying: dropped columns and tables\n\
             -- REVIEW: lose their data, and lines starting with `-- REVIEW: not corrected`\n\
             -- REVIEW: are differences this file does not fix.\n\
             --\n\
             -- Differences found (migrations → database):\n\
             {found}\n\
             \\set ON_ERROR_STOP on\n\n\
             BEGIN;\n\n"
        )
    };
    let body = correction_sql(&drift.actual, &drift.expected);
    let back = correction_sql(&drift.expected, &drift.actual);
    let forward_text = format!(
        "{}{body}\nCOMMIT;\n",
        header(
            "Correct schema drift found by pgshift drift",
            "Makes the database match what migrations before this one build."
        )
    );
    // The correction changes nothing on a database that never drifted
    // (every migration before it builds the expected schema), so its
    // rollback has nothing to undo there: it is empty, and `pgshift test`
    // proves the pair like any other. The statements that would recreate
    // the drifted state are kept, commented out, for the drifted database.
    let commented: String = back.lines().map(|l| format!("-- {l}\n")).collect();
    let rollback_text = format!(
        "{}-- Nothing to undo: the correction only removes what was done by hand, and on a\n\
         -- database built by the migrations alone it changes nothing. To put the drifted\n\
         -- state back on the database it was generated from, these statements would do it:\n\
         --\n\
         {commented}\nCOMMIT;\n",
        header(
            "Rollback of the drift correction",
            "Intentionally empty; see below."
        )
    );
    for (path, text) in [(&forward, &forward_text), (&rollback, &rollback_text)] {
        if path.exists() {
            return Err(Failure::new(
                ExitStatus::Validation,
                Problem::error(format!(
                    "{} already exists; not overwriting it",
                    path.display()
                )),
            ));
        }
        std::fs::write(path, text).map_err(|e| {
            Failure::new(
                ExitStatus::Internal,
                Problem::error(format!("cannot write {}: {e}", path.display())),
            )
        })?;
    }
    Ok((forward, rollback))
}
