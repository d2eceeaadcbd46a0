//! A `-- pgshift:no-transaction` migration: statements in autocommit,
//! progress recorded after each, so a failure can be shown by `status` and
//! resumed by `up --resume`. The records go to the bookkeeping session
//! (see [`Executor::with_bookkeeping`]): the statements may change their
//! own session in ways that would break them (read-only transactions,
//! `DISCARD ALL`, another role).

use super::{
    find_invalid_indexes, millis, tracking_error, Bookkeeping, Direction, Event, ExecError,
    Executor, Record, StartAt,
};
use crate::migration::Migration;
use std::time::{Duration, Instant};

impl Executor<'_> {
    /// A no-transaction migration: statements in autocommit, progress
    /// recorded after each, the tracking row written at the end.
    pub(super) fn run_no_transaction(
        &mut self,
        migration: &Migration,
        resume_at: usize,
        observer: &mut dyn FnMut(Event<'_>),
        record: &Record<'_>,
    ) -> Result<Duration, ExecError> {
        let table = self.table;
        table
            .ensure_progress(&mut *self.bookkeeping())
            .map_err(|e| match e {
                crate::history::HistoryError::Db(e) => tracking_error(migration, e),
                other => ExecError::Tracking(other),
            })?;
        let progress = table.progress_qualified();
        let total = migration.script.statement_count();
        let version = migration.version.as_str();
        let start_digest = crate::plan::done_digest(migration, resume_at);
        self.bookkeeping()
            .execute(
                &format!(
                    "INSERT INTO {progress} (version, checksum, statements_total, statements_done, done_digest) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum, \
                     statements_total = EXCLUDED.statements_total, statements_done = EXCLUDED.statements_done, \
                     done_digest = EXCLUDED.done_digest, error = NULL, sqlstate = NULL, updated_at = CURRENT_TIMESTAMP"
                ),
                &[
                    &version,
                    &migration.checksum.as_str(),
                    &(total as i32),
                    &(resume_at as i32),
                    &start_digest,
                ],
            )
            .map_err(|e| tracking_error(migration, e))?;
        let advance = format!(
            "UPDATE {progress} SET statements_done = $2, done_digest = $3, updated_at = CURRENT_TIMESTAMP WHERE version = $1"
        );

        let started = Instant::now();
        // Taken out for the statements' run, which borrows the executor.
        let mut bookkeeping = self.bookkeeping.take();
        let watcher = self.watcher;
        let result = self.run_statements(
            migration,
            &migration.script,
            Direction::Up,
            StartAt::Statement(resume_at),
            observer,
            |client, done| {
                let digest = crate::plan::done_digest(migration, done);
                Bookkeeping::choose(bookkeeping.as_deref_mut(), watcher, client)
                    .execute(&advance, &[&version, &(done as i32), &digest])
                    .map_err(|e| tracking_error(migration, e))?;
                Ok(())
            },
        );
        self.bookkeeping = bookkeeping;
        match result {
            Ok(()) => {
                let elapsed = started.elapsed();
                let ms = millis(elapsed);
                // The tracking row, the audit row and the end of the
                // progress record commit together.
                let mut client = self.bookkeeping();
                let mut finish = || -> Result<(), postgres::Error> {
                    client.batch_execute("BEGIN")?;
                    let done = client.batch_execute(&record(Some(ms))).and_then(|()| {
                        client
                            .execute(
                                &format!("DELETE FROM {progress} WHERE version = $1"),
                                &[&version],
                            )
                            .map(drop)
                    });
                    match done {
                        Ok(()) => client.batch_execute("COMMIT"),
                        Err(e) => {
                            let _ = client.batch_execute("ROLLBACK");
                            Err(e)
                        }
                    }
                };
                finish().map_err(|e| tracking_error(migration, e))?;
                Ok(elapsed)
            }
            Err(mut error) => {
                // Recorded so that `status` shows the migration as failed
                // and `up --resume` continues it.
                let (message, code) = match &error {
                    ExecError::Statement(failure) => {
                        (failure.server.message.clone(), failure.server.code.clone())
                    }
                    ExecError::Interrupted { .. } => {
                        ("interrupted (Ctrl-C)".to_string(), "57014".to_string())
                    }
                    _ => return Err(error),
                };
                let _ = self.bookkeeping().execute(
                    &format!(
                        "UPDATE {progress} SET error = $2, sqlstate = $3, updated_at = CURRENT_TIMESTAMP WHERE version = $1"
                    ),
                    &[&version, &message, &code],
                );
                if let ExecError::Statement(failure) = &mut error {
                    failure.no_transaction = true;
                    failure.invalid_indexes = find_invalid_indexes(self.client).unwrap_or_default();
                }
                Err(error)
            }
        }
    }
}
