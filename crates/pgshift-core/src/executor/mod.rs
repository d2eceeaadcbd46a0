//! Runs migrations and rollbacks on a live session.
//!
//! A transactional migration runs as `BEGIN`, its statements, the
//! tracking-row upsert, `COMMIT`: it either happens entirely with its row,
//! or not at all. Its statements (as the lexer split them) go to the server
//! in runs sent as one query each, then the tracking row and `COMMIT` in
//! one more (see `batch`): a small migration is two round trips whatever
//! its length. A server error or notice still maps back
//! to its statement and file position. Lock timeouts and
//! deadlocks are retried within a time budget, each attempt reported with
//! who blocked it, the next one as soon as the blockers are gone (see
//! `busy`); retries send one statement at a time.
//!
//! A `-- pgshift:no-transaction` migration runs statement by statement in
//! autocommit, recording after each statement how far it got in the
//! progress table, so a failure can be shown by `status` and resumed by
//! `up --resume` once its cause is fixed. Those records go to a
//! bookkeeping session of pgshift's own ([`Executor::with_bookkeeping`]),
//! so what such a migration does to its session (`SET SESSION
//! CHARACTERISTICS AS TRANSACTION READ ONLY`, `DISCARD ALL`, `SET ROLE`,
//! `RESET ALL`) cannot break them.
//!
//! pgshift's own SQL never shares a query with a migration's text: a
//! statement left open at the end of a file would swallow it, and the
//! server's error would then quote pgshift's SQL as the user's.
//!
//! The executor never prints: it reports [`Event`]s to an observer and
//! returns a [`Report`] of what was done, on failure too.

mod batch;
pub(crate) mod busy;
mod no_transaction;
mod transactional;

use crate::audit::{self, AuditAction, AuditContext, AuditEntry};
use crate::connect::NoticeMessage;
use crate::history::{quote_ident, HistoryError, TrackingTable};
use crate::migration::{Migration, MigrationSet, Version};
use crate::plan::UpStep;
use crate::script::{Script, Step, TransactionMode};
use crate::source::{SourceFile, Span};
use batch::Batch;
pub use busy::{Blockage, Blocker};
use chrono::{DateTime, Utc};
use postgres::Client;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Retry policy for transactional migrations.
///
/// A migration that fails because the database is busy (its `lock_timeout`
/// fired, or a deadlock) is rolled back and tried again until
/// `retry_for` has passed since its first attempt (and, when set, at most
/// `max_retries` times); see the `busy` module for when.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// How long to keep trying a busy migration, from its first attempt
    /// (zero: never retry).
    pub retry_for: Duration,
    /// At most this many retries after the first attempt, even with
    /// budget left; `None`: only the time budget counts.
    pub max_retries: Option<u32>,
    /// The first backoff when it is not known who blocked; each retry
    /// doubles it up to `max_retry_delay`, drawn between half and all.
    pub retry_delay: Duration,
    /// The longest backoff.
    pub max_retry_delay: Duration,
    /// When statements sent together fail without the server saying which
    /// one (a constraint violation, "already exists"), and the migration
    /// had run for no longer than this, it is rolled back and run again
    /// one statement at a time to find the statement. A slower failure is
    /// reported as the range of statements sent together instead of
    /// running all that work twice.
    pub replay_within: Duration,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            retry_for: Duration::from_secs(120),
            max_retries: None,
            retry_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_secs(2),
            replay_within: Duration::from_secs(2),
        }
    }
}

/// Notices the server sent, collected by the connection's callback and
/// drained by the executor after each statement.
#[derive(Debug, Clone, Default)]
pub struct NoticeQueue(Arc<Mutex<Vec<NoticeMessage>>>);

impl NoticeQueue {
    /// Adds a notice (called from the connection's notice callback).
    pub fn push(&self, notice: NoticeMessage) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(notice);
    }

    fn drain(&self) -> Vec<NoticeMessage> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Applying or rolling back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Forward migration.
    Up,
    /// Rollback.
    Down,
}

/// Something the user may want to see while work goes on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A migration is about to run.
    Started {
        /// The migration.
        migration: &'a Migration,
        /// Which way.
        direction: Direction,
        /// 1-based position in this run.
        position: usize,
        /// Migrations in this run.
        total: usize,
    },
    /// A `\echo` line.
    Echo {
        /// The text.
        text: &'a str,
    },
    /// A NOTICE or WARNING raised while a statement ran.
    Notice {
        /// What the server said.
        notice: &'a NoticeMessage,
        /// The file of the statement.
        file: &'a SourceFile,
        /// The statement (or the notice's position in it), or the
        /// statements sent together that one of them raised it.
        span: Span,
        /// How many statements `span` covers: 1 when the statement is
        /// known, more when the notice came from statements sent together
        /// and carried no position.
        among: usize,
    },
    /// A statement finished (progress within a migration).
    Statement {
        /// Statements done.
        done: usize,
        /// Statements in the file.
        total: usize,
    },
    /// A busy error; trying again at `next`.
    Retry {
        /// The attempt that failed (1-based).
        attempt: u32,
        /// Attempts allowed (`--max-retries` + 1), when capped.
        max_attempts: Option<u32>,
        /// When the next attempt starts.
        next: NextAttempt,
        /// What the server said.
        error: &'a ServerError,
        /// The lock the attempt waited for and who held it, when seen.
        blockage: Option<&'a Blockage>,
        /// What is left of the retry budget.
        budget_left: Duration,
    },
    /// Still waiting, between attempts, for the sessions that blocked the
    /// migration to finish their transaction (reported every few seconds).
    Blocked {
        /// The lock and who holds it.
        blockage: &'a Blockage,
        /// Time since the migration's first attempt began.
        waited: Duration,
        /// What is left of the retry budget.
        budget_left: Duration,
    },
    /// A migration finished.
    Finished {
        /// The migration.
        migration: &'a Migration,
        /// Which way.
        direction: Direction,
        /// Time spent running its statements (the last attempt).
        elapsed: Duration,
        /// Attempts it took (more than one when the database was busy).
        attempts: u32,
        /// Time from its first attempt to its end, waits included.
        total: Duration,
    },
}

/// When a busy migration is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextAttempt {
    /// After this backoff.
    After(Duration),
    /// As soon as the sessions that blocked it have ended the transaction
    /// that holds the lock (checked every 100 ms), within the budget.
    WhenBlockersFinish,
}

/// What one migration did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The version.
    pub version: Version,
    /// Its description.
    pub description: String,
    /// Which way it ran.
    pub direction: Direction,
    /// Milliseconds spent in its statements (the attempt that succeeded).
    pub execution_time_ms: u64,
    /// Attempts it took (more than one when the database was busy).
    pub attempts: u32,
    /// Milliseconds from its first attempt to its end, waits included.
    pub total_ms: u64,
}

/// Everything done in a run, in order.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// Completed migrations.
    pub done: Vec<Outcome>,
}

/// A failed run: what was done before the failure, and the failure.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ExecFailure {
    /// Migrations completed before the failure; they stay applied.
    pub report: Report,
    /// What went wrong.
    #[source]
    pub error: ExecError,
}

/// The parts of a server error pgshift shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerError {
    /// ERROR, FATAL, …
    pub severity: String,
    /// SQLSTATE.
    pub code: String,
    /// Primary message.
    pub message: String,
    /// DETAIL.
    pub detail: Option<String>,
    /// HINT.
    pub hint: Option<String>,
    /// CONTEXT (e.g. the PL/pgSQL line).
    pub context: Option<String>,
    /// 1-based character position in the statement text sent.
    pub position: Option<u32>,
}

impl ServerError {
    /// Extracts the server's report from a client error, if it is one.
    pub fn from_error(error: &postgres::Error) -> Option<ServerError> {
        let db = error.as_db_error()?;
        Some(ServerError {
            severity: db.severity().to_string(),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            hint: db.hint().map(str::to_string),
            context: db.where_().map(str::to_string),
            position: match db.position() {
                Some(postgres::error::ErrorPosition::Original(p)) => Some(*p),
                _ => None,
            },
        })
    }
}

/// An index left `INVALID` by a failed `CREATE INDEX CONCURRENTLY`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InvalidIndex {
    /// Schema of the index.
    pub schema: String,
    /// Index name.
    pub name: String,
    /// The statement that removes it.
    pub drop_sql: String,
}

/// Why a migration did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// A statement failed on the server.
    #[error("migration {} failed: {}", .0.version, .0.server.message)]
    Statement(Box<StatementFailure>),
    /// `COMMIT` failed, e.g. a deferred constraint.
    #[error("migration {version} failed at COMMIT: {}", server.message)]
    Commit {
        /// The migration.
        version: Version,
        /// What the server said.
        server: Box<ServerError>,
    },
    /// The connection broke; the server rolled back any open transaction.
    #[error("lost the connection while running migration {version}: {source}")]
    Connection {
        /// The migration.
        version: Version,
        /// The client error.
        source: postgres::Error,
    },
    /// Reading or writing the tracking tables failed.
    #[error(transparent)]
    Tracking(#[from] HistoryError),
    /// The database stayed busy for the whole retry budget (or the
    /// `max_retries` cap): every attempt hit a lock timeout or deadlock
    /// and was rolled back.
    #[error("migration {version} gave up after {attempts} attempt(s) over {:.1}s: the database stayed busy ({})", elapsed.as_secs_f64(), server.message)]
    Busy {
        /// The migration.
        version: Version,
        /// Attempts made.
        attempts: u32,
        /// From the first attempt to giving up.
        elapsed: Duration,
        /// The budget (`ExecOptions::retry_for`).
        budget: Duration,
        /// The cap on retries, when one was set.
        max_retries: Option<u32>,
        /// What the server said to the last attempt.
        server: Box<ServerError>,
        /// The lock the last attempts waited for and who held it.
        blockage: Option<Box<Blockage>>,
    },
    /// Ctrl-C: the migration was not started, or stopped between two
    /// statements (see [`crate::interrupt`]): rolled back when
    /// transactional, recorded as failed (to resume) when not.
    #[error("interrupted at migration {version}")]
    Interrupted {
        /// The migration.
        version: Version,
    },
}

/// A statement that failed, and where it is.
#[derive(Debug)]
pub struct StatementFailure {
    /// The migration.
    pub version: Version,
    /// Which way it ran.
    pub direction: Direction,
    /// The file holding the statement (the migration or an include).
    pub file: Arc<SourceFile>,
    /// The statement.
    pub span: Span,
    /// The byte offset of the server's error position, when it gave one.
    pub at: Option<usize>,
    /// What the server said.
    pub server: ServerError,
    /// 1-based statement number in the migration.
    pub statement: usize,
    /// The last statement it may be: equal to `statement` when the failing
    /// statement is known; more when statements sent together failed
    /// without saying which and were not run again to find out (see
    /// [`ExecOptions::replay_within`]). `span` then covers them all.
    pub last_statement: usize,
    /// Statements in the migration.
    pub total: usize,
    /// True for a no-transaction migration: the statements before this
    /// one stay applied and the failure is recorded for `up --resume`.
    pub no_transaction: bool,
    /// Indexes left invalid, with the statements that drop them.
    pub invalid_indexes: Vec<InvalidIndex>,
}

impl ExecError {
    fn server(&self) -> Option<&ServerError> {
        match self {
            ExecError::Statement(failure) => Some(&failure.server),
            ExecError::Commit { server, .. } => Some(server),
            ExecError::Busy { server, .. } => Some(server),
            _ => None,
        }
    }
}

/// Runs migrations on one session.
pub struct Executor<'c> {
    client: &'c mut Client,
    table: &'c TrackingTable,
    options: &'c ExecOptions,
    audit: &'c AuditContext,
    notices: NoticeQueue,
    /// pgshift's lock session, idle while it holds the lock: where a busy
    /// migration's blockers are looked up (see `busy`).
    watcher: Option<&'c busy::Watcher<'c>>,
    /// `pg_backend_pid()` of `client`, once asked.
    session_pid: Option<i32>,
    /// Attempts at the current migration.
    attempts: u32,
    /// Where no-transaction migrations record their progress; without one,
    /// the watcher's lock session, else the work session.
    bookkeeping: Option<&'c mut Client>,
    /// The run's session settings (`SET ROLE`, timeouts), restored after a
    /// no-transaction migration; `None`: the session is left as it is.
    session_setup: Option<String>,
}

/// True when `script` may leave its session changed after it commits: a
/// `SET` (other than `SET LOCAL`), `RESET`, `DISCARD`, `DEALLOCATE` or a
/// `set_config` call. Most migrations have none, and skip the reset's round
/// trip.
fn changes_session(script: &crate::script::Script) -> bool {
    script.steps.iter().any(|step| {
        let crate::script::Step::Sql { file, span, .. } = step else {
            return false;
        };
        let sql = script.files[*file].slice(*span);
        let words = pgshift_lexer::leading_keywords(sql, 2);
        match words.first().map(String::as_str) {
            Some("SET") => words.get(1).map(String::as_str) != Some("LOCAL"),
            Some("RESET" | "DISCARD" | "DEALLOCATE") => true,
            _ => sql
                .as_bytes()
                .windows(b"set_config".len())
                .any(|w| w.eq_ignore_ascii_case(b"set_config")),
        }
    })
}

/// A bookkeeping session: borrowed outright, or the lock session, locked
/// away from the watcher's thread while it is used.
enum Bookkeeping<'a, 'c> {
    Borrowed(&'a mut Client),
    Shared(std::sync::MutexGuard<'a, &'c mut Client>),
}

impl<'a, 'c> Bookkeeping<'a, 'c> {
    /// The session given, else the lock session the watcher shares, else
    /// the work session.
    fn choose(
        given: Option<&'a mut Client>,
        watcher: Option<&'a busy::Watcher<'c>>,
        work: &'a mut Client,
    ) -> Self {
        match (given, watcher) {
            (Some(session), _) => Bookkeeping::Borrowed(session),
            (None, Some(watcher)) => Bookkeeping::Shared(watcher.session()),
            (None, None) => Bookkeeping::Borrowed(work),
        }
    }
}

impl std::ops::Deref for Bookkeeping<'_, '_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        match self {
            Bookkeeping::Borrowed(client) => client,
            Bookkeeping::Shared(guard) => guard,
        }
    }
}

impl std::ops::DerefMut for Bookkeeping<'_, '_> {
    fn deref_mut(&mut self) -> &mut Client {
        match self {
            Bookkeeping::Borrowed(client) => client,
            Bookkeeping::Shared(guard) => guard,
        }
    }
}

/// Where [`Executor::run_statements`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartAt {
    /// Open a transaction, then run every statement. The events of the
    /// first `shown` steps were reported by a batched attempt that is being
    /// run again to find its failing statement, and are not repeated.
    Begin { shown: usize },
    /// In autocommit, from this statement (0-based) on.
    Statement(usize),
}

/// The SQL that records a migration's tracking and audit rows, given how
/// many milliseconds it took (`None`: measured by the server, see
/// [`audit::execute_sql`]).
type Record<'a> = dyn Fn(Option<i32>) -> String + 'a;

impl<'c> Executor<'c> {
    /// An executor on `client`, whose notice callback feeds `notices`.
    /// Notices raised before now (setting up the session) are dropped, so
    /// none is attributed to a migration that did not raise it.
    pub fn new(
        client: &'c mut Client,
        table: &'c TrackingTable,
        options: &'c ExecOptions,
        audit: &'c AuditContext,
        notices: NoticeQueue,
    ) -> Self {
        notices.drain();
        Executor {
            client,
            table,
            options,
            audit,
            notices,
            watcher: None,
            session_pid: None,
            attempts: 1,
            bookkeeping: None,
            session_setup: None,
        }
    }

    /// After each no-transaction migration, resets its session (`RESET
    /// ALL`, `RESET ROLE`) and runs `setup` (the run's `SET ROLE` and
    /// timeouts) again: as under psql, where each file has a session of its
    /// own, what such a migration did to its session (`DISCARD ALL` drops
    /// the role, `RESET ALL` the lock timeout, `SET SESSION CHARACTERISTICS`
    /// makes every later transaction read-only) does not carry over to the
    /// migrations after it.
    pub fn with_session_setup(mut self, setup: String) -> Self {
        self.session_setup = Some(setup);
        self
    }

    /// Writes the progress and tracking rows of no-transaction migrations,
    /// and the audit rows of failures, on `session` (pgshift's own, on the
    /// same database), not on the session the migrations run on.
    pub fn with_bookkeeping(mut self, session: &'c mut Client) -> Self {
        self.bookkeeping = Some(session);
        self
    }

    /// The session for bookkeeping outside a migration's transaction (see
    /// [`Bookkeeping::choose`]).
    fn bookkeeping(&mut self) -> Bookkeeping<'_, 'c> {
        Bookkeeping::choose(self.bookkeeping.as_deref_mut(), self.watcher, self.client)
    }

    /// Lets the executor look up, through `watcher` (on pgshift's own
    /// session holding the migration lock, idle otherwise), who blocks a
    /// migration that waits for a lock, and wait for them between attempts.
    pub(crate) fn with_watcher(mut self, watcher: &'c busy::Watcher<'c>) -> Self {
        self.watcher = Some(watcher);
        self
    }

    /// Records a failed attempt in the audit trail, outside any
    /// transaction so it survives the rollback. Best effort: the failure
    /// itself is what the user must see.
    fn audit_failure(
        &mut self,
        action: AuditAction,
        migration: &Migration,
        started_at: DateTime<Utc>,
        error: &ExecError,
    ) {
        let message = error.to_string();
        let entry = AuditEntry {
            action,
            version: migration.version.as_str(),
            checksum: Some(migration.checksum.as_str()),
            ok: false,
            error: Some(&message),
            started_at,
            duration_ms: i32::try_from((Utc::now() - started_at).num_milliseconds()).ok(),
            detail: None,
            statements_checksum: None,
        };
        let sql = self.table.audit_insert_sql();
        let context = self.audit;
        let _ = audit::write(&mut *self.bookkeeping(), &sql, context, &entry);
    }

    /// Applies `steps` in order. Stops at the first failure; migrations
    /// before it stay applied and are listed in the failure's report.
    pub fn apply(
        &mut self,
        set: &MigrationSet,
        steps: &[UpStep],
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, ExecFailure> {
        let migrations = steps
            .iter()
            .map(|step| {
                (
                    &set.migrations()[step.migration],
                    step.resume_at.unwrap_or(0),
                )
            })
            .collect();
        let record_sql = self.table.record_applied_sql();
        self.run_each(
            Direction::Up,
            &record_sql,
            migrations,
            observer,
            |this, migration, resume_at, record, observer| match migration.transaction {
                TransactionMode::Transactional => this.run_transactional(
                    migration,
                    &migration.script,
                    Direction::Up,
                    observer,
                    Some(record),
                ),
                TransactionMode::NoTransaction => {
                    this.run_no_transaction(migration, resume_at, observer, record)
                }
            },
        )
    }

    /// Rolls back the migrations at `indices` (newest first), each with the
    /// removal of its tracking row.
    pub fn rollback(
        &mut self,
        set: &MigrationSet,
        indices: &[usize],
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, ExecFailure> {
        let migrations = indices.iter().map(|&i| (&set.migrations()[i], 0)).collect();
        let record_sql = self.table.record_rolled_back_sql();
        self.run_each(
            Direction::Down,
            &record_sql,
            migrations,
            observer,
            |this, migration, _, record, observer| {
                let rollback = migration
                    .rollback
                    .as_ref()
                    .expect("the plan only lists migrations with a rollback file");
                match rollback.transaction {
                    TransactionMode::Transactional => this.run_transactional(
                        migration,
                        &rollback.script,
                        Direction::Down,
                        observer,
                        Some(record),
                    ),
                    TransactionMode::NoTransaction => this
                        .run_autocommit(migration, &rollback.script, Direction::Down, observer)
                        .and_then(|elapsed| {
                            this.bookkeeping()
                                .batch_execute(&record(Some(millis(elapsed))))
                                .map_err(|e| tracking_error(migration, e))?;
                            Ok(elapsed)
                        }),
                }
            },
        )
    }

    /// The loop of [`Self::apply`] and [`Self::rollback`]: for each
    /// migration (with the statement to resume at), reports its start,
    /// runs it with `run` (given the SQL that records it, from
    /// `record_sql`), and ends it. Stops at the first failure.
    fn run_each(
        &mut self,
        direction: Direction,
        record_sql: &str,
        migrations: Vec<(&Migration, usize)>,
        observer: &mut dyn FnMut(Event<'_>),
        run: impl Fn(
            &mut Self,
            &Migration,
            usize,
            &Record<'_>,
            &mut dyn FnMut(Event<'_>),
        ) -> Result<Duration, ExecError>,
    ) -> Result<Report, ExecFailure> {
        let mut report = Report::default();
        let no_transaction = |migration: &Migration| {
            let mode = match direction {
                Direction::Up => Some(migration.transaction),
                Direction::Down => migration.rollback.as_ref().map(|r| r.transaction),
            };
            mode == Some(TransactionMode::NoTransaction)
        };
        let mut prepared = prepare_named(self.client, record_sql);
        let own_bookkeeping = self.bookkeeping.is_some() || self.watcher.is_some();
        if own_bookkeeping && migrations.iter().any(|(m, _)| no_transaction(m)) {
            prepared = prepared.and_then(|_| prepare_named(&mut self.bookkeeping(), record_sql));
        }
        let name = match prepared {
            Ok(name) => name,
            Err(e) => return Err(fail(report, ExecError::Tracking(HistoryError::Db(e)))),
        };
        let (action, with_description) = match direction {
            Direction::Up => (AuditAction::Apply, true),
            Direction::Down => (AuditAction::Rollback, false),
        };
        let context = self.audit;
        let total = migrations.len();
        for (i, (migration, resume_at)) in migrations.into_iter().enumerate() {
            if crate::interrupt::requested() {
                return Err(fail(report, interrupted(migration)));
            }
            observer(Event::Started {
                migration,
                direction,
                position: i + 1,
                total,
            });
            let started_at = Utc::now();
            let description = [migration.description.as_str()];
            let extra: &[&str] = if with_description { &description } else { &[] };
            let record = |ms: Option<i32>| {
                let entry = AuditEntry::succeeded(action, migration, started_at, ms);
                audit::execute_sql(&name, context, &entry, extra)
            };
            let first_attempt = Instant::now();
            self.attempts = 1;
            let mut result = run(self, migration, resume_at, &record, observer);
            let script = match direction {
                Direction::Up => Some(&migration.script),
                Direction::Down => migration.rollback.as_ref().map(|r| &r.script),
            };
            let touched_session = script.is_some_and(changes_session);
            if result.is_ok() && (no_transaction(migration) || touched_session) {
                // What it did to its session ends with it (see
                // `with_session_setup`): a `SET search_path` in one file
                // must not move the next file's tables, as under psql,
                // where each file has a session of its own. `DISCARD ALL`
                // or `DEALLOCATE` in it dropped the statement the next
                // ones record with.
                let reset = self
                    .session_setup
                    .as_ref()
                    .map(|setup| format!("RESET ALL;\nRESET ROLE;\n{setup}"));
                result = reset
                    .map_or(Ok(()), |sql| self.client.batch_execute(&sql))
                    .and_then(|()| prepare_named(self.client, record_sql))
                    .map(drop)
                    .map_err(|e| tracking_error(migration, e))
                    .and(result);
            }
            match result {
                Ok(elapsed) => {
                    let ran = Ran {
                        elapsed,
                        attempts: self.attempts,
                        total: first_attempt.elapsed(),
                    };
                    observer(Event::Finished {
                        migration,
                        direction,
                        elapsed,
                        attempts: ran.attempts,
                        total: ran.total,
                    });
                    report.done.push(outcome(migration, direction, &ran));
                }
                Err(error) => {
                    self.audit_failure(action, migration, started_at, &error);
                    return Err(fail(report, error));
                }
            }
        }
        Ok(report)
    }

    /// Runs `script` (a migration's forward or rollback file, or a seed)
    /// without touching the tracking tables or the audit trail: in one
    /// transaction when `mode` is transactional, else statement by statement
    /// in autocommit. What `pgshift test` uses to run a forward file a
    /// second time and to load `seed_data.sql`.
    pub fn run_untracked(
        &mut self,
        migration: &Migration,
        script: &Script,
        mode: TransactionMode,
        direction: Direction,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<Duration, ExecError> {
        match mode {
            TransactionMode::Transactional => {
                self.run_transactional(migration, script, direction, observer, None)
            }
            TransactionMode::NoTransaction => {
                self.run_autocommit(migration, script, direction, observer)
            }
        }
    }

    /// Every statement of `script` in autocommit, nothing recorded; how
    /// long they took.
    fn run_autocommit(
        &mut self,
        migration: &Migration,
        script: &Script,
        direction: Direction,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<Duration, ExecError> {
        let started = Instant::now();
        self.run_statements(
            migration,
            script,
            direction,
            StartAt::Statement(0),
            observer,
            |_, _| Ok(()),
        )?;
        Ok(started.elapsed())
    }

    /// Runs the SQL steps of `script` one at a time from `start`, calling
    /// `after(client, done)` after each statement.
    fn run_statements(
        &mut self,
        migration: &Migration,
        script: &Script,
        direction: Direction,
        start: StartAt,
        observer: &mut dyn FnMut(Event<'_>),
        mut after: impl FnMut(&mut Client, usize) -> Result<(), ExecError>,
    ) -> Result<(), ExecError> {
        let (from, shown, mut begin_pending) = match start {
            StartAt::Begin { shown } => (0, shown, true),
            StartAt::Statement(from) => (from, 0, false),
        };
        let total = script.statement_count();
        let mut index = 0;
        for (step_index, step) in script.steps.iter().enumerate() {
            let quiet = step_index < shown;
            match step {
                Step::Echo { text } => {
                    if index >= from && !quiet {
                        observer(Event::Echo { text });
                    }
                }
                Step::Sql { file, .. } => {
                    index += 1;
                    if index <= from {
                        continue;
                    }
                    if crate::interrupt::requested() {
                        return Err(interrupted(migration));
                    }
                    let source = &script.files[*file];
                    let batch = Batch::single(
                        script,
                        step_index,
                        index,
                        std::mem::take(&mut begin_pending),
                    );
                    if batch.begin_first {
                        self.client
                            .batch_execute("BEGIN")
                            .map_err(|e| connection_error(migration, e))?;
                    }
                    let result = self.client.batch_execute(batch.text());
                    let notices = self.notices.drain();
                    if !quiet {
                        forward_notices(notices, source, &batch, observer);
                    }
                    if let Err(e) = result {
                        let Some(server) = ServerError::from_error(&e) else {
                            return Err(connection_error(migration, e));
                        };
                        let located = server.position.and_then(|p| batch.locate(p));
                        return Err(statement_failure(
                            migration, direction, source, &batch, located, server, script,
                        ));
                    }
                    after(self.client, index)?;
                    if !quiet {
                        observer(Event::Statement { done: index, total });
                    }
                }
            }
        }
        if begin_pending {
            // A script without statements still records in a transaction.
            self.client
                .batch_execute("BEGIN")
                .map_err(|e| connection_error(migration, e))?;
        }
        Ok(())
    }
}

/// Shows the notices a query raised, each at its statement (at its
/// position there when the server gave one). A notice without a position
/// from statements sent together is shown against all of them, unless it
/// came from an anonymous code block and only one of them is a `DO`.
fn forward_notices(
    notices: Vec<NoticeMessage>,
    file: &SourceFile,
    batch: &Batch,
    observer: &mut dyn FnMut(Event<'_>),
) {
    for notice in notices {
        let from_do_block = notice
            .context
            .as_deref()
            .is_some_and(|c| c.contains("inline_code_block"));
        let (span, among) = match notice.position.and_then(|p| batch.locate(p)) {
            Some(l) => (point(file.offset_of_char_position(l.span, l.position)), 1),
            None => match batch.lone_do_block(file).filter(|_| from_do_block) {
                Some(block) => (block, 1),
                None => (batch.span(), batch.len()),
            },
        };
        observer(Event::Notice {
            notice: &notice,
            file,
            span,
            among,
        });
    }
}

/// The failure of a statement of `batch`: the one at `located` when the
/// server's position says which, else the whole batch (exact when it holds
/// one statement).
fn statement_failure(
    migration: &Migration,
    direction: Direction,
    file: &Arc<SourceFile>,
    batch: &Batch,
    located: Option<batch::Located>,
    server: ServerError,
    script: &Script,
) -> ExecError {
    let (statement, last_statement, span, at) = match located {
        Some(l) => {
            let statement = batch.first_statement + l.index;
            let at = file.offset_of_char_position(l.span, l.position);
            (statement, statement, l.span, Some(at))
        }
        None => (
            batch.first_statement,
            batch.last_statement(),
            batch.span(),
            None,
        ),
    };
    ExecError::Statement(Box::new(StatementFailure {
        version: migration.version.clone(),
        direction,
        file: Arc::clone(file),
        span,
        at,
        server,
        statement,
        last_statement,
        total: script.statement_count(),
        no_transaction: false,
        invalid_indexes: Vec::new(),
    }))
}

fn point(offset: usize) -> Span {
    Span::new(offset, offset)
}

/// Prepares `sql` on the session with SQL-level `PREPARE`, under a name
/// taken from its text, unless the session has it already; the name, for
/// `EXECUTE` (see [`audit::execute_sql`]).
fn prepare_named(client: &mut Client, sql: &str) -> Result<String, postgres::Error> {
    use sha2::Digest as _;
    let digest = format!("{:x}", sha2::Sha256::digest(sql.as_bytes()));
    let name = format!("pgshift_record_{}", &digest[..16]);
    let prepared: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = $1)",
            &[&name],
        )?
        .get(0);
    if !prepared {
        client.batch_execute(&format!("PREPARE {name} AS {sql}"))?;
    }
    Ok(name)
}

/// Indexes marked invalid, as a failed `CREATE INDEX CONCURRENTLY` leaves them.
pub fn find_invalid_indexes(client: &mut Client) -> Result<Vec<InvalidIndex>, postgres::Error> {
    let rows = client.query(
        "SELECT n.nspname::text, c.relname::text FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT i.indisvalid ORDER BY 1, 2",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|row| {
            let (schema, name): (String, String) = (row.get(0), row.get(1));
            let drop_sql = format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}.{};",
                quote_ident(&schema),
                quote_ident(&name)
            );
            InvalidIndex {
                schema,
                name,
                drop_sql,
            }
        })
        .collect())
}

/// Milliseconds for an `INTEGER` column (`execution_time_ms`).
fn millis(elapsed: Duration) -> i32 {
    i32::try_from(elapsed.as_millis()).unwrap_or(i32::MAX)
}

/// How a migration that succeeded ran.
struct Ran {
    elapsed: Duration,
    attempts: u32,
    total: Duration,
}

fn outcome(migration: &Migration, direction: Direction, ran: &Ran) -> Outcome {
    Outcome {
        version: migration.version.clone(),
        description: migration.description.clone(),
        direction,
        execution_time_ms: ran.elapsed.as_millis() as u64,
        attempts: ran.attempts,
        total_ms: ran.total.as_millis() as u64,
    }
}

fn interrupted(migration: &Migration) -> ExecError {
    ExecError::Interrupted {
        version: migration.version.clone(),
    }
}

fn fail(report: Report, error: ExecError) -> ExecFailure {
    ExecFailure { report, error }
}

fn connection_error(migration: &Migration, source: postgres::Error) -> ExecError {
    ExecError::Connection {
        version: migration.version.clone(),
        source,
    }
}

fn tracking_error(migration: &Migration, e: postgres::Error) -> ExecError {
    if e.as_db_error().is_none() {
        return connection_error(migration, e);
    }
    ExecError::Tracking(HistoryError::Db(e))
}
