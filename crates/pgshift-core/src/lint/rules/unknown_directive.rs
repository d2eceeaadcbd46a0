//! ## `unknown-directive` (warning)
//!
//! ### What it does
//! Flags a `-- pgshift:` comment that pgshift does not understand: an
//! `ignore` naming a rule that does not exist, or a directive word that is
//! not one of `ignore`, `destructive-ok`, `no-transaction` and `irreversible`.
//!
//! ### Why is this bad?
//! A misspelt rule name silences nothing, so the finding it was meant to
//! silence keeps coming back and nothing says why.
//!
//! ### Example
//! ```sql
//! -- pgshift:ignore non-idempotant
//! CREATE TABLE audit_log (id bigint PRIMARY KEY);
//! ```
//!
//! ### Use instead
//! ```sql
//! -- pgshift:ignore non-idempotent
//! CREATE TABLE audit_log (id bigint PRIMARY KEY);
//! ```

use super::super::context::FileContext;
use super::super::{Rule, Violation};

pub(crate) fn check(file: &FileContext, out: &mut Vec<Violation>) {
    let header = file.header.unknown.iter();
    let above = file
        .statements
        .iter()
        .flat_map(|s| s.directives.unknown.iter());
    let mut seen = Vec::new();
    for (span, word) in header.chain(above) {
        // The comments above the first statement are also the header.
        if seen.contains(&(span, word)) {
            continue;
        }
        seen.push((span, word));
        let help = if word.starts_with("pgshift:") {
            "the directives are `-- pgshift:ignore RULE`, `-- pgshift:destructive-ok` and, in the header, `-- pgshift:no-transaction` and `-- pgshift:irreversible`".to_string()
        } else {
            format!(
                "known rules: {}, `squawk/<rule>`, `squawk` and `all`",
                Rule::OWN.map(|r| format!("`{r}`")).join(", ")
            )
        };
        out.push(
            Violation::new(
                Rule::UnknownDirective,
                file.file(),
                *span,
                format!("`{word}` is not a pgshift rule or directive; this comment has no effect"),
            )
            .help(help),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::test_utils::*;
    use crate::lint::{LintOptions, Rule, RuleSelector};

    #[test]
    fn flags_a_misspelt_rule_and_keeps_the_finding_it_meant_to_silence() {
        let sql = "-- Description: d\nSELECT 1;\n\n-- pgshift:ignore non-idempotant\nCREATE TABLE t (id int);\n";
        let found = lint_with(
            &[("001_test.sql", sql), ("rollback_001.sql", "SELECT 1;\n")],
            &LintOptions {
                only: vec![
                    RuleSelector::Rule(Rule::UnknownDirective),
                    RuleSelector::Rule(Rule::NonIdempotent),
                ],
                ..LintOptions::default()
            },
        );
        assert_eq!(rules(&found), [Rule::UnknownDirective, Rule::NonIdempotent]);
        assert!(found[0].message.contains("`non-idempotant`"), "{found:?}");
    }

    #[test]
    fn flags_an_unknown_directive_above_a_statement() {
        let sql = "-- Description: d\nSELECT 1;\n\n-- pgshift:destructive-okay\nSELECT 2;\n";
        let found = check(Rule::UnknownDirective, sql, "SELECT 1;\n");
        assert_eq!(rules(&found), [Rule::UnknownDirective]);
        assert!(
            found[0].message.contains("`pgshift:destructive-okay`"),
            "{found:?}"
        );
    }

    #[test]
    fn accepts_known_rules_groups_and_directives() {
        lint_ok(
            Rule::UnknownDirective,
            "-- Description: d\n-- pgshift:ignore squawk, non-idempotent\nSELECT 1;\n\n-- pgshift:ignore all\n-- pgshift:destructive-ok\nDROP TABLE IF EXISTS t;\n",
        );
    }

    #[test]
    fn reports_a_header_comment_above_the_first_statement_once() {
        let sql = "-- Description: d\n-- pgshift:ignore nope\nSELECT 1;\n";
        let found = check(Rule::UnknownDirective, sql, "SELECT 1;\n");
        assert_eq!(rules(&found), [Rule::UnknownDirective]);
    }

    #[test]
    fn checks_the_rollback_file_too() {
        let found = check(
            Rule::UnknownDirective,
            "-- Description: d\nSELECT 1;\n",
            "-- pgshift:ignore everything\nSELECT 1;\n",
        );
        assert_eq!(rules(&found), [Rule::UnknownDirective]);
        assert!(found[0].file.path().ends_with("rollback_001.sql"));
    }
}
