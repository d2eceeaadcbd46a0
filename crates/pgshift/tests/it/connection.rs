//! Connections: clear failures, and a password never printed.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

#[test]
fn an_unreachable_server_fails_fast_without_printing_the_password() {
    let project = Project::new();
    project.file("001_a.sql", "SELECT 1;\n");
    for args in [&["up"][..], &["status", "--json"][..]] {
        let run = Run::of(
            project
                .bare()
                .arg("--database-url")
                .arg(dead_url("hunter2-secret"))
                .args(args),
        );
        run.assert_code(4);
        assert!(
            !run.all().contains("hunter2-secret"),
            "password leaked: {}",
            run.all()
        );
        assert!(
            run.all().contains("app@127.0.0.1") || run.all().contains("127.0.0.1"),
            "{}",
            run.all()
        );
    }
}

#[test]
fn database_url_from_the_environment_and_dotenv() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_a.sql", "CREATE TABLE a (id int);\n");
    // .env supplies DATABASE_URL when the environment does not.
    std::fs::write(
        project.path().join(".env"),
        format!("DATABASE_URL={}\n", db.url()),
    )
    .unwrap();
    Run::of(project.bare().arg("up")).assert_code(0);
    assert!(exists(&db, "a"));
    // The real environment wins over .env.
    let run = Run::of(
        project
            .bare()
            .env("DATABASE_URL", dead_url("pw"))
            .arg("status"),
    );
    run.assert_code(4);
}

#[test]
fn a_missing_database_is_named() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_a.sql", "SELECT 1;\n");
    let url = db.url().replace(db.name(), "no_such_db");
    let run = Run::of(project.bare().args(["--database-url", &url, "status"]));
    run.assert_code(4);
    assert!(run.stderr.contains("no_such_db"), "{}", run.stderr);
}

#[test]
fn a_password_in_a_working_url_is_never_printed() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_a.sql", "SELECT 1;\n");
    // The test cluster trusts loopback, so any password is accepted.
    let url = db.url().replace("postgres@", "postgres:Sup3rS3cret@");
    for args in [
        &["up"][..],
        &["status", "--json"][..],
        &["up", "--json"][..],
    ] {
        let run = Run::of(project.bare().arg("--database-url").arg(&url).args(args));
        run.assert_code(0);
        assert!(
            !run.all().contains("Sup3rS3cret"),
            "password leaked: {}",
            run.all()
        );
    }
}
