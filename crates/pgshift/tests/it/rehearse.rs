//! `up --rehearse`: the pending migrations and health checks run on a copy
//! first; a failure there leaves the real database untouched.

use crate::common::*;
use pgshift_test_support::{test_db_or_skip, TestDb};

/// The rehearsal copy a run names in its output, which must be gone.
fn assert_copy_dropped(db: &TestDb, output: &str) {
    let name = regex::Regex::new(r"pgshift_scratch_\d+_[0-9a-f]+")
        .unwrap()
        .find(output)
        .unwrap_or_else(|| panic!("no copy named in {output}"))
        .as_str()
        .to_string();
    assert_eq!(
        column(
            db,
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'")
        ),
        ["0"],
        "{name} was dropped"
    );
}

fn schema_of(db: &TestDb) -> Vec<String> {
    column(
        db,
        "SELECT table_name || '.' || column_name FROM information_schema.columns \
         WHERE table_schema = 'public' ORDER BY 1",
    )
}

#[test]
fn a_failing_migration_on_the_copy_leaves_the_real_database_untouched() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::users_with_email_check();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    db.client()
        .batch_execute("INSERT INTO users VALUES (1, 'a@x.io')")
        .unwrap();
    let before = schema_of(&db);
    let audit_before = column(&db, "SELECT count(*) FROM schema_migrations_audit");
    project.file(
        "002_orders.sql",
        "CREATE TABLE IF NOT EXISTS orders (id int);\nALTER TABLE users ADD COLUMN IF NOT EXISTS age int;\nSELECT 1 / 0;\n",
    );
    let run = Run::of(project.cmd(&db).args(["up", "--rehearse", "--no-lint"]));
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("the rehearsal on a copy of the database")
            && run.stderr.contains("the real database was not touched"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("division by zero"), "{}", run.all());
    assert!(run.stderr.contains("002_orders.sql:3"), "{}", run.all());
    assert_eq!(applied_versions(&db), ["001"]);
    assert_eq!(schema_of(&db), before);
    assert_eq!(
        column(&db, "SELECT count(*) FROM schema_migrations_audit"),
        audit_before,
        "the failed attempt is recorded on the copy only"
    );
    assert_copy_dropped(&db, &run.stderr);
}

#[test]
fn a_failing_health_check_on_the_copy_stops_before_the_real_database() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::users_with_email_check();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    project.file(
        "002_import.sql",
        "INSERT INTO users VALUES (2, NULL) ON CONFLICT DO NOTHING;\n",
    );
    // Another session is connected, so the copy is made by dump and restore.
    let mut other = db.client();
    other.batch_execute("SELECT 1").unwrap();
    let run = Run::of(project.cmd(&db).args(["up", "--rehearse", "--no-lint"]));
    run.assert_code(8);
    assert!(
        run.stderr
            .contains("health check(s) failed on the rehearsal copy"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr
            .contains("health check users_have_email failed: 1 row(s) returned"),
        "{}",
        run.all()
    );
    assert_eq!(applied_versions(&db), ["001"]);
    assert_eq!(column(&db, "SELECT count(*) FROM users"), ["0"]);
    assert_copy_dropped(&db, &run.stderr);
    drop(other);
}

#[test]
fn a_passing_rehearsal_then_migrates_the_real_database() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::users_with_email_check();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    project.file(
        "002_age.sql",
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS age int;\n",
    );
    let other = db.client();
    let run = Run::of(project.cmd(&db).args(["--json", "up", "--rehearse"]));
    run.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["rehearsal"]["method"], "dump-restore");
    assert_eq!(json["rehearsal"]["report"]["done"][0]["version"], "002");
    assert_eq!(
        json["rehearsal"]["checks"]["results"][0]["outcome"],
        "passed"
    );
    assert_eq!(json["applied"][0]["version"], "002");
    assert_eq!(applied_versions(&db), ["001", "002"]);
    assert!(schema_of(&db).contains(&"users.age".to_string()));
    assert_copy_dropped(&db, json["rehearsal"]["copy"].as_str().unwrap());
    drop(other);
}
