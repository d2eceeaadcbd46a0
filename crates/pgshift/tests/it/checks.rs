//! Health checks: `pgshift check`, and after `up`, `rollback` and `redo`.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;
use std::path::Path;

fn project() -> Project {
    let project = Project::users_with_email_check();
    project.check(
        "few_users.sql",
        "DO $$ BEGIN\n  IF (SELECT count(*) FROM users) > 3 THEN\n    RAISE EXCEPTION 'too many users: %', (SELECT count(*) FROM users);\n  END IF;\nEND $$;\n",
    );
    project
}

#[test]
fn check_passes_then_reports_each_failing_check_with_its_output() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    let up = Run::of(project.cmd(&db).arg("up"));
    up.assert_code(0);
    assert!(
        up.stderr.contains("✓ health check users_have_email"),
        "{}",
        up.all()
    );

    let run = Run::of(project.cmd(&db).arg("check"));
    run.assert_code(0);
    assert!(
        run.stdout.contains("All 2 health check(s) passed."),
        "{}",
        run.all()
    );

    db.client()
        .batch_execute(
            "INSERT INTO users VALUES (1, 'a@x.io'), (7, NULL), (8, NULL), (9, 'b@x.io')",
        )
        .unwrap();
    let run = Run::of(project.cmd(&db).arg("check"));
    run.assert_code(8);
    assert!(
        run.stderr
            .contains("health check users_have_email failed: 2 row(s) returned"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("users_have_email.sql:2:1"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("  7\n") && run.stderr.contains("  8\n"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr
            .contains("health check few_users failed: too many users: 4"),
        "{}",
        run.all()
    );
    // Checks change nothing.
    assert_eq!(column(&db, "SELECT count(*) FROM users"), ["4"]);

    let json = Run::of(project.cmd(&db).args(["check", "--json"]));
    json.assert_code(8);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["ok"], false);
    assert_eq!(value["checks"][1]["name"], "users_have_email");
    assert_eq!(value["checks"][1]["outcome"], "rows");
    assert_eq!(
        value["checks"][1]["rows"],
        serde_json::json!([["7"], ["8"]])
    );
    assert_eq!(value["checks"][0]["outcome"], "raised");
}

#[test]
fn a_check_failing_after_up_exits_8_and_the_migration_stays() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    project
        .file(
            "002_import.sql",
            "-- pgshift:ignore non-idempotent\nINSERT INTO users VALUES (5, NULL);\n",
        )
        .file("rollback_002.sql", "DELETE FROM users WHERE id = 5;\n");
    let run = Run::of(project.cmd(&db).args(["up", "--no-lint"]));
    run.assert_code(8);
    assert!(
        run.stderr
            .contains("the migration succeeded, but health check(s) failed: users_have_email"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("stay applied: 002"), "{}", run.all());
    assert_eq!(applied_versions(&db), ["001", "002"]);

    // The rollback fixes it; its checks pass.
    let run = Run::of(project.cmd(&db).args(["rollback", "--yes"]));
    run.assert_code(0);
    assert!(
        run.stderr.contains("✓ health check users_have_email"),
        "{}",
        run.all()
    );

    // --no-checks skips them.
    let run = Run::of(project.cmd(&db).args(["up", "--no-lint", "--no-checks"]));
    run.assert_code(0);
    assert!(!run.stderr.contains("health check"), "{}", run.all());
}

#[test]
fn a_broken_check_file_stops_up_before_anything_runs() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    std::fs::write(
        project.migrations().join("checks").join("bad.sql"),
        "\\set x 1\nSELECT 1 WHERE false;\n",
    )
    .unwrap();
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(3);
    assert!(run.stderr.contains("bad.sql:1"), "{}", run.all());
    assert!(applied_versions_or_none(&db).is_empty());
}

fn applied_versions_or_none(db: &pgshift_test_support::TestDb) -> Vec<String> {
    if exists(db, "schema_migrations") {
        applied_versions(db)
    } else {
        Vec::new()
    }
}

/// The project's own checks (`migration_scripts/checks/`) hold at every
/// step of its migrations, and catch drift.
#[test]
fn the_project_checks_pass_through_its_migrations_and_catch_drift() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migration_scripts");
    copy_dir(&source, &project.migrations());
    let checks = std::fs::read_dir(project.migrations().join("checks"))
        .unwrap()
        .count();
    assert!(checks >= 2, "expected the project's health checks");

    let run = Run::of(project.cmd(&db).arg("check"));
    run.assert_code(0);
    let up = Run::of(project.cmd(&db).arg("up"));
    up.assert_code(0);
    assert_eq!(
        up.stderr.matches("✓ health check").count(),
        checks,
        "{}",
        up.all()
    );
    Run::of(project.cmd(&db).args(["rollback", "--steps", "2", "--yes"])).assert_code(0);
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    Run::of(project.cmd(&db).arg("check")).assert_code(0);

    // Drift: a table of an applied migration dropped by hand.
    db.client().batch_execute("DROP TABLE api_keys").unwrap();
    let run = Run::of(project.cmd(&db).arg("check"));
    run.assert_code(8);
    assert!(
        run.stderr.contains("public.api_keys (migration 004)"),
        "{}",
        run.all()
    );
    let everything =
        Run::of(
            project
                .cmd(&db)
                .args(["rollback", "--steps", "9", "--yes", "--no-checks"]),
        );
    everything.assert_code(0);
    Run::of(project.cmd(&db).arg("check")).assert_code(0);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
