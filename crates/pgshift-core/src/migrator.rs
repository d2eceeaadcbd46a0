//! The operations the CLI offers, each one call: status, up, rollback.
//!
//! A [`Migrator`] ties a loaded [`MigrationSet`] to a database and a
//! tracking table. Every operation that changes anything takes the advisory
//! lock on its own session first, then reads the history and plans under
//! the lock, so two runners never apply the same migration.

use crate::audit::{AuditContext, AuditRecord};
use crate::connect::ConnectionSettings;
use crate::error::Error;
use crate::executor::busy::Watcher;
use crate::executor::{Event, ExecOptions, Executor, NoticeQueue, Report};
use crate::history::{quote_ident, History, HistoryError, TrackingTable};
use crate::lock::{lock_key, LockHolder, MigrationLock};
use crate::migration::{MigrationSet, Version};
use crate::plan::{Plan, RollbackTarget, UpOptions, UpStep};
use postgres::Client;
use std::time::Duration;

/// Session and locking settings for a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `application_name` of pgshift's sessions.
    pub application_name: String,
    /// How long to wait for another runner's lock.
    pub lock_wait: Duration,
    /// `lock_timeout` for migration statements; `None` leaves the server's.
    /// Short by default: while a statement waits for a lock, the
    /// application's queries on that table queue behind it.
    pub lock_timeout: Option<Duration>,
    /// `statement_timeout` for migration statements; `None` leaves the server's.
    pub statement_timeout: Option<Duration>,
    /// Run migrations after `SET ROLE` to this role.
    pub role: Option<String>,
    /// Retry policy.
    pub exec: ExecOptions,
    /// Who is running, for the audit trail.
    pub audit: AuditContext,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            application_name: "pgshift".into(),
            lock_wait: Duration::from_secs(60),
            lock_timeout: Some(Duration::from_millis(200)),
            statement_timeout: None,
            role: None,
            exec: ExecOptions::default(),
            audit: AuditContext::default(),
        }
    }
}

/// Something to show while an operation runs.
#[derive(Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// Another runner holds the lock; waiting.
    LockWait {
        /// Who, if the server says.
        holder: Option<&'a LockHolder>,
    },
    /// An executor event.
    Exec(Event<'a>),
    /// A backup was written (`--backup`), before anything else ran.
    BackedUp {
        /// The file.
        backup: &'a crate::backup::Backup,
    },
}

/// A migration folder bound to a database.
#[derive(Debug)]
pub struct Migrator {
    set: MigrationSet,
    table: TrackingTable,
    connection: ConnectionSettings,
    options: RunOptions,
    backup: Option<crate::backup::BackupOptions>,
}

/// What `up` did.
#[derive(Debug, serde::Serialize)]
pub struct UpOutcome {
    /// The plan as it stood under the lock, before applying.
    pub plan: Plan,
    /// What was applied.
    pub report: Report,
}

impl Migrator {
    /// Binds a set to a database.
    pub fn new(
        set: MigrationSet,
        table: TrackingTable,
        connection: ConnectionSettings,
        options: RunOptions,
    ) -> Self {
        Migrator {
            set,
            table,
            connection,
            options,
            backup: None,
        }
    }

    /// Makes `up`, `rollback` and `redo` write a backup with pg_dump under
    /// the lock before they change anything; if it fails, nothing runs.
    pub fn with_backup(mut self, backup: Option<crate::backup::BackupOptions>) -> Self {
        self.backup = backup;
        self
    }

    /// The run options.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// The migration set.
    pub fn set(&self) -> &MigrationSet {
        &self.set
    }

    /// The tracking table.
    pub fn table(&self) -> &TrackingTable {
        &self.table
    }

    /// The connection settings.
    pub fn connection(&self) -> &ConnectionSettings {
        &self.connection
    }

    /// Reads the history and plans, changing nothing (no lock, no table
    /// created): what `status`, `verify` and `--dry-run` show.
    pub fn plan(&self) -> Result<(Plan, History), Error> {
        let mut client = self.connection.connect(&self.options.application_name)?;
        if let Some(role) = &self.options.role {
            // `up` plans before it asks or lints: a role it cannot use is
            // said there, before anything else.
            crate::role::check(&mut client, role)?;
        }
        let history = self.table.read(&mut client)?;
        Ok((Plan::new(&self.set, &history), history))
    }

    /// The server's major version (`server_version_num / 10000`), what
    /// lint judges version-dependent rules for unless configured.
    pub fn server_major_version(&self) -> Result<u32, Error> {
        let mut client = self.connection.connect(&self.options.application_name)?;
        let num: i32 = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .map_err(Error::Session)?
            .get(0);
        Ok(u32::try_from(num / 10_000).unwrap_or(0))
    }

    /// The newest `limit` audit rows, newest first (read-only).
    pub fn audit_log(&self, limit: i64) -> Result<Vec<AuditRecord>, Error> {
        let mut client = self.connection.connect(&self.options.application_name)?;
        Ok(self.table.read_audit(&mut client, limit)?)
    }

    /// How many rows each table holds now, for the confirmation before a
    /// destructive statement: `None` when the table does not exist or
    /// counting took longer than a few seconds. Read-only.
    pub fn row_counts(&self, tables: &[&str]) -> Result<Vec<Option<i64>>, Error> {
        let mut client = self.connection.connect(&self.options.application_name)?;
        client
            .batch_execute("SET statement_timeout = '5s'")
            .map_err(Error::Session)?;
        let mut counts = Vec::with_capacity(tables.len());
        for table in tables {
            // to_regclass resolves the name as the migration would (search
            // path included) and gives back a safely quoted name, or NULL.
            let resolved: Option<String> = client
                .query_one("SELECT to_regclass($1)::text", &[table])
                .ok()
                .and_then(|row| row.get(0));
            let count = resolved.and_then(|name| {
                client
                    .query_one(&format!("SELECT count(*) FROM {name}"), &[])
                    .ok()
                    .map(|row| row.get::<_, i64>(0))
            });
            counts.push(count);
        }
        Ok(counts)
    }

    /// The destructive statements of `scripts` with the rows each puts at
    /// stake now (see [`Self::row_counts`]); connects only when there is
    /// one. Read-only.
    pub fn stakes<'s>(
        &self,
        scripts: impl IntoIterator<Item = &'s crate::script::Script>,
    ) -> Result<Vec<crate::destructive::Stake>, Error> {
        let found: Vec<crate::destructive::Destructive> = scripts
            .into_iter()
            .flat_map(crate::destructive::find)
            .collect();
        let tables: Vec<&str> = found.iter().filter_map(|d| d.loss.table()).collect();
        let mut counts = if tables.is_empty() {
            Vec::new()
        } else {
            self.row_counts(&tables)?
        }
        .into_iter();
        Ok(found
            .into_iter()
            .map(|destructive| {
                let rows = destructive
                    .loss
                    .table()
                    .and_then(|_| counts.next().flatten());
                crate::destructive::Stake { destructive, rows }
            })
            .collect())
    }

    /// Applies pending migrations under the lock.
    pub fn up(
        &self,
        up: &UpOptions,
        observer: &mut dyn FnMut(Progress<'_>),
    ) -> Result<UpOutcome, Error> {
        let (mut lock, mut client, notices) = self.lock_and_connect(observer)?;
        // Read first: a table pgshift cannot use gets nothing created next to it.
        let history = self.table.read(&mut client)?;
        self.table.ensure(&mut client)?;
        let plan = Plan::new(&self.set, &history);
        let steps = plan.up_steps(&self.set, up)?;
        if !steps.is_empty() {
            self.backup_first(&mut client, observer)?;
        }
        let work = (&mut lock, &mut client);
        let report = self.executor_run(work, notices, observer, |exec, set, obs| {
            exec.apply(set, &steps, obs)
        })?;
        Ok(UpOutcome { plan, report })
    }

    /// The steps `up` would run now, without taking the lock.
    pub fn up_preview(&self, up: &UpOptions) -> Result<(Plan, Vec<UpStep>), Error> {
        let (plan, _) = self.plan()?;
        let steps = plan.up_steps(&self.set, up)?;
        Ok((plan, steps))
    }

    /// Rolls back under the lock. When `expected` is given (the versions a
    /// user confirmed), refuses if the plan under the lock differs.
    pub fn rollback(
        &self,
        target: &RollbackTarget,
        expected: Option<&[Version]>,
        observer: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Report, Error> {
        let (mut lock, mut client, notices) = self.lock_and_connect(observer)?;
        // Read first: a table pgshift cannot use gets nothing created next to it.
        let history = self.table.read(&mut client)?;
        self.table.ensure(&mut client)?;
        let plan = Plan::new(&self.set, &history);
        let steps = plan.rollback_steps(&self.set, target)?;
        if let Some(expected) = expected {
            let now: Vec<&Version> = steps
                .iter()
                .map(|&i| &self.set.migrations()[i].version)
                .collect();
            if now.len() != expected.len() || now.iter().zip(expected).any(|(a, b)| *a != b) {
                return Err(crate::plan::PlanError::Changed.into());
            }
        }
        if !steps.is_empty() {
            self.backup_first(&mut client, observer)?;
        }
        let work = (&mut lock, &mut client);
        let report = self.executor_run(work, notices, observer, |exec, set, obs| {
            exec.rollback(set, &steps, obs)
        })?;
        Ok(report)
    }

    /// Rolls back the newest migration and applies it again, under one
    /// lock: the seed's "test rollback, re-apply" step for the migration
    /// being written. `expected` is the version the user confirmed.
    pub fn redo(
        &self,
        expected: Option<&Version>,
        observer: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Report, Error> {
        let (mut lock, mut client, notices) = self.lock_and_connect(observer)?;
        // Read first: a table pgshift cannot use gets nothing created next to it.
        let history = self.table.read(&mut client)?;
        self.table.ensure(&mut client)?;
        let steps =
            Plan::new(&self.set, &history).rollback_steps(&self.set, &RollbackTarget::Steps(1))?;
        let Some(&index) = steps.first() else {
            return Err(crate::plan::PlanError::NothingApplied.into());
        };
        if expected.is_some_and(|v| *v != self.set.migrations()[index].version) {
            return Err(crate::plan::PlanError::Changed.into());
        }
        self.backup_first(&mut client, observer)?;
        let work = (&mut lock, &mut client);
        let mut report = self.executor_run(work, notices.clone(), observer, |exec, set, obs| {
            exec.rollback(set, &[index], obs)
        })?;
        let again = [UpStep {
            migration: index,
            resume_at: None,
        }];
        let work = (&mut lock, &mut client);
        let applied = self.executor_run(work, notices, observer, |exec, set, obs| {
            exec.apply(set, &again, obs)
        });
        match applied {
            Ok(up) => {
                report.done.extend(up.done);
                Ok(report)
            }
            Err(Error::Exec(mut failure)) => {
                let mut done = report.done;
                done.append(&mut failure.report.done);
                failure.report.done = done;
                Err(Error::Exec(failure))
            }
            Err(other) => Err(other),
        }
    }

    /// Marks every migration up to and including `version` as applied
    /// without running it, recording its checksum: adopting a database
    /// built before pgshift. Returns the versions marked.
    pub fn baseline(&self, version: &str) -> Result<Vec<Version>, Error> {
        let target = self
            .set
            .get(version)
            .map(|m| m.version.clone())
            .ok_or_else(|| crate::plan::PlanError::UnknownTarget {
                version: version.to_string(),
            })?;
        let (_lock, mut client, _notices) = self.lock_and_connect(&mut |_| {})?;
        // Read first: a table pgshift cannot use gets nothing created next to it.
        let history = self.table.read(&mut client)?;
        self.table.ensure(&mut client)?;
        let plan = Plan::new(&self.set, &history);
        let marked: Vec<&crate::migration::Migration> = plan
            .entries
            .iter()
            .filter(|e| e.state == crate::plan::State::Pending && e.version <= target)
            .filter_map(|e| e.migration.map(|i| &self.set.migrations()[i]))
            .collect();
        let started_at = chrono::Utc::now();
        let mut tx = client.transaction().map_err(HistoryError::Db)?;
        let record = tx
            .prepare(&self.table.record_applied_sql())
            .map_err(HistoryError::Db)?;
        for m in &marked {
            crate::audit::write_with(
                &mut tx,
                &record,
                &self.options.audit,
                &crate::audit::AuditEntry::succeeded(
                    crate::audit::AuditAction::Baseline,
                    m,
                    started_at,
                    None,
                ),
                &[&m.description],
            )
            .map_err(HistoryError::Db)?;
        }
        tx.commit().map_err(HistoryError::Db)?;
        Ok(marked.into_iter().map(|m| m.version.clone()).collect())
    }

    /// With [`Migrator::with_backup`], writes the backup (under the lock
    /// the caller holds) and reports it.
    fn backup_first(
        &self,
        client: &mut Client,
        observer: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(), Error> {
        if let Some(options) = &self.backup {
            let backup = self.backup_on(client, options)?;
            observer(Progress::BackedUp { backup: &backup });
        }
        Ok(())
    }

    /// Writes one audit row for this run's tracking table and actor.
    pub(crate) fn write_audit(
        &self,
        client: &mut impl postgres::GenericClient,
        entry: &crate::audit::AuditEntry<'_>,
    ) -> Result<(), HistoryError> {
        crate::audit::write(
            client,
            &self.table.audit_insert_sql(),
            &self.options.audit,
            entry,
        )
        .map_err(HistoryError::Db)
    }

    /// Takes the lock on a session of its own, then opens the work session
    /// with the run's settings and a notice queue.
    pub(crate) fn lock_and_connect(
        &self,
        observer: &mut dyn FnMut(Progress<'_>),
    ) -> Result<(MigrationLock, Client, NoticeQueue), Error> {
        let app = &self.options.application_name;
        let lock_client = self.connection.connect(app)?;
        let lock = MigrationLock::acquire(
            lock_client,
            lock_key(&self.table),
            self.options.lock_wait,
            |holder| observer(Progress::LockWait { holder }),
        )?;
        let notices = NoticeQueue::default();
        let sink = notices.clone();
        let mut client = self
            .connection
            .connect_with_notices(app, move |notice| sink.push(notice))?;
        prepare_session(&mut client, &self.options)?;
        let mut lock = lock;
        as_run_role(lock.session(), &self.options)?;
        Ok((lock, client, notices))
    }

    /// Runs `run` on an executor over the work session, which may look up
    /// who blocks it, and writes its bookkeeping, on the lock session:
    /// `(lock, client)`.
    fn executor_run(
        &self,
        (lock, client): (&mut MigrationLock, &mut Client),
        notices: NoticeQueue,
        observer: &mut dyn FnMut(Progress<'_>),
        run: impl FnOnce(
            &mut Executor<'_>,
            &MigrationSet,
            &mut dyn FnMut(Event<'_>),
        ) -> Result<Report, crate::executor::ExecFailure>,
    ) -> Result<Report, Error> {
        // Ctrl-C cancels what this session runs rather than abandoning it.
        let _cancellable = crate::interrupt::register(&self.connection, client);
        let watcher = Watcher::new(lock.session());
        std::thread::scope(|scope| {
            let _watching = watcher.spawn(scope);
            let mut executor = Executor::new(
                client,
                &self.table,
                &self.options.exec,
                &self.options.audit,
                notices,
            )
            .with_watcher(&watcher)
            .with_session_setup(session_settings(&self.options));
            let mut forward = |event: Event<'_>| observer(Progress::Exec(event));
            Ok(run(&mut executor, &self.set, &mut forward)?)
        })
    }
}

/// Sets up a session that runs migrations: checks the `--role` can be
/// assumed, then applies [`session_settings`].
///
/// # Errors
/// [`Error::Role`] before anything is set; [`Error::Session`].
pub fn prepare_session(client: &mut Client, options: &RunOptions) -> Result<(), Error> {
    if let Some(role) = &options.role {
        crate::role::check(client, role)?;
    }
    client
        .batch_execute(&session_settings(options))
        .map_err(Error::Session)
}

/// Makes bookkeeping written on a session of pgshift's own (see
/// [`Executor::with_bookkeeping`]) be by the same role as the migrations'
/// (`applied_by`, the audit trail).
fn as_run_role(client: &mut Client, options: &RunOptions) -> Result<(), Error> {
    match &options.role {
        Some(role) => client
            .batch_execute(&format!("SET ROLE {}", quote_ident(role)))
            .map_err(Error::Session),
        None => Ok(()),
    }
}

/// A session for [`Executor::with_bookkeeping`] where no lock session is
/// held (the scratch databases of `drift` and `test`).
pub(crate) fn bookkeeping_session(
    connection: &ConnectionSettings,
    options: &RunOptions,
) -> Result<Client, Error> {
    let mut client = connection.connect(&options.application_name)?;
    as_run_role(&mut client, options)?;
    Ok(client)
}

/// `SET` statements for the migration session, one a line.
pub fn session_settings(options: &RunOptions) -> String {
    let ms = |d: Option<Duration>| d.map(|d| d.as_millis()).unwrap_or(0);
    let mut sql = String::new();
    if let Some(role) = &options.role {
        sql.push_str(&format!("SET ROLE {};\n", quote_ident(role)));
    }
    if options.lock_timeout.is_some() {
        sql.push_str(&format!(
            "SET lock_timeout = '{}ms';\n",
            ms(options.lock_timeout)
        ));
    }
    if options.statement_timeout.is_some() {
        sql.push_str(&format!(
            "SET statement_timeout = '{}ms';\n",
            ms(options.statement_timeout)
        ));
    }
    sql
}
