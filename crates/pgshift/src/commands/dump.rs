//! `pgshift dump`: the configured database's schema, as SQL or JSON.

use super::connection;
use crate::args::{DumpArgs, DumpFormat};
use crate::exit::ExitStatus;
use crate::output::Output;
use crate::render::failure::Failure;
use crate::render::problem::Problem;
use crate::settings::Settings;
use pgshift_core::snapshot::{snapshot, SnapshotError, SnapshotOptions};

pub fn run(settings: &Settings, args: &DumpArgs, out: &mut Output) -> Result<ExitStatus, Failure> {
    // The database's schema alone: no migration folder needed.
    let mut client = connection(settings, out)?
        .connect("pgshift")
        .map_err(|e| Failure::from(pgshift_core::Error::from(e)))?;
    let options = SnapshotOptions {
        tracking: settings.table.clone(),
        include_tracking: args.include_tracking,
        include_privileges: args.include_privileges,
    };
    let schema = snapshot(&mut client, &options).map_err(snapshot_failure)?;
    if out.json || args.format == DumpFormat::Json {
        out.json_value(&serde_json::to_value(&schema).expect("the schema model serializes"));
    } else {
        out.raw(schema.to_sql());
    }
    Ok(ExitStatus::Success)
}

/// A snapshot that failed part way: the catalogs could not be read.
pub fn snapshot_failure(error: SnapshotError) -> Failure {
    Failure::new(
        ExitStatus::Connection,
        Problem::error(error.to_string()).with_code("snapshot"),
    )
}
