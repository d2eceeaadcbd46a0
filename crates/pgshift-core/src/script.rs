//! A migration file turned into the steps pgshift will run.
//!
//! The lexer splits the text the way psql does; this module gives the pieces
//! meaning: it follows `\i`/`\ir` includes, keeps `\echo` lines, accepts
//! `\set ON_ERROR_STOP`, and refuses every other psql meta-command, and
//! whatever psql would send differently from the text as written (see
//! `psql`: unclosed quotes and comments, variables, `\;`). It finds
//! the file's own top-level `BEGIN; … COMMIT;` (the seed's recommended
//! form) so the executor can run the body inside its own transaction, and it
//! refuses transaction control anywhere else, since a `COMMIT` in the middle
//! would commit half a migration without its tracking row.
//!
//! Everything here happens before any database is touched.

use crate::migration::LoadError;
use crate::source::{SourceFile, Span};
use pgshift_lexer::{Item, StatementKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod psql;
#[cfg(test)]
mod tests;

/// How deep `\i` may nest before we assume a mistake.
const MAX_INCLUDE_DEPTH: usize = 16;

/// One thing to do, in order.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send this SQL statement (the text of `span` in `files[file]`).
    Sql {
        /// Index into [`Script::files`].
        file: usize,
        /// The statement, including its terminating semicolon if any.
        span: Span,
        /// Transaction-control classification from the lexer.
        kind: StatementKind,
    },
    /// A `\echo` line: show the text to the user.
    Echo {
        /// What to show.
        text: String,
    },
}

/// A parsed migration or rollback file, includes expanded.
#[derive(Debug, Clone)]
pub struct Script {
    /// The main file first, then every included file in first-include order.
    pub files: Vec<Arc<SourceFile>>,
    /// What to run.
    pub steps: Vec<Step>,
    /// True when the file wraps its body in its own `BEGIN; … COMMIT;`.
    /// The executor runs the body in its transaction instead.
    pub self_wrapped: bool,
}

/// Whether a migration runs in a transaction, from its header directives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransactionMode {
    /// The default: the migration and its tracking row commit together.
    Transactional,
    /// `-- pgshift:no-transaction`: statements run one by one, progress is
    /// recorded, and a failure can be resumed.
    NoTransaction,
}

/// What the header comment block of a file declares.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// `-- Description: …`
    pub description: Option<String>,
    /// `-- pgshift:no-transaction` seen.
    pub no_transaction: bool,
    /// `-- pgshift:irreversible` seen: the migration cannot be undone.
    pub irreversible: bool,
}

impl Header {
    /// Reads the leading comment lines of a file: metadata such as
    /// `-- Description: …` and `-- pgshift:` directives. Stops at the first
    /// line that is neither blank nor a `--` comment.
    pub fn parse(file: &SourceFile) -> Result<Header, LoadError> {
        let mut header = Header::default();
        let text = file.text();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut offset = file.text().len() - text.len();
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            let Some(comment) = trimmed.strip_prefix("--") else {
                break;
            };
            let comment = comment.trim();
            if let Some(directive) = comment.strip_prefix("pgshift:") {
                match directive.trim() {
                    "no-transaction" => header.no_transaction = true,
                    "irreversible" => header.irreversible = true,
                    // Read by the linter (`crate::lint`).
                    "destructive-ok" => {}
                    other if other.starts_with("ignore ") || other == "ignore" => {}
                    other => {
                        let col = line.find("pgshift:").unwrap_or(0);
                        return Err(LoadError::UnknownDirective {
                            path: file.path().to_path_buf(),
                            span: Span::new(start + col, start + line.trim_end().len()),
                            directive: other.to_string(),
                        });
                    }
                }
            } else if let Some((key, value)) = comment.split_once(':') {
                if key.trim().eq_ignore_ascii_case("description") && header.description.is_none() {
                    let value = value.trim();
                    if !value.is_empty() {
                        header.description = Some(value.to_string());
                    }
                }
            }
        }
        Ok(header)
    }
}

impl Script {
    /// Parses `file`, following includes, and checks transaction control.
    ///
    /// `mode` is the file's transaction mode: a no-transaction file may not
    /// contain transaction control at all.
    pub fn parse(file: SourceFile, mode: TransactionMode) -> Result<Script, LoadError> {
        let mut script = Script {
            files: vec![Arc::new(file)],
            steps: Vec::new(),
            self_wrapped: false,
        };
        let mut stack = Vec::new();
        script.expand(0, &mut stack)?;
        script.check_transaction_control(mode)?;
        Ok(script)
    }

    /// The main file.
    pub fn file(&self) -> &SourceFile {
        &self.files[0]
    }

    /// Number of SQL statements that will be sent.
    pub fn statement_count(&self) -> usize {
        self.sql_steps().count()
    }

    /// The SQL steps with their text: `(file, span, text)`.
    pub fn sql_steps(&self) -> impl Iterator<Item = (&SourceFile, Span)> {
        self.steps.iter().filter_map(|step| match step {
            Step::Sql { file, span, .. } => Some((&*self.files[*file], *span)),
            Step::Echo { .. } => None,
        })
    }

    /// The texts that make up the checksum: the main file, then includes.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|f| f.text())
    }

    fn expand(&mut self, file_index: usize, stack: &mut Vec<PathBuf>) -> Result<(), LoadError> {
        let file = Arc::clone(&self.files[file_index]);
        stack.push(file.path().to_path_buf());
        let split = pgshift_lexer::split_script(file.text());
        psql::check_copy(&file, &split)?;
        // Whatever is left open runs to the end; what comes before it is
        // checked first, since it may be the cause (a `SET
        // standard_conforming_strings = off` before a `'a\'b'`).
        let open_at = split
            .unterminated
            .first()
            .map_or(usize::MAX, |t| t.span.start);
        for item in &split.items {
            if item.span().start > open_at {
                break;
            }
            match item {
                Item::Statement(statement) => {
                    psql::check_statement(&file, statement)?;
                    self.steps.push(Step::Sql {
                        file: file_index,
                        span: statement.span,
                        kind: statement.kind,
                    });
                }
                Item::Meta(meta) => match meta.name.as_str() {
                    "set" if meta
                        .args
                        .first()
                        .is_some_and(|name| name == "ON_ERROR_STOP") =>
                    {
                        // pgshift always stops at the first error.
                    }
                    "echo" => {
                        psql::check_meta(&file, meta)?;
                        self.steps.push(Step::Echo {
                            text: meta.args.join(" "),
                        })
                    }
                    "i" | "include" | "ir" | "include_relative" => {
                        psql::check_meta(&file, meta)?;
                        let Some(target) = meta.args.first() else {
                            return Err(LoadError::MetaCommand {
                                path: file.path().to_path_buf(),
                                span: meta.span,
                                command: meta.name.clone(),
                                reason: "needs a file name".into(),
                            });
                        };
                        let path = resolve_include(file.path(), target);
                        if stack.contains(&path) {
                            return Err(LoadError::IncludeCycle {
                                path: file.path().to_path_buf(),
                                span: meta.span,
                                target: path,
                            });
                        }
                        if stack.len() >= MAX_INCLUDE_DEPTH {
                            return Err(LoadError::MetaCommand {
                                path: file.path().to_path_buf(),
                                span: meta.span,
                                command: meta.name.clone(),
                                reason: format!("includes nest deeper than {MAX_INCLUDE_DEPTH}"),
                            });
                        }
                        let included = crate::migration::read_source(&path).map_err(|e| {
                            LoadError::Include {
                                path: file.path().to_path_buf(),
                                span: meta.span,
                                source: Box::new(e),
                            }
                        })?;
                        self.files.push(Arc::new(included));
                        let index = self.files.len() - 1;
                        self.expand(index, stack)?;
                    }
                    _ => {
                        return Err(LoadError::MetaCommand {
                            path: file.path().to_path_buf(),
                            span: meta.span,
                            command: meta.name.clone(),
                            reason: "pgshift runs SQL, not psql; only \\set ON_ERROR_STOP, \\echo, \\i and \\ir are understood".into(),
                        })
                    }
                },
            }
        }
        psql::check_unclosed(&file, &split)?;
        stack.pop();
        Ok(())
    }

    /// Finds a top-level `BEGIN … COMMIT` pair around the whole body and
    /// drops it (the executor supplies its own); refuses any other
    /// transaction control, pointing at the first offending statement.
    fn check_transaction_control(&mut self, mode: TransactionMode) -> Result<(), LoadError> {
        let control: Vec<(usize, StatementKind)> = self
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, step)| match step {
                Step::Sql { kind, .. } => Some((i, *kind)),
                Step::Echo { .. } => None,
            })
            .collect();
        let (first, last) = match (control.first(), control.last()) {
            (Some(&first), Some(&last)) => (first, last),
            _ => return Ok(()),
        };
        let transactional = mode == TransactionMode::Transactional;
        let leading_begin =
            transactional && first.1 == StatementKind::Begin && self.step_in_main(first.0);
        let trailing_commit = leading_begin
            && control.len() >= 2
            && last.1 == StatementKind::Commit
            && self.step_in_main(last.0);
        let problem_at = |index: usize, problem: TransactionProblem| {
            let Step::Sql { file, span, .. } = &self.steps[index] else {
                unreachable!("control only lists SQL steps")
            };
            Err(LoadError::TransactionControl {
                path: self.files[*file].path().to_path_buf(),
                span: *span,
                problem,
            })
        };
        for &(index, kind) in &control {
            let wrapper =
                (leading_begin && index == first.0) || (trailing_commit && index == last.0);
            if kind == StatementKind::Other || wrapper {
                continue;
            }
            let problem = match kind {
                _ if !transactional => TransactionProblem::InNoTransactionFile,
                StatementKind::Begin => TransactionProblem::UnmatchedBegin,
                StatementKind::Commit => TransactionProblem::CommitInMiddle,
                _ => TransactionProblem::RollbackInFile,
            };
            return problem_at(index, problem);
        }
        if leading_begin && !trailing_commit {
            return problem_at(first.0, TransactionProblem::UnmatchedBegin);
        }
        if trailing_commit {
            // Remove the later index first so the earlier one stays valid.
            self.steps.remove(last.0);
            self.steps.remove(first.0);
            self.self_wrapped = true;
        }
        Ok(())
    }

    fn step_in_main(&self, index: usize) -> bool {
        matches!(self.steps[index], Step::Sql { file: 0, .. })
    }
}

/// What is wrong with a transaction-control statement in a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionProblem {
    /// `COMMIT`/`END` anywhere but as the last statement after a leading `BEGIN`.
    CommitInMiddle,
    /// `BEGIN` not matched by a final `COMMIT`, or not the first statement.
    UnmatchedBegin,
    /// `ROLLBACK`/`ABORT` in a migration.
    RollbackInFile,
    /// Any transaction control in a `-- pgshift:no-transaction` file.
    InNoTransactionFile,
}

impl std::fmt::Display for TransactionProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransactionProblem::CommitInMiddle => {
                "COMMIT before the end of the migration would commit part of it without its tracking row"
            }
            TransactionProblem::UnmatchedBegin => {
                "BEGIN is only allowed as the first statement, matched by COMMIT as the last statement"
            }
            TransactionProblem::RollbackInFile => "ROLLBACK in a migration would undo it silently",
            TransactionProblem::InNoTransactionFile => {
                "a `-- pgshift:no-transaction` migration runs statement by statement and cannot contain transaction control"
            }
        })
    }
}

/// `\i` and `\ir` both resolve relative to the including file's folder, so
/// a migration means the same thing whatever the working directory is.
fn resolve_include(from: &Path, target: &str) -> PathBuf {
    let target = Path::new(target);
    if target.is_absolute() {
        return target.to_path_buf();
    }
    from.parent().unwrap_or(Path::new(".")).join(target)
}
