//! Health checks: SQL files that say whether the database is fine.
//!
//! Each `*.sql` file of the checks folder (by default `checks/` inside the
//! migration folder) is one check, named after the file without `.sql`, run
//! in file-name order. A check fails when any of its statements returns a
//! row (so a check is usually a query for what must not exist: users
//! without an email, invalid indexes) or raises an error (a `DO` block that
//! `RAISE`s when something is wrong). A check passes otherwise.
//!
//! Checks never change anything: each runs in its own `READ ONLY`
//! transaction that is rolled back. They run after `up`, `rollback` and
//! `redo` (unless `--no-checks`), on the rehearsal copy, and on demand
//! with `pgshift check`. psql meta-commands are not allowed in a check.
//!
//! A check must hold in every state the database can be in, including
//! before the first migration and after rolling everything back: refer to
//! tables that may not exist only from dynamic SQL in a `DO` block, after
//! testing `to_regclass(...)`.

use crate::executor::ServerError;
use crate::source::{SourceFile, Span};
use postgres::SimpleQueryMessage;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The folder looked for inside the migration folder.
pub const DEFAULT_DIR: &str = "checks";

/// The most rows of a failing check that are kept for display.
const MAX_ROWS: usize = 20;

/// One check file.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    /// The file name without `.sql`.
    pub name: String,
    /// The file.
    pub file: Arc<SourceFile>,
    /// Its statements.
    pub statements: Vec<Span>,
}

/// The checks of a folder, in file-name order.
#[derive(Debug, Clone, Default)]
pub struct HealthChecks {
    /// The checks.
    pub checks: Vec<HealthCheck>,
}

/// How one check ended.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CheckOutcome {
    /// Nothing returned, nothing raised.
    Passed,
    /// A statement returned rows.
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// The first rows, as text (`None` for NULL).
        rows: Vec<Vec<Option<String>>>,
        /// How many rows there were.
        total: usize,
        /// The statement.
        #[serde(skip)]
        span: Span,
    },
    /// A statement raised an error.
    Raised {
        /// What the server said.
        server: ServerError,
        /// The statement.
        #[serde(skip)]
        span: Span,
    },
}

/// One check's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: CheckOutcome,
    /// How long it took.
    pub duration_ms: u64,
    /// The file, for diagnostics.
    #[serde(skip)]
    pub file: Arc<SourceFile>,
}

impl CheckResult {
    /// True unless it passed.
    pub fn failed(&self) -> bool {
        !matches!(self.outcome, CheckOutcome::Passed)
    }
}

/// The results of a run, in order.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckReport {
    /// One per check.
    pub results: Vec<CheckResult>,
}

impl CheckReport {
    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CheckResult> {
        self.results.iter().filter(|r| r.failed())
    }

    /// True when every check passed (or there were none).
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }
}

/// Loading or running checks failed (not a check failing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The folder or a file could not be read.
    #[error("cannot read health check {}: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A psql meta-command in a check.
    #[error("health check {}:{line} uses the psql meta-command `{command}`; checks are plain SQL", path.display())]
    MetaCommand {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The command.
        command: String,
    },
    /// The session broke while checks ran.
    #[error("lost the connection while running health checks: {0}")]
    Connection(#[source] postgres::Error),
}

impl HealthChecks {
    /// Loads every `*.sql` file in `dir`; a missing folder has no checks.
    pub fn load(dir: &Path) -> Result<HealthChecks, CheckError> {
        let read_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CheckError::Read { path, source }
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(HealthChecks::default())
            }
            Err(e) => return Err(read_error(dir)(e)),
        };
        let mut paths = Vec::new();
        for entry in entries {
            let path = entry.map_err(read_error(dir))?.path();
            if path.extension().is_some_and(|e| e == "sql") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut checks = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(read_error(&path))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut statements = Vec::new();
            for item in pgshift_lexer::split(&text) {
                match item {
                    pgshift_lexer::Item::Statement(s) => {
                        statements.push(Span::new(s.span.start, s.span.end))
                    }
                    pgshift_lexer::Item::Meta(m) => {
                        return Err(CheckError::MetaCommand {
                            line: pgshift_lexer::line_col(&text, m.span.start).0,
                            command: format!("\\{}", m.name),
                            path,
                        })
                    }
                }
            }
            checks.push(HealthCheck {
                name,
                file: Arc::new(SourceFile::new(path, text)),
                statements,
            });
        }
        Ok(HealthChecks { checks })
    }

    /// True when there are no checks.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// Runs every check on `client`, each in a read-only transaction that
    /// is rolled back.
    pub fn run(&self, client: &mut postgres::Client) -> Result<CheckReport, CheckError> {
        let mut report = CheckReport::default();
        for check in &self.checks {
            let started = Instant::now();
            client
                .batch_execute("BEGIN READ ONLY")
                .map_err(CheckError::Connection)?;
            let outcome = run_one(client, check);
            let _ = client.batch_execute("ROLLBACK");
            let outcome = outcome?;
            report.results.push(CheckResult {
                name: check.name.clone(),
                path: check.file.path().to_path_buf(),
                outcome,
                duration_ms: started.elapsed().as_millis() as u64,
                file: Arc::clone(&check.file),
            });
        }
        Ok(report)
    }
}

fn run_one(client: &mut postgres::Client, check: &HealthCheck) -> Result<CheckOutcome, CheckError> {
    for &span in &check.statements {
        let messages = match client.simple_query(check.file.slice(span)) {
            Ok(messages) => messages,
            Err(e) => {
                return match ServerError::from_error(&e) {
                    Some(server) => Ok(CheckOutcome::Raised { server, span }),
                    None => Err(CheckError::Connection(e)),
                }
            }
        };
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        let mut total = 0;
        for message in messages {
            if let SimpleQueryMessage::Row(row) = message {
                if columns.is_empty() {
                    columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                }
                total += 1;
                if rows.len() < MAX_ROWS {
                    rows.push(
                        (0..row.len())
                            .map(|i| row.get(i).map(str::to_string))
                            .collect(),
                    );
                }
            }
        }
        if total > 0 {
            return Ok(CheckOutcome::Rows {
                columns,
                rows,
                total,
                span,
            });
        }
    }
    Ok(CheckOutcome::Passed)
}

impl crate::migrator::Migrator {
    /// Runs `checks` on the database (`pgshift check`, and after `up`,
    /// `rollback` and `redo`).
    pub fn check(&self, checks: &HealthChecks) -> Result<CheckReport, crate::Error> {
        let mut client = self
            .connection()
            .connect(&self.options().application_name)?;
        Ok(checks.run(&mut client)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_has_no_checks() {
        let dir = tempfile::tempdir().unwrap();
        let checks = HealthChecks::load(&dir.path().join("checks")).unwrap();
        assert!(checks.is_empty());
    }

    #[test]
    fn files_load_in_name_order_and_meta_commands_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b_second.sql"), "SELECT 1 WHERE false;").unwrap();
        std::fs::write(
            dir.path().join("a_first.sql"),
            "-- two statements\nSELECT 1 WHERE false;\nDO $$ BEGIN END $$;\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let checks = HealthChecks::load(dir.path()).unwrap();
        let names: Vec<&str> = checks.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a_first", "b_second"]);
        assert_eq!(checks.checks[0].statements.len(), 2);

        std::fs::write(dir.path().join("c.sql"), "SELECT 1;\n\\set x 1\n").unwrap();
        let err = HealthChecks::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("c.sql:2"), "{err}");
    }
}
