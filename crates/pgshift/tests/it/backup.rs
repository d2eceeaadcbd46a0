//! `--backup`, `pgshift backup` and `pgshift restore` with the real
//! pg_dump and pg_restore.

use crate::common::*;
use pgshift_test_support::{cluster, test_db_or_skip, TestDb};
use std::path::{Path, PathBuf};

fn project() -> Project {
    let project = Project::new();
    project
        .file(
            "001_users.sql",
            "CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text NOT NULL);\n",
        )
        .file("rollback_001.sql", "DROP TABLE IF EXISTS users;\n");
    project
}

/// The `.dump` files in `dir`.
fn dumps(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.extension().is_some_and(|e| e == "dump"));
    found.sort();
    found
}

/// A stand-in for pg_dump: prints `version` for --version, else fails.
fn fake_pg_dump(project: &Project, version: &str) -> PathBuf {
    let path = project.path().join("fake_pg_dump");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) {version}'; exit 0; fi\n\
             echo 'pg_dump: error: could not write to output file: No space left on device' >&2\nexit 1\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Applies the project's migrations, inserts `rows` into `users`, backs
/// up with `pgshift backup`, and returns the backup file.
fn migrated_and_backed_up(db: &TestDb, project: &Project, rows: &str) -> PathBuf {
    Run::of(project.cmd(db).arg("up")).assert_code(0);
    db.client()
        .batch_execute(&format!("INSERT INTO users VALUES {rows}"))
        .unwrap();
    Run::of(project.cmd(db).arg("backup")).assert_code(0);
    dumps(&project.path().join("backups")).remove(0)
}

fn pg_restore_list(file: &Path) -> String {
    let output = std::process::Command::new("pg_restore")
        .arg("--list")
        .arg(file)
        .output()
        .expect("run pg_restore");
    assert!(
        output.status.success(),
        "pg_restore --list failed: {output:?}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Drops a database created by a test.
struct Dropped(String);

impl Drop for Dropped {
    fn drop(&mut self) {
        if let Ok(mut admin) =
            postgres::Client::connect(&cluster().url("postgres"), postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.0
            ));
        }
    }
}

fn query(url: &str, sql: &str) -> Vec<String> {
    postgres::Client::connect(url, postgres::NoTls)
        .expect("connect")
        .simple_query(sql)
        .expect("query")
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").into()),
            _ => None,
        })
        .collect()
}

const USERS: &str = "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM users";
const COLUMNS: &str =
    "SELECT string_agg(table_name || '.' || column_name || ' ' || data_type, ',' \
                       ORDER BY table_name, ordinal_position) FROM information_schema.columns \
                       WHERE table_schema = 'public'";

#[test]
fn up_with_backup_writes_a_restorable_dump_first() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    db.client()
        .batch_execute("INSERT INTO users VALUES (1, 'ada'), (2, 'grace')")
        .unwrap();
    project.file(
        "002_more.sql",
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS email text;\n",
    );
    let run = Run::of(project.cmd(&db).args(["up", "--backup"]));
    run.assert_code(0);
    assert!(run.stderr.contains("backed up"), "{}", run.all());
    let files = dumps(&project.path().join("backups"));
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    let pattern =
        regex::Regex::new(&format!(r"^{}-\d{{8}}T\d{{6}}Z-v001\.dump$", db.name())).unwrap();
    assert!(pattern.is_match(&name), "{name}");
    let list = pg_restore_list(&files[0]);
    assert!(list.contains("TABLE public users"), "{list}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "backups are private to their owner");
    assert_eq!(applied_versions(&db), ["001", "002"]);
    assert_eq!(
        column(&db, "SELECT action || ':' || coalesce(version, '') FROM schema_migrations_audit ORDER BY id"),
        ["apply:001", "backup:001", "apply:002"]
    );
    // Nothing pending: no backup is taken.
    Run::of(project.cmd(&db).args(["up", "--backup"])).assert_code(0);
    assert_eq!(dumps(&project.path().join("backups")).len(), 1);
}

#[test]
fn a_failing_backup_stops_everything() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    let fake = fake_pg_dump(&project, "99.1");
    let run = Run::of(
        project
            .cmd(&db)
            .env("PGSHIFT_PG_DUMP", &fake)
            .args(["up", "--backup=out"]),
    );
    run.assert_code(9);
    assert!(run.stderr.contains("pg_dump failed"), "{}", run.all());
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.all()
    );
    assert!(applied_versions(&db).is_empty());
    assert!(!exists(&db, "users"));
    assert!(dumps(&project.path().join("out")).is_empty());
    assert!(
        std::fs::read_dir(project.path().join("out"))
            .unwrap()
            .next()
            .is_none(),
        "no partial file is left"
    );
    assert_eq!(
        column(
            &db,
            "SELECT action || ':' || outcome FROM schema_migrations_audit"
        ),
        ["backup:failed"]
    );

    // The same for a rollback.
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let run = Run::of(
        project
            .cmd(&db)
            .env("PGSHIFT_PG_DUMP", &fake)
            .args(["rollback", "--yes", "--backup"]),
    );
    run.assert_code(9);
    assert_eq!(applied_versions(&db), ["001"]);
}

#[test]
fn a_pg_dump_older_than_the_server_names_the_version_needed() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    let fake = fake_pg_dump(&project, "9.6.24");
    let run = Run::of(
        project
            .cmd(&db)
            .env("PGSHIFT_PG_DUMP", &fake)
            .args(["up", "--backup"]),
    );
    run.assert_code(9);
    assert!(
        run.stderr.contains("pg_dump 9.6.24")
            && run.stderr.contains("pg_dump 15 or newer is needed"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("PGSHIFT_PG_DUMP"), "{}", run.all());
    assert!(applied_versions(&db).is_empty());
}

#[test]
fn backup_restores_into_a_new_database_with_the_same_schema_and_rows() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    db.client()
        .batch_execute("INSERT INTO users VALUES (1, 'ada'), (2, 'grace'), (3, 'edsger')")
        .unwrap();
    let run = Run::of(
        project
            .cmd(&db)
            .args(["--json", "backup", "--backup-dir", "saved"]),
    );
    run.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let file = PathBuf::from(json["backup"]["path"].as_str().unwrap());
    let file = project.path().join(file);
    assert!(file.is_file(), "{}", file.display());
    assert_eq!(json["backup"]["version"], "001");

    let copy = format!("{}_restored x=1", db.name());
    let _cleanup = Dropped(copy.clone());
    let run = Run::of(
        project
            .cmd(&db)
            .args(["restore", file.to_str().unwrap(), "--into", &copy]),
    );
    run.assert_code(0);
    assert!(run.stdout.contains("(created)"), "{}", run.all());
    let copy_url = cluster().url(&copy);
    assert_eq!(query(&copy_url, USERS), query(db.url(), USERS));
    assert_eq!(query(&copy_url, USERS), ["1:ada,2:grace,3:edsger"]);
    assert_eq!(query(&copy_url, COLUMNS), query(db.url(), COLUMNS));
    assert_eq!(
        query(&copy_url, "SELECT version FROM schema_migrations"),
        ["001"]
    );
    assert_eq!(
        query(
            &copy_url,
            "SELECT action FROM schema_migrations_audit ORDER BY id DESC LIMIT 1"
        ),
        ["restore"]
    );

    // Again into the same name: refused, the copy stays as it is.
    let run = Run::of(
        project
            .cmd(&db)
            .args(["restore", file.to_str().unwrap(), "--into", &copy]),
    );
    run.assert_code(9);
    assert!(run.stderr.contains("already exists"), "{}", run.all());
    assert_eq!(query(&copy_url, USERS), ["1:ada,2:grace,3:edsger"]);

    // A file that is not a backup.
    std::fs::write(project.path().join("junk.dump"), "not a dump").unwrap();
    let run = Run::of(
        project
            .cmd(&db)
            .args(["restore", "junk.dump", "--into", "never_made"]),
    );
    run.assert_code(9);
    assert!(
        run.stderr.contains("not a pg_dump custom-format archive"),
        "{}",
        run.all()
    );
}

#[test]
fn restore_into_the_configured_database_asks_then_replaces_everything_in_the_backup() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    let file = migrated_and_backed_up(&db, &project, "(1, 'ada'), (2, 'grace')");
    // Things go wrong after the backup.
    db.client()
        .batch_execute("DELETE FROM users WHERE id = 1; INSERT INTO users VALUES (9, 'mallory')")
        .unwrap();

    let run = Run::of(project.cmd(&db).args(["restore", file.to_str().unwrap()]));
    run.assert_code(6);
    assert!(run.stderr.contains("--yes"), "{}", run.all());
    assert_eq!(column(&db, USERS), ["2:grace,9:mallory"]);

    let run = Run::of(
        project
            .cmd(&db)
            .args(["restore", file.to_str().unwrap(), "--yes"]),
    );
    run.assert_code(0);
    assert_eq!(column(&db, USERS), ["1:ada,2:grace"]);
    assert_eq!(applied_versions(&db), ["001"]);
    // The restore is in the audit trail, written after the restore.
    assert_eq!(
        column(
            &db,
            "SELECT action || ':' || version FROM schema_migrations_audit ORDER BY id DESC LIMIT 1"
        ),
        ["restore:001"]
    );
}

#[test]
fn the_password_reaches_pg_dump_through_the_environment_only() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    let secret = "s3cret-Pw-4711";
    let url = db
        .url()
        .replacen("postgres@", &format!("postgres:{secret}@"), 1);
    assert!(url.contains(secret));
    // Records its arguments and PGPASSWORD, then runs the real pg_dump.
    let wrapper = project.path().join("pg_dump_wrapper");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then exec pg_dump --version; fi\n\
         dir=$(dirname \"$0\")\necho \"$@\" > \"$dir/argv\"\nprintf '%s' \"$PGPASSWORD\" > \"$dir/password\"\n\
         exec pg_dump \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = Run::of(
        project
            .bare()
            .arg("--database-url")
            .arg(&url)
            .env("PGSHIFT_PG_DUMP", &wrapper)
            // Inherited libpq settings must not reach pg_dump.
            .env("PGSERVICE", "does_not_exist")
            .env("PGHOST", "/nonexistent")
            .env("PGDATABASE", "wrong")
            .args(["up", "--backup"]),
    );
    run.assert_code(0);
    assert!(!run.all().contains(secret), "{}", run.all());
    let argv = std::fs::read_to_string(project.path().join("argv")).unwrap();
    assert!(!argv.contains(secret), "{argv}");
    assert_eq!(
        std::fs::read_to_string(project.path().join("password")).unwrap(),
        secret
    );
    assert_eq!(dumps(&project.path().join("backups")).len(), 1);
}

#[test]
fn redo_with_backup_dumps_before_the_rollback() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    db.client()
        .batch_execute("INSERT INTO users VALUES (1, 'ada')")
        .unwrap();
    let run = Run::of(
        project
            .cmd(&db)
            .args(["redo", "--yes", "--backup=before-redo"]),
    );
    run.assert_code(0);
    let files = dumps(&project.path().join("before-redo"));
    assert_eq!(files.len(), 1, "{}", run.all());
    // The backup still has the row the rollback dropped.
    let list = pg_restore_list(&files[0]);
    assert!(list.contains("TABLE DATA public users"), "{list}");
    assert_eq!(column(&db, "SELECT count(*) FROM users"), ["0"]);
    assert_eq!(
        column(
            &db,
            "SELECT action FROM schema_migrations_audit ORDER BY id"
        ),
        ["apply", "backup", "rollback", "apply"]
    );
}

/// `pg_dump --schema-only --no-owner` of `url`, without the random-keyed
/// `\restrict` lines of pg_dump 15.14+.
fn schema_only(url: &str) -> String {
    let mut cmd = std::process::Command::new("pg_dump");
    for var in [
        "PGHOST",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGPASSWORD",
        "PGSERVICE",
    ] {
        cmd.env_remove(var);
    }
    let output = cmd
        .args(["--schema-only", "--no-owner", "-d", url])
        .output()
        .expect("run pg_dump");
    assert!(output.status.success(), "pg_dump failed: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Every table's row count, exact.
fn row_counts(url: &str) -> Vec<String> {
    let tables = query(
        url,
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    );
    tables
        .iter()
        .map(|t| {
            format!(
                "{t}={}",
                query(url, &format!("SELECT count(*) FROM {t}"))[0]
            )
        })
        .collect()
}

/// The User Management database with its seed data survives a backup and
/// a restore into a new database: same schema, same row counts.
#[test]
fn the_project_database_with_seed_data_restores_identically() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migration_scripts");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, project.migrations().join(path.file_name().unwrap())).unwrap();
        }
    }
    Run::of(project.cmd(&db).arg("up")).assert_code(0);
    let seed = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.url(), "-f"])
        .arg(project.migrations().join("seed_data.sql"))
        .env_remove("PGDATABASE")
        // The seed runs only where the database says development or test.
        .env("PGOPTIONS", "-c app.environment=test")
        .output()
        .expect("run psql");
    assert!(seed.status.success(), "seed failed: {seed:?}");
    let counts = row_counts(db.url());
    assert!(
        counts
            .iter()
            .any(|c| c.starts_with("public.users=") && !c.ends_with("=0")),
        "{counts:?}"
    );

    let run = Run::of(project.cmd(&db).args(["--json", "backup"]));
    run.assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let file = project
        .path()
        .join(json["backup"]["path"].as_str().unwrap());
    assert_eq!(json["backup"]["version"], "004");

    let copy = format!("{}_project", db.name());
    let _cleanup = Dropped(copy.clone());
    Run::of(
        project
            .cmd(&db)
            .args(["restore", file.to_str().unwrap(), "--into", &copy]),
    )
    .assert_code(0);
    let copy_url = cluster().url(&copy);
    assert_eq!(schema_only(&copy_url), schema_only(db.url()));
    // The restore adds one audit row to the copy; everything else is equal.
    let audit = "public.schema_migrations_audit=";
    let without_audit = |counts: Vec<String>| -> Vec<String> {
        counts
            .into_iter()
            .filter(|c| !c.starts_with(audit))
            .collect()
    };
    assert_eq!(
        without_audit(row_counts(&copy_url)),
        without_audit(counts.clone())
    );
    Run::of(
        project
            .bare()
            .arg("--database-url")
            .arg(&copy_url)
            .arg("verify"),
    )
    .assert_code(0);

    // Into the configured database: a schema with functions, triggers and
    // foreign keys is dropped and recreated in one transaction.
    let schema = schema_only(db.url());
    db.client().batch_execute("TRUNCATE users CASCADE").unwrap();
    Run::of(
        project
            .cmd(&db)
            .args(["restore", file.to_str().unwrap(), "--yes"]),
    )
    .assert_code(0);
    assert_eq!(schema_only(db.url()), schema);
    assert_eq!(without_audit(row_counts(db.url())), without_audit(counts));
    Run::of(project.cmd(&db).arg("verify")).assert_code(0);
    Run::of(project.cmd(&db).arg("check")).assert_code(0);
}

/// Runs `pgshift ARGS` on a pseudo-terminal (util-linux `script`), typing
/// `answer`; returns the exit code and everything shown on the terminal.
fn on_terminal(project: &Project, args: &[&str], answer: &str) -> (i32, String) {
    use std::io::Write;
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = quote(
        &assert_cmd::cargo::cargo_bin("pgshift")
            .display()
            .to_string(),
    );
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    let mut child = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .env("HOME", project.path())
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGDATABASE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{answer}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).replace('\r', ""),
    )
}

#[test]
fn the_restore_confirmation_shows_what_is_replaced_with_row_counts() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    let file = migrated_and_backed_up(&db, &project, "(1, 'ada'), (2, 'grace')");
    let file = file.to_str().unwrap();
    db.client()
        .batch_execute(
            "INSERT INTO users VALUES (3, 'edsger'); CREATE TABLE later (id int); INSERT INTO later VALUES (1)",
        )
        .unwrap();

    let (code, screen) = on_terminal(
        &project,
        &["--database-url", db.url(), "restore", file],
        "no",
    );
    assert_eq!(code, 6, "{screen}");
    assert!(
        screen.contains(&format!("a backup of database {}", db.name())),
        "{screen}"
    );
    assert!(
        screen.contains("replace  public.users — 3 row(s) now, replaced by the backup's"),
        "{screen}"
    );
    assert!(
        screen.contains("keep     public.later — 1 row(s), not in the backup: left as it is"),
        "{screen}"
    );
    assert!(
        screen.contains("Restore cancelled; nothing was changed."),
        "{screen}"
    );
    assert_eq!(column(&db, USERS), ["1:ada,2:grace,3:edsger"]);

    let (code, screen) = on_terminal(
        &project,
        &["--database-url", db.url(), "restore", file],
        "yes",
    );
    assert_eq!(code, 0, "{screen}");
    assert_eq!(column(&db, USERS), ["1:ada,2:grace"]);
    assert!(exists(&db, "later"), "tables the backup lacks stay");
}

#[test]
fn a_restore_blocked_by_another_session_fails_instead_of_waiting() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    let file = migrated_and_backed_up(&db, &project, "(1, 'ada')");
    db.client()
        .batch_execute("INSERT INTO users VALUES (2, 'grace')")
        .unwrap();
    // An application reading users in an open transaction.
    let mut reader = db.client();
    reader
        .batch_execute("BEGIN; SELECT count(*) FROM users")
        .unwrap();
    let run = Run::of(project.cmd(&db).args([
        "--lock-timeout",
        "200ms",
        "restore",
        file.to_str().unwrap(),
        "--yes",
    ]));
    run.assert_code(9);
    assert!(
        run.stderr
            .contains("other sessions use tables the restore replaces")
            && run.stderr.contains("idle in transaction) on users"),
        "{}",
        run.all()
    );
    reader.batch_execute("COMMIT").unwrap();
    assert_eq!(
        column(&db, USERS),
        ["1:ada,2:grace"],
        "nothing was restored"
    );
    Run::of(
        project
            .cmd(&db)
            .args(["restore", file.to_str().unwrap(), "--yes"]),
    )
    .assert_code(0);
    assert_eq!(column(&db, USERS), ["1:ada"]);
}

#[test]
fn a_restore_of_a_missing_or_foreign_file_says_so_before_anything_else() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = project();
    std::fs::write(project.path().join("notes.txt"), "not a backup\n").unwrap();
    for (file, says) in [
        ("missing.dump", "no such file"),
        ("notes.txt", "is not a pg_dump custom-format archive"),
    ] {
        // No --yes and no terminal: the file is checked before the
        // confirmation would be refused, and nothing is announced.
        let run = Run::of(project.cmd(&db).args(["restore", file]));
        run.assert_code(9);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(!run.stderr.contains("restoring"), "{}", run.stderr);
    }
}
