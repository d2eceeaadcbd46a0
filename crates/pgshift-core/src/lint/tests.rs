//! Whole-folder checks: the project's own migrations, `pgshift new`'s
//! templates, squawk's findings. The timing of a large folder is the
//! benchmark's (`pgshift-bench --lint`).

use super::test_utils::*;
use super::{lint, LintOptions, Rule, Severity};
use crate::migration::MigrationSet;
use std::path::Path;

fn errors(found: &[super::Violation]) -> Vec<String> {
    found
        .iter()
        .filter(|v| v.severity == Severity::Error)
        .map(|v| {
            let at = v.file.line_col(v.span.start);
            format!(
                "{}:{}: {}: {}",
                v.file.path().display(),
                at.line,
                v.rule,
                v.message
            )
        })
        .collect()
}

#[test]
fn project_migrations_have_no_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migration_scripts");
    let set = MigrationSet::load(&dir).expect("migration_scripts loads");
    let found = lint(&set, &LintOptions::default());
    assert_eq!(errors(&found), Vec::<String>::new());
}

#[test]
fn new_templates_pass() {
    for no_transaction in [false, true] {
        let files = crate::template::render("001", "add things", "someone", no_transaction)
            .expect("template renders");
        let found = lint_with(
            &[
                (&files.forward.0, &files.forward.1),
                (&files.rollback.0, &files.rollback.1),
            ],
            &LintOptions::default(),
        );
        let found: Vec<_> = found
            .iter()
            .map(|v| format!("{}: {}", v.rule, v.message))
            .collect();
        assert!(
            found.is_empty(),
            "no_transaction = {no_transaction}: {found:?}"
        );
    }
}

#[test]
fn squawk_findings_are_mapped() {
    let found = lint_with(
        &[
            (
                "001_a.sql",
                "-- Description: a\nBEGIN;\nALTER TABLE users ADD COLUMN IF NOT EXISTS a int NOT NULL;\n\
                 CREATE INDEX IF NOT EXISTS users_b ON users (b);\nCOMMIT;\n",
            ),
            ("rollback_001.sql", "DROP INDEX IF EXISTS users_b;\n"),
        ],
        &LintOptions::default(),
    );
    let names: Vec<_> = found.iter().map(|v| v.rule.name().into_owned()).collect();
    assert!(
        names.contains(&"squawk/adding-required-field".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"squawk/require-concurrent-index-creation".to_string()),
        "{names:?}"
    );
    let required = found
        .iter()
        .find(|v| v.rule.name() == "squawk/adding-required-field")
        .unwrap();
    assert_eq!(required.severity, Severity::Error);
    assert!(
        required.file.slice(required.span).contains("NOT NULL"),
        "{:?}",
        required.file.slice(required.span)
    );
    // pgshift's rules about transactions replace squawk's.
    assert!(
        !names.iter().any(|n| n == "squawk/transaction-nesting"),
        "{names:?}"
    );
}

#[test]
fn squawk_rules_can_be_ignored_and_excluded() {
    let sql = "-- Description: a\n-- pgshift:ignore squawk/adding-required-field\n\
               ALTER TABLE users ADD COLUMN IF NOT EXISTS a bigint NOT NULL;\n";
    let rollback =
        "-- pgshift:ignore squawk/ban-drop-column\nALTER TABLE users DROP COLUMN IF EXISTS a;\n";
    let found = lint_with(
        &[("001_a.sql", sql), ("rollback_001.sql", rollback)],
        &LintOptions::default(),
    );
    assert!(found.is_empty(), "{found:#?}");
    let options = LintOptions::from_names(&[] as &[&str], &[], &["squawk"]).unwrap();
    let found = lint_with(
        &[
            (
                "001_a.sql",
                "-- Description: a\nALTER TABLE users ADD COLUMN IF NOT EXISTS a int NOT NULL;\n",
            ),
            (
                "rollback_001.sql",
                "ALTER TABLE users DROP COLUMN IF EXISTS a;\n",
            ),
        ],
        &options,
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn rule_names_round_trip() {
    for rule in Rule::OWN.into_iter().chain(super::squawk::all_rules()) {
        assert_eq!(rule.name().parse::<Rule>(), Ok(rule));
    }
    assert!("non-idempotant".parse::<Rule>().is_err());
    assert!("squawk/nope".parse::<Rule>().is_err());
}

#[test]
fn included_files_are_checked_as_part_of_their_migration() {
    let part = "CREATE TABLE t (id int);\n";
    let found = lint_set(&[
        ("001_test.sql", "-- Description: d\n\\ir part.sql\n"),
        ("rollback_001.sql", "DROP TABLE IF EXISTS t;\n"),
        ("part.sql", part),
    ]);
    assert_eq!(rules(&found), [Rule::NonIdempotent], "{found:#?}");
    assert!(found[0].file.path().ends_with("part.sql"));

    // The including file's header silences them too.
    let found = lint_set(&[
        (
            "001_test.sql",
            "-- Description: d\n-- pgshift:ignore non-idempotent\n\\ir part.sql\n",
        ),
        ("rollback_001.sql", "DROP TABLE IF EXISTS t;\n"),
        ("part.sql", part),
    ]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn errors_only_keeps_error_findings_and_drops_warnings() {
    let files = [
        (
            "001_a.sql",
            "-- Description: a\nALTER TABLE users ADD COLUMN IF NOT EXISTS a int NOT NULL;\n\
             CREATE INDEX users_b ON users (b);\n",
        ),
        ("rollback_001.sql", "DROP INDEX IF EXISTS users_b;\n"),
        (
            "002_b.sql",
            "-- Description: b\nCREATE INDEX users_c ON users (c);\n",
        ),
        ("rollback_002.sql", "DROP INDEX IF EXISTS users_c;\n"),
    ];
    let errors_only = LintOptions {
        errors_only: true,
        ..LintOptions::default()
    };
    let found = lint_with(&files, &errors_only);
    let names: Vec<_> = found.iter().map(|v| v.rule.name().into_owned()).collect();
    // squawk still runs where an error rule can fire (an ALTER TABLE), and
    // nothing below error level is reported.
    assert_eq!(names, ["squawk/adding-required-field"]);
    assert!(lint_with(&files, &LintOptions::default())
        .iter()
        .any(|v| v.severity == Severity::Warning));
}

#[test]
fn issue_11_a_squawk_alias_names_its_parts() {
    let parts: Vec<Rule> = [
        "squawk/require-lock-timeout",
        "squawk/require-statement-timeout",
    ]
    .iter()
    .map(|n| n.parse().unwrap())
    .collect();
    let alias = ["squawk/require-timeout-settings"];
    for options in [
        LintOptions::from_names(&alias, &[], &[]).unwrap(),
        LintOptions::from_names(&[], &alias, &[]).unwrap(),
    ] {
        assert!(parts.iter().all(|p| options.is_enabled(*p)));
    }
    let excluded = LintOptions::from_names(&alias, &[], &alias).unwrap();
    assert!(parts.iter().all(|p| !excluded.is_enabled(*p)));
    let found = lint_with(
        &[
            (
                "001_a.sql",
                "-- Description: a\nCREATE TABLE IF NOT EXISTS t (id int);\n",
            ),
            ("rollback_001.sql", "DROP TABLE IF EXISTS t;\n"),
        ],
        &LintOptions::from_names(&alias, &[], &[]).unwrap(),
    );
    let mut found: Vec<Rule> = rules(&found);
    found.dedup();
    assert_eq!(found, parts);
}

#[test]
fn issue_11_squawk_does_not_see_the_folded_begin_and_commit() {
    let only = |name: &str| LintOptions::from_names(&[name], &[], &[]).unwrap();
    let wrapped =
        "-- Description: a\n\\set ON_ERROR_STOP on\nBEGIN;\n-- squawk-ignore prefer-robust-stmts\n\
                   CREATE TABLE IF NOT EXISTS t (id int);\nCOMMIT;\n";
    let files = [
        ("001_a.sql", wrapped),
        ("rollback_001.sql", "DROP TABLE IF EXISTS t;\n"),
    ];
    let found = lint_with(&files, &only("squawk/transaction-nesting"));
    assert!(found.is_empty(), "{found:#?}");
    let found = lint_with(&files, &only("squawk/ban-uncommitted-transaction"));
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn issue_11_postgres_version_reaches_squawk() {
    let files = [
        (
            "001_a.sql",
            "-- Description: a\nALTER TABLE users ADD COLUMN IF NOT EXISTS a int DEFAULT 1;\n",
        ),
        (
            "rollback_001.sql",
            "ALTER TABLE users DROP COLUMN IF EXISTS a;\n",
        ),
    ];
    let with = |version: Option<u32>| {
        let mut options =
            LintOptions::from_names(&["squawk/adding-field-with-default"], &[], &[]).unwrap();
        options.postgres_version = version;
        rules(&lint_with(&files, &options)).len()
    };
    assert_eq!(with(Some(10)), 1, "a default rewrote the table before 11");
    assert_eq!(with(Some(16)), 0);
    assert_eq!(with(None), 0, "the default version is 15");
}

#[test]
fn issue_11_squawk_skips_later_insert_rows_and_keeps_offsets() {
    let rows: String = (0..1000).map(|i| format!(",\n({i}, {i})")).collect();
    let sql = format!(
        "-- Description: a\nINSERT INTO t (a, a) VALUES (0, 0){rows}\nON CONFLICT DO NOTHING;\n\
         ALTER TABLE users ADD COLUMN IF NOT EXISTS b int NOT NULL;\n"
    );
    let found = lint_with(
        &[
            ("001_a.sql", &sql),
            (
                "rollback_001.sql",
                "ALTER TABLE users DROP COLUMN IF EXISTS b;\n",
            ),
        ],
        &LintOptions::from_names(&["squawk"], &[], &[]).unwrap(),
    );
    let names: Vec<_> = found.iter().map(|v| v.rule.name().into_owned()).collect();
    assert!(
        names.contains(&"squawk/ban-duplicate-column-assignments".to_string()),
        "{names:?}"
    );
    let required = found
        .iter()
        .find(|v| v.rule.name() == "squawk/adding-required-field")
        .expect("adding-required-field");
    assert_eq!(
        required.file.slice(required.span),
        "ADD COLUMN IF NOT EXISTS b int NOT NULL"
    );
}
