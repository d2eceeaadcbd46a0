//! `pgshift status` and `pgshift verify`.

use super::{migrator, name_database};
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::render::status;
use crate::settings::Settings;
use pgshift_core::plan::State;

pub fn status(settings: &Settings, out: &mut Output) -> Result<ExitStatus, Failure> {
    let migrator = migrator(settings, out)?;
    let (plan, _history) = migrator.plan().map_err(Failure::from)?;
    if out.json {
        out.json_value(&status::json(&plan, &migrator.connection().redacted()));
        return Ok(ExitStatus::Success);
    }
    name_database(out, &migrator, true);
    out.line(status::table(&plan, out));
    out.line(status::summary(&plan));
    Ok(ExitStatus::Success)
}

pub fn verify(settings: &Settings, out: &mut Output) -> Result<ExitStatus, Failure> {
    let migrator = migrator(settings, out)?;
    let (plan, _history) = migrator.plan().map_err(Failure::from)?;
    let problems = plan.problems();
    name_database(out, &migrator, true);
    if out.json {
        out.json_value(&serde_json::json!({
            "ok": problems.is_empty(),
            "database": migrator.connection().redacted(),
            "problems": problems,
        }));
    } else if problems.is_empty() {
        out.line(format!(
            "{} every applied migration matches its file ({})",
            out.paint(Style::Ok, "ok:"),
            status::summary(&plan)
        ));
    } else {
        for entry in &problems {
            let what = match &entry.state {
                State::Modified { recorded, current } => format!(
                    "modified: the file changed since it was applied (recorded {}, now {})",
                    recorded.short(),
                    current.short()
                ),
                State::Unverified => "unverified: applied without a recorded checksum (by plain psql?), so a change to the file cannot be seen"
                    .to_string(),
                State::Missing => {
                    "missing: applied, but no file in the migration folder".to_string()
                }
                State::Failed => {
                    "failed: a no-transaction migration stopped part way; see `pgshift status`"
                        .to_string()
                }
                _ => continue,
            };
            out.line(format!(
                "{} {} {}: {what}",
                out.paint(Style::Error, "error:"),
                entry.version,
                entry.description
            ));
        }
        if problems.iter().any(|e| e.state == State::Unverified) {
            out.line(
                "help: compare unverified migrations with what was deployed, then record their checksums: \
                 `pgshift accept --all-unverified --reason \"…\"` (or `pgshift accept VERSION... --reason \"…\"`)",
            );
        }
    }
    Ok(if problems.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Validation
    })
}
