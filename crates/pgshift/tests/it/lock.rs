//! One runner at a time.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

/// The pinned lock key of the default tracking table (see `lock_key`).
const DEFAULT_LOCK_KEY: i64 = -7540494824168470589;

/// The runs are made to overlap for certain: the first migration of
/// whichever run gets the lock first does not finish until a third pgshift
/// session (the other run's) has connected to the database. The other run
/// must then wait for the lock, say so, and find nothing left to apply.
#[test]
fn two_concurrent_runs_apply_each_migration_exactly_once() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    // pg_stat_activity is a snapshot per transaction, hence the clear.
    project.file(
        "001_m1.sql",
        "CREATE TABLE m1 (id int);\n\
         DO $$\n\
         DECLARE deadline timestamptz := clock_timestamp() + interval '30 seconds';\n\
         BEGIN\n\
           LOOP\n\
             PERFORM pg_stat_clear_snapshot();\n\
             EXIT WHEN (SELECT count(*) FROM pg_stat_activity\n\
                        WHERE datname = current_database() AND application_name = 'pgshift'\n\
                          AND pid <> pg_backend_pid()) >= 2;\n\
             IF clock_timestamp() > deadline THEN\n\
               RAISE EXCEPTION 'the second run never connected';\n\
             END IF;\n\
             PERFORM pg_sleep(0.05);\n\
           END LOOP;\n\
         END $$;\n",
    );
    for i in 2..=4 {
        // Not idempotent on purpose: a second application would fail.
        project.file(
            &format!("{i:03}_m{i}.sql"),
            &format!("CREATE TABLE m{i} (id int);\nSELECT pg_sleep(0.1);\n"),
        );
    }
    let spawn = || {
        project
            .std_command()
            .args(["--database-url", db.url(), "up"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn pgshift")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let text = |out: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    for out in [&a, &b] {
        assert!(out.status.success(), "{}", text(out));
    }
    assert_eq!(applied_versions(&db), ["001", "002", "003", "004"]);
    let (applier, waiter) = if text(&a).contains("Applied 4 migration(s)") {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert!(
        text(applier).contains("Applied 4 migration(s)"),
        "{}",
        text(applier)
    );
    let waited = text(waiter);
    assert!(
        waited.contains("waiting for another migration run to finish"),
        "{waited}"
    );
    assert!(waited.contains("Nothing to apply"), "{waited}");
    // One apply row per migration in the audit trail: nothing ran twice.
    assert_eq!(
        column(
            &db,
            "SELECT count(*) FROM schema_migrations_audit WHERE action = 'apply'"
        ),
        ["4"]
    );
}

#[test]
fn a_held_lock_times_out_naming_the_holder() {
    let Some(db) = test_db_or_skip!() else { return };
    // The same key held in another database of the server is not our lock
    // and must not be named as its holder.
    let Some(elsewhere) = test_db_or_skip!() else {
        return;
    };
    let mut other = elsewhere.client();
    other
        .batch_execute("SET application_name = 'other-database-job'")
        .unwrap();
    other
        .execute("SELECT pg_advisory_lock($1)", &[&DEFAULT_LOCK_KEY])
        .unwrap();
    let project = Project::new();
    project.file("001_a.sql", "CREATE TABLE a (id int);\n");
    let mut holder = db.client();
    holder
        .batch_execute("SET application_name = 'deploy-job-42'")
        .unwrap();
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&DEFAULT_LOCK_KEY])
        .unwrap();
    let run = Run::of(project.cmd(&db).args(["up", "--lock-wait", "1s"]));
    run.assert_code(5);
    assert!(
        run.stderr.contains("application deploy-job-42"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("other-database-job"), "{}", run.stderr);
    assert!(run.stderr.contains("--lock-wait"), "{}", run.stderr);
    assert!(!exists(&db, "a"));

    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&DEFAULT_LOCK_KEY])
        .unwrap();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    assert!(exists(&db, "a"));
}

#[test]
fn busy_tables_are_retried_then_reported() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_t.sql", "CREATE TABLE t (id int);\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    project.file("002_alter.sql", "ALTER TABLE t ADD COLUMN v int;\n");

    // A long transaction holds a lock on t, so the ALTER hits lock_timeout.
    let mut blocker = db.client();
    let mut tx = blocker.transaction().unwrap();
    tx.batch_execute("LOCK TABLE t IN ACCESS SHARE MODE")
        .unwrap();
    let run = Run::of(project.cmd(&db).args([
        "up",
        "--lock-timeout",
        "100ms",
        "--max-retries",
        "1",
        "--lock-retry-for",
        "1s",
    ]));
    run.assert_code(11);
    assert!(run.stderr.contains("attempt 1/2 failed"), "{}", run.stderr);
    assert!(run.stderr.contains("55P03"), "{}", run.stderr);
    tx.rollback().unwrap();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
}

/// Issue 11: a migration behind a long reader waits without queueing its
/// lock again and again, says who blocks it, and goes ahead as soon as the
/// reader is done.
#[test]
fn a_blocked_migration_names_its_blocker_and_runs_once_it_is_gone() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_t.sql", "CREATE TABLE t (id int);\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    project.file("002_alter.sql", "ALTER TABLE t ADD COLUMN v int;\n");

    let mut blocker = db.client();
    blocker
        .batch_execute("SET application_name = 'nightly-report'")
        .unwrap();
    let pid: i32 = blocker
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    blocker
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS SHARE MODE; SELECT count(*) FROM t")
        .unwrap();
    let child = project
        .std_command()
        .args(["--database-url", db.url(), "up"])
        .args(["--lock-timeout", "100ms", "--lock-retry-for", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pgshift");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        !column(
            &db,
            "SELECT attname::text FROM pg_attribute WHERE attrelid = 't'::regclass"
        )
        .contains(&"v".to_string()),
        "the ALTER ran while the reader held its lock"
    );
    blocker.batch_execute("COMMIT").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains(&format!("blocked by pid {pid} (application nightly-report, idle in transaction, in a transaction since ")), "{stderr}");
    assert!(stderr.contains("SELECT count(*) FROM t"), "{stderr}");
    assert!(
        stderr.contains("wants ACCESS EXCLUSIVE on table t"),
        "{stderr}"
    );
    assert!(stderr.contains("retrying as soon as it ends"), "{stderr}");
    assert!(stderr.contains("of the retry budget left"), "{stderr}");
    // One attempt behind the reader, one after it: not one per backoff.
    assert!(stderr.contains("applied 002 in"), "{stderr}");
    assert!(stderr.contains("(attempt 2;"), "{stderr}");
    assert!(
        stdout.contains("(2 attempts: the database was busy)"),
        "{stdout}"
    );
    assert_eq!(applied_versions(&db), ["001", "002"]);
}

/// Issue 11: giving up on a database that stays busy has its own exit
/// code and message, and leaves the database as it was.
#[test]
fn a_database_busy_for_the_whole_budget_exits_11_untouched() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_t.sql", "CREATE TABLE t (id int);\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    project.file("002_alter.sql", "ALTER TABLE t ADD COLUMN v int;\n");

    let mut blocker = db.client();
    let pid: i32 = blocker
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    blocker
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS SHARE MODE")
        .unwrap();
    // The budget from pgshift.toml, as a team would keep it; long enough
    // for one "still waiting" report (every 5 s).
    std::fs::write(
        project.path().join("pgshift.toml"),
        "lock_timeout = \"100ms\"\nlock_retry_for = \"6s\"\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(11);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let blocked_by = format!("blocked by pid {pid}");
    for expected in [
        "migration 002 gave up after 1 attempt(s) over",
        "the database stayed busy",
        &blocked_by,
        "pg_terminate_backend",
        "--lock-retry-for more than 6.0s",
        // Reported while it waits, not only when it gives up.
        "still waiting for 5.",
        "nothing of it was applied",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    blocker.batch_execute("ROLLBACK").unwrap();
    assert_eq!(applied_versions(&db), ["001"]);
    assert!(!column(
        &db,
        "SELECT attname::text FROM pg_attribute WHERE attrelid = 't'::regclass"
    )
    .contains(&"v".to_string()));
}

/// A blocker that lets go of its lock without ending its transaction
/// (`ROLLBACK TO SAVEPOINT`) no longer blocks: the migration goes ahead
/// rather than waiting for that transaction to end.
#[test]
fn a_blocker_that_releases_its_lock_in_its_transaction_is_not_waited_for() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_t.sql", "CREATE TABLE t (id int);\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    project.file("002_alter.sql", "ALTER TABLE t ADD COLUMN v int;\n");

    let mut blocker = db.client();
    blocker
        .batch_execute("BEGIN; SAVEPOINT s; LOCK TABLE t IN ACCESS SHARE MODE")
        .unwrap();
    let child = project
        .std_command()
        .args(["--database-url", db.url(), "up"])
        .args(["--lock-timeout", "100ms", "--lock-retry-for", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pgshift");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    blocker.batch_execute("ROLLBACK TO SAVEPOINT s").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("retrying as soon as it ends"), "{stderr}");
    assert_eq!(applied_versions(&db), ["001", "002"]);
    // The blocker's transaction is still open.
    blocker.batch_execute("COMMIT").unwrap();
}
