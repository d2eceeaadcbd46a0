//! The crate-level error: one variant per module that can fail.

use crate::connect::ConnectError;
use crate::executor::ExecFailure;
use crate::history::HistoryError;
use crate::lock::LockError;
use crate::migration::LoadErrors;
use crate::plan::PlanError;

/// Anything a pgshift operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The migration folder is invalid.
    #[error(transparent)]
    Load(#[from] LoadErrors),
    /// No session could be opened.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Another runner holds the lock.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The tracking tables could not be read or written.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The plan refuses to go ahead.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A migration failed.
    #[error(transparent)]
    Exec(#[from] Box<ExecFailure>),
    /// A backup or restore failed.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// Health checks could not be loaded or run.
    #[error(transparent)]
    Check(#[from] crate::check::CheckError),
    /// `repair` or `accept` refused.
    #[error(transparent)]
    Resolve(#[from] crate::resolve::ResolveError),
    /// The rehearsal on a copy failed; the real database was not touched.
    #[error(transparent)]
    Rehearsal(#[from] Box<crate::rehearsal::RehearsalError>),
    /// A schema snapshot could not be read.
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    /// A scratch database could not be created.
    #[error(transparent)]
    Scratch(#[from] crate::scratch::ScratchError),
    /// The `--role` cannot be assumed.
    #[error(transparent)]
    Role(#[from] crate::role::RoleError),
    /// Setting up the session failed (e.g. a bad `lock_timeout`).
    #[error("cannot set up the session: {}", db_message(.0))]
    Session(#[source] postgres::Error),
}

impl From<ExecFailure> for Error {
    fn from(e: ExecFailure) -> Self {
        Error::Exec(Box::new(e))
    }
}

/// The server's message with its SQLSTATE, or the client error. Never
/// contains a password: neither the server nor the client error text
/// includes connection parameters.
pub fn db_message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}
