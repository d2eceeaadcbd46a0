//! `-- pgshift:no-transaction`: statement by statement, recorded progress,
//! a blocked `up`, and a resume once the cause is fixed.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

#[test]
fn a_failed_concurrent_index_is_recorded_reported_and_resumed() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file(
            "001_t.sql",
            "CREATE TABLE t (v int);\nINSERT INTO t VALUES (1), (1);\n",
        )
        .file(
            "002_index.sql",
            "-- Description: unique v\n-- pgshift:no-transaction\n\
             CREATE TABLE IF NOT EXISTS side (id int);\n\
             CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_v_key ON t (v);\n\
             CREATE TABLE IF NOT EXISTS after_index (id int);\n",
        );

    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(1);
    assert!(
        run.stderr.contains("statement 2 of 3 failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"t_v_key\";"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("002_index.sql:4:1"), "{}", run.stderr);
    assert!(exists(&db, "side"), "statement 1 should stay applied");
    assert!(!exists(&db, "after_index"));
    assert_eq!(applied_versions(&db), ["001"]);

    let status = Run::of(project.cmd(&db).arg("status"));
    assert!(
        status.stdout.contains("failed at statement 2/3"),
        "{}",
        status.stdout
    );

    let blocked = Run::of(project.cmd(&db).arg("up"));
    blocked.assert_code(1);
    assert!(
        blocked.stderr.contains("pgshift up --resume"),
        "{}",
        blocked.stderr
    );

    // The fix: remove the duplicate and the invalid index, then resume.
    db.client()
        .batch_execute("DELETE FROM t WHERE ctid = (SELECT max(ctid) FROM t)")
        .unwrap();
    db.client()
        .batch_execute("DROP INDEX CONCURRENTLY IF EXISTS t_v_key")
        .unwrap();
    let resumed = Run::of(project.cmd(&db).args(["up", "--resume"]));
    resumed.assert_code(0);
    assert!(exists(&db, "t_v_key") && exists(&db, "after_index"));
    assert_eq!(applied_versions(&db), ["001", "002"]);
    assert_eq!(
        column(&db, "SELECT count(*) FROM schema_migrations_progress"),
        ["0"]
    );
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
}

#[test]
fn editing_statements_that_already_ran_blocks_the_resume() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    // The directive is not needed here (lint says so: --no-lint); the
    // failure is what matters.
    project.file(
        "001_fails.sql",
        "-- pgshift:no-transaction\nCREATE TABLE IF NOT EXISTS one (id int);\nSELECT 1 / 0;\n",
    );
    Run::of(project.cmd(&db).args(["up", "--no-lint"])).assert_code(1);
    project.file(
        "001_fails.sql",
        "-- pgshift:no-transaction\nCREATE TABLE IF NOT EXISTS uno (id int);\nSELECT 1;\n",
    );
    let run = Run::of(project.cmd(&db).args(["up", "--resume", "--no-lint"]));
    run.assert_code(3);
    assert!(run.stderr.contains("was edited"), "{}", run.stderr);

    // Fixing only the failed statement is fine.
    project.file(
        "001_fails.sql",
        "-- pgshift:no-transaction\nCREATE TABLE IF NOT EXISTS one (id int);\nSELECT 1;\n",
    );
    Run::of(project.cmd(&db).args(["up", "--resume", "--no-lint"])).assert_code(0);
    assert_eq!(applied_versions(&db), ["001"]);
}

#[test]
fn concurrent_index_in_a_transactional_file_gets_a_hint() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_idx.sql",
        "CREATE TABLE t (v int);\nCREATE INDEX CONCURRENTLY t_v ON t (v);\n",
    );
    // Lint catches it before anything runs…
    let linted = Run::of(project.cmd(&db).arg("up"));
    linted.assert_code(7);
    assert!(
        linted.stderr.contains("transaction-misuse"),
        "{}",
        linted.stderr
    );
    // …and without lint, the server's refusal comes with the same advice.
    let run = Run::of(project.cmd(&db).args(["up", "--no-lint"]));
    run.assert_code(1);
    assert!(
        run.stderr.contains("-- pgshift:no-transaction"),
        "{}",
        run.stderr
    );
    assert!(!exists(&db, "t"));
}

/// Issue 11, section 6: what a no-transaction migration does to its session
/// (a read-only default, `DISCARD ALL`, another role) must not break the
/// progress and tracking rows, nor the migrations after it.
#[test]
fn bookkeeping_survives_what_the_migration_does_to_its_session() {
    let Some(db) = test_db_or_skip!() else { return };
    // Roles are cluster-wide: one for this test process.
    let limited = format!("pgshift_limited_{}", std::process::id());
    db.client()
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {limited} NOLOGIN; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
             GRANT {limited} TO CURRENT_USER;"
        ))
        .unwrap();
    let project = Project::new();
    project
        .file(
            "001_read_only.sql",
            "-- pgshift:no-transaction\nCREATE TABLE a (id int);\n\
             SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;\nSELECT 1;\n\
             SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE;\n",
        )
        .file(
            "002_discard.sql",
            "-- pgshift:no-transaction\nCREATE TABLE b (id int);\nDISCARD ALL;\nSELECT 1;\n",
        )
        .file(
            "003_role.sql",
            &format!("-- pgshift:no-transaction\nSET ROLE {limited};\nSELECT 1;\n"),
        )
        .file("004_after.sql", "CREATE TABLE d (id int);\n");
    let up = Run::of(project.cmd(&db).args(["up", "--no-lint"]));
    up.assert_code(0);
    assert_eq!(applied_versions(&db), ["001", "002", "003", "004"]);
    assert_eq!(
        column(&db, "SELECT count(*) FROM schema_migrations_progress"),
        ["0"],
        "no migration is left half-recorded"
    );
    let status = Run::of(project.cmd(&db).arg("status"));
    assert!(status.stdout.contains("4 applied"), "{}", status.stdout);
    assert!(!status.stdout.contains("failed"), "{}", status.stdout);
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
}

/// Issue 11: a NOTICE raised by pgshift's own bookkeeping ("relation …
/// already exists, skipping") is not shown as the migration's.
#[test]
fn bookkeeping_notices_are_not_attributed_to_the_migration() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_a.sql",
        "-- pgshift:no-transaction\nCREATE TABLE a (id int);\n",
    );
    Run::of(project.cmd(&db).args(["up", "--no-lint"])).assert_code(0);
    project.file(
        "002_b.sql",
        "-- pgshift:no-transaction\nCREATE TABLE b (id int);\n",
    );
    let up = Run::of(project.cmd(&db).args(["up", "--no-lint"]));
    up.assert_code(0);
    assert!(!up.stderr.contains("already exists"), "{}", up.stderr);
    assert!(!up.stderr.contains("notice"), "{}", up.stderr);
}

/// What a no-transaction migration does to its session does not carry over
/// to the migrations after it (each file has a session of its own under
/// psql): the run's role and timeouts are set again.
#[test]
fn the_next_migration_runs_with_the_runs_session_settings() {
    let Some(db) = test_db_or_skip!() else { return };
    let dba = format!("pgshift_owner_{}", std::process::id());
    db.client()
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {dba} NOLOGIN; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$; \
             GRANT CREATE, USAGE ON SCHEMA public TO {dba};"
        ))
        .unwrap();
    let project = Project::new();
    project
        .file(
            "001_discard.sql",
            "-- pgshift:no-transaction\nCREATE TABLE a (id int);\nDISCARD ALL;\n\
             SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;\n",
        )
        .file(
            "002_after.sql",
            "CREATE TABLE b AS SELECT current_setting('lock_timeout') AS lock_timeout;\n",
        );
    Run::of(
        project
            .cmd(&db)
            .args(["--role", &dba, "--lock-timeout", "3s", "up", "--no-lint"]),
    )
    .assert_code(0);
    assert_eq!(
        column(
            &db,
            "SELECT tableowner FROM pg_tables WHERE tablename IN ('a', 'b') ORDER BY tablename"
        ),
        [dba.clone(), dba]
    );
    assert_eq!(column(&db, "SELECT lock_timeout FROM b"), ["3s"]);
}
