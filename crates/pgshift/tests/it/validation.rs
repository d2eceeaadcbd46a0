//! Malformed folders are refused before anything connects: the tests point
//! pgshift at a dead port, so reaching the database would exit 4, not 3.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

fn refused(files: &[(&str, &[u8])]) -> (Project, Run) {
    let project = Project::new();
    project.file("001_fine.sql", "SELECT 1;\n");
    for (name, bytes) in files {
        std::fs::write(project.migrations().join(name), bytes).unwrap();
    }
    let run = Run::of(
        project
            .bare()
            .args(["--database-url", &dead_url("pw"), "up"]),
    );
    (project, run)
}

#[test]
fn malformed_file_names_are_refused_before_connecting() {
    for (name, expected) in [
        (
            "1-init.sql",
            "1-init.sql`: expected `NNN_description.sql`: the version must be followed by `_`",
        ),
        (
            "002_.sql",
            "002_.sql`: expected `NNN_description.sql`: the description after the version is empty",
        ),
        (
            "rollback_009.sql",
            "rollback_009.sql` rolls back migration 009, but there is no `009_*.sql`",
        ),
        (
            "rollback-1.sql",
            "rollback-1.sql`: expected `rollback_NNN.sql`",
        ),
    ] {
        let (_project, run) = refused(&[(name, b"SELECT 1;")]);
        run.assert_code(3);
        assert!(run.stderr.contains(expected), "{name}: {}", run.stderr);
    }
}

#[test]
fn a_version_used_twice_is_refused() {
    let (_project, run) = refused(&[("002_a.sql", b"SELECT 1;"), ("0002_b.sql", b"SELECT 2;")]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("version 0002 is used twice"),
        "{}",
        run.stderr
    );
}

#[test]
fn non_utf8_is_refused_with_the_byte_offset() {
    let (_project, run) = refused(&[("002_latin1.sql", b"SELECT 'caf\xe9';")]);
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("002_latin1.sql` is not valid UTF-8 (first bad byte at offset 11)"),
        "{}",
        run.stderr
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let (_project, run) = refused(&[("1-init.sql", b""), ("002_.sql", b"")]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("1-init.sql") && run.stderr.contains("002_.sql"),
        "{}",
        run.stderr
    );
}

#[test]
fn commit_in_the_middle_is_refused_with_file_and_line() {
    let project = Project::new();
    project.file(
        "001_split.sql",
        "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\n",
    );
    let run = Run::of(
        project
            .bare()
            .args(["--database-url", &dead_url("pw"), "up"]),
    );
    run.assert_code(3);
    assert!(
        run.stderr.contains("001_split.sql:1:1") || run.stderr.contains("001_split.sql:3:1"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!(run.block(&project));
}

#[test]
fn unknown_meta_commands_are_refused_with_file_and_line() {
    let project = Project::new();
    project.file("001_meta.sql", "SELECT 1;\n\\copy t from 'x.csv'\n");
    let run = Run::of(
        project
            .bare()
            .args(["--database-url", &dead_url("pw"), "up"]),
    );
    run.assert_code(3);
    assert!(run.stderr.contains("001_meta.sql:2:1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unsupported psql command `\\copy`"),
        "{}",
        run.stderr
    );
}

#[test]
fn transaction_control_is_not_confused_by_function_bodies() {
    // BEGIN inside DO and BEGIN ATOMIC are not transaction control.
    let project = Project::new();
    project.file(
        "001_bodies.sql",
        "DO $$ BEGIN PERFORM 1; END $$;\n\
         CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n",
    );
    let run = Run::of(
        project
            .bare()
            .args(["--database-url", &dead_url("pw"), "up"]),
    );
    // Validation passes, so the run gets as far as connecting, and the only
    // complaint is the connection.
    run.assert_code(4);
    assert!(
        run.stderr.contains("cannot reach") && run.stderr.contains("connection refused"),
        "{}",
        run.all()
    );
    assert!(!run.stderr.contains("001_bodies.sql"), "{}", run.all());

    // The same harness does refuse real transaction control before
    // connecting, so the exit 4 above is not merely "never validated".
    project.file("002_commit.sql", "SELECT 1;\nCOMMIT;\n");
    let refused = Run::of(
        project
            .bare()
            .args(["--database-url", &dead_url("pw"), "up"]),
    );
    refused.assert_code(3);
    assert!(
        refused.stderr.contains("002_commit.sql:2:1") && !refused.stderr.contains("cannot reach"),
        "{}",
        refused.all()
    );
}

/// The function bodies above run as written once a server is there.
#[test]
fn function_bodies_with_begin_apply() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_bodies.sql",
        "CREATE TABLE ran (x int);\n\
         DO $$ BEGIN INSERT INTO ran VALUES (1); END $$;\n\
         CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n",
    );
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    assert_eq!(column(&db, "SELECT x::text FROM ran"), ["1"]);
    assert_eq!(column(&db, "SELECT f()::text"), ["1"]);
}

#[test]
fn a_missing_folder_says_how_to_fix_it() {
    let project = Project::new();
    let run = Run::of(project.bare().args([
        "--dir",
        "nope",
        "--database-url",
        &dead_url("pw"),
        "status",
    ]));
    run.assert_code(3);
    assert!(
        run.stderr.contains("migration folder `nope` not found"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_config_key_is_an_error() {
    let project = Project::new();
    std::fs::write(project.path().join("pgshift.toml"), "tabel = \"x\"\n").unwrap();
    let run = Run::of(project.bare().arg("status"));
    run.assert_code(3);
    assert!(run.stderr.contains("tabel"), "{}", run.stderr);
}

#[test]
fn bad_flags_exit_with_usage() {
    let project = Project::new();
    Run::of(project.bare().args(["up", "--frobnicate"])).assert_code(2);
    let run = Run::of(project.bare().args(["--lock-wait", "soon", "status"]));
    run.assert_code(3);
    assert!(
        run.stderr.contains("invalid lock wait `soon`"),
        "{}",
        run.stderr
    );
}

/// Issue 11: an unterminated nested comment swallowed the rest of the file;
/// `up` applied only the first statement, recorded the migration and exited 0.
#[test]
fn issue_11_unclosed_comment_is_refused_and_the_database_is_untouched() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project.file(
        "001_tables.sql",
        "CREATE TABLE a (i int);\n/* see /* old note */\nCREATE TABLE b (i int);\n",
    );
    let run = Run::of(project.cmd(&db).arg("up"));
    run.assert_code(3);
    assert!(
        run.stderr.contains("migration_scripts/001_tables.sql:2:1"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!(run.block(&project));
    assert!(!exists(&db, "a") && !exists(&db, "b"));
    assert!(
        !exists(&db, "schema_migrations"),
        "no tracking table either"
    );

    // Every command that reads the folder refuses it the same way.
    for args in [
        &["up", "--dry-run"][..],
        &["status"],
        &["verify"],
        &["lint"],
    ] {
        let run = Run::of(project.cmd(&db).args(args));
        run.assert_code(3);
        assert!(
            run.stderr
                .contains("unterminated block comment: `/*` is never closed by `*/`"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert!(!exists(&db, "schema_migrations"));
}

#[test]
fn text_psql_would_send_differently_is_refused_with_file_and_line() {
    for (text, at, message) in [
        (
            "SELECT 1;\nSELECT E'it\\'s;\n",
            "2:8",
            "unterminated escape string: `E'`",
        ),
        (
            "SELECT 1;\nDO $f$ BEGIN END $$;\n",
            "2:4",
            "unterminated dollar quote: `$f$`",
        ),
        (
            "CREATE SCHEMA :\"name\";\n",
            "1:15",
            "psql variable `:\"name\"` would be sent as written",
        ),
        (
            "SELECT 1\\; COMMIT\\; VACUUM;\n",
            "1:9",
            "`\\;` joins statements into one query in psql",
        ),
        (
            "SET standard_conforming_strings = off;\nSELECT 'a\\\\b\\'cd';\n",
            "1:1",
            "turning standard_conforming_strings off changes how the rest of the file is read",
        ),
        (
            "SELECT 1;\nSELECT '\0';\n",
            "2:9",
            "the file contains a NUL byte",
        ),
        (
            "COPY t (a) FROM stdin;\n1\n\\.\n",
            "1:1",
            "`COPY … FROM STDIN` reads its data from the lines after it",
        ),
    ] {
        let (_project, run) = refused(&[("002_psql.sql", text.as_bytes())]);
        run.assert_code(3);
        assert!(
            run.stderr.contains(&format!("002_psql.sql:{at}")) && run.stderr.contains(message),
            "{text:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn migration_names_that_are_not_regular_files_are_refused() {
    let project = Project::new();
    project.file("001_fine.sql", "SELECT 1;\n");
    let dir = project.migrations();
    std::fs::create_dir(dir.join("002_dir.sql")).unwrap();
    std::os::unix::fs::symlink(dir.join("gone.sql"), dir.join("003_dangling.sql")).unwrap();
    nix::unistd::mkfifo(&dir.join("004_fifo.sql"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let run = Run::of(
        project
            .bare()
            .args(["--database-url", &dead_url("pw"), "up"]),
    );
    run.assert_code(3);
    for expected in [
        "002_dir.sql` is a directory, not a regular file",
        "003_dangling.sql` is a symbolic link that cannot be followed",
        "004_fifo.sql` is a named pipe (FIFO), not a regular file",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
}
