//! The audit trail and the Version History table.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

#[test]
fn every_action_is_audited_and_the_trail_survives_rollbacks() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file(
            "001_a.sql",
            "-- Description: Create a\nCREATE TABLE a (id int);\n",
        )
        .file("rollback_001.sql", "DROP TABLE IF EXISTS a;\n")
        .file("002_broken.sql", "SELECT 1 / 0;\n");

    Run::of(project.cmd(&db).arg("up")).assert_code(1);
    Run::of(project.cmd(&db).args(["rollback", "--yes"])).assert_code(0);
    assert!(applied_versions(&db).is_empty());

    let rows = column(
        &db,
        "SELECT action || '|' || version || '|' || outcome || '|' || (error IS NULL) || '|' || \
         (session_user_name = session_user) || '|' || (tool_version IS NOT NULL) || '|' || (checksum IS NOT NULL) \
         FROM schema_migrations_audit ORDER BY id",
    );
    assert_eq!(
        rows,
        [
            "apply|001|ok|true|true|true|true",
            "apply|002|failed|false|true|true|true",
            "rollback|001|ok|true|true|true|true",
        ]
    );

    let log = Run::of(project.cmd(&db).args(["log", "--json"]));
    log.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&log.stdout).unwrap();
    let entries = value["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["action"], "rollback", "newest first");
    assert!(entries[1]["error"]
        .as_str()
        .unwrap()
        .contains("division by zero"));

    // Append-only: the trail cannot be edited.
    let tamper = db
        .client()
        .batch_execute("DELETE FROM schema_migrations_audit")
        .expect_err("deleting audit rows must fail");
    assert_eq!(
        tamper.as_db_error().map(|e| e.message()),
        Some("the pgshift audit trail is append-only")
    );
    assert_eq!(
        column(&db, "SELECT count(*) FROM schema_migrations_audit"),
        ["3"]
    );
}

#[test]
fn history_prints_the_seeds_version_history_table() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file(
            "001_initial_schema.sql",
            "-- Description: Initial schema creation\nCREATE TABLE a (id int);\n",
        )
        .file(
            "002_b.sql",
            "-- Description: Add b | c\nCREATE TABLE b (id int);\n",
        );
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    db.client()
        .batch_execute("UPDATE schema_migrations SET applied_at = '2025-10-12 10:00:00+00', applied_by = 'Database Specialist'")
        .unwrap();
    let run = Run::of(project.cmd(&db).args(["history", "--format", "markdown"]));
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "| Version | Date | Description | Applied By |\n\
         |---------|------|-------------|------------|\n\
         | 001 | 2025-10-12 | Initial schema creation | Database Specialist |\n\
         | 002 | 2025-10-12 | Add b \\| c | Database Specialist |\n"
    );
}

/// Issue 11: the OS user in the audit trail is the process's user, not
/// whatever `$USER` says (and not `?` when it is unset).
#[test]
fn the_audit_trail_names_the_os_user_from_the_uid() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file("001_a.sql", "CREATE TABLE a (id int);\n")
        .file("002_b.sql", "CREATE TABLE b (id int);\n");
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .map(|u| u.name)
        .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()));
    Run::of(
        project
            .cmd(&db)
            .args(["up", "--to", "001"])
            .env_remove("USER")
            .env_remove("LOGNAME"),
    )
    .assert_code(0);
    Run::of(project.cmd(&db).arg("up").env("USER", "someone-else")).assert_code(0);
    assert_eq!(
        column(
            &db,
            "SELECT os_user FROM schema_migrations_audit ORDER BY id"
        ),
        [me.clone(), me]
    );
}
