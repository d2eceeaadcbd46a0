//! `pgshift lint`: no database involved, so nothing here needs PostgreSQL.

use crate::common::*;

const FORWARD: &str = "-- Description: Add API keys\n\
\\set ON_ERROR_STOP on\n\
BEGIN;\n\
CREATE TABLE api_keys (id bigint PRIMARY KEY, user_id bigint NOT NULL);\n\
CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_user_id ON api_keys (user_id);\n\
COMMIT;\n";

fn project() -> Project {
    let project = Project::new();
    project
        .file("001_api_keys.sql", FORWARD)
        .file("rollback_001.sql", "DROP TABLE IF EXISTS api_keys;\n");
    project
}

#[test]
fn text_output_shows_each_finding_with_a_snippet() {
    let project = project();
    let run = Run::of(project.bare().args(["lint", "--exclude", "squawk"]));
    run.assert_code(7);
    insta::assert_snapshot!(run.block(&project));
}

#[test]
fn github_format_prints_annotations() {
    let project = project();
    let run = Run::of(
        project
            .bare()
            .args(["lint", "--format", "github", "--exclude", "squawk"]),
    );
    run.assert_code(7);
    insta::assert_snapshot!(run.stdout, @r"
    ::warning file=migration_scripts/001_api_keys.sql,line=4,col=1,endLine=4,endColumn=22,title=non-idempotent::`CREATE TABLE` without `IF NOT EXISTS` fails when the migration runs again%0Ahelp: write `IF NOT EXISTS` after the object type
    ::error file=migration_scripts/001_api_keys.sql,line=5,col=1,endLine=5,endColumn=29,title=transaction-misuse::`CREATE INDEX CONCURRENTLY` cannot run inside a transaction, and this migration runs in one%0Ahelp: add `-- pgshift:no-transaction` to the file's header comment block (the file then runs statement by statement and may not contain BEGIN/COMMIT), or move the statement to a migration of its own
    ");
}

#[test]
fn json_lists_violations() {
    let project = project();
    let run = Run::of(
        project
            .bare()
            .args(["--json", "lint", "--rule", "transaction-misuse"]),
    );
    run.assert_code(7);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["violations"].as_array().unwrap().len(), 1);
    assert_eq!(doc["violations"][0]["rule"], "transaction-misuse");
    assert_eq!(doc["violations"][0]["line"], 5);
}

#[test]
fn fixed_files_pass_and_ignores_work() {
    let project = Project::new();
    project
        .file(
            "001_api_keys.sql",
            "-- Description: Add API keys\n\\set ON_ERROR_STOP on\nBEGIN;\n\
             CREATE TABLE IF NOT EXISTS api_keys (id bigint PRIMARY KEY);\n\
             -- the seed rows are keyed by a sequence, so re-running is harmless here\n\
             -- pgshift:ignore non-idempotent\n\
             INSERT INTO api_keys DEFAULT VALUES;\n\
             COMMIT;\n",
        )
        .file("rollback_001.sql", "DROP TABLE IF EXISTS api_keys;\n");
    let run = Run::of(project.bare().args(["lint"]));
    run.assert_code(0);
    assert!(run.stdout.contains("no lint findings"), "{}", run.all());
}

#[test]
fn given_files_only() {
    let project = project();
    let run = Run::of(project.bare().args([
        "lint",
        "--exclude",
        "squawk",
        "migration_scripts/rollback_001.sql",
    ]));
    run.assert_code(0);
    let run = Run::of(project.bare().args(["lint", "migration_scripts/README.md"]));
    run.assert_code(3);
    assert!(
        run.stderr.contains("is not a migration or rollback file"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_rule_is_a_usage_error() {
    let project = project();
    let run = Run::of(project.bare().args(["lint", "--rule", "non-idempotant"]));
    run.assert_code(2);
    assert!(
        run.stderr.contains("unknown lint rule `non-idempotant`"),
        "{}",
        run.stderr
    );
}

/// Warnings exit 0 too, so the exit code alone cannot show that a rule was
/// disabled: the findings are compared with and without the config.
#[test]
fn config_file_disables_rules() {
    let project = project();
    let before = json_rules(&Run::of(project.bare().args(["--json", "lint"])));
    for rule in ["transaction-misuse", "non-idempotent"] {
        assert!(before.iter().any(|r| r == rule), "{before:?}");
    }

    std::fs::write(
        project.path().join("pgshift.toml"),
        "[lint]\ndisable = [\"transaction-misuse\"]\n",
    )
    .unwrap();
    let run = Run::of(project.bare().args(["--json", "lint"]));
    // The disabled error is gone; the rule left enabled still reports (a
    // warning, hence exit 0).
    assert_eq!(json_rules(&run), ["non-idempotent"], "{}", run.stdout);
    run.assert_code(0);
}

#[test]
fn the_projects_own_migrations_pass() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migration_scripts");
    let project = Project::new();
    let run = Run::of(
        project
            .bare()
            .arg("--dir")
            .arg(&dir)
            .args(["lint", "--format", "github"]),
    );
    assert!(!run.stdout.contains("::error"), "{}", run.stdout);
    run.assert_code(0);
}

/// The rule names of a `--json` lint run's findings.
fn json_rules(run: &Run) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    doc["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| v["rule"].as_str().expect("rule").to_string())
        .collect()
}

#[test]
fn issue_11_the_timeout_alias_enables_its_two_parts() {
    let project = project();
    let run = Run::of(project.bare().args([
        "--json",
        "lint",
        "--rule",
        "squawk/require-timeout-settings",
    ]));
    run.assert_code(0);
    let rules = json_rules(&run);
    assert!(
        rules.contains(&"squawk/require-lock-timeout".to_string())
            && rules.contains(&"squawk/require-statement-timeout".to_string()),
        "{rules:?}"
    );
    // The same name in pgshift.toml.
    std::fs::write(
        project.path().join("pgshift.toml"),
        "[lint]\nenable = [\"squawk/require-timeout-settings\"]\n",
    )
    .unwrap();
    let run = Run::of(project.bare().args(["--json", "lint"]));
    let rules = json_rules(&run);
    assert!(
        rules.contains(&"squawk/require-lock-timeout".to_string())
            && rules.contains(&"squawk/require-statement-timeout".to_string()),
        "{rules:?}"
    );
    // Excluding the alias excludes both parts.
    let run = Run::of(project.bare().args([
        "--json",
        "lint",
        "--exclude",
        "squawk/require-timeout-settings",
    ]));
    let rules = json_rules(&run);
    assert!(!rules.iter().any(|r| r.contains("timeout")), "{rules:?}");
}

#[test]
fn issue_11_transaction_nesting_ignores_the_folded_begin_and_commit() {
    // FORWARD wraps its body in its own BEGIN; … COMMIT;, which pgshift
    // folds into the transaction it runs the migration in.
    let project = project();
    let run =
        Run::of(
            project
                .bare()
                .args(["--json", "lint", "--rule", "squawk/transaction-nesting"]),
        );
    run.assert_code(0);
    assert_eq!(json_rules(&run), Vec::<String>::new(), "{}", run.stdout);
}

#[test]
fn issue_11_postgres_version_is_passed_to_squawk() {
    let project = Project::new();
    project
        .file(
            "001_flag.sql",
            "-- Description: a flag\nALTER TABLE users ADD COLUMN IF NOT EXISTS flag int DEFAULT 1;\n",
        )
        .file(
            "rollback_001.sql",
            "ALTER TABLE users DROP COLUMN IF EXISTS flag;\n",
        );
    let rule = [
        "--json",
        "lint",
        "--rule",
        "squawk/adding-field-with-default",
    ];
    // Since PostgreSQL 11 a constant default does not rewrite the table:
    // nothing to say for the default version (15).
    let run = Run::of(project.bare().args(rule));
    assert_eq!(json_rules(&run), Vec::<String>::new(), "{}", run.stdout);
    std::fs::write(
        project.path().join("pgshift.toml"),
        "[lint]\npostgres_version = 10\n",
    )
    .unwrap();
    let run = Run::of(project.bare().args(rule));
    assert_eq!(
        json_rules(&run),
        ["squawk/adding-field-with-default"],
        "{}",
        run.stdout
    );
}
