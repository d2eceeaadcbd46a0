//! `repair` (a failed no-transaction migration) and `accept` (an edited
//! applied migration).

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

const FAILING: &str = "-- pgshift:no-transaction\n\
                       CREATE TABLE IF NOT EXISTS a (id int);\n\
                       SELECT 1 / 0;\n\
                       CREATE TABLE IF NOT EXISTS b (id int);\n";

fn progress_rows(db: &pgshift_test_support::TestDb) -> String {
    column(db, "SELECT count(*) FROM schema_migrations_progress")[0].clone()
}

#[test]
fn repair_marks_a_failed_migration_rolled_back_and_up_runs_it_again() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_split.sql", FAILING);
    Run::of(project.cmd(&db).args(["up", "--no-lint"])).assert_code(1);
    assert!(exists(&db, "a"));
    let blocked = Run::of(project.cmd(&db).args(["up", "--no-lint"]));
    blocked.assert_code(1);
    assert!(
        blocked.stderr.contains("pgshift repair 001"),
        "{}",
        blocked.all()
    );

    // Nothing to repair for a version that did not fail.
    let run = Run::of(
        project
            .cmd(&db)
            .args(["repair", "002", "--mark", "applied"]),
    );
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("has no failed run to repair (failed: 001)"),
        "{}",
        run.all()
    );

    // Clean up by hand, fix the file, mark it rolled back: up starts over.
    db.client().batch_execute("DROP TABLE a").unwrap();
    let run = Run::of(project.cmd(&db).args([
        "repair",
        "001",
        "--mark",
        "rolled-back",
        "--reason",
        "dropped table a by hand",
    ]));
    run.assert_code(0);
    assert!(
        run.stdout.contains("Marked migration 001 as rolled back"),
        "{}",
        run.all()
    );
    assert_eq!(progress_rows(&db), "0");
    assert!(applied_versions(&db).is_empty());
    project.file("001_split.sql", &FAILING.replace("1 / 0", "1"));
    Run::of(project.cmd(&db).args(["up", "--no-lint"])).assert_code(0);
    assert!(exists(&db, "a") && exists(&db, "b"));
    assert_eq!(
        column(
            &db,
            "SELECT action || '|' || outcome || '|' || detail FROM schema_migrations_audit WHERE action = 'repair'"
        ),
        ["repair|ok|marked rolled-back after statement 2 of 3 failed (division by zero); reason: dropped table a by hand"]
    );
}

#[test]
fn repair_marks_a_failed_migration_applied_after_finishing_it_by_hand() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_split.sql", FAILING);
    Run::of(project.cmd(&db).args(["up", "--no-lint"])).assert_code(1);
    db.client()
        .batch_execute("CREATE TABLE b (id int)")
        .unwrap();
    let run = Run::of(
        project
            .cmd(&db)
            .args(["--json", "repair", "001", "--mark", "applied"]),
    );
    run.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["repaired"]["mark"], "applied");
    assert_eq!(applied_versions(&db), ["001"]);
    assert_eq!(progress_rows(&db), "0");
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
    Run::of(project.cmd(&db).args(["up", "--no-lint"])).assert_code(0);
    let log = Run::of(project.cmd(&db).args(["log", "--json"]));
    let log: serde_json::Value = serde_json::from_str(&log.stdout).unwrap();
    assert_eq!(log["entries"][0]["action"], "repair");
    assert_eq!(log["entries"][1]["action"], "apply");
    assert_eq!(log["entries"][1]["outcome"], "failed");
}

#[test]
fn accept_takes_a_comment_fix_and_records_who_why_and_both_checksums() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_users.sql",
        "-- Description: users\n-- the users tabel\nCREATE TABLE IF NOT EXISTS users (id int);\n",
    );
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let old = column(&db, "SELECT checksum FROM schema_migrations")[0].clone();

    // A comment fixed after deploy: verify notices, accept takes it.
    project.file(
        "001_users.sql",
        "-- Description: users\n-- the users table\nCREATE TABLE IF NOT EXISTS users (\n    id int\n);\n",
    );
    Run::of(project.cmd(&db).arg("verify")).assert_code(3);
    let run = Run::of(
        project
            .cmd(&db)
            .args(["accept", "001", "--reason", "fixed a typo"]),
    );
    run.assert_code(0);
    assert!(
        run.stdout.contains("only comments and whitespace changed"),
        "{}",
        run.all()
    );
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
    let new = column(&db, "SELECT checksum FROM schema_migrations")[0].clone();
    assert_ne!(old, new);
    let detail = column(
        &db,
        "SELECT detail FROM schema_migrations_audit WHERE action = 'accept'",
    );
    let detail: serde_json::Value = serde_json::from_str(&detail[0]).unwrap();
    assert_eq!(detail["old_checksum"], old.as_str());
    assert_eq!(detail["new_checksum"], new.as_str());
    assert_eq!(detail["reason"], "fixed a typo");
    assert_eq!(detail["change"], "comments-only");
    assert_eq!(
        column(
            &db,
            "SELECT session_user_name FROM schema_migrations_audit WHERE action = 'accept'"
        ),
        ["postgres"]
    );

    // Nothing changed any more.
    let run = Run::of(
        project
            .cmd(&db)
            .args(["accept", "001", "--reason", "again"]),
    );
    run.assert_code(3);
    assert!(run.stderr.contains("has not changed"), "{}", run.all());

    // A changed statement needs --force, and says so.
    project.file(
        "001_users.sql",
        "-- Description: users\n-- the users table\nCREATE TABLE IF NOT EXISTS users (id bigint);\n",
    );
    let run = Run::of(
        project
            .cmd(&db)
            .args(["accept", "001", "--reason", "widen id"]),
    );
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("changed beyond comments and whitespace"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("--force"), "{}", run.all());
    assert_eq!(
        column(&db, "SELECT checksum FROM schema_migrations"),
        std::slice::from_ref(&new)
    );
    let run = Run::of(
        project
            .cmd(&db)
            .args(["accept", "001", "--reason", "widen id", "--force"]),
    );
    run.assert_code(0);
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
    assert_eq!(
        column(
            &db,
            "SELECT count(*) FROM schema_migrations_audit WHERE action = 'accept'"
        ),
        ["2"]
    );
}

#[test]
fn accept_of_a_migration_applied_without_pgshift_needs_force() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_users.sql",
        "CREATE TABLE IF NOT EXISTS users (id int);\n",
    );
    Run::of(project.cmd(&db).args(["baseline", "001"])).assert_code(0);
    // As if recorded by plain psql: a checksum, but no audit history.
    db.client()
        .batch_execute("UPDATE schema_migrations SET checksum = repeat('0', 64)")
        .unwrap();
    let run = Run::of(
        project
            .cmd(&db)
            .args(["accept", "001", "--reason", "adopted"]),
    );
    run.assert_code(3);
    assert!(run.stderr.contains("cannot tell whether"), "{}", run.all());
    Run::of(
        project
            .cmd(&db)
            .args(["accept", "001", "--reason", "adopted", "--force"]),
    )
    .assert_code(0);
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
}
