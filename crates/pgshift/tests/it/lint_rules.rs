//! Every lint rule, as the user sees it: a folder that triggers the rule
//! (its diagnostic is snapshotted) and a near-identical one that does not.
//! No database involved.

use crate::common::*;

/// A rule, a folder that triggers it and the same folder put right.
struct Case {
    rule: &'static str,
    bad: &'static [(&'static str, &'static str)],
    good: &'static [(&'static str, &'static str)],
}

fn project_of(files: &[(&str, &str)]) -> Project {
    let project = Project::new();
    for (name, text) in files {
        project.file(name, text);
    }
    project
}

/// Lints `case.bad` with only `case.rule` on and returns the output to
/// snapshot; checks that `case.good` passes the same rule.
fn check(case: &Case) -> String {
    let bad = project_of(case.bad);
    let run = Run::of(bad.bare().args(["lint", "--rule", case.rule]));
    assert!(
        run.stderr.contains(case.rule),
        "{} not reported:\n{}",
        case.rule,
        run.all()
    );
    let good = project_of(case.good);
    let passed = Run::of(good.bare().args(["lint", "--rule", case.rule]));
    passed.assert_code(0);
    assert!(
        passed.stdout.contains("no lint findings"),
        "{} still reported on the fixed folder:\n{}",
        case.rule,
        passed.all()
    );
    run.block(&bad)
}

macro_rules! rule_test {
    ($name:ident, $case:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(check(&$case));
        }
    };
}

const ROLLBACK: (&str, &str) = ("rollback_001.sql", "SELECT 1;\n");

rule_test!(
    missing_rollback,
    Case {
        rule: "missing-rollback",
        bad: &[("001_a.sql", "-- Description: a\nSELECT 1;\n")],
        good: &[("001_a.sql", "-- Description: a\nSELECT 1;\n"), ROLLBACK],
    }
);

rule_test!(
    non_idempotent,
    Case {
        rule: "non-idempotent",
        bad: &[
            (
                "001_a.sql",
                "-- Description: a\nCREATE TABLE users (id bigint PRIMARY KEY);\n"
            ),
            ROLLBACK,
        ],
        good: &[
            (
                "001_a.sql",
                "-- Description: a\nCREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY);\n",
            ),
            ROLLBACK,
        ],
    }
);

rule_test!(
    transaction_misuse,
    Case {
        rule: "transaction-misuse",
        bad: &[
            (
                "001_a.sql",
                "-- Description: a\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);\n",
            ),
            ROLLBACK,
        ],
        good: &[
            (
                "001_a.sql",
                "-- Description: a\n-- pgshift:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);\n",
            ),
            ROLLBACK,
        ],
    }
);

rule_test!(
    transaction_misuse_directive_not_needed,
    Case {
        rule: "transaction-misuse",
        bad: &[
            (
                "001_a.sql",
                "-- Description: a\n-- pgshift:no-transaction\nCREATE INDEX IF NOT EXISTS users_email ON users (email);\n",
            ),
            ROLLBACK,
        ],
        good: &[
            (
                "001_a.sql",
                "-- Description: a\nCREATE INDEX IF NOT EXISTS users_email ON users (email);\n",
            ),
            ROLLBACK,
        ],
    }
);

rule_test!(
    rollback_incomplete,
    Case {
        rule: "rollback-incomplete",
        bad: &[
            (
                "001_a.sql",
                "-- Description: a\nCREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY);\n\
                 CREATE TABLE IF NOT EXISTS sessions (id bigint PRIMARY KEY);\n",
            ),
            ("rollback_001.sql", "DROP TABLE IF EXISTS sessions;\n"),
        ],
        good: &[
            (
                "001_a.sql",
                "-- Description: a\nCREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY);\n\
                 CREATE TABLE IF NOT EXISTS sessions (id bigint PRIMARY KEY);\n",
            ),
            (
                "rollback_001.sql",
                "DROP TABLE IF EXISTS sessions;\nDROP TABLE IF EXISTS users;\n",
            ),
        ],
    }
);

rule_test!(
    unacknowledged_destructive,
    Case {
        rule: "unacknowledged-destructive",
        bad: &[
            ("001_a.sql", "-- Description: a\nDROP TABLE IF EXISTS old_sessions;\n"),
            ROLLBACK,
        ],
        good: &[
            (
                "001_a.sql",
                "-- Description: a\nSELECT 1;\n\n-- pgshift:destructive-ok replaced by sessions in 2024\nDROP TABLE IF EXISTS old_sessions;\n",
            ),
            ROLLBACK,
        ],
    }
);

rule_test!(
    missing_description,
    Case {
        rule: "missing-description",
        bad: &[("001_a.sql", "-- Migration: 001\nSELECT 1;\n"), ROLLBACK],
        good: &[
            (
                "001_a.sql",
                "-- Migration: 001\n-- Description: a\nSELECT 1;\n"
            ),
            ROLLBACK,
        ],
    }
);

rule_test!(
    version_gap,
    Case {
        rule: "version-gap",
        bad: &[
            ("001_a.sql", "-- Description: a\nSELECT 1;\n"),
            ("003_c.sql", "-- Description: c\nSELECT 3;\n"),
        ],
        good: &[
            ("001_a.sql", "-- Description: a\nSELECT 1;\n"),
            ("002_b.sql", "-- Description: b\nSELECT 2;\n"),
        ],
    }
);

rule_test!(
    unknown_directive,
    Case {
        rule: "unknown-directive",
        bad: &[
            (
                "001_a.sql",
                "-- Description: a\nSELECT 1;\n\n-- pgshift:ignore non-idempotant\nCREATE TABLE users (id bigint);\n",
            ),
            ROLLBACK,
        ],
        good: &[
            (
                "001_a.sql",
                "-- Description: a\nSELECT 1;\n\n-- pgshift:ignore non-idempotent\nCREATE TABLE users (id bigint);\n",
            ),
            ROLLBACK,
        ],
    }
);

rule_test!(
    squawk_adding_required_field,
    Case {
        rule: "squawk/adding-required-field",
        bad: &[
            (
                "001_a.sql",
                "-- Description: a\nALTER TABLE users ADD COLUMN IF NOT EXISTS plan bigint NOT NULL;\n",
            ),
            ROLLBACK,
        ],
        good: &[
            (
                "001_a.sql",
                "-- Description: a\nALTER TABLE users ADD COLUMN IF NOT EXISTS plan bigint NOT NULL DEFAULT 0;\n",
            ),
            ROLLBACK,
        ],
    }
);

rule_test!(
    squawk_require_concurrent_index_creation,
    Case {
        rule: "squawk/require-concurrent-index-creation",
        bad: &[
            (
                "001_a.sql",
                "-- Description: a\nCREATE INDEX IF NOT EXISTS users_email ON users (email);\n",
            ),
            ROLLBACK,
        ],
        good: &[
            (
                "001_a.sql",
                "-- Description: a\n-- pgshift:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);\n",
            ),
            ROLLBACK,
        ],
    }
);
