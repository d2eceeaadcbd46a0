//! `--role`: migrations run with the rights of a role made for them, and a
//! role the login cannot assume stops the run before anything changes.

use crate::common::*;
use pgshift_test_support::{test_db_or_skip, TestDb};

/// A role name unique to this test process and `what`; roles are
/// cluster-wide.
fn role_name(what: &str) -> String {
    format!("pgshift_{what}_{}", std::process::id())
}

/// A role that owns the database's public schema objects it creates.
fn create_dba(db: &TestDb, name: &str) {
    db.client()
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {name} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n\
             GRANT CREATE, USAGE ON SCHEMA public TO {name};"
        ))
        .expect("create role");
}

fn project() -> Project {
    let project = Project::new();
    project
        .file(
            "001_users.sql",
            "-- Description: users\nCREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY);\n",
        )
        .file("rollback_001.sql", "DROP TABLE IF EXISTS users;\n");
    project
}

fn query_one(db: &TestDb, sql: &str) -> Vec<String> {
    let row = db.client().query_one(sql, &[]).expect("query");
    (0..row.len()).map(|i| row.get::<_, String>(i)).collect()
}

#[test]
fn migrations_run_as_the_role_and_the_audit_trail_names_both() {
    let Some(db) = test_db_or_skip!() else { return };
    let dba = role_name("dba");
    create_dba(&db, &dba);
    let project = project();
    let run = Run::of(project.cmd(&db).args(["--role", &dba, "up"]));
    run.assert_code(0);
    assert_eq!(
        query_one(
            &db,
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'users'"
        )[0],
        dba
    );
    assert_eq!(
        query_one(
            &db,
            "SELECT session_user_name::text, current_user_name::text \
             FROM schema_migrations_audit WHERE action = 'apply'"
        ),
        ["postgres".to_string(), dba.clone()]
    );
}

#[test]
fn the_role_can_come_from_the_config_file_and_shows_in_dry_run() {
    let Some(db) = test_db_or_skip!() else { return };
    let dba = role_name("dba");
    create_dba(&db, &dba);
    let project = project();
    std::fs::write(
        project.path().join("pgshift.toml"),
        format!("role = \"{dba}\"\n"),
    )
    .unwrap();
    let run = Run::of(project.cmd(&db).args(["up", "--dry-run"]));
    run.assert_code(0);
    assert!(
        run.stdout.contains(&format!("SET ROLE \"{dba}\";")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_missing_role_stops_before_anything_changes() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    let run = Run::of(
        project
            .cmd(&db)
            .args(["--role", "no_such_role", "up", "--yes"]),
    );
    run.assert_code(4);
    assert!(
        run.stderr
            .contains("role `no_such_role` does not exist on this server"),
        "{}",
        run.stderr
    );
    assert_eq!(
        query_one(
            &db,
            "SELECT coalesce(to_regclass('schema_migrations')::text, 'none')"
        ),
        ["none"]
    );
}

#[test]
fn a_login_that_is_not_a_member_cannot_assume_the_role() {
    let Some(db) = test_db_or_skip!() else { return };
    let dba = role_name("dba");
    create_dba(&db, &dba);
    let app = role_name("app");
    db.client()
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {app} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        ))
        .expect("create login role");
    let as_app = db.url().replacen("postgres@", &format!("{app}@"), 1);
    let project = project();
    let run = Run::of(project.bare().args([
        "--database-url",
        &as_app,
        "--role",
        &dba,
        "rollback",
        "--yes",
    ]));
    run.assert_code(4);
    assert!(
        run.stderr.contains(&format!(
            "`{app}` cannot assume role `{dba}`: it is not a member of that role"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("GRANT"), "{}", run.stderr);
}
