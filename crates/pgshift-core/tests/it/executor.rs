//! How the executor sends a transactional migration's statements, through
//! the library.

use super::{folder, migrator};
use pgshift_core::error::Error;
use pgshift_core::executor::{ExecError, ExecOptions};
use pgshift_core::migrator::RunOptions;
use pgshift_core::plan::UpOptions;
use pgshift_test_support::{test_db_or_skip, TestDb};
use std::time::Duration;

const DUPLICATE_IN_THE_MIDDLE: &str = "CREATE TABLE u (id int PRIMARY KEY);\n\
    INSERT INTO u VALUES (1);\n\
    INSERT INTO u VALUES (1);\n\
    CREATE TABLE never (id int);\n";

/// The statement numbers (first, last) the failure of `up` names.
fn failed_statements(db: &TestDb, replay_within: Duration) -> (usize, usize) {
    let dir = folder("dup", DUPLICATE_IN_THE_MIDDLE);
    let options = RunOptions {
        exec: ExecOptions {
            replay_within,
            ..ExecOptions::default()
        },
        ..RunOptions::default()
    };
    let error = migrator(db, dir.path(), options)
        .up(&UpOptions::default(), &mut |_| {})
        .expect_err("the duplicate key fails the migration");
    let Error::Exec(failure) = error else {
        panic!("not an execution failure: {error}");
    };
    let ExecError::Statement(statement) = &failure.error else {
        panic!("not a statement failure: {}", failure.error);
    };
    assert_eq!(statement.server.code, "23505");
    assert_eq!(statement.total, 4);
    let tables: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('u', 'never')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "the failed migration left tables behind");
    (statement.statement, statement.last_statement)
}

#[test]
fn a_quick_failure_without_a_position_is_run_again_to_name_its_statement() {
    let Some(db) = test_db_or_skip!() else { return };
    assert_eq!(failed_statements(&db, Duration::from_secs(60)), (3, 3));
}

#[test]
fn a_slow_failure_without_a_position_names_the_statements_sent_together() {
    // Running a long migration a second time just to find the statement
    // would double the work and the time its locks are held.
    let Some(db) = test_db_or_skip!() else { return };
    assert_eq!(failed_statements(&db, Duration::ZERO), (1, 4));
}
