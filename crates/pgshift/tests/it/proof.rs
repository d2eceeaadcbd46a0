//! `pgshift test` (migrations proven on a scratch database) and
//! `pgshift drift` (the database against its replayed migrations).

use crate::common::*;
use pgshift_test_support::{admin_url, test_db_or_skip, TestDb};
use std::path::Path;

/// `pgshift --dev-url <test cluster> <args>` in the project.
fn scratch_cmd(project: &Project, args: &[&str]) -> Run {
    Run::of(project.bare().args(args).arg("--dev-url").arg(admin_url()))
}

/// The scratch database a run used, from its progress line.
fn scratch_of(run: &Run) -> String {
    let rest = run
        .stderr
        .split("using scratch database ")
        .nth(1)
        .unwrap_or_else(|| panic!("no scratch database named:\n{}", run.stderr));
    rest.split_whitespace().next().unwrap().to_string()
}

/// The run's scratch database is gone (other tests' may exist meanwhile).
#[track_caller]
fn assert_dropped(db: &TestDb, run: &Run) {
    let name = scratch_of(run);
    assert!(
        !scratch_databases(db).contains(&name),
        "{name} was not dropped"
    );
}

/// Scratch databases currently on the test cluster.
fn scratch_databases(db: &TestDb) -> Vec<String> {
    column(
        db,
        "SELECT datname FROM pg_database WHERE datname LIKE 'pgshift\\_scratch\\_%' ORDER BY 1",
    )
}

fn copy_project_scripts(project: &Project) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migration_scripts");
    for entry in std::fs::read_dir(dir).expect("read migration_scripts") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "sql") {
            std::fs::copy(&path, project.migrations().join(path.file_name().unwrap()))
                .expect("copy");
        }
    }
}

const USERS: &str = "CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, email text);\n";
const USERS_DOWN: &str = "DROP TABLE IF EXISTS users;\n";

#[test]
fn the_projects_own_migrations_pass() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    copy_project_scripts(&project);
    let run = scratch_cmd(&project, &["test"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("4 migration(s) proven") && run.stdout.contains("seed_data.sql twice"),
        "{}",
        run.all()
    );
    // Progress per migration, on stderr.
    for version in ["[1/4] 001", "[4/4] 004", "[seed] seed_data.sql"] {
        assert!(run.stderr.contains(version), "{}", run.stderr);
    }
    assert_dropped(&db, &run);

    let json = scratch_cmd(&project, &["test", "--json"]);
    json.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["ok"], true);
    assert_eq!(value["migrations"][1]["checks"]["rollback"], "passed");
    assert_eq!(value["seed"], "passed");
    assert!(value["seed_rows"]["public.users"].as_i64().unwrap() > 0);
}

#[test]
fn a_rollback_that_forgets_an_index_is_named() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file("001_users.sql", USERS)
        .file("rollback_001.sql", USERS_DOWN)
        .file(
            "002_avatars.sql",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS avatar_url text;\n\
             CREATE INDEX IF NOT EXISTS users_avatar_idx ON users (email) WHERE avatar_url IS NULL;\n",
        )
        // Dropping the column drops the partial index too; this one is on
        // another column and stays.
        .file(
            "rollback_002.sql",
            "ALTER TABLE users DROP COLUMN IF EXISTS avatar_url;\n\
             CREATE INDEX IF NOT EXISTS users_avatar_idx ON users (email);\n",
        )
        .file(
            "003_lookup.sql",
            "CREATE INDEX IF NOT EXISTS users_email_idx ON users (email);\n",
        )
        .file("rollback_003.sql", "SELECT 1;\n");
    let run = scratch_cmd(&project, &["test"]);
    run.assert_code(7);
    assert!(
        run.stdout
            .contains("[002 rollback] rollback_002.sql leaves index users_avatar_idx behind"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("[003 rollback] rollback_003.sql leaves index users_email_idx behind"),
        "{}",
        run.all()
    );
    assert_dropped(&db, &run);
}

#[test]
fn a_forward_file_that_is_not_idempotent_is_named() {
    let Some(_db) = test_db_or_skip!() else {
        return;
    };
    let project = Project::new();
    project
        .file(
            "001_users.sql",
            "CREATE TABLE users (id int PRIMARY KEY);\n",
        )
        .file("rollback_001.sql", USERS_DOWN);
    let run = scratch_cmd(&project, &["test"]);
    run.assert_code(7);
    assert!(
        run.stdout.contains(
            "[001 idempotent] 001_users.sql is not idempotent: running it a second time fails: relation \"users\" already exists (line 1 of 001_users.sql, SQLSTATE 42P07)"
        ),
        "{}",
        run.all()
    );
    // The other checks still ran.
    let json = scratch_cmd(&project, &["test", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["migrations"][0]["checks"]["idempotent"], "failed");
    assert_eq!(value["migrations"][0]["checks"]["rollback"], "passed");
    assert_eq!(value["findings"][0]["check"], "idempotent");
}

#[test]
fn the_idempotency_rerun_can_be_switched_off_by_flag_or_config() {
    let Some(_db) = test_db_or_skip!() else {
        return;
    };
    let project = Project::new();
    // Written for a tool that never re-runs a file.
    project
        .file(
            "001_users.sql",
            "CREATE TABLE users (id int PRIMARY KEY);\n",
        )
        .file("rollback_001.sql", "DROP TABLE users;\n");
    scratch_cmd(&project, &["test"]).assert_code(7);

    let run = scratch_cmd(&project, &["test", "--no-idempotency"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains("1 migration(s) proven: apply, exact rollback, re-apply"),
        "{}",
        run.all()
    );
    assert!(!run.stdout.contains("FAIL"), "{}", run.all());
    let json = scratch_cmd(&project, &["test", "--no-idempotency", "--json"]);
    json.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["migrations"][0]["checks"]["idempotent"], "skipped");
    assert_eq!(value["migrations"][0]["checks"]["rollback"], "passed");
    assert_eq!(value["migrations"][0]["checks"]["reapply"], "passed");

    std::fs::write(
        project.path().join("pgshift.toml"),
        "[test]\nidempotent = false\n",
    )
    .unwrap();
    let run = scratch_cmd(&project, &["test", "--json"]);
    run.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["migrations"][0]["checks"]["idempotent"], "skipped");

    // `idempotent = true` keeps the default; a typo is refused.
    std::fs::write(
        project.path().join("pgshift.toml"),
        "[test]\nidempotent = true\n",
    )
    .unwrap();
    scratch_cmd(&project, &["test"]).assert_code(7);
    std::fs::write(
        project.path().join("pgshift.toml"),
        "[test]\nidempotency = false\n",
    )
    .unwrap();
    let run = scratch_cmd(&project, &["test"]);
    assert!(run.all().contains("idempotency"), "{}", run.all());
    assert_ne!(run.code, 0, "{}", run.all());
}

#[test]
fn an_irreversible_migration_skips_its_rollback_checks_and_says_so() {
    let Some(_db) = test_db_or_skip!() else {
        return;
    };
    let project = Project::new();
    project
        .file("001_users.sql", USERS)
        .file("rollback_001.sql", USERS_DOWN)
        .file(
            "002_drop_email.sql",
            "-- Description: drop email\n-- pgshift:irreversible\n-- pgshift:destructive-ok\nALTER TABLE users DROP COLUMN IF EXISTS email;\n",
        );
    let run = scratch_cmd(&project, &["test"]);
    run.assert_code(0);
    assert!(
        run.stderr.contains(
            "warning: 002 is marked `-- pgshift:irreversible`: its rollback and reapply were not tested"
        ),
        "{}",
        run.all()
    );
    assert!(!run.stderr.contains("no rollback file"), "{}", run.all());
    let json = scratch_cmd(&project, &["test", "--json"]);
    json.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["migrations"][1]["checks"]["idempotent"], "passed");
    assert_eq!(value["migrations"][1]["checks"]["rollback"], "skipped");
    assert_eq!(value["migrations"][1]["checks"]["reapply"], "skipped");
    assert_eq!(value["migrations"][0]["checks"]["rollback"], "passed");

    // Lint's missing-rollback rule accepts the marker, and the marker is a
    // known directive.
    let lint = Run::of(project.bare().args(["lint", "--json"]));
    lint.assert_code(0);
    assert!(!lint.stdout.contains("missing-rollback"), "{}", lint.all());
    assert!(!lint.stdout.contains("unknown-directive"), "{}", lint.all());
    project.file(
        "002_drop_email.sql",
        "-- Description: drop email\n-- pgshift:destructive-ok\nALTER TABLE users DROP COLUMN IF EXISTS email;\n",
    );
    let lint = Run::of(project.bare().args(["lint", "--json"]));
    assert!(lint.stdout.contains("missing-rollback"), "{}", lint.all());
}

#[test]
fn from_and_only_check_one_part_on_top_of_the_rest_applied_plainly() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        // Not idempotent and a rollback that forgets an index: both would
        // fail a full run.
        .file(
            "001_users.sql",
            "CREATE TABLE users (id int PRIMARY KEY, email text);\n",
        )
        .file("rollback_001.sql", USERS_DOWN)
        .file(
            "002_lookup.sql",
            "CREATE INDEX IF NOT EXISTS users_email_idx ON users (email);\n",
        )
        .file("rollback_002.sql", "SELECT 1;\n")
        // Needs 001 and 002 applied.
        .file(
            "003_names.sql",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS name text;\n\
             DROP INDEX IF EXISTS users_email_idx;\n",
        )
        .file(
            "rollback_003.sql",
            "CREATE INDEX IF NOT EXISTS users_email_idx ON users (email);\n\
             ALTER TABLE users DROP COLUMN IF EXISTS name;\n",
        )
        .file("004_broken.sql", "ALTER TABLE nowhere ADD COLUMN x int;\n")
        .file("rollback_004.sql", "SELECT 1;\n")
        .file("seed_data.sql", "SELECT * FROM nowhere;\n");
    scratch_cmd(&project, &["test"]).assert_code(1);

    let run = scratch_cmd(&project, &["test", "--only", "003"]);
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("applying the 2 migration(s) before 003 without checks"),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("[3/4] 003"), "{}", run.all());
    assert!(!run.stderr.contains("[1/4]"), "{}", run.all());
    // Neither 004 nor the seed ran.
    assert!(!run.stderr.contains("[4/4]"), "{}", run.all());
    assert!(!run.stderr.contains("[seed]"), "{}", run.all());
    assert!(
        run.stdout.contains("1 migration(s) proven"),
        "{}",
        run.all()
    );
    assert_dropped(&db, &run);
    let json = scratch_cmd(&project, &["test", "--only", "3", "--json"]);
    json.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let migrations = value["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), 1, "{value}");
    assert_eq!(migrations[0]["version"], "003");
    assert_eq!(migrations[0]["checks"]["rollback"], "passed");

    // --from checks 003 and everything after it: 004 fails, 001/002 are
    // not judged.
    let run = scratch_cmd(&project, &["test", "--from", "003"]);
    run.assert_code(1);
    assert!(run.stdout.contains("[004 apply]"), "{}", run.all());
    assert!(!run.stdout.contains("[001"), "{}", run.all());
    assert!(!run.stdout.contains("[002"), "{}", run.all());

    // A migration before the scope that fails stops the run, named.
    project.file(
        "005_tags.sql",
        "CREATE TABLE IF NOT EXISTS tags (id int);\n",
    );
    let run = scratch_cmd(&project, &["test", "--only", "005"]);
    run.assert_code(1);
    assert!(run.stdout.contains("[004 apply]"), "{}", run.all());
    assert!(
        run.stderr.contains("relation \"nowhere\" does not exist"),
        "{}",
        run.all()
    );
    assert_dropped(&db, &run);

    // An unknown version is refused before a scratch database is made.
    let run = scratch_cmd(&project, &["test", "--from", "999"]);
    run.assert_code(3);
    assert!(
        run.stderr
            .contains("there is no migration 999 in the migration folder"),
        "{}",
        run.all()
    );
    assert!(
        !run.stderr.contains("using scratch database"),
        "{}",
        run.all()
    );
    let run = scratch_cmd(&project, &["test", "--from", "003", "--only", "003"]);
    run.assert_code(2);
}

#[test]
fn a_rollback_that_drops_too_much_is_named() {
    let Some(_db) = test_db_or_skip!() else {
        return;
    };
    let project = Project::new();
    project
        .file("001_users.sql", USERS)
        .file("rollback_001.sql", USERS_DOWN)
        .file(
            "002_profiles.sql",
            "CREATE TABLE IF NOT EXISTS profiles (user_id int REFERENCES users);\n",
        )
        .file(
            "rollback_002.sql",
            "DROP TABLE IF EXISTS profiles;\nDROP TABLE IF EXISTS users;\n",
        );
    let run = scratch_cmd(&project, &["test"]);
    // Re-applying 002 then fails (users is gone): a migration failure.
    run.assert_code(1);
    assert!(
        run.stdout.contains(
            "[002 rollback] rollback_002.sql drops too much: table users existed before 002 was applied"
        ),
        "{}",
        run.all()
    );
}

#[test]
fn a_migration_that_fails_stops_the_run_with_exit_1() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file("001_users.sql", USERS)
        .file("rollback_001.sql", USERS_DOWN)
        .file("002_bad.sql", "ALTER TABLE nowhere ADD COLUMN x int;\n")
        .file("rollback_002.sql", "SELECT 1;\n");
    let run = scratch_cmd(&project, &["test"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("relation \"nowhere\" does not exist"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("[002 apply]"), "{}", run.all());
    assert_dropped(&db, &run);
}

#[test]
fn a_seed_that_is_not_idempotent_is_named() {
    let Some(_db) = test_db_or_skip!() else {
        return;
    };
    let project = Project::new();
    project
        .file(
            "001_users.sql",
            "CREATE TABLE IF NOT EXISTS notes (body text);\n",
        )
        .file("rollback_001.sql", "DROP TABLE IF EXISTS notes;\n")
        .file("seed_data.sql", "INSERT INTO notes VALUES ('hello');\n");
    let run = scratch_cmd(&project, &["test"]);
    run.assert_code(7);
    assert!(
        run.stdout.contains(
            "seed_data.sql is not idempotent: a second run changes the rows of table notes from 1 to 2"
        ),
        "{}",
        run.all()
    );
}

#[test]
fn ctrl_c_drops_the_scratch_database() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file(
            "001_slow.sql",
            "CREATE TABLE IF NOT EXISTS t (id int);\nSELECT pg_sleep(30);\n",
        )
        .file("rollback_001.sql", "DROP TABLE IF EXISTS t;\n");
    let mut child = project
        .std_command()
        .args(["test", "--dev-url", &admin_url()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until its scratch database exists, then interrupt.
    let prefix = format!("pgshift_scratch_{}_", child.id());
    let mine = |db: &TestDb| -> Vec<String> {
        scratch_databases(db)
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .collect()
    };
    let started = std::time::Instant::now();
    while mine(&db).is_empty() {
        assert!(
            started.elapsed().as_secs() < 20,
            "no scratch database appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    assert_eq!(mine(&db), Vec::<String>::new());
}

#[test]
fn stale_scratch_databases_of_dead_processes_are_swept() {
    let Some(db) = test_db_or_skip!() else { return };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let mut admin = postgres::Client::connect(&admin_url(), postgres::NoTls).unwrap();
    for sql in [
        "CREATE DATABASE pgshift_scratch_2000000000_dead".to_string(),
        format!("COMMENT ON DATABASE pgshift_scratch_2000000000_dead IS 'pgshift scratch database: host={host} pid=2000000000'"),
        "CREATE DATABASE pgshift_scratch_1_otherhost".to_string(),
        "COMMENT ON DATABASE pgshift_scratch_1_otherhost IS 'pgshift scratch database: host=elsewhere.example pid=1'".to_string(),
    ] {
        admin.batch_execute(&sql).unwrap();
    }
    let project = Project::new();
    project
        .file("001_users.sql", USERS)
        .file("rollback_001.sql", USERS_DOWN);
    let run = scratch_cmd(&project, &["test"]);
    run.assert_code(0);
    // Another test's run may have swept it first; either way it is gone.
    let left = scratch_databases(&db);
    assert!(
        !left.iter().any(|n| n == "pgshift_scratch_2000000000_dead"),
        "{left:?}\n{}",
        run.all()
    );
    assert!(
        left.iter().any(|n| n == "pgshift_scratch_1_otherhost"),
        "{left:?}"
    );
    admin
        .batch_execute("DROP DATABASE pgshift_scratch_1_otherhost")
        .unwrap();
}

// ---- drift ----

const APP: &str = "
CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, email text NOT NULL);
CREATE INDEX IF NOT EXISTS users_email_idx ON users (email);
CREATE OR REPLACE FUNCTION user_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM users';
";

fn drift_project(db: &TestDb) -> Project {
    let project = Project::new();
    project.file("001_app.sql", APP).file(
        "rollback_001.sql",
        "DROP FUNCTION IF EXISTS user_count();\nDROP TABLE IF EXISTS users;\n",
    );
    Run::of(project.cmd(db).arg("up")).assert_code(0);
    project
}

fn drift(project: &Project, db: &TestDb, extra: &[&str]) -> Run {
    Run::of(
        project
            .cmd(db)
            .arg("drift")
            .args(extra)
            .arg("--dev-url")
            .arg(admin_url()),
    )
}

#[test]
fn drift_is_silent_on_an_untouched_database() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = drift_project(&db);
    let run = drift(&project, &db, &[]);
    run.assert_code(0);
    assert!(run.stdout.contains("no drift"), "{}", run.all());
    let json = drift(&project, &db, &["--json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["drift"], false);
    assert_eq!(value["changes"], serde_json::json!([]));
}

#[test]
fn drift_finds_hand_made_changes_and_writes_a_correction() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = drift_project(&db);
    db.client()
        .batch_execute(
            "ALTER TABLE users ADD COLUMN nickname text;
             DROP INDEX users_email_idx;
             CREATE OR REPLACE FUNCTION user_count() RETURNS bigint LANGUAGE sql AS 'SELECT 42::bigint';",
        )
        .unwrap();
    let run = drift(&project, &db, &["--write-correction"]);
    run.assert_code(7);
    for expected in [
        "+ column users.nickname is in the database but not in the migrations",
        "- index users_email_idx is in the migrations but missing from the database",
        "~ function user_count(): body differs",
    ] {
        assert!(run.stdout.contains(expected), "{expected}\n{}", run.all());
    }
    let json = drift(&project, &db, &["--json"]);
    json.assert_code(7);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["drift"], true);
    assert_eq!(value["changes"].as_array().unwrap().len(), 3);

    let correction =
        std::fs::read_to_string(project.migrations().join("002_drift_correction.sql")).unwrap();
    assert!(
        correction.contains("-- REVIEW: generated by pgshift drift"),
        "{correction}"
    );
    assert!(correction.contains("ALTER TABLE public.users DROP COLUMN IF EXISTS nickname;"));
    assert!(correction.contains("CREATE INDEX IF NOT EXISTS users_email_idx"));
    assert!(correction.contains("SELECT count(*) FROM users"));
    assert!(project.migrations().join("rollback_002.sql").exists());

    // Reviewed and applied, it brings the database back in line; and the
    // pair passes `pgshift test`.
    Run::of(project.cmd(&db).args(["up", "--yes", "--no-lint"])).assert_code(0);
    drift(&project, &db, &[]).assert_code(0);
    scratch_cmd(&project, &["test"]).assert_code(0);
}

#[test]
fn drift_needs_the_files_of_applied_migrations() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = drift_project(&db);
    project.remove("001_app.sql");
    project.remove("rollback_001.sql");
    let run = drift(&project, &db, &[]);
    run.assert_code(3);
    assert!(
        run.stderr.contains("applied migration(s) 001 have no file"),
        "{}",
        run.all()
    );
    assert_dropped(&db, &run);
}

/// Issue 11, section 6, on scratch databases too: `pgshift test` and
/// `pgshift drift` record a no-transaction migration that makes its
/// session read-only or discards it.
#[test]
fn scratch_runs_survive_what_a_migration_does_to_its_session() {
    let Some(db) = test_db_or_skip!() else { return };
    let project = Project::new();
    project
        .file(
            "001_users.sql",
            &format!(
                "-- pgshift:no-transaction\n{USERS}SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY;\n\
                 DISCARD ALL;\n"
            ),
        )
        .file("rollback_001.sql", USERS_DOWN)
        .file("002_more.sql", "CREATE TABLE IF NOT EXISTS more (id int);\n")
        .file("rollback_002.sql", "DROP TABLE IF EXISTS more;\n");
    let test = scratch_cmd(&project, &["test"]);
    assert!(
        test.stdout.contains("2 migration(s) proven"),
        "{}",
        test.all()
    );
    Run::of(project.cmd(&db).args(["up", "--no-lint"])).assert_code(0);
    let drift = Run::of(
        project
            .cmd(&db)
            .arg("drift")
            .arg("--dev-url")
            .arg(admin_url()),
    );
    drift.assert_code(0);
}
