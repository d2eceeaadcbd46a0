//! squawk (<https://squawkhq.com>), the PostgreSQL migration linter, run on
//! each file and mapped to pgshift [`Violation`]s named `squawk/<rule>`.
//!
//! squawk checks what a statement does to a live database: a `NOT NULL`
//! column added without a default, `CREATE INDEX` without `CONCURRENTLY`
//! on an existing table, a column type change that rewrites the table, a
//! foreign key or check constraint added without `NOT VALID`, renames, and
//! more. Its findings are warnings, except the ones that fail outright on a
//! table with rows (`severity`).
//!
//! A few squawk rules contradict how pgshift runs a file, so they are off
//! unless enabled by name (`is_default`):
//! - `transaction-nesting`, `ban-uncommitted-transaction`: pgshift folds a
//!   file's own `BEGIN; … COMMIT;` into its transaction, and the loader
//!   already refuses transaction control anywhere else;
//! - `ban-concurrent-index-creation-in-transaction`: pgshift's own
//!   `transaction-misuse` checks this against `-- pgshift:no-transaction`;
//! - `prefer-robust-stmts`: pgshift's own `non-idempotent` covers it;
//! - `require-timeout-settings` and its parts: pgshift sets `lock_timeout`
//!   on every migration session (`--lock-timeout`, default 5s).
//!
//! squawk's own `-- squawk-ignore rule` comments work too.

use super::context::FileContext;
use super::rules::deep_nesting::{self, MAX_DEPTH};
use super::{LintOptions, Rule, Severity, SquawkRule, Violation};
use crate::script::TransactionMode;
use crate::source::Span;
use squawk_linter::Rule as S;

/// squawk rules pgshift leaves off unless enabled by name.
const OFF_IN_PGSHIFT: [S; 7] = [
    S::TransactionNesting,
    S::BanUncommittedTransaction,
    S::BanConcurrentIndexCreationInTransaction,
    S::PreferRobustStmts,
    S::RequireTimeoutSettings,
    S::RequireLockTimeout,
    S::RequireStatementTimeout,
];

/// Every squawk rule that can be named, aliases excluded.
pub fn all_rules() -> impl Iterator<Item = Rule> {
    use std::str::FromStr;
    enum_iterator::all::<S>()
        .filter(|r| r.expands_to().is_empty() && S::from_str(&r.to_string()).is_ok())
        .map(|r| Rule::Squawk(SquawkRule(r)))
}

/// True when the squawk rule runs by default under pgshift.
pub(crate) fn is_default(rule: S) -> bool {
    !rule.is_opt_in() && !OFF_IN_PGSHIFT.contains(&rule)
}

/// Errors for changes that fail on any table with rows; warnings otherwise.
pub(crate) fn severity(rule: S) -> Severity {
    match rule {
        S::AddingRequiredField | S::BanDropDatabase => Severity::Error,
        _ => Severity::Warning,
    }
}

/// The first keywords of the only statements `rule` looks at, where that
/// is so (the error-level rules are).
fn only_in_statements_starting_with(rule: S) -> Option<&'static [&'static str]> {
    match rule {
        S::AddingRequiredField => Some(&["ALTER", "TABLE"]),
        S::BanDropDatabase => Some(&["DROP", "DATABASE"]),
        _ => None,
    }
}

/// Runs squawk on one file. In a rollback file, squawk's `ban-drop-*`
/// rules (except `ban-drop-database`) are skipped: undoing is its job.
pub(crate) fn check(
    file: &FileContext,
    rollback: bool,
    options: &LintOptions,
    out: &mut Vec<Violation>,
) {
    let undoing =
        |r: S| rollback && r != S::BanDropDatabase && r.to_string().starts_with("ban-drop-");
    // An alias (`require-timeout-settings`) is enabled through its parts.
    let rules: Vec<S> = enum_iterator::all::<S>()
        .filter(|r| {
            r.expands_to().is_empty()
                && options.is_enabled(Rule::Squawk(SquawkRule(*r)))
                && !undoing(*r)
        })
        .collect();
    if rules.is_empty() {
        return;
    }
    let flags = |rule: &S, stmt: &super::sql::Stmt| match only_in_statements_starting_with(*rule) {
        Some(words) => stmt.words_at(0, words),
        None => true,
    };
    if rules
        .iter()
        .all(|r| only_in_statements_starting_with(*r).is_some())
    {
        // Only rules about one statement at a time (`up`'s error-level
        // check): parse just the statements they look at, each with the
        // comments above it (for `-- squawk-ignore`). Parsing is most of
        // the cost, and a whole large file's syntax tree takes many times
        // its size.
        let text = file.file().text();
        let mut previous_end = 0;
        for (statement, stmt) in file.each() {
            let from = previous_end;
            previous_end = statement.span.end;
            if rules.iter().any(|r| flags(r, &stmt)) && deep_nesting::depth(&stmt) <= MAX_DEPTH {
                let mut piece = String::new();
                super::context::blank_all_but_comments(
                    &text[from..statement.span.start],
                    &mut piece,
                );
                piece.push_str(&text[statement.span.start..statement.span.end]);
                run(file, &piece, from, &rules, options, &undoing, out);
            }
        }
        return;
    }
    let too_deep: Vec<usize> = file
        .each()
        .enumerate()
        .filter(|(_, (_, stmt))| deep_nesting::depth(stmt) > MAX_DEPTH)
        .map(|(i, _)| i)
        .collect();
    run(
        file,
        &file.sql_only_text(&too_deep),
        0,
        &rules,
        options,
        &undoing,
        out,
    );
}

/// Runs squawk's `rules` on `text`, the part of `file` from byte `offset`.
fn run(
    file: &FileContext,
    text: &str,
    offset: usize,
    rules: &[S],
    options: &LintOptions,
    undoing: &dyn Fn(S) -> bool,
    out: &mut Vec<Violation>,
) {
    let parse = squawk_syntax::SourceFile::parse(text);
    let mut linter = squawk_linter::Linter::from(rules.iter().copied());
    linter.settings.assume_in_transaction = file.mode == TransactionMode::Transactional;
    linter.settings.pg_version = pg_version(options);
    for found in linter.lint(&parse, text) {
        let rule = Rule::Squawk(SquawkRule(found.code));
        if !options.is_enabled(rule) || undoing(found.code) {
            // An alias expanded to a rule that was excluded by name.
            continue;
        }
        let start = (u32::from(found.text_range.start()) as usize).min(text.len());
        let end = (u32::from(found.text_range.end()) as usize).min(text.len());
        let mut violation = Violation::new(
            rule,
            file.file(),
            Span::new(offset + start, offset + end),
            lowercase_first(found.message.trim_end_matches('.')),
        );
        violation.help = found.help;
        out.push(violation);
    }
}

/// The version squawk judges for: the major version alone, as squawk
/// compares `11.0` above `11`.
fn pg_version(options: &LintOptions) -> squawk_linter::Version {
    let major = options
        .postgres_version
        .unwrap_or(super::DEFAULT_POSTGRES_VERSION);
    major
        .to_string()
        .parse()
        .expect("a number is a version squawk can parse")
}

/// pgshift messages are lowercase phrases; squawk's are sentences.
fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(c) if chars.clone().next().is_some_and(|d| d.is_lowercase()) => {
            c.to_lowercase().chain(chars).collect()
        }
        _ => message.to_string(),
    }
}
