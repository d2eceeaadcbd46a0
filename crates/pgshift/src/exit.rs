//! Exit codes: one per outcome a script must tell apart. Documented in the
//! README; a released code never changes meaning.

/// How a `pgshift` run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked for was done (or there was nothing to do).
    Success = 0,
    /// A migration or rollback failed on the server; earlier ones stay applied.
    MigrationFailed = 1,
    /// Bad command-line usage (clap's own code).
    Usage = 2,
    /// The migration folder or configuration is invalid, an applied
    /// migration was edited or is missing, or the plan refuses to run.
    Validation = 3,
    /// The database could not be reached or refused the login.
    Connection = 4,
    /// Another run held the migration lock for the whole wait.
    LockNotAcquired = 5,
    /// The user declined a confirmation, or none could be asked.
    Declined = 6,
    /// Findings: `pgshift lint` found an error-level problem, or `pgshift
    /// diff` found differences (schema drift).
    Findings = 7,
    /// A health check failed (after `up`, `rollback`, `redo`, on a
    /// rehearsal copy, or in `pgshift check`).
    HealthCheckFailed = 8,
    /// A backup, restore or rehearsal copy failed (pg_dump or pg_restore
    /// missing, too old, or failing); with `--backup`, nothing else ran.
    BackupFailed = 9,
    /// A bug or an unexpected failure (local cluster, file system).
    Internal = 10,
    /// The database stayed busy: a migration kept hitting a lock timeout
    /// or deadlock for the whole `--lock-retry-for` budget (or
    /// `--max-retries`) and was rolled back; earlier ones stay applied.
    DatabaseBusy = 11,
    /// Ctrl-C or SIGTERM: the running statement was cancelled and its
    /// migration rolled back, or the scratch databases dropped.
    Interrupted = 130,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status as u8)
    }
}
