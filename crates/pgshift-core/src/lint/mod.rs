//! Static checks of migration files: `pgshift lint`, and the check `up`
//! runs before it connects.
//!
//! Two sources of findings:
//! - pgshift's own rules, one file each in [`rules`], about how a
//!   migration folder is run: rollbacks exist and undo what was created,
//!   statements can run twice, transaction directives match the
//!   statements, destructive statements are acknowledged, headers and
//!   numbering are in order;
//! - the squawk linter ([`squawk`]), about what a statement does to a live
//!   database: locks, table rewrites, constraints added without
//!   `NOT VALID`, and so on.
//!
//! Rules read the lexer's tokens (see `sql`), never raw text, so comments,
//! strings and function bodies do not trigger them. Findings are
//! [`Violation`] values; rendering is the CLI's job.
//!
//! Suppressing a finding: `-- pgshift:ignore rule-name[, other-rule]` on
//! the comment line(s) directly above a statement silences those rules for
//! that statement; the same line in the file's header comment block
//! silences them for the whole file. `squawk` and `all` name groups.
//!
//! Adding a rule: add a variant to [`Rule`] with its name and severity, a
//! file in `rules/` with the user-facing doc comment and a `check`
//! function, call it from [`lint_migration`] (or [`lint`] for rules about
//! the whole folder), and add triggering and clean cases to its tests.

mod context;
mod rule;
pub mod rules;
mod sql;
pub mod squawk;

pub use rule::{
    LintOptions, Rule, RuleSelector, Severity, SquawkRule, UnknownRule, DEFAULT_POSTGRES_VERSION,
};

use crate::migration::{Migration, MigrationSet};
use crate::source::{SourceFile, Span};
use context::FileContext;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One finding.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The rule that found it.
    pub rule: Rule,
    /// The rule's severity.
    pub severity: Severity,
    /// The file it is in (for display, with its text).
    pub file: Arc<SourceFile>,
    /// Where in the file; empty at offset 0 for findings about a whole file.
    pub span: Span,
    /// What is wrong, a short lowercase phrase.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl Violation {
    pub(crate) fn new(
        rule: Rule,
        file: &Arc<SourceFile>,
        span: Span,
        message: impl Into<String>,
    ) -> Violation {
        Violation {
            rule,
            severity: rule.severity(),
            file: Arc::clone(file),
            span,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Violation {
        self.help = Some(help.into());
        self
    }

    /// True for error-level findings.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Lints every migration in the set, and the set as a whole
/// (`version-gap`). Findings are ordered by migration, then by file and
/// position.
pub fn lint(set: &MigrationSet, options: &LintOptions) -> Vec<Violation> {
    let mut gaps = Vec::new();
    if options.is_enabled(Rule::VersionGap) {
        rules::version_gap::check(set, &mut gaps);
    }
    let mut out = Vec::new();
    let each = lint_migrations_each(set.migrations().iter(), options);
    for (migration, found) in set.migrations().iter().zip(each) {
        let main = &migration.script.files[0];
        let (here, rest): (Vec<_>, Vec<_>) =
            gaps.into_iter().partition(|v| Arc::ptr_eq(&v.file, main));
        gaps = rest;
        if !here.is_empty() {
            let context = FileContext::new(&migration.script, migration.transaction);
            out.extend(
                here.into_iter()
                    .filter(|v| !context.is_ignored(v.rule, v.span)),
            );
        }
        out.extend(found);
    }
    out
}

/// Lints the given migrations, such as the ones `up` would apply, in
/// order. Folder-wide rules (`version-gap`) do not run.
pub fn lint_migrations<'a>(
    migrations: impl IntoIterator<Item = &'a Migration>,
    options: &LintOptions,
) -> Vec<Violation> {
    lint_migrations_each(migrations, options)
        .into_iter()
        .flatten()
        .collect()
}

/// The findings of each migration, in order, linted on every core.
fn lint_migrations_each<'a>(
    migrations: impl IntoIterator<Item = &'a Migration>,
    options: &LintOptions,
) -> Vec<Vec<Violation>> {
    let migrations: Vec<&Migration> = migrations.into_iter().collect();
    migrations
        .par_iter()
        .map(|m| lint_migration(m, options))
        .collect()
}

/// Lints the migrations whose forward or rollback file is one of `paths`,
/// and reports only findings in those files.
///
/// # Errors
/// A path that is not a migration or rollback file of the set.
pub fn lint_paths(
    set: &MigrationSet,
    paths: &[PathBuf],
    options: &LintOptions,
) -> Result<Vec<Violation>, NotAMigration> {
    let key = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let wanted: Vec<PathBuf> = paths.iter().map(|p| key(p)).collect();
    let files_of = |m: &Migration| {
        let mut files = vec![key(m.path())];
        if let Some(rollback) = &m.rollback {
            files.push(key(rollback.script.file().path()));
        }
        files
    };
    let mut out = Vec::new();
    for (given, path) in paths.iter().zip(&wanted) {
        let Some(migration) = set.migrations().iter().find(|m| files_of(m).contains(path)) else {
            return Err(NotAMigration(given.clone()));
        };
        out.extend(
            lint_migration(migration, options)
                .into_iter()
                .filter(|v| key(v.file.path()) == *path),
        );
    }
    sort(&mut out);
    out.dedup_by(|a, b| a.rule == b.rule && a.span == b.span && a.file.path() == b.file.path());
    Ok(out)
}

/// A path given to [`lint_paths`] that the set does not contain.
#[derive(Debug, thiserror::Error)]
#[error("`{}` is not a migration or rollback file in the migration folder", .0.display())]
pub struct NotAMigration(pub PathBuf);

/// Lints one migration: its forward file, its rollback file, and how the
/// two relate. This is the check `up` runs on pending migrations.
pub fn lint_migration(migration: &Migration, options: &LintOptions) -> Vec<Violation> {
    let forward = FileContext::new(&migration.script, migration.transaction);
    let rollback = migration
        .rollback
        .as_ref()
        .map(|r| FileContext::new(&r.script, r.transaction));
    let on = |rule| options.is_enabled(rule);
    let mut out = Vec::new();
    if on(Rule::MissingRollback) {
        rules::missing_rollback::check(
            &forward,
            rollback.is_some() || migration.irreversible,
            &mut out,
        );
    }
    if on(Rule::MissingDescription) {
        rules::missing_description::check(&forward, &mut out);
    }
    if on(Rule::UnacknowledgedDestructive) {
        rules::unacknowledged_destructive::check(&forward, &mut out);
    }
    if on(Rule::UnknownDirective) {
        rules::unknown_directive::check(&forward, &mut out);
        if let Some(rollback) = &rollback {
            rules::unknown_directive::check(rollback, &mut out);
        }
    }
    if on(Rule::RollbackIncomplete) {
        if let Some(rollback) = &rollback {
            rules::rollback_incomplete::check(&forward, rollback, &mut out);
        }
    }
    let files = std::iter::once((&forward, false)).chain(rollback.as_ref().map(|r| (r, true)));
    for (file, is_rollback) in files {
        if on(Rule::NonIdempotent) {
            rules::non_idempotent::check(file, &mut out);
        }
        if on(Rule::TransactionMisuse) {
            rules::transaction_misuse::check(file, &mut out);
        }
        if on(Rule::DeepNesting) {
            rules::deep_nesting::check(file, &mut out);
        }
        squawk::check(file, is_rollback, options, &mut out);
    }
    // Files pulled in with `\i`: what their statements do, checked as
    // part of the file that includes them.
    let included: Vec<(FileContext, bool)> =
        FileContext::included(&migration.script, migration.transaction)
            .into_iter()
            .map(|f| (f, false))
            .chain(migration.rollback.iter().flat_map(|r| {
                FileContext::included(&r.script, r.transaction)
                    .into_iter()
                    .map(|f| (f, true))
            }))
            .collect();
    for (file, is_rollback) in &included {
        if on(Rule::NonIdempotent) {
            rules::non_idempotent::check(file, &mut out);
        }
        if on(Rule::DeepNesting) {
            rules::deep_nesting::check(file, &mut out);
        }
        squawk::check(file, *is_rollback, options, &mut out);
    }
    // Each file with the main file whose header comment block covers it.
    let mut scopes: Vec<(&FileContext, &FileContext)> = vec![(&forward, &forward)];
    if let Some(rollback) = &rollback {
        scopes.push((rollback, rollback));
    }
    for (file, is_rollback) in &included {
        let owner = match (&rollback, is_rollback) {
            (Some(rollback), true) => rollback,
            _ => &forward,
        };
        scopes.push((file, owner));
    }
    out.retain(|v| {
        let Some((file, owner)) = scopes.iter().find(|(f, _)| Arc::ptr_eq(&v.file, f.file()))
        else {
            return true;
        };
        !file.is_ignored(v.rule, v.span) && !owner.header.ignores.iter().any(|s| s.matches(v.rule))
    });
    sort(&mut out);
    out
}

fn sort(out: &mut [Violation]) {
    out.sort_by(|a, b| {
        a.file
            .path()
            .cmp(b.file.path())
            .then(a.span.start.cmp(&b.span.start))
            .then_with(|| a.rule.name().cmp(&b.rule.name()))
    });
}

#[cfg(test)]
pub(crate) mod test_utils;

#[cfg(test)]
mod tests;
