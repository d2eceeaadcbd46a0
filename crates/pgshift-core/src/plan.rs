//! What to do: a pure function of the migration set and the history.
//!
//! [`Plan::new`] lines up every version found on disk or in the tracking
//! table and gives each a [`State`]. `status` and `verify` show that;
//! [`Plan::up_steps`] and [`Plan::rollback_steps`] turn it into the steps
//! `up`, `up --dry-run`, `rollback` and `redo` execute, refusing what would be
//! unsafe (an edited applied migration, a failed one, a missing rollback).
//! No database here: everything is testable with values.

use crate::checksum::Checksum;
use crate::history::{AppliedMigration, FailedMigration, History};
use crate::migration::{Migration, MigrationSet, Version};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;

/// Where one version stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum State {
    /// Applied, and the file matches what was applied (or no checksum was
    /// recorded, as when plain psql applied it).
    Applied,
    /// On disk, not applied.
    Pending,
    /// Applied, but the file changed since.
    Modified {
        /// The checksum in the tracking table.
        recorded: Checksum,
        /// The file's checksum now.
        current: Checksum,
    },
    /// Applied, but no checksum was recorded (the row was written by
    /// plain psql): whether the file changed since cannot be told.
    /// `pgshift accept` records the file's checksum.
    Unverified,
    /// Applied, but no file on disk.
    Missing,
    /// A no-transaction migration that stopped part way.
    Failed,
}

/// One version in the plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    /// The version.
    pub version: Version,
    /// From the file, else from the tracking table.
    pub description: String,
    /// Where it stands.
    #[serde(flatten)]
    pub state: State,
    /// Index into [`MigrationSet::migrations`] when the file exists.
    #[serde(skip)]
    pub migration: Option<usize>,
    /// The tracking-table row, when applied.
    pub applied: Option<AppliedMigration>,
    /// The progress row, when failed.
    pub failed: Option<FailedMigration>,
}

/// Every version and its state, in version order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// The entries.
    pub entries: Vec<Entry>,
}

/// One migration for `up` to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpStep {
    /// Index into [`MigrationSet::migrations`].
    pub migration: usize,
    /// For a failed no-transaction migration being resumed: the statement
    /// to start at (0-based).
    pub resume_at: Option<usize>,
}

/// Knobs for [`Plan::up_steps`].
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Apply up to and including this version.
    pub target: Option<String>,
    /// Run even though an applied migration's file changed.
    pub allow_modified: bool,
    /// Run even though applied migrations have no recorded checksum.
    pub allow_unverified: bool,
    /// Run even though applied migrations have no file.
    pub allow_missing: bool,
    /// Apply a pending migration older than the newest applied one.
    pub allow_out_of_order: bool,
    /// Continue a failed no-transaction migration where it stopped.
    pub resume: bool,
}

/// How far `rollback` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackTarget {
    /// The newest N applied migrations.
    Steps(usize),
    /// Everything applied after this version (which stays applied).
    To(String),
}

impl Plan {
    /// Lines up files and history.
    pub fn new(set: &MigrationSet, history: &History) -> Plan {
        let mut entries: Vec<Entry> = set
            .migrations()
            .iter()
            .enumerate()
            .map(|(i, m)| Entry {
                version: m.version.clone(),
                description: m.description.clone(),
                state: State::Pending,
                migration: Some(i),
                applied: None,
                failed: None,
            })
            .collect();
        // Entries by number, so matching history rows is linear overall.
        let mut by_number: HashMap<String, usize> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.version.significant().to_string(), i))
            .collect();
        for row in &history.applied {
            match by_number.get(row.version.significant()) {
                Some(&index) => {
                    let entry = &mut entries[index];
                    let migration =
                        &set.migrations()[entry.migration.expect("file entries have one")];
                    entry.state = match &row.checksum {
                        Some(recorded) if *recorded != migration.checksum => State::Modified {
                            recorded: recorded.clone(),
                            current: migration.checksum.clone(),
                        },
                        Some(_) => State::Applied,
                        None => State::Unverified,
                    };
                    entry.applied = Some(row.clone());
                }
                None => {
                    by_number.insert(row.version.significant().to_string(), entries.len());
                    entries.push(Entry {
                        version: row.version.clone(),
                        description: row.description.clone(),
                        state: State::Missing,
                        migration: None,
                        applied: Some(row.clone()),
                        failed: None,
                    });
                }
            }
        }
        for failed in &history.failed {
            if let Some(entry) = by_number
                .get(failed.version.significant())
                .map(|&index| &mut entries[index])
                .filter(|e| e.applied.is_none())
            {
                entry.state = State::Failed;
                entry.failed = Some(failed.clone());
            }
        }
        entries.sort_by(|a, b| a.version.cmp(&b.version));
        Plan { entries }
    }

    /// Entries in a given state.
    pub fn with_state(&self, wanted: fn(&State) -> bool) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| wanted(&e.state))
    }

    /// Modified, unverified, missing and failed migrations: what `verify`
    /// reports.
    pub fn problems(&self) -> Vec<&Entry> {
        self.with_state(|s| {
            matches!(
                s,
                State::Modified { .. } | State::Unverified | State::Missing | State::Failed
            )
        })
        .collect()
    }

    /// The migrations `up` applies, in order.
    ///
    /// # Errors
    /// See [`PlanError`]: each refusal names what to do about it.
    pub fn up_steps(
        &self,
        set: &MigrationSet,
        options: &UpOptions,
    ) -> Result<Vec<UpStep>, PlanError> {
        let target = match &options.target {
            Some(t) => Some(
                set.get(t)
                    .map(|m| m.version.clone())
                    .ok_or_else(|| PlanError::UnknownTarget { version: t.clone() })?,
            ),
            None => None,
        };
        let modified: Vec<(Version, Checksum, Checksum)> = self
            .entries
            .iter()
            .filter_map(|e| match &e.state {
                State::Modified { recorded, current } => {
                    Some((e.version.clone(), recorded.clone(), current.clone()))
                }
                _ => None,
            })
            .collect();
        if !modified.is_empty() && !options.allow_modified {
            return Err(PlanError::Modified { versions: modified });
        }
        let unverified: Vec<Version> = self
            .with_state(|s| *s == State::Unverified)
            .map(|e| e.version.clone())
            .collect();
        if !unverified.is_empty() && !options.allow_unverified {
            return Err(PlanError::Unverified {
                versions: unverified,
            });
        }
        let missing: Vec<Version> = self
            .with_state(|s| *s == State::Missing)
            .map(|e| e.version.clone())
            .collect();
        if !missing.is_empty() && !options.allow_missing {
            return Err(PlanError::Missing { versions: missing });
        }

        let mut steps = Vec::new();
        for entry in &self.entries {
            if target.as_ref().is_some_and(|t| entry.version > *t) {
                break;
            }
            match entry.state {
                State::Failed => {
                    let failed = entry
                        .failed
                        .as_ref()
                        .expect("failed entries carry their row");
                    let index = entry.migration.expect("failed entries have a file");
                    if !options.resume {
                        return Err(PlanError::Failed {
                            version: entry.version.clone(),
                            statement: failed.statements_done + 1,
                            total: failed.statements_total,
                            error: failed.error.clone().unwrap_or_default(),
                        });
                    }
                    let migration = &set.migrations()[index];
                    if done_digest(migration, failed.statements_done) != failed.done_digest {
                        return Err(PlanError::ResumeEdited {
                            version: entry.version.clone(),
                            statements_done: failed.statements_done,
                        });
                    }
                    steps.push(UpStep {
                        migration: index,
                        resume_at: Some(failed.statements_done),
                    });
                }
                State::Pending => steps.push(UpStep {
                    migration: entry.migration.expect("pending entries have a file"),
                    resume_at: None,
                }),
                _ => {}
            }
        }
        if options.resume && !steps.iter().any(|s| s.resume_at.is_some()) {
            return Err(PlanError::NothingToResume);
        }
        if !options.allow_out_of_order {
            let newest_applied = self
                .entries
                .iter()
                .filter(|e| e.applied.is_some())
                .map(|e| &e.version)
                .max();
            if let Some(newest) = newest_applied {
                let late: Vec<Version> = steps
                    .iter()
                    .map(|s| &set.migrations()[s.migration].version)
                    .filter(|v| *v < newest)
                    .cloned()
                    .collect();
                if !late.is_empty() {
                    return Err(PlanError::OutOfOrder {
                        versions: late,
                        newest_applied: newest.clone(),
                    });
                }
            }
        }
        Ok(steps)
    }

    /// The migrations `rollback` undoes, newest first (indices into the set).
    ///
    /// # Errors
    /// A version in range without a file or without a rollback file, or a
    /// target that is not applied.
    pub fn rollback_steps(
        &self,
        set: &MigrationSet,
        target: &RollbackTarget,
    ) -> Result<Vec<usize>, PlanError> {
        let applied: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.applied.is_some())
            .collect();
        let chosen: Vec<&Entry> = match target {
            RollbackTarget::Steps(n) => applied.iter().rev().take(*n).copied().collect(),
            RollbackTarget::To(version) => {
                let wanted = Version::recorded(version.clone());
                if !applied.iter().any(|e| e.version.same_number(&wanted)) {
                    return Err(PlanError::TargetNotApplied {
                        version: version.clone(),
                    });
                }
                applied
                    .iter()
                    .rev()
                    .take_while(|e| !e.version.same_number(&wanted))
                    .copied()
                    .collect()
            }
        };
        let irreversible: Vec<(Version, PathBuf)> = chosen
            .iter()
            .filter_map(|e| e.migration.map(|i| &set.migrations()[i]))
            .filter(|m| m.irreversible)
            .map(|m| (m.version.clone(), m.path().to_path_buf()))
            .collect();
        if !irreversible.is_empty() {
            return Err(PlanError::Irreversible {
                migrations: irreversible,
            });
        }
        let mut steps = Vec::new();
        let mut problems = Vec::new();
        for entry in chosen {
            match entry.migration {
                Some(i) if set.migrations()[i].rollback.is_some() => steps.push(i),
                Some(_) => problems.push(entry.version.clone()),
                None => problems.push(entry.version.clone()),
            }
        }
        if !problems.is_empty() {
            return Err(PlanError::NoRollback { versions: problems });
        }
        Ok(steps)
    }
}

/// SHA-256 of the first `n` statements' text, to tell whether the part of a
/// no-transaction migration that already ran was edited before a resume.
pub fn done_digest(migration: &Migration, n: usize) -> String {
    let mut hasher = Sha256::new();
    for (file, span) in migration.script.sql_steps().take(n) {
        hasher.update(file.slice(span).as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a plan cannot go ahead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Applied migrations whose files changed.
    #[error("{} applied migration(s) changed on disk: {}; restore the files, or, if the change is intended, record it with `pgshift accept VERSION --reason \"…\"` (or pass --allow-modified)", versions.len(), join(versions.iter().map(|v| &v.0)))]
    Modified {
        /// Version, recorded checksum, current checksum.
        versions: Vec<(Version, Checksum, Checksum)>,
    },
    /// Applied migrations without a recorded checksum.
    #[error("{} applied migration(s) have no recorded checksum (recorded by plain psql?), so pgshift cannot tell whether their files changed since: {}; compare them with what was deployed, then record their checksums with `pgshift accept VERSION... --reason \"…\"` or `pgshift accept --all-unverified --reason \"…\"` (or pass --allow-unverified)", versions.len(), join(versions.iter()))]
    Unverified {
        /// The versions.
        versions: Vec<Version>,
    },
    /// Applied migrations without a file.
    #[error("applied migration(s) {} have no file in the migration folder; check --dir, or pass --allow-missing", join(versions.iter()))]
    Missing {
        /// The versions.
        versions: Vec<Version>,
    },
    /// A no-transaction migration failed earlier.
    #[error("migration {version} failed at statement {statement} of {total}: {error}; fix the cause, then run `pgshift up --resume` to continue at that statement, or clean up by hand and run `pgshift repair {version} --mark rolled-back` (or `--mark applied`)")]
    Failed {
        /// The migration.
        version: Version,
        /// 1-based statement that failed.
        statement: usize,
        /// Statements in the file.
        total: usize,
        /// The recorded server message.
        error: String,
    },
    /// `--resume`, but statements that already ran were edited since.
    #[error("cannot resume migration {version}: one of its first {statements_done} statement(s), which already ran, was edited; restore them (only the failed statement and later ones may change)")]
    ResumeEdited {
        /// The migration.
        version: Version,
        /// How many statements ran.
        statements_done: usize,
    },
    /// `--resume` with no failed migration.
    #[error("there is no failed migration to resume")]
    NothingToResume,
    /// Pending migrations older than the newest applied one.
    #[error("pending migration(s) {} are older than the newest applied migration {newest_applied}; renumber them, or pass --allow-out-of-order", join(versions.iter()))]
    OutOfOrder {
        /// The late versions.
        versions: Vec<Version>,
        /// The newest applied version.
        newest_applied: Version,
    },
    /// `--to` names no migration.
    #[error("there is no migration {version} in the migration folder")]
    UnknownTarget {
        /// The version asked for.
        version: String,
    },
    /// `rollback --to` names a version that is not applied.
    #[error("migration {version} is not applied, so there is nothing to roll back to")]
    TargetNotApplied {
        /// The version asked for.
        version: String,
    },
    /// `redo` with nothing applied.
    #[error("no migration is applied, so there is nothing to redo")]
    NothingApplied,
    /// What would run changed between the confirmation and taking the lock.
    #[error("the database changed since the plan was shown (another run?); nothing was done — run the command again")]
    Changed,
    /// Migrations in range marked `-- pgshift:irreversible`.
    #[error("migration(s) {} are marked `-- pgshift:irreversible` ({}) and cannot be rolled back — nothing was rolled back; restore from a backup, or write a new forward migration that undoes the change", join(migrations.iter().map(|(v, _)| v)), join(migrations.iter().map(|(_, p)| p.display())))]
    Irreversible {
        /// Each version and its forward file.
        migrations: Vec<(Version, PathBuf)>,
    },
    /// Versions in range that cannot be rolled back.
    #[error("no rollback file for migration(s) {}; write rollback_NNN.sql first — nothing was rolled back", join(versions.iter()))]
    NoRollback {
        /// The versions.
        versions: Vec<Version>,
    },
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
