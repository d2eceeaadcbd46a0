//! `rollback`: newest first, confirmed, atomic with the tracking row.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

fn project_with_rollbacks() -> Project {
    let project = Project::new();
    project
        .file(
            "001_users.sql",
            "CREATE TABLE users (id int PRIMARY KEY);\n",
        )
        .file("rollback_001.sql", "DROP TABLE IF EXISTS users;\n")
        .file(
            "002_orders.sql",
            "CREATE TABLE orders (id int, user_id int REFERENCES users (id));\n",
        )
        .file(
            "rollback_002.sql",
            "BEGIN;\nDROP TABLE IF EXISTS orders;\nCOMMIT;\n",
        );
    project
}

#[test]
fn rollback_undoes_the_newest_and_forgets_its_row() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let run = Run::of(project.cmd(&db).args(["rollback", "--yes"]));
    run.assert_code(0);
    assert!(
        run.stdout.contains("Rolled back 1 migration(s): 002"),
        "{}",
        run.stdout
    );
    assert!(!exists(&db, "orders") && exists(&db, "users"));
    assert_eq!(applied_versions(&db), ["001"]);

    // Apply again, then roll everything back.
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    Run::of(project.cmd(&db).args(["rollback", "--to", "001", "--yes"])).assert_code(0);
    assert_eq!(applied_versions(&db), ["001"]);
    Run::of(project.cmd(&db).args(["rollback", "--steps", "5", "--yes"])).assert_code(0);
    assert!(applied_versions(&db).is_empty());
    assert!(!exists(&db, "users"));
}

#[test]
fn rollback_without_a_terminal_or_yes_is_declined() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let run = Run::of(project.cmd(&db).arg("rollback"));
    run.assert_code(6);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert_eq!(applied_versions(&db), ["001", "002"]);
}

#[test]
fn a_missing_rollback_file_is_refused_before_anything_runs() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    project.file("003_more.sql", "CREATE TABLE more (id int);\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let run = Run::of(project.cmd(&db).args(["rollback", "--steps", "2", "--yes"]));
    run.assert_code(3);
    assert!(
        run.stderr.contains("no rollback file for migration(s) 003"),
        "{}",
        run.stderr
    );
    assert_eq!(applied_versions(&db), ["001", "002", "003"]);
}

#[test]
fn a_failing_rollback_leaves_everything_as_it_was() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    // A rollback that forgets the dependent table fails on the foreign key.
    project.file("rollback_002.sql", "DROP TABLE users;\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let run = Run::of(project.cmd(&db).args(["rollback", "--yes"]));
    run.assert_code(1);
    assert!(run.stderr.contains("2BP01"), "{}", run.stderr);
    assert!(
        run.stderr.contains("rollback_002.sql:1:1"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(exists(&db, "orders") && exists(&db, "users"));
    assert_eq!(applied_versions(&db), ["001", "002"]);
}

#[test]
fn rollback_dry_run_prints_sql_and_changes_nothing() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let run = Run::of(project.cmd(&db).args(["rollback", "--dry-run"]));
    run.assert_code(0);
    assert!(
        run.stdout.contains("DROP TABLE IF EXISTS orders;"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("DELETE FROM \"public\".\"schema_migrations\" WHERE version = '002';"),
        "{}",
        run.stdout
    );
    assert!(exists(&db, "orders"));
}
