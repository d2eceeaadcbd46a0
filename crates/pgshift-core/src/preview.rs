//! The SQL a run would send, as a script `psql -f` can run.
//!
//! `up --dry-run` and `rollback --dry-run` print this. It mirrors the
//! executor: session settings, the tracking table, then for each migration
//! `BEGIN`, its statements exactly as written, the tracking row, `COMMIT`
//! (no transaction for `-- pgshift:no-transaction` files). pgshift's own
//! bookkeeping for resumable migrations (the progress table) is left out:
//! psql cannot resume anyway. Each destructive statement is preceded by a
//! comment with the rows it puts at stake now ([`Stake`]).

use crate::destructive::Stake;
use crate::history::{quote_literal, TrackingTable};
use crate::migration::{Migration, MigrationSet};
use crate::migrator::{session_settings, RunOptions};
use crate::plan::UpStep;
use crate::script::{Script, Step, TransactionMode};
use std::fmt::Write;

/// The script for `up`.
pub fn up_script(
    set: &MigrationSet,
    steps: &[UpStep],
    table: &TrackingTable,
    run: &RunOptions,
    stakes: &[Stake],
) -> String {
    let mut sql = header(steps.len(), "migration(s) to apply", run);
    writeln!(sql, "{}\n", table.create_sql()).expect("writing to a String cannot fail");
    for step in steps {
        let migration = &set.migrations()[step.migration];
        let track = format!(
            "INSERT INTO {} (version, description, execution_time_ms, checksum) VALUES ({}, {}, NULL, {}) \
             ON CONFLICT (version) DO UPDATE SET description = EXCLUDED.description, \
             execution_time_ms = EXCLUDED.execution_time_ms, checksum = EXCLUDED.checksum;",
            table.qualified(),
            quote_literal(migration.version.as_str()),
            quote_literal(&migration.description),
            quote_literal(migration.checksum.as_str()),
        );
        let from = step.resume_at.unwrap_or(0);
        write_migration(
            &mut sql,
            migration,
            &migration.script,
            migration.transaction,
            from,
            &track,
            stakes,
        );
    }
    sql
}

/// The script for `rollback`, newest first.
pub fn rollback_script(
    set: &MigrationSet,
    indices: &[usize],
    table: &TrackingTable,
    run: &RunOptions,
    stakes: &[Stake],
) -> String {
    let mut sql = header(indices.len(), "migration(s) to roll back", run);
    for &index in indices {
        let migration = &set.migrations()[index];
        let Some(rollback) = &migration.rollback else {
            continue;
        };
        let track = format!(
            "DELETE FROM {} WHERE version = {};",
            table.qualified(),
            quote_literal(migration.version.as_str())
        );
        write_migration(
            &mut sql,
            migration,
            &rollback.script,
            rollback.transaction,
            0,
            &track,
            stakes,
        );
    }
    sql
}

fn header(count: usize, what: &str, run: &RunOptions) -> String {
    let mut sql = format!("-- pgshift dry run: {count} {what}\n\\set ON_ERROR_STOP on\n");
    sql.push_str(&session_settings(run));
    sql.push('\n');
    sql
}

fn write_migration(
    sql: &mut String,
    migration: &Migration,
    script: &Script,
    mode: TransactionMode,
    from: usize,
    track: &str,
    stakes: &[Stake],
) {
    let file = script.file().path().display();
    let transactional = mode == TransactionMode::Transactional;
    let _ = writeln!(
        sql,
        "-- {} {} ({file})",
        migration.version, migration.description
    );
    if from > 0 {
        let _ = writeln!(sql, "-- resuming at statement {}", from + 1);
    }
    if transactional {
        sql.push_str("BEGIN;\n");
    }
    let mut index = 0;
    for step in &script.steps {
        match step {
            Step::Sql { file, span, .. } => {
                index += 1;
                if index > from {
                    let source = &script.files[*file];
                    for stake in stakes.iter().filter(|s| {
                        std::sync::Arc::ptr_eq(&s.destructive.file, source)
                            && s.destructive.span == *span
                    }) {
                        let _ = writeln!(sql, "-- pgshift: destructive: {stake}");
                    }
                    let text = source.slice(*span).trim_end();
                    sql.push_str(text);
                    if !text.ends_with(';') {
                        // The last statement of a file may lack `;` (and end
                        // in a comment): terminate it on a line of its own.
                        sql.push_str("\n;");
                    }
                    sql.push('\n');
                }
            }
            Step::Echo { text } => {
                let _ = writeln!(sql, "\\echo {}", quote_literal(text));
            }
        }
    }
    sql.push_str(track);
    sql.push('\n');
    if transactional {
        sql.push_str("COMMIT;\n");
    }
    sql.push('\n');
}
