//! `pgshift repair` and `pgshift accept`: settle the tracking table after
//! a human stepped in.

use super::migrator;
use crate::args::{AcceptArgs, RepairArgs, RepairMarkArg};
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::settings::Settings;
use pgshift_core::resolve::{AcceptTarget, Change, RepairMark};

pub fn repair(
    settings: &Settings,
    args: &RepairArgs,
    out: &mut Output,
) -> Result<ExitStatus, Failure> {
    let migrator = migrator(settings, out)?;
    let mark = match args.mark {
        RepairMarkArg::RolledBack => RepairMark::RolledBack,
        RepairMarkArg::Applied => RepairMark::Applied,
    };
    let repaired = migrator
        .repair(&args.version, mark, args.reason.as_deref())
        .map_err(Failure::from)?;
    if out.json {
        out.json_value(&serde_json::json!({ "ok": true, "repaired": repaired }));
    } else {
        let what = match mark {
            RepairMark::RolledBack => "as rolled back; `pgshift up` will run it from the start",
            RepairMark::Applied => "as applied",
        };
        out.line(format!(
            "{} migration {} {what} (it had failed at statement {} of {}).",
            out.paint(Style::Ok, "Marked"),
            repaired.version,
            repaired.statements_done + 1,
            repaired.statements_total
        ));
    }
    Ok(ExitStatus::Success)
}

pub fn accept(
    settings: &Settings,
    args: &AcceptArgs,
    out: &mut Output,
) -> Result<ExitStatus, Failure> {
    let migrator = migrator(settings, out)?;
    let which = if args.all_unverified {
        AcceptTarget::AllUnverified
    } else {
        AcceptTarget::Versions(args.versions.clone())
    };
    let accepted = migrator
        .accept(&which, &args.reason, args.force)
        .map_err(Failure::from)?;
    if out.json {
        out.json_value(&serde_json::json!({ "ok": true, "accepted": accepted }));
        return Ok(ExitStatus::Success);
    }
    for accepted in accepted {
        let change = match accepted.change {
            Change::CommentsOnly => "only comments and whitespace changed",
            Change::Statements => "statements changed (--force)",
            Change::FirstRecorded => "no checksum was recorded before; the file's is now",
            _ => "change not verifiable (--force)",
        };
        out.line(format!(
            "{} the current file of {}: {change}; checksum {} → {}.",
            out.paint(Style::Ok, "Accepted"),
            accepted.version,
            accepted
                .old_checksum
                .as_deref()
                .map(|c| &c[..c.len().min(12)])
                .unwrap_or("none"),
            &accepted.new_checksum[..12]
        ));
    }
    Ok(ExitStatus::Success)
}
