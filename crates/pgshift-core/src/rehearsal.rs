//! `up --rehearse`: the seed's "test on copy", done by the tool.
//!
//! The target database is copied into a scratch database on the same
//! server ([`crate::scratch`]: named `pgshift_scratch_<pid>_<random>`,
//! dropped on success and failure, swept by a later run after a crash or
//! kill). The copy is made with `CREATE DATABASE … TEMPLATE <target>` when
//! no other session is connected to the target (fast, a file-level copy);
//! otherwise, since PostgreSQL refuses to copy a database in use, with
//! `pg_dump | pg_restore` into a new scratch database. The pending
//! migrations and the health checks then run on the copy, and the copy is
//! dropped. Only a rehearsal that passed lets the caller go on to the real
//! database.

use crate::backup::{self, BackupError, Tool, ToolPaths};
use crate::check::{CheckReport, HealthChecks};
use crate::executor::Report;
use crate::migrator::{Migrator, Progress};
use crate::plan::UpOptions;
use crate::scratch::{ScratchDb, ScratchError, ScratchServer};

/// How the copy was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CopyMethod {
    /// `CREATE DATABASE … TEMPLATE`.
    Template,
    /// `pg_dump | pg_restore`.
    DumpRestore,
}

/// A rehearsal that passed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rehearsal {
    /// The scratch database (dropped by now).
    pub copy: String,
    /// How it was made.
    pub method: CopyMethod,
    /// What was applied on it.
    pub report: Report,
    /// The health checks on it.
    pub checks: CheckReport,
}

/// A rehearsal that did not pass; the real database was not touched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RehearsalError {
    /// The copy could not be made.
    #[error("cannot copy database `{database}` for the rehearsal: {source}; the real database was not touched")]
    Copy {
        /// The database to copy.
        database: String,
        /// Why.
        source: BackupError,
    },
    /// No scratch database could be created.
    #[error("cannot create a database for the rehearsal copy of `{database}`: {source}; the real database was not touched")]
    Scratch {
        /// The database to copy.
        database: String,
        /// Why.
        source: ScratchError,
    },
    /// Applying the migrations on the copy failed.
    #[error("the rehearsal on a copy failed, so the real database was not touched: {error}")]
    Failed {
        /// The scratch database.
        copy: String,
        /// What failed.
        error: crate::Error,
    },
    /// Health checks failed on the copy.
    #[error("health check(s) failed on the rehearsal copy after applying the migrations, so the real database was not touched")]
    Checks {
        /// The scratch database.
        copy: String,
        /// The results.
        report: CheckReport,
    },
}

impl Migrator {
    /// Copies the database, applies what `up` would apply and runs
    /// `checks` on the copy, then drops the copy. `Ok` only when
    /// everything passed; the real database is never changed here.
    pub fn rehearse(
        &self,
        up: &UpOptions,
        checks: &HealthChecks,
        tools: &ToolPaths,
        observer: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Rehearsal, crate::Error> {
        let app = self.options().application_name.clone();
        let database = self.connection().database().to_string();
        let copy_error = |source: BackupError| {
            crate::Error::from(Box::new(RehearsalError::Copy {
                database: database.clone(),
                source,
            }))
        };
        let scratch_error = |source: ScratchError| {
            crate::Error::from(Box::new(RehearsalError::Scratch {
                database: database.clone(),
                source,
            }))
        };
        let server = ScratchServer::new(self.connection().with_database("postgres"));
        let mut admin = backup::maintenance_session(self.connection(), &app)?;
        let others: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&database],
            )
            .map_err(|source| {
                copy_error(BackupError::Db {
                    action: "list the sessions on the database",
                    source,
                })
            })?
            .get(0);
        // A session may connect between the count and the copy: then
        // CREATE DATABASE … TEMPLATE fails and the dump is the way.
        let templated = if others == 0 {
            server.create_copy_of(&database).ok()
        } else {
            None
        };
        if let Some(scratch) = templated {
            return self.rehearse_on(scratch, CopyMethod::Template, up, checks, observer);
        }
        let pg_dump = backup::locate(Tool::PgDump, tools).map_err(copy_error)?;
        let pg_restore = backup::locate(Tool::PgRestore, tools).map_err(copy_error)?;
        let (num, text) = backup::server_version(&mut admin).map_err(copy_error)?;
        pg_dump.check_server(num, &text).map_err(copy_error)?;
        pg_restore.check_server(num, &text).map_err(copy_error)?;
        let scratch = server.create().map_err(scratch_error)?;
        backup::copy(
            &pg_dump,
            &pg_restore,
            self.connection(),
            &app,
            &database,
            scratch.name(),
        )
        .map_err(copy_error)?;
        self.rehearse_on(scratch, CopyMethod::DumpRestore, up, checks, observer)
    }

    fn rehearse_on(
        &self,
        scratch: ScratchDb,
        method: CopyMethod,
        up: &UpOptions,
        checks: &HealthChecks,
        observer: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Rehearsal, crate::Error> {
        let copy = scratch.name().to_string();
        let failed = |error: crate::Error| {
            crate::Error::from(Box::new(RehearsalError::Failed {
                copy: copy.clone(),
                error,
            }))
        };
        let on_copy = Migrator::new(
            self.set().clone(),
            self.table().clone(),
            scratch.connection().clone(),
            self.options().clone(),
        );
        let outcome = on_copy.up(up, observer).map_err(failed)?;
        let report = on_copy.check(checks).map_err(failed)?;
        // Dropping it is best effort; a copy left behind is swept later.
        let _ = scratch.drop_now();
        if !report.passed() {
            return Err(Box::new(RehearsalError::Checks { copy, report }).into());
        }
        Ok(Rehearsal {
            copy,
            method,
            report: outcome.report,
            checks: report,
        })
    }
}
