//! Settling what the tracking table says after a human stepped in:
//! `pgshift repair` and `pgshift accept`.
//!
//! **Repair.** A `-- pgshift:no-transaction` migration that fails part way
//! leaves its first statements applied and a row in `<table>_progress`;
//! `up` then refuses to go on. After cleaning up by hand, the user says
//! what the database now looks like: `--mark rolled-back` (the statements
//! that ran were undone: the progress row goes and the next `up` runs the
//! migration from the start) or `--mark applied` (the rest was finished by
//! hand: the migration is recorded as applied with its file's checksum).
//!
//! **Accept.** An applied migration whose file changed blocks `up` and
//! fails `verify`, and so does one applied without a checksum (by plain
//! psql), whose file may have changed unseen: `accept` records the file's
//! checksum for it. When the change is deliberate (a comment fixed after
//! deploy), `accept` records the file's new checksum. The tracking table
//! only keeps a hash of the old text, so to tell a comment fix from a
//! changed statement pgshift records, with every apply and baseline, the
//! *statements checksum* of the file (its tokens without whitespace and
//! comments, see [`Checksum::of_statements`]) in the audit trail. `accept`
//! compares the one recorded for the applied checksum with the current
//! file's: equal means only comments and whitespace changed, and the
//! change is accepted; different, or unknown (applied by psql or an older
//! pgshift), needs `force`, because the database may not match the file.
//!
//! Both run under the migration lock, in one transaction with their audit
//! row (old and new checksum, reason, actor).

use crate::audit::{AuditAction, AuditEntry};
use crate::checksum::Checksum;
use crate::history::HistoryError;
use crate::migration::Version;
use crate::migrator::Migrator;
use chrono::Utc;

/// What `repair` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepairMark {
    /// The statements that ran were undone by hand.
    RolledBack,
    /// The remaining statements were completed by hand.
    Applied,
}

impl RepairMark {
    fn as_str(self) -> &'static str {
        match self {
            RepairMark::RolledBack => "rolled-back",
            RepairMark::Applied => "applied",
        }
    }
}

/// What `repair` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Repaired {
    /// The migration.
    pub version: Version,
    /// How it was marked.
    pub mark: RepairMark,
    /// Statements that had run when it failed.
    pub statements_done: usize,
    /// Statements in the file.
    pub statements_total: usize,
}

/// How an accepted file differs from the applied one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Only comments and whitespace.
    CommentsOnly,
    /// The statements changed.
    Statements,
    /// Unknown: no statements checksum was recorded when it was applied.
    Unknown,
    /// The row had no checksum at all (written by plain psql): the file's
    /// is recorded for the first time.
    FirstRecorded,
}

/// Which applied migrations `accept` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptTarget {
    /// These versions.
    Versions(Vec<String>),
    /// Every applied migration without a recorded checksum that has a file.
    AllUnverified,
}

/// What `accept` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Accepted {
    /// The migration.
    pub version: Version,
    /// The checksum recorded before.
    pub old_checksum: Option<String>,
    /// The checksum recorded now (the file's).
    pub new_checksum: String,
    /// What changed.
    pub change: Change,
    /// Whether `force` was needed.
    pub forced: bool,
}

/// Why `repair` or `accept` refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No such migration file.
    #[error("there is no migration {version} in the migration folder")]
    UnknownVersion {
        /// The version asked for.
        version: String,
    },
    /// `repair` of a migration that has no failed run.
    #[error("migration {version} has no failed run to repair{}", if failed.is_empty() { String::new() } else { format!(" (failed: {})", failed.join(", ")) })]
    NotFailed {
        /// The version asked for.
        version: String,
        /// The versions that did fail.
        failed: Vec<String>,
    },
    /// `repair --mark applied` without the file, whose checksum is needed.
    #[error("migration {version} has no file; restore it before marking it applied")]
    NoFile {
        /// The version.
        version: String,
    },
    /// `accept` of a migration that is not applied.
    #[error("migration {version} is not applied, so there is nothing to accept; `pgshift up` applies it")]
    NotApplied {
        /// The version.
        version: String,
    },
    /// `accept` of a file that did not change.
    #[error(
        "migration {version} has not changed since it was applied; there is nothing to accept"
    )]
    Unchanged {
        /// The version.
        version: String,
    },
    /// `accept` of a change that is more than comments and whitespace.
    #[error("{}", match change {
        Change::Statements => format!("migration {version} changed beyond comments and whitespace: its statements differ from the ones applied, so the database may not match the file; write a new migration for the change, or pass --force to accept it anyway"),
        _ => format!("cannot tell whether migration {version} changed only in comments and whitespace: it was applied without a recorded statements checksum (by psql or an older pgshift); compare the file with what was deployed, then pass --force to accept it"),
    })]
    NeedsForce {
        /// The version.
        version: String,
        /// What is known about the change.
        change: Change,
    },
    /// `accept --all-unverified` with no unverified migration.
    #[error(
        "every applied migration has a recorded checksum; there is nothing unverified to accept"
    )]
    NothingUnverified,
    /// `accept` without a reason.
    #[error("accept needs a reason (--reason \"…\"), recorded in the audit trail")]
    NoReason,
}

impl Migrator {
    /// Resolves the failed no-transaction migration `version` after manual
    /// cleanup (see the [module documentation](self)).
    pub fn repair(
        &self,
        version: &str,
        mark: RepairMark,
        reason: Option<&str>,
    ) -> Result<Repaired, crate::Error> {
        let migration = self.set().get(version);
        let (_lock, mut client, _) = self.lock_and_connect(&mut |_| {})?;
        // Read first: a table pgshift cannot use gets nothing created next to it.
        let history = self.table().read(&mut client)?;
        self.table().ensure(&mut client)?;
        let wanted = Version::recorded(version);
        let Some(failed) = history
            .failed
            .iter()
            .find(|f| f.version == wanted || f.version.same_number(&wanted))
        else {
            return Err(ResolveError::NotFailed {
                version: version.to_string(),
                failed: history
                    .failed
                    .iter()
                    .map(|f| f.version.to_string())
                    .collect(),
            }
            .into());
        };
        if mark == RepairMark::Applied && migration.is_none() {
            return Err(ResolveError::NoFile {
                version: version.to_string(),
            }
            .into());
        }
        let started_at = Utc::now();
        let detail = format!(
            "marked {} after statement {} of {} failed ({}){}",
            mark.as_str(),
            failed.statements_done + 1,
            failed.statements_total,
            failed.error.as_deref().unwrap_or("no message"),
            reason.map(|r| format!("; reason: {r}")).unwrap_or_default()
        );
        let mut tx = client.transaction().map_err(HistoryError::Db)?;
        if let (RepairMark::Applied, Some(m)) = (mark, migration) {
            tx.execute(
                &self.table().upsert_sql(["$1", "$2", "$3", "$4"]),
                &[
                    &m.version.as_str(),
                    &m.description,
                    &None::<i32>,
                    &m.checksum.as_str(),
                ],
            )
            .map_err(HistoryError::Db)?;
        }
        tx.execute(
            &format!(
                "DELETE FROM {} WHERE version = $1",
                self.table().progress_qualified()
            ),
            &[&failed.version.as_str()],
        )
        .map_err(HistoryError::Db)?;
        let mut entry = AuditEntry::database(
            AuditAction::Repair,
            Some(failed.version.as_str()),
            started_at,
            detail,
        );
        if let (RepairMark::Applied, Some(m)) = (mark, migration) {
            entry.checksum = Some(m.checksum.as_str());
            entry.statements_checksum = Some(Checksum::of_statements(m.script.texts()));
        }
        self.write_audit(&mut tx, &entry)?;
        tx.commit().map_err(HistoryError::Db)?;
        Ok(Repaired {
            version: failed.version.clone(),
            mark,
            statements_done: failed.statements_done,
            statements_total: failed.statements_total,
        })
    }

    /// Accepts the current files of the applied migrations `which` (see
    /// the [module documentation](self)), all in one transaction: either
    /// every one is accepted or none.
    ///
    /// A row without a checksum (written by plain psql) has nothing to
    /// compare with: the file's checksum is recorded as it is now
    /// ([`Change::FirstRecorded`]), on the user's word in `reason`.
    pub fn accept(
        &self,
        which: &AcceptTarget,
        reason: &str,
        force: bool,
    ) -> Result<Vec<Accepted>, crate::Error> {
        if reason.trim().is_empty() {
            return Err(ResolveError::NoReason.into());
        }
        if let AcceptTarget::Versions(versions) = which {
            if let Some(unknown) = versions.iter().find(|v| self.set().get(v).is_none()) {
                return Err(ResolveError::UnknownVersion {
                    version: unknown.clone(),
                }
                .into());
            }
        }
        let (_lock, mut client, _) = self.lock_and_connect(&mut |_| {})?;
        // Read first: a table pgshift cannot use gets nothing created next to it.
        let history = self.table().read(&mut client)?;
        self.table().ensure(&mut client)?;
        let chosen: Vec<(
            &crate::migration::Migration,
            &crate::history::AppliedMigration,
        )> = match which {
            AcceptTarget::Versions(versions) => versions
                .iter()
                .map(|version| {
                    let migration = self.set().get(version).expect("checked above");
                    history
                        .applied
                        .iter()
                        .find(|a| a.version.same_number(&migration.version))
                        .map(|applied| (migration, applied))
                        .ok_or_else(|| ResolveError::NotApplied {
                            version: migration.version.to_string(),
                        })
                })
                .collect::<Result<_, _>>()?,
            AcceptTarget::AllUnverified => history
                .applied
                .iter()
                .filter(|a| a.checksum.is_none())
                .filter_map(|a| {
                    self.set()
                        .migrations()
                        .iter()
                        .find(|m| m.version.same_number(&a.version))
                        .map(|m| (m, a))
                })
                .collect(),
        };
        if chosen.is_empty() {
            return Err(ResolveError::NothingUnverified.into());
        }
        let mut accepted = Vec::with_capacity(chosen.len());
        let mut tx = client.transaction().map_err(HistoryError::Db)?;
        for (migration, applied) in chosen {
            let one = self.accept_one(&mut tx, migration, applied, reason, force)?;
            accepted.push(one);
        }
        tx.commit().map_err(HistoryError::Db)?;
        Ok(accepted)
    }

    fn accept_one(
        &self,
        tx: &mut postgres::Transaction<'_>,
        migration: &crate::migration::Migration,
        applied: &crate::history::AppliedMigration,
        reason: &str,
        force: bool,
    ) -> Result<Accepted, crate::Error> {
        let old = applied.checksum.as_ref().map(|c| c.as_str().to_string());
        if old.as_deref() == Some(migration.checksum.as_str()) {
            return Err(ResolveError::Unchanged {
                version: migration.version.to_string(),
            }
            .into());
        }
        let new_statements = Checksum::of_statements(migration.script.texts());
        let change = match &old {
            None => Change::FirstRecorded,
            Some(old) => {
                let recorded: Option<String> = tx
                    .query_opt(
                        &format!(
                            "SELECT statements_checksum::text FROM {} \
                             WHERE ltrim(version, '0') = ltrim($1, '0') AND checksum = $2 \
                             AND outcome = 'ok' AND statements_checksum IS NOT NULL \
                             AND action IN ('apply', 'baseline', 'accept', 'repair') \
                             ORDER BY id DESC LIMIT 1",
                            self.table().audit_qualified()
                        ),
                        &[&applied.version.as_str(), old],
                    )
                    .map_err(HistoryError::Db)?
                    .map(|row| row.try_get(0))
                    .transpose()
                    .map_err(HistoryError::Db)?;
                match recorded {
                    Some(r) if r == new_statements.as_str() => Change::CommentsOnly,
                    Some(_) => Change::Statements,
                    None => Change::Unknown,
                }
            }
        };
        let needs_force = matches!(change, Change::Statements | Change::Unknown);
        if needs_force && !force {
            return Err(ResolveError::NeedsForce {
                version: migration.version.to_string(),
                change,
            }
            .into());
        }
        let detail = serde_json::json!({
            "old_checksum": old,
            "new_checksum": migration.checksum.as_str(),
            "change": change,
            "forced": needs_force,
            "reason": reason,
        })
        .to_string();
        let started_at = Utc::now();
        tx.execute(
            &format!(
                "UPDATE {} SET checksum = $2 WHERE version = $1",
                self.table().qualified()
            ),
            &[&applied.version.as_str(), &migration.checksum.as_str()],
        )
        .map_err(HistoryError::Db)?;
        let mut entry = AuditEntry::database(
            AuditAction::Accept,
            Some(applied.version.as_str()),
            started_at,
            detail,
        );
        entry.checksum = Some(migration.checksum.as_str());
        entry.statements_checksum = Some(new_statements);
        self.write_audit(tx, &entry)?;
        Ok(Accepted {
            version: applied.version.clone(),
            old_checksum: old,
            new_checksum: migration.checksum.as_str().to_string(),
            change,
            forced: needs_force,
        })
    }
}
