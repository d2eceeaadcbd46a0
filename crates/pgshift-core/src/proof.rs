//! `pgshift test`: proving that every migration applies, is idempotent,
//! rolls back exactly, and applies again, on a scratch database.
//!
//! For each forward migration in version order, on one database (so each
//! runs on top of the ones before it, as in production):
//!
//! 1. snapshot **S0**;
//! 2. **apply** it through the executor, tracking row included → **S1**;
//! 3. **idempotent**: run the same forward file again, outside the tracking
//!    table; it must succeed and leave S1 unchanged (skipped when
//!    [`ProofOptions::idempotency`] is off, for projects that never re-run
//!    a file);
//! 4. **rollback**: run `rollback_NNN.sql` (with the tracking row's
//!    removal); the schema must equal S0 exactly;
//! 5. **reapply**: apply it again; the schema must equal S1.
//!
//! [`ProofOptions::scope`] narrows this to the migrations from one version
//! on, or to one: the migrations before it are applied plainly first,
//! without checks, so the checks run on the state they build.
//!
//! Then `seed_data.sql`, when present, runs twice: both runs must succeed
//! and leave the same row count in every table.
//!
//! A check that does not hold is a [`Finding`], with the schema difference
//! object by object (`rollback_002.sql leaves index users_avatar_idx
//! behind`), and the run goes on. A migration whose apply, rollback or
//! reapply fails on the server stops the run ([`ProofReport::aborted`]):
//! what comes after it depends on it. A migration without a rollback file,
//! or marked `-- pgshift:irreversible`, has steps 4 and 5 skipped, with a
//! warning.
//!
//! The scratch database is the caller's (see [`crate::scratch`]); nothing
//! here touches any other database.

use crate::connect::ConnectionSettings;
use crate::diff::{diff, Change};
use crate::error::Error;
use crate::executor::{Direction, Event, ExecError, ExecFailure, Executor, NoticeQueue};
use crate::history::{HistoryError, TrackingTable};
use crate::migration::{Migration, MigrationSet, Version};
use crate::migrator::{prepare_session, RunOptions};
use crate::plan::{PlanError, UpStep};
use crate::script::{Header, Script, TransactionMode};
use crate::snapshot::{snapshot, Schema, SnapshotOptions};
use postgres::Client;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The checks run on each migration, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Applying it (with its tracking row).
    Apply,
    /// Running the forward file a second time changes nothing.
    Idempotent,
    /// Its rollback restores the schema from before it exactly.
    Rollback,
    /// Applying it again after the rollback gives the same schema.
    Reapply,
    /// `seed_data.sql` runs twice with the same row counts.
    Seed,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Check::Apply => "apply",
            Check::Idempotent => "idempotent",
            Check::Rollback => "rollback",
            Check::Reapply => "reapply",
            Check::Seed => "seed",
        })
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It held.
    Passed,
    /// It did not: see the findings.
    Failed,
    /// Not run (no rollback file, or an earlier step failed).
    Skipped,
}

/// A check that did not hold.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The migration (none for the seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// Which check.
    pub check: Check,
    /// The file at fault (`rollback_002.sql`).
    pub file: String,
    /// What is wrong, in one line.
    pub message: String,
    /// The schema difference behind it, if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

/// The checks of one migration.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationProof {
    /// Its version.
    pub version: Version,
    /// Its description.
    pub description: String,
    /// Each check and how it ended.
    pub checks: Vec<(Check, Outcome)>,
}

/// A migration, rollback or reapply that failed on the server.
#[derive(Debug)]
pub struct Aborted {
    /// The migration.
    pub version: Version,
    /// The step that failed.
    pub check: Check,
    /// The error.
    pub failure: ExecFailure,
}

/// What `pgshift test` found.
#[derive(Debug, Default)]
pub struct ProofReport {
    /// Per migration, in order (up to the one that aborted the run).
    pub migrations: Vec<MigrationProof>,
    /// The seed's check, when there is a seed and it ran.
    pub seed: Option<Outcome>,
    /// Row counts per table after the first seed run.
    pub seed_rows: BTreeMap<String, i64>,
    /// Every check that did not hold.
    pub findings: Vec<Finding>,
    /// Things not checked, and why.
    pub warnings: Vec<String>,
    /// The server error that stopped the run, if any.
    pub aborted: Option<Aborted>,
}

impl ProofReport {
    /// True when every check held and nothing failed.
    pub fn passed(&self) -> bool {
        self.findings.is_empty() && self.aborted.is_none()
    }
}

/// Something to show while the proof runs.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProofEvent<'a> {
    /// Starting on a migration.
    Migration {
        /// The migration.
        migration: &'a Migration,
        /// 1-based.
        position: usize,
        /// Migrations in the set.
        total: usize,
    },
    /// A check ended.
    Checked {
        /// Which.
        check: Check,
        /// How.
        outcome: Outcome,
    },
    /// Applying the migrations before the scope, without checks.
    Prefix {
        /// How many.
        count: usize,
        /// The first migration checked.
        before: &'a Version,
    },
    /// Starting on `seed_data.sql`.
    Seed,
    /// An executor event (echo, notice, retry…).
    Exec(Event<'a>),
}

/// What to prove.
#[derive(Debug, Clone)]
pub struct ProofOptions {
    /// Run each forward file a second time (the idempotency check).
    pub idempotency: bool,
    /// Which migrations are checked.
    pub scope: Scope,
}

impl Default for ProofOptions {
    fn default() -> Self {
        ProofOptions {
            idempotency: true,
            scope: Scope::All,
        }
    }
}

/// Which migrations `prove` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every one, then the seed.
    All,
    /// This version and the ones after it, then the seed; those before
    /// it are applied without checks.
    From(String),
    /// This version alone: those before it are applied without checks,
    /// those after it and the seed are not run.
    Only(String),
}

impl Scope {
    /// The index in `set` of the first migration to check, and how many
    /// to check.
    ///
    /// # Errors
    /// The version is not in `set`.
    pub fn range(&self, set: &MigrationSet) -> Result<(usize, usize), PlanError> {
        let total = set.migrations().len();
        let (version, only) = match self {
            Scope::All => return Ok((0, total)),
            Scope::From(v) => (v, false),
            Scope::Only(v) => (v, true),
        };
        let wanted = set.get(version).ok_or_else(|| PlanError::UnknownTarget {
            version: version.clone(),
        })?;
        let start = set
            .migrations()
            .iter()
            .position(|m| m.version == wanted.version)
            .unwrap_or(0);
        Ok((start, if only { 1 } else { total - start }))
    }
}

/// Runs every check of `set` on the (empty) database `scratch`.
///
/// # Errors
/// The scope names no migration ([`PlanError::UnknownTarget`], before
/// anything connects); connecting, creating the tracking table, reading a snapshot or loading
/// the seed file failed: nothing about the migrations is known then. A
/// migration failing is not an error but [`ProofReport::aborted`].
pub fn prove(
    set: &MigrationSet,
    table: &TrackingTable,
    scratch: &ConnectionSettings,
    options: &RunOptions,
    proof: &ProofOptions,
    observer: &mut dyn FnMut(ProofEvent<'_>),
) -> Result<ProofReport, Error> {
    let (start, count) = proof.scope.range(set)?;
    let notices = NoticeQueue::default();
    let sink = notices.clone();
    let mut client =
        scratch.connect_with_notices(&options.application_name, move |n| sink.push(n))?;
    prepare_session(&mut client, options)?;
    table.ensure(&mut client)?;
    let bookkeeping = crate::migrator::bookkeeping_session(scratch, options)?;
    let snapshot_options = SnapshotOptions {
        tracking: table.clone(),
        include_tracking: false,
        include_privileges: false,
    };
    let mut p = Prover {
        set,
        table,
        options,
        proof,
        client,
        bookkeeping,
        notices,
        snapshot_options,
        report: ProofReport::default(),
    };
    if start > 0 {
        observer(ProofEvent::Prefix {
            count: start,
            before: &set.migrations()[start].version,
        });
        if !p.prefix(start, observer) {
            return Ok(p.report);
        }
    }
    let total = set.migrations().len();
    for (index, migration) in set.migrations().iter().enumerate().skip(start).take(count) {
        observer(ProofEvent::Migration {
            migration,
            position: index + 1,
            total,
        });
        if !p.migration(index, migration, observer)? {
            return Ok(p.report);
        }
    }
    let seed = match proof.scope {
        Scope::Only(_) => None,
        _ => set.seed(),
    };
    if let Some(seed) = seed {
        observer(ProofEvent::Seed);
        let outcome = p.seed(seed, observer)?;
        observer(ProofEvent::Checked {
            check: Check::Seed,
            outcome,
        });
        p.report.seed = Some(outcome);
    }
    Ok(p.report)
}

struct Prover<'a> {
    set: &'a MigrationSet,
    table: &'a TrackingTable,
    options: &'a RunOptions,
    proof: &'a ProofOptions,
    client: Client,
    /// Where the executor records no-transaction migrations.
    bookkeeping: Client,
    notices: NoticeQueue,
    snapshot_options: SnapshotOptions,
    report: ProofReport,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// `line N: message` for a statement failure.
fn describe(error: &ExecError) -> String {
    match error {
        ExecError::Statement(f) => {
            let line = f.file.line_col(f.at.unwrap_or(f.span.start)).line;
            format!(
                "{} (line {line} of {}, SQLSTATE {})",
                f.server.message,
                file_name(f.file.path()),
                f.server.code
            )
        }
        other => other.to_string(),
    }
}

impl Prover<'_> {
    fn snapshot(&mut self) -> Result<Schema, Error> {
        Ok(snapshot(&mut self.client, &self.snapshot_options)?)
    }

    fn executor(&mut self) -> Executor<'_> {
        Executor::new(
            &mut self.client,
            self.table,
            &self.options.exec,
            &self.options.audit,
            self.notices.clone(),
        )
        .with_bookkeeping(&mut self.bookkeeping)
        .with_session_setup(crate::migrator::session_settings(self.options))
    }

    fn find(
        &mut self,
        version: &Version,
        check: Check,
        file: &str,
        message: String,
        change: Option<Change>,
    ) {
        self.report.findings.push(Finding {
            version: Some(version.clone()),
            check,
            file: file.to_string(),
            message,
            change,
        });
    }

    /// Runs the checks of one migration; false when the run must stop.
    fn migration(
        &mut self,
        index: usize,
        migration: &Migration,
        observer: &mut dyn FnMut(ProofEvent<'_>),
    ) -> Result<bool, Error> {
        let version = &migration.version;
        let forward = file_name(migration.path());
        let mut proof = MigrationProof {
            version: version.clone(),
            description: migration.description.clone(),
            checks: Vec::new(),
        };
        let record = |proof: &mut MigrationProof,
                      observer: &mut dyn FnMut(ProofEvent<'_>),
                      check: Check,
                      outcome: Outcome| {
            proof.checks.push((check, outcome));
            observer(ProofEvent::Checked { check, outcome });
        };
        let step = [UpStep {
            migration: index,
            resume_at: None,
        }];
        let set = self.set;

        let s0 = self.snapshot()?;
        // 1. Apply.
        let applied = {
            let mut forward_events = |e: Event<'_>| observer(ProofEvent::Exec(e));
            self.executor().apply(set, &step, &mut forward_events)
        };
        if let Err(failure) = applied {
            record(&mut proof, observer, Check::Apply, Outcome::Failed);
            self.report.migrations.push(proof);
            self.report.aborted = Some(Aborted {
                version: version.clone(),
                check: Check::Apply,
                failure,
            });
            return Ok(false);
        }
        record(&mut proof, observer, Check::Apply, Outcome::Passed);
        let s1 = self.snapshot()?;

        // 2. The same file again, outside tracking.
        if self.proof.idempotency {
            self.idempotency(migration, &s1, &mut proof, observer)?;
        } else {
            record(&mut proof, observer, Check::Idempotent, Outcome::Skipped);
        }
        // A failed non-transactional re-run may have changed things: the
        // rollback is compared with S0 all the same.

        // 3. Rollback.
        if migration.irreversible {
            self.report.warnings.push(format!(
                "{version} is marked `-- pgshift:irreversible`: its rollback and reapply were not tested"
            ));
            record(&mut proof, observer, Check::Rollback, Outcome::Skipped);
            record(&mut proof, observer, Check::Reapply, Outcome::Skipped);
            self.report.migrations.push(proof);
            return Ok(true);
        }
        let Some(rollback) = &migration.rollback else {
            self.report.warnings.push(format!(
                "{version} has no rollback file: its rollback and reapply were not tested"
            ));
            record(&mut proof, observer, Check::Rollback, Outcome::Skipped);
            record(&mut proof, observer, Check::Reapply, Outcome::Skipped);
            self.report.migrations.push(proof);
            return Ok(true);
        };
        let rollback_file = file_name(rollback.script.file().path());
        let rolled_back = {
            let mut forward_events = |e: Event<'_>| observer(ProofEvent::Exec(e));
            self.executor().rollback(set, &[index], &mut forward_events)
        };
        if let Err(failure) = rolled_back {
            record(&mut proof, observer, Check::Rollback, Outcome::Failed);
            self.report.migrations.push(proof);
            self.report.aborted = Some(Aborted {
                version: version.clone(),
                check: Check::Rollback,
                failure,
            });
            return Ok(false);
        }
        let after = self.snapshot()?;
        let changes = diff(&s0, &after);
        let ok = changes.is_empty();
        for change in changes {
            let message = match &change {
                Change::Added { object } => format!("{rollback_file} leaves {object} behind"),
                Change::Removed { object } => format!(
                    "{rollback_file} drops too much: {object} existed before {version} was applied"
                ),
                other => format!("{rollback_file} does not restore {other}"),
            };
            self.find(
                version,
                Check::Rollback,
                &rollback_file,
                message,
                Some(change),
            );
        }
        record(
            &mut proof,
            observer,
            Check::Rollback,
            if ok { Outcome::Passed } else { Outcome::Failed },
        );

        // 4. Apply again.
        let reapplied = {
            let mut forward_events = |e: Event<'_>| observer(ProofEvent::Exec(e));
            self.executor().apply(set, &step, &mut forward_events)
        };
        if let Err(failure) = reapplied {
            record(&mut proof, observer, Check::Reapply, Outcome::Failed);
            self.report.migrations.push(proof);
            self.report.aborted = Some(Aborted {
                version: version.clone(),
                check: Check::Reapply,
                failure,
            });
            return Ok(false);
        }
        let after = self.snapshot()?;
        let changes = diff(&s1, &after);
        let ok = changes.is_empty();
        for change in changes {
            let message = match &change {
                Change::Added { object } => format!(
                    "{forward} applied again after {rollback_file} creates {object}, which the first apply did not"
                ),
                Change::Removed { object } => format!(
                    "{forward} applied again after {rollback_file} does not recreate {object}"
                ),
                other => format!(
                    "{forward} applied again after {rollback_file} gives a different {other}"
                ),
            };
            self.find(version, Check::Reapply, &forward, message, Some(change));
        }
        record(
            &mut proof,
            observer,
            Check::Reapply,
            if ok { Outcome::Passed } else { Outcome::Failed },
        );
        self.report.migrations.push(proof);
        Ok(true)
    }

    /// Applies the first `count` migrations, tracked, without checks; false
    /// (with [`ProofReport::aborted`] set) when one fails.
    fn prefix(&mut self, count: usize, observer: &mut dyn FnMut(ProofEvent<'_>)) -> bool {
        let set = self.set;
        for index in 0..count {
            let step = [UpStep {
                migration: index,
                resume_at: None,
            }];
            let applied = {
                let mut events = |e: Event<'_>| observer(ProofEvent::Exec(e));
                self.executor().apply(set, &step, &mut events)
            };
            if let Err(failure) = applied {
                self.report.aborted = Some(Aborted {
                    version: set.migrations()[index].version.clone(),
                    check: Check::Apply,
                    failure,
                });
                return false;
            }
        }
        true
    }

    /// Runs the forward file of `migration` a second time, outside
    /// tracking: it must succeed and leave `s1` as it was.
    fn idempotency(
        &mut self,
        migration: &Migration,
        s1: &Schema,
        proof: &mut MigrationProof,
        observer: &mut dyn FnMut(ProofEvent<'_>),
    ) -> Result<(), Error> {
        let version = &migration.version;
        let forward = file_name(migration.path());
        let again = {
            let mut forward_events = |e: Event<'_>| observer(ProofEvent::Exec(e));
            self.executor().run_untracked(
                migration,
                &migration.script,
                migration.transaction,
                Direction::Up,
                &mut forward_events,
            )
        };
        let mut ok = true;
        match again {
            Err(error) => {
                ok = false;
                self.find(
                    version,
                    Check::Idempotent,
                    &forward,
                    format!(
                        "{forward} is not idempotent: running it a second time fails: {}",
                        describe(&error)
                    ),
                    None,
                );
            }
            Ok(_) => {
                let after = self.snapshot()?;
                for change in diff(s1, &after) {
                    ok = false;
                    let message = match &change {
                        Change::Added { object } => {
                            format!("{forward} is not idempotent: running it a second time adds {object}")
                        }
                        Change::Removed { object } => {
                            format!("{forward} is not idempotent: running it a second time removes {object}")
                        }
                        other => {
                            format!("{forward} is not idempotent: running it a second time changes {other}")
                        }
                    };
                    self.find(version, Check::Idempotent, &forward, message, Some(change));
                }
            }
        }
        let outcome = if ok { Outcome::Passed } else { Outcome::Failed };
        proof.checks.push((Check::Idempotent, outcome));
        observer(ProofEvent::Checked {
            check: Check::Idempotent,
            outcome,
        });
        Ok(())
    }

    /// Runs the seed twice and compares row counts.
    fn seed(
        &mut self,
        path: &Path,
        observer: &mut dyn FnMut(ProofEvent<'_>),
    ) -> Result<Outcome, Error> {
        let file = file_name(path);
        let source = crate::migration::read_source(path)
            .map_err(|e| Error::Load(crate::migration::LoadErrors(vec![e])))?;
        let header = Header::parse(&source)
            .map_err(|e| Error::Load(crate::migration::LoadErrors(vec![e])))?;
        let mode = if header.no_transaction {
            TransactionMode::NoTransaction
        } else {
            TransactionMode::Transactional
        };
        let script = Script::parse(source, mode)
            .map_err(|e| Error::Load(crate::migration::LoadErrors(vec![e])))?;
        // The executor reports errors against a migration; the seed gets a
        // stand-in with its name.
        let stand_in = Migration {
            version: Version::recorded("seed"),
            description: "seed data".into(),
            checksum: crate::checksum::Checksum::of_parts(script.texts()),
            script: script.clone(),
            transaction: mode,
            rollback: None,
            irreversible: false,
        };
        let mut counts = Vec::new();
        for run in ["first", "second"] {
            let result = {
                let mut forward_events = |e: Event<'_>| observer(ProofEvent::Exec(e));
                self.executor().run_untracked(
                    &stand_in,
                    &script,
                    mode,
                    Direction::Up,
                    &mut forward_events,
                )
            };
            if let Err(error) = result {
                let message = if run == "first" {
                    format!("{file} fails: {}", describe(&error))
                } else {
                    format!(
                        "{file} is not idempotent: running it a second time fails: {}",
                        describe(&error)
                    )
                };
                self.report.findings.push(Finding {
                    version: None,
                    check: Check::Seed,
                    file: file.clone(),
                    message,
                    change: None,
                });
                return Ok(Outcome::Failed);
            }
            let schema = self.snapshot()?;
            counts.push(row_counts(&mut self.client, &schema)?);
        }
        let (first, second) = (&counts[0], &counts[1]);
        let mut ok = true;
        for (table, before) in first {
            let after = second.get(table).copied().unwrap_or(0);
            if *before != after {
                ok = false;
                let name = table.strip_prefix("public.").unwrap_or(table);
                self.report.findings.push(Finding {
                    version: None,
                    check: Check::Seed,
                    file: file.clone(),
                    message: format!(
                        "{file} is not idempotent: a second run changes the rows of table {name} from {before} to {after}"
                    ),
                    change: None,
                });
            }
        }
        self.report.seed_rows = first.clone();
        Ok(if ok { Outcome::Passed } else { Outcome::Failed })
    }
}

/// `SELECT count(*)` of every table of `schema`, in one query.
fn row_counts(client: &mut Client, schema: &Schema) -> Result<BTreeMap<String, i64>, Error> {
    let tables: Vec<&String> = schema
        .tables
        .iter()
        .filter(|(_, t)| t.partition_of.is_none())
        .map(|(k, _)| k)
        .collect();
    if tables.is_empty() {
        return Ok(BTreeMap::new());
    }
    let sql = tables
        .iter()
        .enumerate()
        .map(|(i, t)| format!("SELECT {i}, count(*) FROM {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows = client
        .query(&sql, &[])
        .map_err(|e| Error::History(HistoryError::Db(e)))?;
    Ok(rows
        .iter()
        .map(|row| {
            let i: i32 = row.get(0);
            (tables[i as usize].clone(), row.get::<_, i64>(1))
        })
        .collect())
}
