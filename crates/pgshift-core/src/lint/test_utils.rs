//! Helpers for rule tests: write a throwaway migration folder, load it,
//! lint it.

use super::{lint, LintOptions, Rule, RuleSelector, Violation};
use crate::migration::MigrationSet;

/// Lints a folder holding `files` with every rule except squawk's.
pub fn lint_set(files: &[(&str, &str)]) -> Vec<Violation> {
    lint_with(
        files,
        &LintOptions {
            disable: vec![RuleSelector::Squawk],
            ..LintOptions::default()
        },
    )
}

/// Lints a folder holding `files` with `options`.
pub fn lint_with(files: &[(&str, &str)], options: &LintOptions) -> Vec<Violation> {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write fixture");
    }
    let set = MigrationSet::load(dir.path()).unwrap_or_else(|e| panic!("fixture loads: {e}"));
    lint(&set, options)
}

/// `sql` as migration 001 with a trivial rollback, every pgshift rule.
pub fn lint_one(sql: &str) -> Vec<Violation> {
    lint_set(&[("001_test.sql", sql), ("rollback_001.sql", "SELECT 1;\n")])
}

/// Asserts that [`lint_one`] finds nothing.
pub fn assert_ok(sql: &str) {
    let found = lint_one(sql);
    assert!(
        found.is_empty(),
        "expected no findings for:\n{sql}\n{found:#?}"
    );
}

/// Only `rule`, on `sql` as migration 001 (and `rollback` as its rollback).
pub fn check(rule: Rule, sql: &str, rollback: &str) -> Vec<Violation> {
    lint_with(
        &[("001_test.sql", sql), ("rollback_001.sql", rollback)],
        &LintOptions {
            only: vec![RuleSelector::Rule(rule)],
            ..LintOptions::default()
        },
    )
}

/// Asserts `rule` finds nothing in `sql` (rollback: `SELECT 1;`).
pub fn lint_ok(rule: Rule, sql: &str) {
    let found = check(rule, sql, "SELECT 1;\n");
    assert!(
        found.is_empty(),
        "expected no {rule} for:\n{sql}\n{found:#?}"
    );
}

/// The messages of `rule`'s findings in `sql`; asserts there is at least one.
pub fn lint_errors(rule: Rule, sql: &str) -> Vec<String> {
    let found = check(rule, sql, "SELECT 1;\n");
    assert!(!found.is_empty(), "expected {rule} for:\n{sql}");
    found.into_iter().map(|v| v.message).collect()
}

/// The rules of `found`, in order.
pub fn rules(found: &[Violation]) -> Vec<Rule> {
    found.iter().map(|v| v.rule).collect()
}
