//! Helpers: a project folder per test, the binary with a clean environment,
//! and snapshot filters for what varies between runs.

use assert_cmd::Command;
use pgshift_test_support::TestDb;
use std::path::{Path, PathBuf};

/// Variables that would send pgshift, psql or pg_dump somewhere other than
/// the URL a test gives, or change how they behave: libpq's own (the list
/// pgshift clears for pg_dump), and psql's start-up file.
pub fn client_vars() -> impl Iterator<Item = &'static str> {
    pgshift_core::connect::LIBPQ_VARS
        .iter()
        .copied()
        .chain(["PSQLRC"])
}

/// pgshift's own settings from the environment.
const PGSHIFT_VARS: &[&str] = &[
    "DATABASE_URL",
    "PGSHIFT_DIR",
    "PGSHIFT_CONFIG",
    "PGSHIFT_SCHEMA",
    "PGSHIFT_TABLE",
    "PGSHIFT_LOCK_TIMEOUT",
    "PGSHIFT_LOCK_RETRY_FOR",
];

/// A temporary project with a `migration_scripts/` folder.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("migration_scripts"))
            .expect("create migration_scripts");
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.path().join("migration_scripts")
    }

    /// Writes `migration_scripts/<name>`.
    pub fn file(&self, name: &str, text: &str) -> &Project {
        std::fs::write(self.migrations().join(name), text).expect("write migration");
        self
    }

    /// Writes the health check `migration_scripts/checks/<name>`.
    pub fn check(&self, name: &str, sql: &str) -> &Project {
        let checks = self.migrations().join("checks");
        std::fs::create_dir_all(&checks).expect("create checks folder");
        std::fs::write(checks.join(name), sql).expect("write check");
        self
    }

    /// A `users` table with an `email` column, its rollback, and the
    /// health check that every user has an email.
    pub fn users_with_email_check() -> Project {
        let project = Project::new();
        project
            .file(
                "001_users.sql",
                "CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, email text);\n",
            )
            .file("rollback_001.sql", "DROP TABLE IF EXISTS users;\n")
            .check(
                "users_have_email.sql",
                "-- every user has an email\nSELECT id FROM users WHERE email IS NULL ORDER BY id;\n",
            );
        project
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.migrations().join(name)).expect("remove migration");
    }

    /// `pgshift` in the project folder with nothing configured.
    pub fn bare(&self) -> Command {
        Command::from_std(self.std_command())
    }

    /// The same as [`Project::bare`], as a plain process to spawn.
    pub fn std_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgshift"));
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("HOME", self.path());
        for var in client_vars().chain(PGSHIFT_VARS.iter().copied()) {
            cmd.env_remove(var);
        }
        cmd
    }

    /// `pgshift --database-url <db>` in the project folder.
    pub fn cmd(&self, db: &TestDb) -> Command {
        let mut cmd = self.bare();
        cmd.arg("--database-url").arg(db.url());
        cmd
    }
}

/// What a run printed, as one block for snapshots and assertions.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(cmd: &mut Command) -> Run {
        let output = cmd.output().expect("run pgshift");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Exit code, stdout and stderr with run-specific values filtered.
    pub fn block(&self, project: &Project) -> String {
        let text = format!(
            "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        );
        filter(&text, project)
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

fn filter(text: &str, project: &Project) -> String {
    let mut text = text.replace(&project.path().display().to_string(), "[PROJECT]");
    for (pattern, replacement) in [
        (r"\b\d+ ms\b", "[N] ms"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\bt_\d+_\d+\b", "[DB]"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "[TIMESTAMP]"),
        (r"waited \d+\.\d+s", "waited [N]s"),
        (r"pid \d+", "pid [PID]"),
    ] {
        text = regex_replace(&text, pattern, replacement);
    }
    text
}

fn regex_replace(text: &str, pattern: &str, replacement: &str) -> String {
    regex::Regex::new(pattern)
        .expect("valid filter")
        .replace_all(text, replacement)
        .into_owned()
}

/// Runs a query and returns the first column of every row as text.
pub fn column(db: &TestDb, sql: &str) -> Vec<String> {
    db.client()
        .simple_query(sql)
        .expect("query")
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => {
                Some(row.get(0).unwrap_or("NULL").to_string())
            }
            _ => None,
        })
        .collect()
}

/// True if a relation exists.
pub fn exists(db: &TestDb, relation: &str) -> bool {
    column(db, &format!("SELECT to_regclass('{relation}') IS NOT NULL"))[0] == "t"
}

/// The tracking table's versions, in order.
pub fn applied_versions(db: &TestDb) -> Vec<String> {
    column(db, "SELECT version FROM schema_migrations ORDER BY version")
}

/// A URL to a loopback port nothing listens on.
pub fn dead_url(password: &str) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    format!("postgresql://app:{password}@127.0.0.1:{port}/nowhere?connect_timeout=2")
}
