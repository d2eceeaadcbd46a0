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
fn an_irreversible_migration_is_refused_before_anything_runs() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    // The marker wins even over a rollback file.
    project
        .file(
            "003_backfill.sql",
            "-- Description: backfill\n-- pgshift:irreversible\nCREATE TABLE more (id int);\n",
        )
        .file("rollback_003.sql", "DROP TABLE more;\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    for args in [
        &["rollback", "--steps", "2", "--yes"][..],
        &["rollback", "--to", "001", "--yes"],
        &["rollback", "--dry-run"],
        &["redo", "--yes"],
    ] {
        let run = Run::of(project.cmd(&db).args(args));
        run.assert_code(3);
        assert!(
            run.stderr.contains(
                "migration(s) 003 are marked `-- pgshift:irreversible` (migration_scripts/003_backfill.sql) and cannot be rolled back — nothing was rolled back"
            ),
            "{args:?}: {}",
            run.all()
        );
        assert!(exists(&db, "more") && exists(&db, "orders"), "{args:?}");
        assert_eq!(applied_versions(&db), ["001", "002", "003"], "{args:?}");
    }
    // Migrations after it still roll back.
    project
        .file("004_tags.sql", "CREATE TABLE tags (id int);\n")
        .file("rollback_004.sql", "DROP TABLE tags;\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    Run::of(project.cmd(&db).args(["rollback", "--yes"])).assert_code(0);
    assert!(!exists(&db, "tags"));
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

#[test]
fn up_asks_before_a_destructive_migration() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    project.file(
        "003_cleanup.sql",
        "-- Description: drop orders\n-- pgshift:destructive-ok\nDROP TABLE orders;\n",
    );
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(6);
    assert!(
        run.stderr.contains("1 destructive statement(s)"),
        "{}",
        run.stderr
    );
    assert!(exists(&db, "orders"));
    Run::of(project.cmd(&db).args(["up", "--yes"])).assert_code(0);
    assert!(!exists(&db, "orders"));
}

#[test]
fn redo_rolls_back_and_reapplies_the_newest() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    db.client()
        .batch_execute("INSERT INTO users VALUES (1); INSERT INTO orders VALUES (1, 1)")
        .unwrap();
    Run::of(project.cmd(&db).arg("redo")).assert_code(6);
    let run = Run::of(project.cmd(&db).args(["redo", "--yes"]));
    run.assert_code(0);
    assert!(run.stdout.contains("Redone 002"), "{}", run.stdout);
    assert_eq!(applied_versions(&db), ["001", "002"]);
    assert_eq!(
        column(&db, "SELECT count(*) FROM orders"),
        ["0"],
        "the rollback really ran"
    );
    assert_eq!(column(&db, "SELECT count(*) FROM users"), ["1"]);
}

#[test]
fn baseline_marks_without_running() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    // The database was built by hand: 001's table exists, no tracking rows.
    db.client()
        .batch_execute("CREATE TABLE users (id int PRIMARY KEY)")
        .unwrap();
    let run = Run::of(project.cmd(&db).args(["baseline", "001"]));
    run.assert_code(0);
    assert!(
        run.stdout.contains("Marked 1 migration(s)"),
        "{}",
        run.stdout
    );
    assert_eq!(applied_versions(&db), ["001"]);
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    assert!(exists(&db, "orders"));
    assert_eq!(
        column(
            &db,
            "SELECT action FROM schema_migrations_audit ORDER BY id"
        ),
        ["baseline", "apply"]
    );
}

/// Issue 11: after a failed rollback run, the summary says which
/// migrations were rolled back and which stay applied (it said the rolled
/// back ones "stay applied").
#[test]
fn a_failed_rollback_run_says_what_was_rolled_back() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    project.file("rollback_001.sql", "SELECT 1 / 0;\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let run = Run::of(project.cmd(&db).args(["rollback", "--steps", "2", "--yes"]));
    run.assert_code(1);
    assert_eq!(applied_versions(&db), ["001"]);
    assert!(
        run.stderr.contains(
            "1 migration(s) were rolled back before the failure and are no longer applied: 002; \
             001 and the migrations before it stay applied"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("stay applied: 002"), "{}", run.stderr);
}

/// Issue 11: `up`, `status`, `verify` and `rollback` say which database
/// they talk to, without the password.
#[test]
fn commands_name_the_database_without_the_password() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project_with_rollbacks();
    // Trust authentication never asks for it, so any password connects.
    let url = db.url().replace("postgres@", "postgres:hunter2@");
    let expected = format!("database: {}", db.url());
    for command in [
        &["up"][..],
        &["status"],
        &["verify"],
        &["rollback", "--yes"],
        &["rollback", "--dry-run"],
        &["up", "--dry-run"],
    ] {
        let run = Run::of(project.bare().arg("--database-url").arg(&url).args(command));
        run.assert_code(0);
        assert!(run.all().contains(&expected), "{command:?}: {}", run.all());
        assert!(!run.all().contains("hunter2"), "{command:?}: {}", run.all());
    }
    let status = Run::of(project.cmd(&db).arg("status"));
    assert!(status.stdout.starts_with(&expected), "{}", status.stdout);
}

/// Issue 11: `--dry-run` (rollback and up) writes each destructive
/// statement's live row count above it, and the refusal without a terminal
/// lists the same lines.
#[test]
fn dry_run_and_the_refusal_show_the_rows_at_stake() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file("001_users.sql", "CREATE TABLE users (id int);\n")
        .file("rollback_001.sql", "SELECT 1;\nDROP TABLE users;\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    db.client()
        .batch_execute("INSERT INTO users SELECT generate_series(1, 1234)")
        .unwrap();
    let stake = "DROP TABLE users — 1,234 row(s) will be lost";

    let dry = Run::of(project.cmd(&db).args(["rollback", "--dry-run"]));
    dry.assert_code(0);
    assert!(
        dry.stdout.contains(&format!(
            "SELECT 1;\n-- pgshift: destructive: {stake}\nDROP TABLE users;"
        )),
        "{}",
        dry.stdout
    );
    let refused = Run::of(project.cmd(&db).arg("rollback"));
    refused.assert_code(6);
    assert!(
        refused.stderr.contains(&format!(
            "destructive: {stake}  (migration_scripts/rollback_001.sql:2)"
        )),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--dry-run"), "{}", refused.stderr);

    project.file("002_purge.sql", "DELETE FROM users;\n");
    let up = Run::of(project.cmd(&db).args(["up", "--dry-run"]));
    up.assert_code(0);
    assert!(
        up.stdout.contains(
            "-- pgshift: destructive: DELETE FROM users (no WHERE) — 1,234 row(s) will be lost\nDELETE FROM users;"
        ),
        "{}",
        up.stdout
    );
    assert_eq!(column(&db, "SELECT count(*) FROM users"), ["1234"]);
}
