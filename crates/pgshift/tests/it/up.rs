//! `up`: apply, track, stay idempotent, keep each migration atomic.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

fn two_migrations(project: &Project) {
    project
        .file(
            "001_initial_schema.sql",
            "-- Description: Initial schema creation\nCREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, email text);\n",
        )
        .file(
            "002_add_index.sql",
            "CREATE INDEX IF NOT EXISTS users_email_idx ON users (email);\n",
        );
}

#[test]
fn up_applies_in_order_records_rows_and_is_idempotent() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    two_migrations(&project);

    let first = Run::of(project.cmd(&db).arg("up"));
    first.assert_code(0);
    assert!(
        first.stdout.contains("Applied 2 migration(s)"),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stderr
            .contains("[1/2] applying 001 Initial schema creation"),
        "{}",
        first.stderr
    );
    assert!(exists(&db, "users_email_idx"));
    assert_eq!(applied_versions(&db), ["001", "002"]);

    let rows = column(
        &db,
        "SELECT version || '|' || description || '|' || length(checksum) || '|' || (execution_time_ms >= 0) || '|' || (applied_by = current_user) FROM schema_migrations ORDER BY version",
    );
    assert_eq!(
        rows,
        [
            "001|Initial schema creation|64|true|true",
            "002|add index|64|true|true"
        ]
    );

    // The same run again changes nothing.
    let second = Run::of(project.cmd(&db).arg("up"));
    second.assert_code(0);
    assert!(
        second.stdout.contains("Nothing to apply"),
        "{}",
        second.stdout
    );
    assert_eq!(applied_versions(&db), ["001", "002"]);
}

#[test]
fn up_to_stops_at_the_target() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    two_migrations(&project);
    Run::of(project.cmd(&db).args(["up", "--to", "1"])).assert_code(0);
    assert_eq!(applied_versions(&db), ["001"]);
    let unknown = Run::of(project.cmd(&db).args(["up", "--to", "7"]));
    unknown.assert_code(3);
    assert!(
        unknown.stderr.contains("no migration 7"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_failing_migration_leaves_no_trace_and_earlier_ones_stay() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file("001_ok.sql", "CREATE TABLE a (id int);\n")
        .file(
            "002_breaks.sql",
            "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nSELECT id / 0 FROM b;\nCREATE TABLE c (id int);\n",
        )
        .file("003_never.sql", "CREATE TABLE d (id int);\n");

    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(1);
    assert!(exists(&db, "a"));
    assert!(!exists(&db, "b"), "half-applied DDL survived");
    assert!(!exists(&db, "d"));
    assert_eq!(applied_versions(&db), ["001"]);
    insta::assert_snapshot!(run.block(&project));
}

#[test]
fn error_position_maps_to_file_line_and_column() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_typo.sql",
        "-- Description: typo in a column\nCREATE TABLE t (id int);\n\nSELECT id, nmae\n  FROM t;\n",
    );
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(1);
    assert!(run.stderr.contains("001_typo.sql:4:12"), "{}", run.stderr);
    assert!(run.stderr.contains("42703"), "{}", run.stderr);
    insta::assert_snapshot!(run.block(&project));
}

#[test]
fn error_position_in_the_first_statement_maps_to_its_column() {
    // The first statement travels with the transaction's BEGIN; the
    // position must still point into the file.
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file("001_first.sql", "\n  SELECT relname, nmae FROM pg_class;\n");
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(1);
    assert!(run.stderr.contains("001_first.sql:2:19"), "{}", run.stderr);
}

#[test]
fn psql_style_begin_commit_is_atomic_with_the_tracking_row() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_wrapped.sql",
        "\\set ON_ERROR_STOP on\nBEGIN;\nCREATE TABLE w (id int);\nDO $$ BEGIN RAISE NOTICE 'inside do'; END $$;\nSELECT 1 / 0;\nCOMMIT;\n",
    );
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(1);
    // If the file's COMMIT had been sent, or its BEGIN had opened a second
    // transaction, `w` would have survived the failure.
    assert!(!exists(&db, "w"));
    assert!(applied_versions(&db).is_empty());
    assert!(
        run.stderr.contains("inside do"),
        "notice not shown: {}",
        run.stderr
    );

    project.file(
        "001_wrapped.sql",
        "BEGIN;\nCREATE TABLE w (id int);\nCOMMIT;\n",
    );
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    assert!(exists(&db, "w"));
    assert_eq!(applied_versions(&db), ["001"]);
}

#[test]
fn a_file_that_records_itself_is_completed_not_duplicated() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_self_recording.sql",
        "-- Description: Initial schema creation\nBEGIN;\n\
         CREATE TABLE IF NOT EXISTS schema_migrations (\n    version VARCHAR(20) PRIMARY KEY,\n    description TEXT NOT NULL,\n    \
         applied_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,\n    applied_by VARCHAR(100) DEFAULT CURRENT_USER,\n    \
         execution_time_ms INTEGER,\n    checksum VARCHAR(64)\n);\n\
         CREATE TABLE IF NOT EXISTS things (id int);\n\
         INSERT INTO schema_migrations (version, description) VALUES ('001', 'Initial schema creation') ON CONFLICT (version) DO NOTHING;\n\
         COMMIT;\n",
    );
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let rows = column(
        &db,
        "SELECT version || '|' || (checksum IS NOT NULL) || '|' || (execution_time_ms IS NOT NULL) FROM schema_migrations",
    );
    assert_eq!(rows, ["001|true|true"]);
    let verify = Run::of(project.cmd(&db).arg("verify"));
    verify.assert_code(0);
}

#[test]
fn dry_run_prints_runnable_sql_and_changes_nothing() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    two_migrations(&project);
    let run = Run::of(project.cmd(&db).args(["up", "--dry-run"]));
    run.assert_code(0);
    assert!(!exists(&db, "users"));
    assert!(
        !exists(&db, "schema_migrations"),
        "dry run created the tracking table"
    );
    insta::assert_snapshot!(run.block(&project));

    // The printed script does what `up` would do when run by psql.
    let script = project.path().join("plan.sql");
    std::fs::write(&script, &run.stdout).unwrap();
    let psql = std::process::Command::new("psql")
        .args(["-X", "-q", "-d", db.url(), "-f"])
        .arg(&script)
        .output()
        .expect("run psql");
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    assert_eq!(applied_versions(&db), ["001", "002"]);
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
}

#[test]
fn json_output_is_machine_readable() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    two_migrations(&project);
    let run = Run::of(project.cmd(&db).args(["up", "--json"]));
    run.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(value["ok"], true);
    assert_eq!(value["applied"].as_array().unwrap().len(), 2);
    assert_eq!(value["current_version"], "002");

    let status = Run::of(project.cmd(&db).args(["status", "--json"]));
    let value: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    let states: Vec<&str> = value["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["applied", "applied"]);
}

#[test]
fn status_shows_applied_and_pending() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    two_migrations(&project);
    Run::of(project.cmd(&db).args(["up", "--to", "001"])).assert_code(0);
    // Pin what varies between runs, so the table's layout is stable too.
    db.client()
        .batch_execute("UPDATE schema_migrations SET execution_time_ms = 7, applied_at = '2026-01-02 03:04:05+00'")
        .unwrap();
    let run = Run::of(project.cmd(&db).arg("status"));
    run.assert_code(0);
    insta::assert_snapshot!(run.block(&project));
}

#[test]
fn notices_and_echo_are_shown() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_talk.sql",
        "\\echo 'creating the table'\nCREATE TABLE IF NOT EXISTS t (id int);\nCREATE TABLE IF NOT EXISTS t (id int);\nDO $$ BEGIN RAISE WARNING 'careful'; END $$;\n",
    );
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(0);
    assert!(run.stderr.contains("creating the table"), "{}", run.stderr);
    // The three statements after the echo travel as one query, and the
    // server gives the notice no position: it is shown against them all.
    assert!(
        run.stderr.contains("001_talk.sql:2-4: relation"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("already exists, skipping"),
        "{}",
        run.stderr
    );
    // The DO block's warning has no position either, but its CONTEXT
    // names an anonymous code block, and only one statement is a DO.
    assert!(
        run.stderr.contains("warning: ") && run.stderr.contains("001_talk.sql:4:1: careful"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_failure_without_a_position_is_traced_to_its_statement() {
    // A unique violation carries no position. The statements went to the
    // server together; pgshift runs them again one at a time to name the
    // one that failed, without showing the echo or the notice twice.
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_dup.sql",
        "\\echo 'starting'\nCREATE TABLE u (id int PRIMARY KEY);\n\
         DO $$ BEGIN RAISE NOTICE 'before the failure'; END $$;\n\
         INSERT INTO u VALUES (1);\nINSERT INTO u VALUES (1);\nCREATE TABLE never (id int);\n",
    );
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(1);
    assert!(run.stderr.contains("001_dup.sql:5:1"), "{}", run.stderr);
    assert!(run.stderr.contains("statement 4 of 5"), "{}", run.stderr);
    assert!(run.stderr.contains("23505"), "{}", run.stderr);
    assert_eq!(run.stderr.matches("starting").count(), 1, "{}", run.stderr);
    // Once as a notice, at its statement (the snippet shows the line too).
    let notices: Vec<_> = run
        .stderr
        .lines()
        .filter(|l| l.contains("notice:"))
        .collect();
    assert_eq!(notices.len(), 1, "{}", run.stderr);
    assert!(
        notices[0].ends_with("001_dup.sql:3:1: before the failure"),
        "{}",
        run.stderr
    );
    assert!(!exists(&db, "u") && !exists(&db, "never"));
    assert!(applied_versions(&db).is_empty());
}

#[test]
fn a_deferred_constraint_failing_at_commit_is_reported_as_the_commit() {
    // The COMMIT travels with the statements; when it fails, the error has
    // no position, and the migration is run again step by step to say so.
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_deferred.sql",
        "CREATE TABLE parent (id int PRIMARY KEY);\n\
         CREATE TABLE child (parent int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);\n\
         INSERT INTO child VALUES (1);\n",
    );
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(1);
    assert!(
        run.stderr.contains("migration 001 failed at COMMIT") && run.stderr.contains("23503"),
        "{}",
        run.stderr
    );
    assert!(!exists(&db, "parent") && !exists(&db, "child"));
    assert!(applied_versions(&db).is_empty());
    assert_eq!(
        column(
            &db,
            "SELECT action || ' ' || outcome FROM schema_migrations_audit ORDER BY id"
        ),
        ["apply failed"]
    );
}

#[test]
fn the_tracking_and_audit_rows_commit_with_the_migration_and_record_its_time() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_slow.sql",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(0.05);\n",
    );
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    // Measured by the server from the transaction's start to the record.
    assert_eq!(
        column(
            &db,
            "SELECT (m.execution_time_ms >= 50 AND a.duration_ms = m.execution_time_ms)::text \
             FROM schema_migrations m JOIN schema_migrations_audit a USING (version)"
        ),
        ["true"]
    );
}

#[test]
fn a_description_with_quotes_and_backslashes_is_recorded_as_written() {
    // The tracking row travels as SQL text with the migration, its values
    // as literals: they must come back exactly, and run nothing.
    let Some(db) = test_db_or_skip!() else { return };
    let description = r"it's a \ test'); DROP TABLE keep; --";
    let project = Project::new();
    project.file(
        "001_quotes.sql",
        &format!("-- Description: {description}\nCREATE TABLE keep (id int);\n"),
    );
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    assert!(exists(&db, "keep"));
    assert_eq!(
        column(&db, "SELECT description FROM schema_migrations"),
        [description]
    );
}

#[test]
fn a_trailing_echo_and_a_file_without_statements_still_record_their_rows() {
    // The last batch carries the tracking row and COMMIT only when no
    // step follows it; otherwise they are sent after the echo.
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file(
            "001_echo.sql",
            "CREATE TABLE e (id int);\n\\echo 'all done'\n",
        )
        .file("002_nothing.sql", "-- Description: only a comment\n");
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(0);
    assert!(run.stderr.contains("all done"), "{}", run.stderr);
    assert!(exists(&db, "e"));
    assert_eq!(applied_versions(&db), ["001", "002"]);
    assert_eq!(
        column(
            &db,
            "SELECT count(*)::text FROM schema_migrations_audit WHERE action = 'apply' AND outcome = 'ok'"
        ),
        ["2"]
    );
}

#[test]
fn includes_run_relative_to_the_including_file() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    std::fs::create_dir(project.migrations().join("parts")).unwrap();
    std::fs::write(
        project.migrations().join("parts/table.sql"),
        "CREATE TABLE inc (id int);\n",
    )
    .unwrap();
    project.file("001_include.sql", "BEGIN;\n\\ir parts/table.sql\nCOMMIT;\n");
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    assert!(exists(&db, "inc"));
}

#[test]
fn a_configured_tracking_table_cannot_inject_sql() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    two_migrations(&project);
    let run =
        Run::of(
            project
                .cmd(&db)
                .args(["--schema", "ops", "--table", "x; drop table users", "up"]),
        );
    run.assert_code(0);
    assert!(exists(&db, "users"));
    assert_eq!(
        column(&db, "SELECT count(*) FROM ops.\"x; drop table users\""),
        ["2"]
    );
}

/// Issue 11: pgshift's own SQL (the tracking row, COMMIT) never shares a
/// query with the migration's text, so a last statement left open cannot
/// swallow it, and no error quotes it as the user's.
#[test]
fn pgshift_sql_never_appears_in_a_users_error() {
    let Some(db) = test_db_or_skip!() else { return };
    // Each fails in the migration's last query, the one the tracking row
    // used to travel with. (Text left open at end of file never reaches
    // the server: loading refuses it.)
    for last in ["SELECT 1/0;", "SELEC 1;", "SELECT * FROM no_such_table;"] {
        let project = Project::new();
        project.file("001_a.sql", &format!("CREATE TABLE a (id int);\n{last}\n"));
        let up = Run::of(project.cmd(&db).arg("up"));
        assert_ne!(up.code, 0, "{last}: {}", up.all());
        for ours in ["pgshift_record", "EXECUTE", "COMMIT", "'apply'"] {
            assert!(
                !up.all().contains(ours),
                "{last}: shows {ours}\n{}",
                up.all()
            );
        }
        assert!(!exists(&db, "a"), "{last}");
        assert!(
            column(&db, "SELECT count(*) FROM schema_migrations")
                .iter()
                .all(|n| n == "0"),
            "{last}"
        );
    }
}

#[test]
fn issue_11_a_no_op_up_and_status_write_nothing() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    two_migrations(&project);
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    // From now on every transaction on this database is read-only: any
    // write (a tracking-table upgrade, an audit row, a CREATE … IF NOT
    // EXISTS) fails the command. WAL positions are cluster-wide and other
    // tests write meanwhile, so this is the per-database way to say "no WAL".
    let mut client = db.client();
    client
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
            db.name()
        ))
        .unwrap();
    for command in ["up", "status", "verify"] {
        let run = Run::of(project.cmd(&db).arg(command));
        assert_eq!(run.code, 0, "{command} wrote something:\n{}", run.stderr);
    }
    let up = Run::of(project.cmd(&db).arg("up"));
    assert!(up.stdout.contains("Nothing to apply"), "{}", up.stdout);
}

#[test]
fn issue_11_a_statement_larger_than_a_batch_runs_and_maps_its_errors() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    let rows = 40_000;
    let values: Vec<String> = (1..=rows).map(|i| format!("({i}, 'row {i:08}')")).collect();
    project.file(
        "001_big.sql",
        &format!(
            "CREATE TABLE IF NOT EXISTS big (id int, name text);\nINSERT INTO big VALUES\n{};\n",
            values.join(",\n")
        ),
    );
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(0);
    assert_eq!(column(&db, "SELECT count(*) FROM big"), [rows.to_string()]);
    assert_eq!(applied_versions(&db), ["001"]);
    // An error near the end of a large statement points at its line.
    project.file(
        "002_bad.sql",
        &format!(
            "INSERT INTO big VALUES\n{},\n(nope, 'x');\n",
            values.join(",\n")
        ),
    );
    let run = Run::of(project.cmd(&db).arg("up"));
    assert_ne!(run.code, 0);
    let line = rows + 2;
    assert!(
        run.stderr.contains(&format!("002_bad.sql:{line}:2")),
        "{}",
        run.stderr
    );
    assert_eq!(column(&db, "SELECT count(*) FROM big"), [rows.to_string()]);
    assert_eq!(applied_versions(&db), ["001"]);
}

/// A transactional migration's `SET search_path` (or `SET ROLE`, a
/// `set_config`) ends with it, as under psql, where each file has a session
/// of its own: the next migration's tables land where its own text says.
#[test]
fn a_migrations_session_settings_do_not_reach_the_next_one() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file(
            "001_elsewhere.sql",
            "CREATE SCHEMA IF NOT EXISTS elsewhere;\nSET search_path = elsewhere;\n\
             CREATE TABLE moved (id int);\n\
             SELECT set_config('statement_timeout', '1ms', false);\n",
        )
        .file(
            "002_plain.sql",
            "CREATE TABLE plain (id int);\nSELECT pg_sleep(0.05);\n",
        );
    Run::of(project.cmd(&db).args(["up", "--no-lint"])).assert_code(0);
    assert_eq!(
        column(
            &db,
            "SELECT schemaname || '.' || tablename FROM pg_tables \
             WHERE tablename IN ('moved', 'plain') ORDER BY tablename"
        ),
        ["elsewhere.moved", "public.plain"]
    );
}
