//! The tracking table is trusted only as far as it can be: rows without a
//! checksum are unverified, and a table of another shape (another tool's
//! `schema_migrations`, or one altered by hand) is refused before anything
//! runs, never a panic.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

/// Rows as plain psql writes them: no checksum.
fn record_with_psql(db: &pgshift_test_support::TestDb, versions: &[&str]) {
    let mut client = db.client();
    client
        .batch_execute(&pgshift_core::history::TrackingTable::default().create_sql())
        .unwrap();
    for v in versions {
        client
            .execute(
                "INSERT INTO schema_migrations (version, description) VALUES ($1, 'by psql')",
                &[v],
            )
            .unwrap();
    }
}

#[test]
fn rows_without_checksum_are_unverified_until_accepted() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file("001_a.sql", "CREATE TABLE a (id int);\n")
        .file("002_b.sql", "CREATE TABLE b (id int);\n")
        .file("003_c.sql", "CREATE TABLE c (id int);\n");
    db.client()
        .batch_execute("CREATE TABLE a (id int); CREATE TABLE b (id int);")
        .unwrap();
    record_with_psql(&db, &["001", "002"]);
    // Edited after psql applied it: nothing can tell, so it is not "ok".
    project.file("001_a.sql", "CREATE TABLE a (id bigint);\n");

    let status = Run::of(project.cmd(&db).arg("status"));
    status.assert_code(0);
    assert!(status.stdout.contains("unverified"), "{}", status.stdout);
    assert!(
        status.stdout.contains("2 unverified, 1 pending"),
        "{}",
        status.stdout
    );

    let verify = Run::of(project.cmd(&db).arg("verify"));
    verify.assert_code(3);
    assert!(
        verify.stdout.contains("001 a: unverified"),
        "{}",
        verify.stdout
    );
    assert!(
        verify.stdout.contains("002 b: unverified"),
        "{}",
        verify.stdout
    );
    assert!(
        verify.stdout.contains("--all-unverified"),
        "{}",
        verify.stdout
    );

    let up = Run::of(project.cmd(&db).arg("up"));
    up.assert_code(3);
    assert!(up.stderr.contains("no recorded checksum"), "{}", up.stderr);
    assert!(up.stderr.contains("pgshift accept"), "{}", up.stderr);
    assert!(!exists(&db, "c"), "nothing ran");

    // Several versions at once; their checksums are recorded and audited.
    let accept =
        Run::of(
            project
                .cmd(&db)
                .args(["accept", "001", "002", "--reason", "compared with prod"]),
        );
    accept.assert_code(0);
    assert!(
        accept.stdout.contains("001") && accept.stdout.contains("002"),
        "{}",
        accept.stdout
    );
    assert_eq!(
        column(
            &db,
            "SELECT count(*) FROM schema_migrations WHERE checksum IS NULL"
        ),
        ["0"]
    );
    assert_eq!(
        column(
            &db,
            "SELECT count(*) FROM schema_migrations_audit WHERE action = 'accept'"
        ),
        ["2"]
    );
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    assert!(exists(&db, "c"));
}

#[test]
fn accept_all_unverified_and_the_allow_flag() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file("001_a.sql", "CREATE TABLE a (id int);\n")
        .file("002_b.sql", "CREATE TABLE b (id int);\n");
    db.client()
        .batch_execute("CREATE TABLE a (id int);")
        .unwrap();
    record_with_psql(&db, &["001"]);
    Run::of(project.cmd(&db).args(["up", "--allow-unverified"])).assert_code(0);
    assert!(exists(&db, "b"));
    // Still unverified: the flag let `up` past it, nothing more.
    Run::of(project.cmd(&db).arg("verify")).assert_code(3);
    let accept =
        Run::of(
            project
                .cmd(&db)
                .args(["accept", "--all-unverified", "--reason", "adopted"]),
        );
    accept.assert_code(0);
    assert!(
        accept.stdout.contains("Accepted the current file of 001"),
        "{}",
        accept.stdout
    );
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
    let again =
        Run::of(
            project
                .cmd(&db)
                .args(["accept", "--all-unverified", "--reason", "adopted"]),
        );
    again.assert_code(3);
    assert!(
        again.stderr.contains("nothing unverified"),
        "{}",
        again.stderr
    );
}

/// Each odd table: `status`, `up` and `rollback` refuse with exit 3 and a
/// message naming the table, what differs and whose it looks like; nothing
/// is created or run.
#[test]
fn a_tracking_table_of_another_shape_is_refused_before_anything_runs() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file("001_a.sql", "CREATE TABLE a (id int);\n")
        .file("rollback_001.sql", "DROP TABLE a;\n");
    let ours = pgshift_core::history::TrackingTable::default().create_sql();
    let cases: &[(&str, String, &[&str])] = &[
        (
            "golang-migrate",
            "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); \
             INSERT INTO schema_migrations VALUES (1, false);"
                .into(),
            &["golang-migrate", "`version` is bigint"],
        ),
        (
            "dbmate",
            "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY); \
             INSERT INTO schema_migrations VALUES ('001');"
                .into(),
            &["dbmate", "no column `description`"],
        ),
        (
            "column dropped",
            format!("{ours} ALTER TABLE schema_migrations DROP COLUMN checksum;"),
            &["altered by hand", "no column `checksum`"],
        ),
        (
            "applied_at without time zone",
            format!(
                "{ours} ALTER TABLE schema_migrations ALTER applied_at TYPE timestamp; \
                 INSERT INTO schema_migrations (version, description) VALUES ('001', 'a');"
            ),
            &["`applied_at` is timestamp without time zone"],
        ),
        (
            "NULL version",
            format!(
                "{ours} ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey; \
                 ALTER TABLE schema_migrations ALTER version DROP NOT NULL; \
                 CREATE UNIQUE INDEX ON schema_migrations (version); \
                 INSERT INTO schema_migrations (version, description) VALUES (NULL, 'a');"
            ),
            &["NULL version"],
        ),
        (
            "duplicate versions",
            format!(
                "{ours} ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey; \
                 INSERT INTO schema_migrations (version, description, checksum) VALUES \
                 ('001', 'a', NULL), ('001', 'a', NULL);"
            ),
            &["more than once: 001 and 001", "ADD PRIMARY KEY (version)"],
        ),
        (
            "1 and 001",
            format!(
                "{ours} INSERT INTO schema_migrations (version, description) VALUES \
                 ('001', 'a'), ('1', 'a');"
            ),
            &["more than once: 001 and 1"],
        ),
        (
            "primary key dropped",
            format!("{ours} ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey;"),
            &["not the primary key"],
        ),
    ];
    for (name, setup, expected) in cases {
        let mut client = db.client();
        client
            .batch_execute(
                "DROP TABLE IF EXISTS schema_migrations, schema_migrations_audit, a CASCADE",
            )
            .unwrap();
        client.batch_execute(setup).unwrap();
        let rows = column(&db, "SELECT count(*) FROM schema_migrations");
        for command in [
            &["status"][..],
            &["verify"],
            &["up"],
            &["rollback", "--yes"],
            &["accept", "--all-unverified", "--reason", "x"],
        ] {
            let run = Run::of(project.cmd(&db).args(command));
            assert_eq!(run.code, 3, "{name}: {command:?}\n{}", run.all());
            assert!(!run.stderr.contains("panicked"), "{name}: {}", run.all());
            assert!(
                run.stderr.contains(r#""public"."schema_migrations""#),
                "{name}: {command:?} names the table\n{}",
                run.stderr
            );
            for part in *expected {
                assert!(
                    run.stderr.contains(part),
                    "{name}: {command:?} says {part:?}\n{}",
                    run.stderr
                );
            }
        }
        let up = Run::of(project.cmd(&db).arg("up"));
        if !name.contains("NULL") && !name.contains("1 and") && !name.contains("duplicate") {
            assert!(up.stderr.contains("--table NAME"), "{name}: {}", up.stderr);
        }
        assert!(!exists(&db, "a"), "{name}: nothing ran");
        assert_eq!(
            column(&db, "SELECT count(*) FROM schema_migrations"),
            rows,
            "{name}: no row was added or removed (rollback deleted both duplicates)"
        );
        assert!(
            !exists(&db, "schema_migrations_audit"),
            "{name}: nothing was created next to it"
        );
    }
    // The way out: a table of pgshift's own.
    Run::of(
        project
            .cmd(&db)
            .args(["--table", "pgshift_migrations", "up"]),
    )
    .assert_code(0);
    assert!(exists(&db, "a"));
}
