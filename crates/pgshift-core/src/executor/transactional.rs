//! A transactional migration: one transaction with its tracking row,
//! sent in batches (see [`super::batch`]), retried when the server is busy,
//! and run again one statement at a time when a batch fails without saying
//! which of its statements failed.

use super::batch::Batch;
use super::busy::{self, Waited};
use super::{
    connection_error, forward_notices, interrupted, statement_failure, tracking_error, Blockage,
    Direction, Event, ExecError, Executor, NextAttempt, Record, ServerError, StartAt,
};
use crate::connect::NoticeMessage;
use crate::migration::Migration;
use crate::script::{Script, Step};
use crate::source::SourceFile;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// SQLSTATEs worth retrying: lock_not_available (a `lock_timeout` fired)
/// and deadlock_detected. Both mean "busy", not "wrong".
const RETRYABLE: [&str; 2] = ["55P03", "40P01"];

/// How an attempt at a transactional migration sends its statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    /// Runs of statements as one query each: the first attempt.
    Batched,
    /// One statement at a time: a retry, or the run that finds which
    /// statement of a batch failed (`shown` as in [`StartAt::Begin`]).
    OneByOne { shown: usize },
}

/// Why an attempt at a transactional migration failed.
#[derive(Debug)]
enum AttemptError {
    /// The failure, with its statement when a statement failed.
    Failed(ExecError),
    /// Statements sent together failed without saying which one.
    Unlocated(Box<Unlocated>),
}

/// A batch that failed with an error that has no position.
#[derive(Debug)]
struct Unlocated {
    server: ServerError,
    batch: Batch,
    /// Notices the batch raised before the error, not yet shown.
    notices: Vec<NoticeMessage>,
    /// How long the attempt had run.
    elapsed: Duration,
}

impl Unlocated {
    /// Shows the notices the batch raised before it failed (when it will
    /// not run again to raise them one by one); what is left of it.
    fn show_notices(
        self,
        script: &Script,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> (ServerError, Batch, Arc<SourceFile>) {
        let file = Arc::clone(&script.files[self.batch.file]);
        forward_notices(self.notices, &file, &self.batch, observer);
        (self.server, self.batch, file)
    }
}

impl AttemptError {
    fn server(&self) -> Option<&ServerError> {
        match self {
            AttemptError::Failed(error) => error.server(),
            AttemptError::Unlocated(unlocated) => Some(&unlocated.server),
        }
    }
}

impl Executor<'_> {
    /// One migration in one transaction, retried when the server is busy
    /// (see [`super::busy`] for when), within the time budget.
    pub(super) fn run_transactional(
        &mut self,
        migration: &Migration,
        script: &Script,
        direction: Direction,
        observer: &mut dyn FnMut(Event<'_>),
        record: Option<&Record<'_>>,
    ) -> Result<Duration, ExecError> {
        let max_attempts = self.options.max_retries.map(|n| n.saturating_add(1));
        let started = Instant::now();
        let deadline = started + self.options.retry_for;
        let mut sending = Sending::Batched;
        let mut blocked: Option<Blockage> = None;
        loop {
            let (result, seen) = self.watched(|this| {
                this.try_transactional(migration, script, direction, observer, record, sending)
            });
            let error = match result {
                Ok(elapsed) => return Ok(elapsed),
                Err(error) => error,
            };
            blocked = seen.or(blocked);
            let attempt = self.attempts;
            let busy = error
                .server()
                .filter(|s| RETRYABLE.contains(&s.code.as_str()))
                .cloned();
            let give_up_busy = |server: ServerError, blocked: Option<Blockage>| ExecError::Busy {
                version: migration.version.clone(),
                attempts: attempt,
                elapsed: started.elapsed(),
                budget: self.options.retry_for,
                max_retries: self.options.max_retries,
                server: Box::new(server),
                blockage: blocked.map(Box::new),
            };
            match (busy, error) {
                (_, error) if crate::interrupt::requested() => {
                    return Err(give_up(migration, script, direction, error, observer));
                }
                (Some(server), error) => {
                    if let AttemptError::Unlocated(unlocated) = error {
                        unlocated.show_notices(script, observer);
                    }
                    let now = Instant::now();
                    if now >= deadline || max_attempts.is_some_and(|max| attempt >= max) {
                        return Err(give_up_busy(server, blocked));
                    }
                    let next = if self.can_wait_for(blocked.as_ref()) {
                        NextAttempt::WhenBlockersFinish
                    } else {
                        let delay = busy::backoff(self.options, attempt, &mut rand::thread_rng());
                        NextAttempt::After(delay.min(deadline - now))
                    };
                    observer(Event::Retry {
                        attempt,
                        max_attempts,
                        next,
                        error: &server,
                        blockage: blocked.as_ref(),
                        budget_left: deadline - now,
                    });
                    match self.wait_out(next, blocked.as_ref(), started, deadline, observer) {
                        Waited::Retry => {}
                        Waited::OutOfBudget => return Err(give_up_busy(server, blocked)),
                        Waited::Interrupted => return Err(interrupted(migration)),
                    }
                    self.attempts += 1;
                    // A busy database: precision over round trips.
                    sending = Sending::OneByOne { shown: 0 };
                }
                (_, AttemptError::Failed(error)) => return Err(error),
                (_, AttemptError::Unlocated(unlocated))
                    if unlocated.elapsed <= self.options.replay_within =>
                {
                    // Its notices will be raised again, by their statements.
                    sending = Sending::OneByOne {
                        shown: unlocated.batch.first_step,
                    };
                }
                (_, error) => {
                    return Err(give_up(migration, script, direction, error, observer));
                }
            }
        }
    }

    fn try_transactional(
        &mut self,
        migration: &Migration,
        script: &Script,
        direction: Direction,
        observer: &mut dyn FnMut(Event<'_>),
        record: Option<&Record<'_>>,
        sending: Sending,
    ) -> Result<Duration, AttemptError> {
        let started = Instant::now();
        let ran = match sending {
            Sending::Batched => self.run_batches(migration, script, direction, observer, started),
            Sending::OneByOne { shown } => self
                .run_statements(
                    migration,
                    script,
                    direction,
                    StartAt::Begin { shown },
                    observer,
                    |_, _| Ok(()),
                )
                .map_err(AttemptError::Failed),
        };
        let result =
            ran.and_then(|()| self.commit(migration, record).map_err(AttemptError::Failed));
        match result {
            Ok(()) => Ok(started.elapsed()),
            Err(error) => {
                // An aborted transaction: ROLLBACK cannot fail on a live
                // session, and a dead one rolled back already. After a
                // failed COMMIT there is none, and the server's warning
                // about that belongs to no migration.
                let _ = self.client.batch_execute("ROLLBACK");
                self.notices.drain();
                Err(error)
            }
        }
    }

    /// Records the migration (`record`) and commits, in one query of
    /// pgshift's own text: never appended to the migration's, whose last
    /// statement, left open, would swallow it (and the server's error
    /// would quote it as the user's).
    fn commit(
        &mut self,
        migration: &Migration,
        record: Option<&Record<'_>>,
    ) -> Result<(), ExecError> {
        let sql = match record {
            Some(record) => format!("{};\nCOMMIT", record(None)),
            None => "COMMIT".to_string(),
        };
        let result = self.client.batch_execute(&sql);
        // Nothing these raise is the migration's to show.
        self.notices.drain();
        let Err(e) = result else {
            return Ok(());
        };
        let Some(server) = ServerError::from_error(&e) else {
            return Err(connection_error(migration, e));
        };
        // A failed tracking row leaves the transaction aborted (the COMMIT
        // after it never ran); a failed COMMIT (a deferred constraint)
        // ends it.
        let aborted = record.is_some()
            && self.client.batch_execute("SELECT").is_err_and(|probe| {
                probe.code() == Some(&postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION)
            });
        if aborted {
            return Err(tracking_error(migration, e));
        }
        Err(ExecError::Commit {
            version: migration.version.clone(),
            server: Box::new(server),
        })
    }

    /// Opens a transaction and runs `script` in batches (see [`super::batch`]).
    /// `started` is when the attempt began.
    fn run_batches(
        &mut self,
        migration: &Migration,
        script: &Script,
        direction: Direction,
        observer: &mut dyn FnMut(Event<'_>),
        started: Instant,
    ) -> Result<(), AttemptError> {
        let total = script.statement_count();
        let mut done = 0;
        let mut step = 0;
        let mut begin_pending = true;
        while let Some(current) = script.steps.get(step) {
            if let Step::Echo { text } = current {
                observer(Event::Echo { text });
                step += 1;
                continue;
            }
            if crate::interrupt::requested() {
                return Err(AttemptError::Failed(interrupted(migration)));
            }
            let batch = Batch::collect(script, step, done + 1, std::mem::take(&mut begin_pending));
            if batch.begin_first {
                self.client
                    .batch_execute("BEGIN")
                    .map_err(|e| AttemptError::Failed(connection_error(migration, e)))?;
            }
            let file = &script.files[batch.file];
            let result = self.client.batch_execute(batch.text());
            let notices = self.notices.drain();
            if let Err(e) = result {
                let Some(server) = ServerError::from_error(&e) else {
                    return Err(AttemptError::Failed(connection_error(migration, e)));
                };
                let located = server.position.and_then(|p| batch.locate(p));
                if located.is_none() && !batch.is_lone_statement() {
                    return Err(AttemptError::Unlocated(Box::new(Unlocated {
                        server,
                        batch,
                        notices,
                        elapsed: started.elapsed(),
                    })));
                }
                forward_notices(notices, file, &batch, observer);
                return Err(AttemptError::Failed(statement_failure(
                    migration, direction, file, &batch, located, server, script,
                )));
            }
            forward_notices(notices, file, &batch, observer);
            done = batch.last_statement();
            step += batch.len();
            observer(Event::Statement { done, total });
        }
        if begin_pending {
            // A script without statements still records in a transaction.
            self.client
                .batch_execute("BEGIN")
                .map_err(|e| AttemptError::Failed(connection_error(migration, e)))?;
        }
        Ok(())
    }
}

/// The error of a transactional migration that will not be tried again:
/// a batch that failed without saying which statement is reported as
/// the range of statements sent together, with its notices.
fn give_up(
    migration: &Migration,
    script: &Script,
    direction: Direction,
    error: AttemptError,
    observer: &mut dyn FnMut(Event<'_>),
) -> ExecError {
    match error {
        AttemptError::Failed(error) => error,
        AttemptError::Unlocated(unlocated) => {
            let (server, batch, file) = unlocated.show_notices(script, observer);
            statement_failure(migration, direction, &file, &batch, None, server, script)
        }
    }
}
