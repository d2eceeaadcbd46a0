//! `pgshift diff URL_A URL_B`: how two databases' schemas differ.

use super::dump::snapshot_failure;
use crate::args::DiffArgs;
use crate::exit::ExitStatus;
use crate::output::{Output, Style};
use crate::render::failure::Failure;
use crate::settings::Settings;
use pgshift_core::connect::ConnectionSettings;
use pgshift_core::diff::{diff, Change};
use pgshift_core::snapshot::{snapshot, Schema, SnapshotOptions};

pub fn run(settings: &Settings, args: &DiffArgs, out: &mut Output) -> Result<ExitStatus, Failure> {
    let options = SnapshotOptions {
        tracking: settings.table.clone(),
        include_tracking: args.include_tracking,
        include_privileges: args.include_privileges,
    };
    let a = read(settings, &args.from, &options)?;
    let b = read(settings, &args.to, &options)?;
    let changes = diff(&a, &b);
    if out.json {
        out.json_value(&serde_json::json!({
            "identical": changes.is_empty(),
            "changes": changes,
        }));
    } else if changes.is_empty() {
        out.line(format!(
            "{} the schemas are identical",
            out.paint(Style::Ok, "ok:")
        ));
    } else {
        for change in &changes {
            let mark = match change {
                Change::Added { .. } => out.paint(Style::Ok, "+"),
                Change::Removed { .. } => out.paint(Style::Error, "-"),
                _ => out.paint(Style::Warn, "~"),
            };
            out.line(format!("{mark} {change}"));
        }
        out.line(format!("{} difference(s)", changes.len()));
    }
    Ok(if changes.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}

fn read(settings: &Settings, url: &str, options: &SnapshotOptions) -> Result<Schema, Failure> {
    let core = |e: pgshift_core::connect::ConnectError| Failure::from(pgshift_core::Error::from(e));
    let connection = ConnectionSettings::resolve(Some(url), None, &settings.env)
        .map_err(core)?
        .expect("a URL was given, so there is a connection");
    let mut client = connection.connect("pgshift").map_err(core)?;
    snapshot(&mut client, options).map_err(snapshot_failure)
}
