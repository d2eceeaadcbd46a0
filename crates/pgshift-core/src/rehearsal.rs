//! `up --rehearse`: the seed's "test on copy", done by the tool.
//!
//! The target database is copied into a scratch database on the same
//! server, named `pgshift_rehearsal_<database>_<pid>_<random>` (cut to
//! PostgreSQL's 63 bytes) so two runs never collide. The copy is made with
//! `CREATE DATABASE … TEMPLATE <target>` when no other session is connected
//! to the target (fast, a file-level copy); otherwise, since PostgreSQL
//! refuses to copy a database in use, with `pg_dump | pg_restore` into a
//! new database. The pending migrations and the health checks then run on
//! the copy, and the copy is dropped, on failure too. Only a rehearsal
//! that passed lets the caller go on to the real database.

use crate::backup::{self, BackupError, Tool, ToolPaths};
use crate::check::{CheckReport, HealthChecks};
use crate::executor::Report;
use crate::history::quote_ident;
use crate::migrator::{Migrator, Progress};
use crate::plan::UpOptions;
use rand::Rng;

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

/// `pgshift_rehearsal_<db>_<pid>_<hex>`, at most 63 bytes.
pub fn scratch_name(database: &str, pid: u32, tag: u16) -> String {
    let suffix = format!("_{pid}_{tag:04x}");
    let safe: String = database
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let room = 63 - "pgshift_rehearsal_".len() - suffix.len();
    let cut: String = safe.chars().take(room).collect();
    format!("pgshift_rehearsal_{cut}{suffix}")
}

/// Drops the scratch database when dropped: on success, failure or panic.
struct Scratch {
    admin: postgres::Client,
    name: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        ));
    }
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
        let name = scratch_name(&database, std::process::id(), rand::thread_rng().gen());
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
        let templated = others == 0
            && admin
                .batch_execute(&format!(
                    "CREATE DATABASE {} TEMPLATE {}",
                    quote_ident(&name),
                    quote_ident(&database)
                ))
                .is_ok();
        let method = if templated {
            CopyMethod::Template
        } else {
            CopyMethod::DumpRestore
        };
        if !templated {
            let pg_dump = backup::locate(Tool::PgDump, tools).map_err(copy_error)?;
            let pg_restore = backup::locate(Tool::PgRestore, tools).map_err(copy_error)?;
            let (num, text) = backup::server_version(&mut admin).map_err(copy_error)?;
            pg_dump.check_server(num, &text).map_err(copy_error)?;
            pg_restore.check_server(num, &text).map_err(copy_error)?;
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE {} TEMPLATE template0",
                    quote_ident(&name)
                ))
                .map_err(|source| {
                    copy_error(BackupError::Db {
                        action: "create the rehearsal database",
                        source,
                    })
                })?;
            let scratch = Scratch {
                admin,
                name: name.clone(),
            };
            backup::copy(
                &pg_dump,
                &pg_restore,
                self.connection(),
                &app,
                &database,
                &name,
            )
            .map_err(copy_error)?;
            return self.rehearse_on(scratch, method, up, checks, observer);
        }
        let scratch = Scratch {
            admin,
            name: name.clone(),
        };
        self.rehearse_on(scratch, method, up, checks, observer)
    }

    fn rehearse_on(
        &self,
        scratch: Scratch,
        method: CopyMethod,
        up: &UpOptions,
        checks: &HealthChecks,
        observer: &mut dyn FnMut(Progress<'_>),
    ) -> Result<Rehearsal, crate::Error> {
        let copy = scratch.name.clone();
        let failed = |error: crate::Error| {
            crate::Error::from(Box::new(RehearsalError::Failed {
                copy: copy.clone(),
                error,
            }))
        };
        let on_copy = Migrator::new(
            self.set().clone(),
            self.table().clone(),
            self.connection().with_database(&copy),
            self.options().clone(),
        );
        let outcome = on_copy.up(up, observer).map_err(failed)?;
        let report = on_copy.check(checks).map_err(failed)?;
        drop(scratch);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_fit_and_never_collide() {
        let a = scratch_name("users_api", 4242, 0x1f);
        assert_eq!(a, "pgshift_rehearsal_users_api_4242_001f");
        let long = scratch_name(&"Ä-x".repeat(40), u32::MAX, 0xffff);
        assert!(long.len() <= 63, "{long}");
        assert!(long.ends_with(&format!("_{}_ffff", u32::MAX)));
    }
}
