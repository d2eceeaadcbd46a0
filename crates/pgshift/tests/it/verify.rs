//! Edited and missing applied migrations are found, and `up` stops there.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

#[test]
fn an_edited_applied_migration_is_detected() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_a.sql", "CREATE TABLE a (id int);\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);

    // CRLF line endings alone are not an edit.
    project.file("001_a.sql", "CREATE TABLE a (id int);\r\n");
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);

    project.file("001_a.sql", "CREATE TABLE a (id bigint);\n");
    project.file("002_b.sql", "CREATE TABLE b (id int);\n");
    let verify = Run::of(project.cmd(&db).arg("verify"));
    verify.assert_code(3);
    assert!(
        verify.stdout.contains("001 a: modified"),
        "{}",
        verify.stdout
    );

    let up = Run::of(project.cmd(&db).arg("up"));
    up.assert_code(3);
    assert!(up.stderr.contains("--allow-modified"), "{}", up.stderr);
    assert!(!exists(&db, "b"));

    Run::of(project.cmd(&db).args(["up", "--allow-modified"])).assert_code(0);
    assert!(exists(&db, "b"));

    let status = Run::of(project.cmd(&db).arg("status"));
    assert!(status.stdout.contains("modified"), "{}", status.stdout);
}

#[test]
fn an_applied_migration_missing_on_disk_is_detected() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_a.sql", "CREATE TABLE a (id int);\n");
    project.file("002_b.sql", "CREATE TABLE b (id int);\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    project.remove("002_b.sql");
    let verify = Run::of(project.cmd(&db).args(["verify", "--json"]));
    verify.assert_code(3);
    let value: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap();
    assert_eq!(value["ok"], false);
    assert_eq!(value["problems"][0]["version"], "002");
    assert_eq!(value["problems"][0]["state"], "missing");
    Run::of(project.cmd(&db).arg("up")).assert_code(3);
}
