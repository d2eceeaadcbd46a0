//! ## `deep-nesting` (warning)
//!
//! ### What it does
//! Flags a statement whose parentheses nest deeper than
//! [`MAX_DEPTH`] levels. squawk's checks skip such a statement.
//!
//! ### Why is this bad?
//! squawk's parser descends once per level: on a statement nested tens of
//! thousands deep it ran out of stack and aborted the whole process
//! (`pgshift lint` and `up`, which lints what it applies). No migration
//! needs that depth; PostgreSQL itself refuses deep enough nesting with
//! "stack depth limit exceeded". Generated SQL is the usual source.
//!
//! ### Example
//! ```sql
//! SELECT ((((((((((((((((((((1)))))))))))))))))))); -- … 300 levels
//! ```
//!
//! ### Use instead
//! Flatten the expression (an `IN` list, a `CASE`, a function), or split
//! the statement.

use super::super::context::FileContext;
use super::super::sql::Stmt;
use super::super::{Rule, Violation};

/// The deepest nesting squawk is given. Its parser uses a few kilobytes of
/// stack per level; 200 levels stay well inside a 2 MB thread stack (the
/// lint worker threads'), which the tests check.
pub const MAX_DEPTH: u32 = 200;

/// The depth of `stmt`'s deepest parenthesis.
pub(crate) fn depth(stmt: &Stmt) -> u32 {
    stmt.nesting
}

pub(crate) fn check(file: &FileContext, out: &mut Vec<Violation>) {
    for (_, stmt) in file.each() {
        let depth = depth(&stmt);
        if depth > MAX_DEPTH {
            out.push(
                Violation::new(
                    Rule::DeepNesting,
                    file.file(),
                    stmt.head_span(0),
                    format!("parentheses nested {depth} deep (more than {MAX_DEPTH}); squawk's checks skip this statement"),
                )
                .help("flatten the expression or split the statement"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::test_utils::*;
    use crate::lint::Rule::DeepNesting as R;
    use crate::lint::{LintOptions, Rule};

    fn nested(depth: usize) -> String {
        format!("SELECT {}1{};\n", "(".repeat(depth), ")".repeat(depth))
    }

    #[test]
    fn flags_nesting_beyond_the_limit() {
        lint_ok(R, &nested(MAX_DEPTH as usize));
        lint_errors(R, &nested(MAX_DEPTH as usize + 1));
    }

    #[test]
    fn issue_11_thirty_thousand_parentheses_are_a_finding_not_an_abort() {
        let sql = format!(
            "-- Description: deep\nALTER TABLE t ADD CHECK {}",
            nested(30_000)
        );
        for options in [
            LintOptions::default(),
            // What `up` checks: squawk's error-level rules only.
            LintOptions {
                errors_only: true,
                ..LintOptions::default()
            },
        ] {
            let found = lint_with(
                &[("001_a.sql", &sql), ("rollback_001.sql", "SELECT 1;\n")],
                &options,
            );
            let rules = rules(&found);
            assert_eq!(
                rules.contains(&Rule::DeepNesting),
                !options.errors_only,
                "{rules:?}"
            );
        }
    }

    #[test]
    fn squawk_parses_the_deepest_allowed_statement_on_a_small_stack() {
        let sql = format!(
            "-- Description: deep\nALTER TABLE t ADD CHECK {}",
            nested(MAX_DEPTH as usize)
        );
        let found = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                lint_with(
                    &[("001_a.sql", &sql), ("rollback_001.sql", "SELECT 1;\n")],
                    &LintOptions::default(),
                )
            })
            .expect("thread starts")
            .join()
            .expect("no stack overflow");
        assert!(!rules(&found).contains(&Rule::DeepNesting));
    }
}
