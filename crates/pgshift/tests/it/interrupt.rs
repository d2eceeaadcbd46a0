//! Ctrl-C while `up` runs: the server stops the statement too.

use crate::common::*;
use pgshift_test_support::{test_db_or_skip, TestDb};
use std::time::{Duration, Instant};

/// Starts `pgshift up` on `db`, waits until it runs `pg_sleep`, sends it
/// SIGINT; its exit code and stderr, and the time from start to exit.
fn interrupt_up(db: &TestDb, project: &Project) -> (Option<i32>, String, Duration) {
    let child = project
        .std_command()
        .args(["--database-url", db.url(), "up"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while sleeping(db).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the slow migration never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("kill");
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr, started.elapsed())
}

/// Sessions of `db` running `pg_sleep`, other than the test's own.
fn sleeping(db: &TestDb) -> Vec<String> {
    column(
        db,
        "SELECT pid::text FROM pg_stat_activity WHERE datname = current_database() \
         AND query LIKE '%pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()",
    )
}

#[test]
fn ctrl_c_cancels_the_running_statement_and_rolls_its_migration_back() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file("001_fast.sql", "CREATE TABLE fast (id int);\n")
        .file(
            "002_slow.sql",
            "CREATE TABLE slow (id int);\nSELECT pg_sleep(60);\n",
        )
        .file("003_never.sql", "CREATE TABLE never (id int);\n");
    let (code, stderr, elapsed) = interrupt_up(&db, &project);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        elapsed < Duration::from_secs(30),
        "pgshift waited for the statement instead of cancelling it"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stderr.contains("57014"), "{stderr}");
    // Nothing is left running on the server, and 002 left no trace.
    assert_eq!(sleeping(&db), Vec::<String>::new());
    assert_eq!(applied_versions(&db), ["001"]);
    assert!(exists(&db, "fast") && !exists(&db, "slow") && !exists(&db, "never"));
    assert_eq!(
        column(
            &db,
            "SELECT version || ' ' || outcome FROM schema_migrations_audit ORDER BY id"
        ),
        ["001 ok", "002 failed"]
    );
}

#[test]
fn ctrl_c_in_a_no_transaction_migration_leaves_it_failed_and_resumable() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_online.sql",
        "-- pgshift:no-transaction\nCREATE TABLE first (id int);\nSELECT pg_sleep(60);\nCREATE INDEX CONCURRENTLY first_id_idx ON first (id);\n",
    );
    let (code, stderr, _) = interrupt_up(&db, &project);
    assert_eq!(code, Some(130), "{stderr}");
    // The statement before the interruption stays; the one after never ran.
    assert!(exists(&db, "first") && !exists(&db, "first_id_idx"));
    assert_eq!(sleeping(&db), Vec::<String>::new());
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(1);
    assert!(
        run.stderr.contains("failed at statement 2 of 3") && run.stderr.contains("--resume"),
        "{}",
        run.stderr
    );
}
