//! `pgshift dump` and `pgshift diff` against real databases.

use crate::common::*;
use pgshift_test_support::test_db_or_skip;

const SCHEMA: &str = "
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE users (
    id serial PRIMARY KEY,
    email varchar(255) NOT NULL UNIQUE,
    mood mood DEFAULT 'happy'
);
CREATE INDEX users_mood_idx ON users (mood);
CREATE VIEW happy_users AS SELECT id, email FROM users WHERE mood = 'happy';
CREATE FUNCTION user_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM users';
COMMENT ON TABLE users IS 'people';
";

#[test]
fn dump_output_loads_into_an_empty_database() {
    let Some(source) = test_db_or_skip!() else {
        return;
    };
    let Some(target) = test_db_or_skip!() else {
        return;
    };
    let project = Project::new();
    project.file("001_schema.sql", SCHEMA);
    Run::of(project.cmd(&source).arg("up")).assert_code(0);

    let dump = Run::of(project.cmd(&source).arg("dump"));
    dump.assert_code(0);
    // Every kind of object in SCHEMA is in the SQL, not just the table.
    for expected in [
        "CREATE TYPE public.mood AS ENUM ('sad', 'happy');",
        "CREATE TABLE public.users",
        "email character varying(255) NOT NULL",
        "ALTER TABLE public.users ADD CONSTRAINT users_email_key UNIQUE (email);",
        "ALTER COLUMN mood SET DEFAULT 'happy'::public.mood;",
        "CREATE INDEX users_mood_idx ON public.users USING btree (mood);",
        "CREATE VIEW public.happy_users AS",
        "FUNCTION public.user_count()\n RETURNS bigint",
        "COMMENT ON TABLE public.users IS 'people';",
    ] {
        assert!(
            dump.stdout.contains(expected),
            "missing `{expected}`:\n{}",
            dump.stdout
        );
    }
    assert!(
        !dump.stdout.contains("schema_migrations"),
        "the tracking table is left out: {}",
        dump.stdout
    );
    target
        .client()
        .batch_execute(&dump.stdout)
        .unwrap_or_else(|e| panic!("load dump: {e}\n{}", dump.stdout));

    // The loaded database dumps the same, and diff finds nothing.
    let again = Run::of(project.cmd(&target).arg("dump"));
    again.assert_code(0);
    assert_eq!(dump.stdout, again.stdout);
    Run::of(project.bare().args(["diff", source.url(), target.url()])).assert_code(0);

    let json = Run::of(project.cmd(&source).args(["dump", "--format", "json"]));
    json.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["tables"]["public.users"]["comment"], "people");

    let with = Run::of(project.cmd(&source).args(["dump", "--include-tracking"]));
    with.assert_code(0);
    assert!(
        with.stdout.contains("public.schema_migrations"),
        "{}",
        with.stdout
    );
}

#[test]
fn diff_exits_7_and_names_each_difference() {
    let Some(a) = test_db_or_skip!() else { return };
    let Some(b) = test_db_or_skip!() else { return };
    a.client().batch_execute(SCHEMA).unwrap();
    b.client()
        .batch_execute(&format!(
            "{SCHEMA}
            DROP VIEW happy_users;
            ALTER TABLE users ALTER email TYPE text;
            ALTER TABLE users ADD COLUMN avatar text;
            DROP INDEX users_mood_idx;
            CREATE INDEX users_mood_idx ON users (mood) WHERE mood IS NOT NULL;
            CREATE OR REPLACE FUNCTION user_count() RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';"
        ))
        .unwrap();
    let project = Project::new();

    let same = Run::of(project.bare().args(["diff", a.url(), a.url()]));
    same.assert_code(0);
    insta::assert_snapshot!("diff_identical", same.block(&project));

    let run = Run::of(project.bare().args(["diff", a.url(), b.url()]));
    run.assert_code(7);
    insta::assert_snapshot!("diff_differs", run.block(&project));

    let json = Run::of(project.bare().args(["diff", a.url(), b.url(), "--json"]));
    json.assert_code(7);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["identical"], false);
    assert_eq!(value["changes"][0]["change"], "added");
    assert_eq!(value["changes"][0]["object"]["kind"], "column");
}

#[test]
fn diff_of_an_unreachable_database_is_a_connection_error() {
    let Some(a) = test_db_or_skip!() else { return };
    let project = Project::new();
    let run = Run::of(project.bare().args([
        "diff",
        a.url(),
        "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2",
    ]));
    run.assert_code(4);
}

#[test]
fn privileges_count_only_with_the_flag() {
    let Some(a) = test_db_or_skip!() else { return };
    let Some(b) = test_db_or_skip!() else { return };
    a.client().batch_execute(SCHEMA).unwrap();
    b.client().batch_execute(SCHEMA).unwrap();
    b.client()
        .batch_execute("REVOKE EXECUTE ON FUNCTION user_count() FROM PUBLIC")
        .unwrap();
    let project = Project::new();
    Run::of(project.bare().args(["diff", a.url(), b.url()])).assert_code(0);
    let run = Run::of(
        project
            .bare()
            .args(["diff", "--include-privileges", a.url(), b.url()]),
    );
    run.assert_code(7);
    assert!(
        run.stdout
            .contains("~ function user_count(): grants EXECUTE TO PUBLIC → (none)"),
        "{}",
        run.all()
    );
    let dump = Run::of(project.cmd(&a).args(["dump", "--include-privileges"]));
    dump.assert_code(0);
    assert!(
        dump.stdout
            .contains("GRANT EXECUTE ON FUNCTION public.user_count() TO PUBLIC;"),
        "{}",
        dump.stdout
    );
}

/// Issue 11: `dump` reads a database's schema and needs no migration folder.
#[test]
fn dump_needs_no_migration_folder() {
    let Some(db) = test_db_or_skip!() else { return };
    db.client().batch_execute(SCHEMA).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let dump = Run::of(
        assert_cmd::Command::cargo_bin("pgshift")
            .unwrap()
            .current_dir(empty.path())
            .env("NO_COLOR", "1")
            .args(["--database-url", db.url(), "dump"]),
    );
    dump.assert_code(0);
    assert!(
        dump.stdout.contains("CREATE TABLE public.users"),
        "{}",
        dump.stdout
    );
}
