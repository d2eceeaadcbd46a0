//! Core errors as diagnostics and exit codes.

use super::problem::{Problem, Snippet};
use crate::exit::ExitStatus;
use pgshift_core::connect::ConnectError;
use pgshift_core::executor::{Direction, ExecError};
use pgshift_core::history::HistoryError;
use pgshift_core::lock::LockError;
use pgshift_core::migration::LoadError;
use pgshift_core::migration::UnclosedKind;
use pgshift_core::plan::PlanError;
use pgshift_core::rehearsal::RehearsalError;
use pgshift_core::source::SourceFile;
use pgshift_core::Error;

/// A run that did not succeed: how to exit and what to say.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub status: ExitStatus,
    /// What to tell the user, most important first.
    pub problems: Vec<Problem>,
    /// Migrations completed before the failure, for the summary.
    pub completed: Vec<pgshift_core::executor::Outcome>,
    /// The migration whose rollback failed: it stays applied.
    pub failed_rollback: Option<pgshift_core::migration::Version>,
}

impl Failure {
    /// A failure with one problem.
    pub fn new(status: ExitStatus, problem: Problem) -> Failure {
        Failure {
            status,
            problems: vec![problem],
            completed: Vec::new(),
            failed_rollback: None,
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        match error {
            Error::Load(errors) => Failure {
                status: ExitStatus::Validation,
                problems: errors.0.iter().map(load_problem).collect(),
                completed: Vec::new(),
                failed_rollback: None,
            },
            Error::Connect(e) => Failure::new(ExitStatus::Connection, connect_problem(&e)),
            Error::Lock(e) => Failure::new(
                ExitStatus::LockNotAcquired,
                match &e {
                    LockError::NotHeld => Problem::error(e.to_string()).with_code("lock-not-held"),
                    _ => Problem::error(e.to_string()).with_code("lock-timeout"),
                },
            ),
            Error::History(
                e @ (HistoryError::Shape { .. }
                | HistoryError::Duplicates { .. }
                | HistoryError::BadRow { .. }),
            ) => Failure::new(
                ExitStatus::Validation,
                Problem::error(e.to_string()).with_code("tracking-table"),
            ),
            Error::History(e) => {
                Failure::new(ExitStatus::MigrationFailed, Problem::error(e.to_string()))
            }
            Error::Plan(e) => {
                let status = match e {
                    PlanError::Failed { .. } => ExitStatus::MigrationFailed,
                    _ => ExitStatus::Validation,
                };
                Failure::new(status, Problem::error(e.to_string()))
            }
            Error::Exec(failure) => Failure {
                status: match failure.error {
                    ExecError::Busy { .. } => ExitStatus::DatabaseBusy,
                    _ => ExitStatus::MigrationFailed,
                },
                problems: vec![exec_problem(&failure.error)],
                completed: failure.report.done.clone(),
                failed_rollback: match &failure.error {
                    ExecError::Statement(f) if f.direction == Direction::Down => {
                        Some(f.version.clone())
                    }
                    _ => None,
                },
            },
            Error::Role(e) => Failure::new(
                ExitStatus::Connection,
                Problem::error(e.to_string())
                    .with_code("role")
                    .with_help("grant it (`GRANT role TO login`), or run without --role"),
            ),
            Error::Session(e) => Failure::new(
                ExitStatus::Validation,
                Problem::error(Error::Session(e).to_string())
                    .with_help("check --lock-timeout and --statement-timeout"),
            ),
            Error::Backup(e) => Failure::new(
                ExitStatus::BackupFailed,
                Problem::error(e.to_string()).with_code("backup"),
            ),
            Error::Check(e) => Failure::new(
                ExitStatus::Validation,
                Problem::error(e.to_string()).with_code("health-check"),
            ),
            Error::Resolve(e) => {
                Failure::new(ExitStatus::Validation, Problem::error(e.to_string()))
            }
            Error::Rehearsal(e) => rehearsal_failure(*e),
            Error::Snapshot(e) => Failure::new(
                ExitStatus::Connection,
                Problem::error(e.to_string()).with_code("snapshot"),
            ),
            Error::Scratch(e) => Failure::new(
                ExitStatus::Connection,
                Problem::error(e.to_string()).with_code("scratch"),
            ),
            other => Failure::new(ExitStatus::Internal, Problem::error(other.to_string())),
        }
    }
}

/// A failed rehearsal: what failed on the copy, and that the real
/// database was not touched.
fn rehearsal_failure(e: RehearsalError) -> Failure {
    match e {
        RehearsalError::Copy { .. } | RehearsalError::Scratch { .. } => Failure::new(
            ExitStatus::BackupFailed,
            Problem::error(e.to_string()).with_code("rehearsal"),
        ),
        RehearsalError::Failed { copy, error } => {
            let mut failure = Failure::from(error);
            failure.problems.insert(
                0,
                Problem::error(format!(
                    "the rehearsal on a copy of the database ({copy}, now dropped) failed; the real database was not touched"
                ))
                .with_code("rehearsal"),
            );
            // What completed did so on the copy only.
            failure.completed.clear();
            failure
        }
        RehearsalError::Checks { copy, report } => {
            let mut problems = vec![Problem::error(format!(
                "health check(s) failed on the rehearsal copy ({copy}, now dropped) after applying the migrations; the real database was not touched"
            ))
            .with_code("rehearsal")];
            problems.extend(super::check::problems(&report));
            Failure {
                status: ExitStatus::HealthCheckFailed,
                problems,
                completed: Vec::new(),
                failed_rollback: None,
            }
        }
        other => Failure::new(ExitStatus::Internal, Problem::error(other.to_string())),
    }
}

/// Connection errors already say what to do (which setting the password
/// came from, how to create a missing database), so they need no help line.
fn connect_problem(e: &ConnectError) -> Problem {
    Problem::error(e.to_string()).with_code("connect")
}

fn load_problem(e: &LoadError) -> Problem {
    let mut problem = Problem::error(e.to_string()).with_code("invalid-migration");
    let file = e.location().and_then(|(path, _)| {
        std::fs::read_to_string(path)
            .ok()
            .map(|text| SourceFile::new(path, text))
    });
    if let Some(help) = load_help(e, file.as_ref()) {
        problem = problem.with_help(help);
    }
    match (e.location(), file) {
        (Some((_, span)), Some(file)) => {
            let label = match e {
                LoadError::Unclosed { .. } => "opened here, never closed",
                LoadError::NulByte { .. } => "NUL byte",
                _ => "here",
            };
            problem.with_snippet(Snippet::new(&file, span, label))
        }
        _ => problem,
    }
}

/// What to do about a load error, when the message does not already say.
fn load_help(e: &LoadError, file: Option<&SourceFile>) -> Option<String> {
    Some(match e {
        LoadError::Unclosed { kind, delimiter, .. } => match kind {
            UnclosedKind::BlockComment {
                nested: Some(nested),
            } => {
                let at = file.map(|f| f.line_col(nested.start));
                format!(
                    "block comments nest in PostgreSQL: the `/*` at {} opens a comment inside this one, \
                     and the first `*/` closes only that; close each `/*` with its own `*/`",
                    at.map_or("a later place".to_string(), |at| format!("{}:{}", at.line, at.column))
                )
            }
            UnclosedKind::BlockComment { .. } => "close it with `*/`".into(),
            UnclosedKind::String { escapes: true } => {
                "in an E'…' string a backslash escapes the next character, so `\\'` does not end it; \
                 write `\\\\` for a backslash and `''` for a quote"
                    .into()
            }
            UnclosedKind::String { .. } => {
                "close it with `'`; a quote inside a string is written `''`".into()
            }
            UnclosedKind::QuotedIdent => {
                "close it with `\"`; a quote inside an identifier is written `\"\"`".into()
            }
            UnclosedKind::DollarQuote => {
                format!("close it with `{delimiter}`: the body ends only at exactly the same tag")
            }
            _ => "close the quote on the same line".into(),
        },
        LoadError::PsqlVariable { .. } => {
            "write the value into the migration. An array slice such as `a[1:n]` is fine; \
             elsewhere a space after the `:` keeps it from reading as a psql variable"
                .into()
        }
        LoadError::StandardConformingStrings { .. } => {
            "remove the statement, and write strings that need backslash escapes as E'…'".into()
        }
        LoadError::NotAFile { .. } | LoadError::BrokenSymlink { .. } => {
            "replace it with the migration file, or rename it so its name does not look like a migration".into()
        }
        _ => return None,
    })
}

fn exec_problem(e: &ExecError) -> Problem {
    match e {
        ExecError::Statement(failure) => {
            let pgshift_core::executor::StatementFailure {
                version,
                direction,
                file,
                span,
                at,
                server,
                statement,
                last_statement,
                total,
                no_transaction,
                invalid_indexes,
            } = &**failure;
            let verb = match direction {
                Direction::Up => "migration",
                Direction::Down => "rollback of",
            };
            let mut problem =
                Problem::error(format!("{verb} {version} failed: {}", server.message))
                    .with_code(server.code.clone());
            let snippet_span = match at {
                Some(at) => pgshift_core::source::Span::new(*at, (*at + 1).min(span.end)),
                None => *span,
            };
            let label = if at.is_some() {
                "error here"
            } else if last_statement > statement {
                "in one of these statements"
            } else {
                "in this statement"
            };
            problem = problem.with_snippet(Snippet::new(file, snippet_span, label));
            if let Some(detail) = &server.detail {
                problem = problem.with_help(format!("detail: {detail}"));
            }
            if let Some(context) = &server.context {
                problem = problem.with_help(format!("context: {context}"));
            }
            if let Some(hint) = &server.hint {
                problem = problem.with_help(format!("hint: {hint}"));
            }
            if server.code == "25001" {
                problem = problem.with_help(
                    "this statement cannot run inside a transaction: put `-- pgshift:no-transaction` in the file's header",
                );
            }
            if *no_transaction {
                problem = problem.with_help(format!(
                    "statement {statement} of {total} failed; statements before it stay applied. Fix the cause, then `pgshift up --resume` continues at statement {statement}"
                ));
                for index in invalid_indexes {
                    problem = problem.with_help(format!(
                        "index {}.{} was left INVALID; drop it before resuming: {}",
                        index.schema, index.name, index.drop_sql
                    ));
                }
            } else {
                let which = if last_statement > statement {
                    format!(
                        "one of statements {statement}-{last_statement} of {total}, sent together \
                         (they ran too long to be run again one by one just to find which)"
                    )
                } else {
                    format!("statement {statement} of {total}")
                };
                problem = problem.with_help(format!(
                    "{which}; the whole {} was rolled back, nothing of it remains",
                    if *direction == Direction::Up {
                        "migration"
                    } else {
                        "rollback"
                    }
                ));
            }
            problem
        }
        ExecError::Interrupted { .. } => Problem::error(e.to_string()).with_help(
            "a transactional migration was rolled back and nothing after it ran; a no-transaction one \
             stopped between statements and `pgshift up --resume` continues it; `pgshift status` shows where things stand",
        ),
        ExecError::Busy {
            version,
            budget,
            max_retries,
            server,
            blockage,
            ..
        } => {
            let mut problem = Problem::error(e.to_string())
                .with_help(format!(
                    "migration {version} was rolled back each time; nothing of it was applied"
                ));
            if let Some(blockage) = blockage {
                problem = problem.with_help(format!("it {}", super::busy::blockage(blockage)));
                let ends: Vec<String> = blockage
                    .blockers
                    .iter()
                    .map(|b| format!("SELECT pg_terminate_backend({});", b.pid))
                    .collect();
                problem = problem.with_help(format!(
                    "run again once that transaction has ended, or end it: {}",
                    ends.join(" ")
                ));
            }
            let cap = max_retries
                .map(|n| format!(", or raise --max-retries (now {n})"))
                .unwrap_or_default();
            problem.with_code(server.code.clone()).with_help(format!(
                "to keep trying longer, give --lock-retry-for more than {}{cap}; a longer --lock-timeout \
                 lets each attempt wait longer, but the application's queries on that table queue behind it meanwhile",
                super::busy::seconds(*budget),
            ))
        }
        ExecError::Commit { server, .. } => {
            let mut problem = Problem::error(e.to_string()).with_code(server.code.clone());
            if let Some(detail) = &server.detail {
                problem = problem.with_help(format!("detail: {detail}"));
            }
            problem
        }
        other => Problem::error(other.to_string()),
    }
}
