//! Backups and restores with PostgreSQL's own tools, `pg_dump` and
//! `pg_restore` (custom format).
//!
//! A backup is `pg_dump --format=custom` of the whole database into
//! `<dir>/<database>-<UTC time>-v<version>.dump` (for example
//! `users_api-20261127T190102Z-v003.dump`), where the version is the newest
//! applied migration. pg_dump writes to `<name>.partial` first and the file
//! is renamed only when pg_dump succeeded, so a file with the final name is
//! always a complete archive. The file is created with mode 0600: it holds
//! every row of the database.
//!
//! The tools connect exactly where pgshift does: every `PG*` variable of
//! pgshift's environment is cleared and the resolved settings are passed as
//! libpq variables ([`ConnectionSettings::libpq_env`]); the password goes in
//! `PGPASSWORD` (or as the password file it came from), never on a command
//! line.
//!
//! A tool is found in this order: an explicit path (`PGSHIFT_PG_DUMP`,
//! `PGSHIFT_PG_RESTORE`), `PATH`, then the PostgreSQL installation pgshift
//! uses for local clusters. pg_dump refuses to dump a server newer than
//! itself, so pgshift compares `pg_dump --version` with the server's
//! `server_version_num` first and names the version needed (PostgreSQL
//! docs, "pg_dump": "pg_dump cannot dump from PostgreSQL servers newer than
//! its own major version").
//!
//! Restoring into the configured database runs `pg_restore --clean
//! --if-exists --single-transaction --exit-on-error`: every object in the
//! archive is dropped and recreated with the archive's data, all or
//! nothing. Objects created after the backup, which the archive does not
//! know, are left alone (the confirmation lists them). Restoring `--into` a
//! new database creates it from `template0` and drops it again if the
//! restore fails.

mod archive;
mod process;
mod tool;

pub use archive::{read_archive, Archive};
pub(crate) use process::copy;
pub use process::file_name;
use process::{dump, restore};
pub use tool::{locate, server_version, PgTool, Tool, ToolPaths};

use crate::connect::ConnectionSettings;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// Where and how to back up.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// The folder for backup files (created if missing).
    pub dir: PathBuf,
    /// Where the tools are.
    pub tools: ToolPaths,
}

/// A backup written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Backup {
    /// The file.
    pub path: PathBuf,
    /// The database dumped.
    pub database: String,
    /// Its newest applied migration at the time.
    pub version: Option<String>,
    /// The file's size.
    pub bytes: u64,
    /// When the dump started.
    pub taken_at: DateTime<Utc>,
}

/// A failed backup or restore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The program is nowhere to be found.
    #[error("{} not found on PATH or in the PostgreSQL installation; install the PostgreSQL client programs (e.g. apt-get install postgresql-client) or set {}", tool.name(), tool.env_var())]
    ToolNotFound {
        /// Which program.
        tool: Tool,
    },
    /// The program could not be run.
    #[error("cannot run {}: {source}", path.display())]
    Spawn {
        /// The program.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `--version` said something unexpected.
    #[error("cannot tell the version of {} from `{output}`; point {} at a PostgreSQL {}", path.display(), tool.env_var(), tool.name())]
    UnknownVersion {
        /// Which program.
        tool: Tool,
        /// Its path.
        path: PathBuf,
        /// What it printed.
        output: String,
    },
    /// The program is older than the server.
    #[error("{} {found} ({}) is older than the server (PostgreSQL {server}); {} {needed} or newer is needed: install it (e.g. apt-get install postgresql-client-{needed}) and put it first on PATH or set {}", tool.name(), path.display(), tool.name(), tool.env_var())]
    ToolTooOld {
        /// Which program.
        tool: Tool,
        /// Its path.
        path: PathBuf,
        /// Its version.
        found: String,
        /// The server's version.
        server: String,
        /// The major version needed.
        needed: u32,
    },
    /// The backup folder or file could not be created or read.
    #[error("cannot use {}: {source}", path.display())]
    File {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The program ran and failed.
    #[error("{} failed ({status}): {stderr}", tool.name())]
    Failed {
        /// Which program.
        tool: Tool,
        /// Its exit status.
        status: String,
        /// The end of what it printed on stderr.
        stderr: String,
    },
    /// `pg_restore --list` cannot read the file.
    #[error("{} is not a pg_dump custom-format archive pg_restore can read: {stderr}", path.display())]
    NotAnArchive {
        /// The file.
        path: PathBuf,
        /// What pg_restore said.
        stderr: String,
    },
    /// Other sessions hold locks on tables the restore would replace.
    #[error("other sessions use tables the restore replaces ({}); pg_restore would wait for them, so nothing was done: end them (pg_terminate_backend) or wait, then run restore again", holders.join("; "))]
    Busy {
        /// `pid 123 (psql, idle in transaction) on public.users`, …
        holders: Vec<String>,
    },
    /// `restore --into` names a database that exists.
    #[error("database `{name}` already exists; restore --into creates a new database: choose another name, or drop it first")]
    DatabaseExists {
        /// The name.
        name: String,
    },
    /// A query around the backup or restore failed.
    #[error("cannot {action}: {}", crate::error::db_message(source))]
    Db {
        /// What pgshift was doing.
        action: &'static str,
        /// The client or server error.
        source: postgres::Error,
    },
}

/// What `pgshift restore` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Restored {
    /// The database restored into.
    pub database: String,
    /// True when `--into` created it.
    pub created: bool,
    /// Its newest applied migration after the restore.
    pub version: Option<String>,
    /// The archive.
    pub archive: Archive,
}

/// What restoring into the configured database would replace, for the
/// confirmation: every table now in the database with its row count, and
/// whether the archive has it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestorePreview {
    /// The archive.
    pub archive: Archive,
    /// `(schema.table, rows now, in the archive)`; `None` rows when
    /// counting took too long.
    pub tables: Vec<(String, Option<i64>, bool)>,
}

impl crate::migrator::Migrator {
    /// Writes a backup of the database now (`pgshift backup`), and an
    /// audit row.
    pub fn backup(&self, options: &BackupOptions) -> Result<Backup, crate::Error> {
        let mut client = self
            .connection()
            .connect(&self.options().application_name)?;
        self.backup_on(&mut client, options)
    }

    /// The backup, on a session the caller opened (and may hold the lock
    /// for): check the tool against the server, dump, then record it.
    pub(crate) fn backup_on(
        &self,
        client: &mut postgres::Client,
        options: &BackupOptions,
    ) -> Result<Backup, crate::Error> {
        let started_at = Utc::now();
        let pg_dump = locate(Tool::PgDump, &options.tools)?;
        let (num, text) = server_version(client)?;
        pg_dump.check_server(num, &text)?;
        let history = self.table().read(client)?;
        let version = history.applied.last().map(|a| a.version.to_string());
        let result = dump(
            &pg_dump,
            self.connection(),
            &self.options().application_name,
            &options.dir,
            version.as_deref(),
        );
        self.table().ensure(client)?;
        let mut entry = crate::audit::AuditEntry::database(
            crate::audit::AuditAction::Backup,
            version.as_deref(),
            started_at,
            match &result {
                Ok(backup) => format!("{} ({} bytes)", backup.path.display(), backup.bytes),
                Err(_) => format!("into {}", options.dir.display()),
            },
        );
        let message = result.as_ref().err().map(ToString::to_string);
        if let Some(message) = &message {
            entry.ok = false;
            entry.error = Some(message);
        }
        self.write_audit(client, &entry)?;
        Ok(result?)
    }

    /// Reads a backup and lists what restoring it into the configured
    /// database would replace. Read-only.
    pub fn restore_preview(
        &self,
        file: &Path,
        tools: &ToolPaths,
    ) -> Result<RestorePreview, crate::Error> {
        let pg_restore = locate(Tool::PgRestore, tools)?;
        let archive = read_archive(&pg_restore, file)?;
        let mut client = self
            .connection()
            .connect(&self.options().application_name)?;
        let rows = client
            .query(
                "SELECT n.nspname::text, c.relname::text, format('%I.%I', n.nspname, c.relname) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1, 2",
                &[],
            )
            .map_err(|source| BackupError::Db {
                action: "list the database's tables",
                source,
            })?;
        let names: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let qualified: Vec<&str> = names.iter().map(|(_, _, q)| q.as_str()).collect();
        let counts = self.row_counts(&qualified)?;
        let tables = names
            .iter()
            .zip(counts)
            .map(|((schema, table, _), count)| {
                let in_archive = archive
                    .tables
                    .iter()
                    .any(|(s, t)| s == schema && t == table);
                (format!("{schema}.{table}"), count, in_archive)
            })
            .collect();
        Ok(RestorePreview { archive, tables })
    }

    /// Restores `file` into the configured database (`into` = `None`,
    /// under the migration lock, replacing every object the archive holds)
    /// or into a new database `into`, created for it. Writes an audit row
    /// in the database restored into, after the restore, so it survives.
    pub fn restore(
        &self,
        file: &Path,
        into: Option<&str>,
        tools: &ToolPaths,
    ) -> Result<Restored, crate::Error> {
        let started_at = Utc::now();
        let pg_restore = locate(Tool::PgRestore, tools)?;
        let archive = read_archive(&pg_restore, file)?;
        let app = &self.options().application_name;
        let (mut client, database, created, _lock) = match into {
            None => {
                let (lock, mut client, _) = self.lock_and_connect(&mut |_| {})?;
                let (num, text) = server_version(&mut client)?;
                pg_restore.check_server(num, &text)?;
                self.check_not_locked(&mut client, &archive)?;
                restore(
                    &pg_restore,
                    self.connection(),
                    app,
                    self.connection().database(),
                    file,
                    true,
                )?;
                let database = self.connection().database().to_string();
                (client, database, false, Some(lock))
            }
            Some(name) => {
                let mut admin = maintenance_session(self.connection(), app)?;
                let (num, text) = server_version(&mut admin)?;
                pg_restore.check_server(num, &text)?;
                let exists: bool = admin
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
                        &[&name],
                    )
                    .map_err(|source| BackupError::Db {
                        action: "look for the database",
                        source,
                    })?
                    .get(0);
                if exists {
                    return Err(BackupError::DatabaseExists {
                        name: name.to_string(),
                    }
                    .into());
                }
                admin
                    .batch_execute(&format!(
                        "CREATE DATABASE {} TEMPLATE template0",
                        crate::history::quote_ident(name)
                    ))
                    .map_err(|source| BackupError::Db {
                        action: "create the database",
                        source,
                    })?;
                if let Err(e) = restore(&pg_restore, self.connection(), app, name, file, false) {
                    let _ = admin.batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        crate::history::quote_ident(name)
                    ));
                    return Err(e.into());
                }
                let client = self.connection().with_database(name).connect(app)?;
                (client, name.to_string(), true, None)
            }
        };
        let history = self.table().read(&mut client)?;
        let version = history.applied.last().map(|a| a.version.to_string());
        self.table().ensure(&mut client)?;
        self.write_audit(
            &mut client,
            &crate::audit::AuditEntry::database(
                crate::audit::AuditAction::Restore,
                version.as_deref(),
                started_at,
                format!("from {}", file.display()),
            ),
        )?;
        Ok(Restored {
            database,
            created,
            version,
            archive,
        })
    }
}

impl crate::migrator::Migrator {
    /// Refuses to start a restore while another session holds a lock on a
    /// table it replaces: pg_restore's script sets `lock_timeout = 0`, so
    /// it would wait for that session however long it takes. Tries the
    /// locks in a transaction it rolls back, within the run's
    /// `lock_timeout` (5 s when none is set).
    fn check_not_locked(
        &self,
        client: &mut postgres::Client,
        archive: &Archive,
    ) -> Result<(), BackupError> {
        let db = |action| move |source| BackupError::Db { action, source };
        let wanted: Vec<String> = archive
            .tables
            .iter()
            .map(|(s, t)| {
                format!(
                    "{}.{}",
                    crate::history::quote_ident(s),
                    crate::history::quote_ident(t)
                )
            })
            .collect();
        let existing: Vec<String> = client
            .query_one(
                "SELECT coalesce(array_agg(to_regclass(t)::text), '{}') FROM unnest($1::text[]) AS t \
                 WHERE to_regclass(t) IS NOT NULL",
                &[&wanted],
            )
            .map_err(db("list the tables to replace"))?
            .get(0);
        if existing.is_empty() {
            return Ok(());
        }
        let ms = self
            .options()
            .lock_timeout
            .unwrap_or(std::time::Duration::from_secs(5))
            .as_millis()
            .max(1);
        let attempt = client.batch_execute(&format!(
            "BEGIN; SET LOCAL lock_timeout = '{ms}ms'; LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            existing.join(", ")
        ));
        let _ = client.batch_execute("ROLLBACK");
        match attempt {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                let rows = client
                    .query(
                        "SELECT DISTINCT format('pid %s (%s, %s) on %s', a.pid, \
                         coalesce(nullif(a.application_name, ''), 'no application name'), \
                         coalesce(a.state, 'unknown'), l.relation::regclass) \
                         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                         WHERE l.granted AND l.pid <> pg_backend_pid() \
                         AND l.relation = ANY (SELECT unnest($1::text[])::regclass) ORDER BY 1",
                        &[&existing],
                    )
                    .map_err(db("list the sessions holding locks"))?;
                Err(BackupError::Busy {
                    holders: rows.iter().map(|r| r.get(0)).collect(),
                })
            }
            Err(source) => Err(BackupError::Db {
                action: "check that no session uses the tables",
                source,
            }),
        }
    }
}

/// A session on the server's maintenance database (`postgres`, else
/// `template1`), for CREATE and DROP DATABASE.
pub(crate) fn maintenance_session(
    connection: &ConnectionSettings,
    application_name: &str,
) -> Result<postgres::Client, crate::connect::ConnectError> {
    connection
        .with_database("postgres")
        .connect(application_name)
        .or_else(|_| {
            connection
                .with_database("template1")
                .connect(application_name)
        })
}

/// The last few lines a tool printed on stderr.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(6);
    let joined = lines[start..].join("\n");
    if joined.is_empty() {
        "no message".to_string()
    } else {
        joined
    }
}
