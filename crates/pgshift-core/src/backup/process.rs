//! Running pg_dump and pg_restore: a backup file, a restore, a copy.

use super::{Backup, BackupError, PgTool};
use crate::connect::ConnectionSettings;
use chrono::{DateTime, Utc};
use std::path::Path;

/// `users_api-20261127T190102Z-v003.dump`. Characters other than letters,
/// digits, `_`, `-` and `.` in the database name become `_`.
pub fn file_name(database: &str, at: DateTime<Utc>, version: Option<&str>) -> String {
    let safe: String = database
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    let version = version.map_or_else(|| "none".to_string(), |v| format!("v{v}"));
    format!("{safe}-{}-{version}.dump", at.format("%Y%m%dT%H%M%SZ"))
}

/// Runs pg_dump into a new file in `dir`.
pub(crate) fn dump(
    tool: &PgTool,
    connection: &ConnectionSettings,
    application_name: &str,
    dir: &Path,
    version: Option<&str>,
) -> Result<Backup, BackupError> {
    let file_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BackupError::File { path, source }
    };
    std::fs::create_dir_all(dir).map_err(file_error(dir))?;
    let taken_at = Utc::now();
    let base = file_name(connection.database(), taken_at, version);
    // Never overwrite: two backups in one second get -2, -3, …
    let mut path = dir.join(&base);
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(base.replace(".dump", &format!("-{n}.dump")));
    }
    let partial = path.with_extension("dump.partial");
    // A backup holds every row, password hashes included: readable by its
    // owner only. pg_dump truncates the file and keeps its mode.
    create_private(&partial).map_err(file_error(&partial))?;
    tool.output(
        tool.command(connection, application_name, None)
            .arg("--format=custom")
            .arg("--no-password")
            .arg("--file")
            .arg(&partial),
    )
    .and_then(|output| tool.succeeded(output))
    .inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    std::fs::rename(&partial, &path).map_err(file_error(&path))?;
    let bytes = std::fs::metadata(&path).map_err(file_error(&path))?.len();
    Ok(Backup {
        path,
        database: connection.database().to_string(),
        version: version.map(str::to_string),
        bytes,
        taken_at,
    })
}

/// Creates an empty file only its owner can read and write.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

/// Runs pg_restore of `file` into `database`. With `replace`, objects in
/// the archive are dropped first (`--clean --if-exists`); always in one
/// transaction that stops at the first error.
pub(crate) fn restore(
    tool: &PgTool,
    connection: &ConnectionSettings,
    application_name: &str,
    database: &str,
    file: &Path,
    replace: bool,
) -> Result<(), BackupError> {
    let mut command = tool.command(connection, application_name, Some(database));
    command
        .arg("--no-password")
        .arg("--exit-on-error")
        .arg("--single-transaction")
        .arg("--dbname")
        .arg(conninfo_dbname(database));
    if replace {
        command.arg("--clean").arg("--if-exists");
    }
    tool.succeeded(tool.output(command.arg(file))?)?;
    Ok(())
}

/// Copies database `from` into the existing, empty database `to` with
/// `pg_dump | pg_restore` (for a rehearsal copy while sessions are
/// connected to `from`).
pub(crate) fn copy(
    pg_dump: &PgTool,
    pg_restore: &PgTool,
    connection: &ConnectionSettings,
    application_name: &str,
    from: &str,
    to: &str,
) -> Result<(), BackupError> {
    let mut dump = pg_dump
        .command(connection, application_name, Some(from))
        .arg("--format=custom")
        .arg("--no-password")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| pg_dump.spawn_error(e))?;
    let stdout = dump.stdout.take().expect("stdout is piped");
    let restored = pg_restore.output(
        pg_restore
            .command(connection, application_name, Some(to))
            .arg("--no-password")
            .arg("--exit-on-error")
            .arg("--dbname")
            .arg(conninfo_dbname(to))
            .stdin(stdout),
    );
    // Wait for pg_dump whatever pg_restore did; its failure explains more.
    let dumped = dump
        .wait_with_output()
        .map_err(|e| pg_dump.spawn_error(e))?;
    pg_dump.succeeded(dumped)?;
    pg_restore.succeeded(restored?)?;
    Ok(())
}

/// `--dbname` for a libpq program: a name with `=` in it would be read as
/// a connection string, so always pass one, with the name quoted
/// (libpq-connect, "Keyword/Value Connection Strings").
fn conninfo_dbname(name: &str) -> String {
    format!(
        "dbname='{}'",
        name.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn database_names_are_never_read_as_connection_strings() {
        assert_eq!(conninfo_dbname("users"), "dbname='users'");
        assert_eq!(
            conninfo_dbname(r"host=evil o'k\"),
            r"dbname='host=evil o\'k\\'"
        );
    }

    #[test]
    fn file_names_carry_database_time_and_version() {
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 19, 1, 2).unwrap();
        assert_eq!(
            file_name("users_api", at, Some("003")),
            "users_api-20261127T190102Z-v003.dump"
        );
        assert_eq!(
            file_name("../etc/x y", at, None),
            "_etc_x_y-20261127T190102Z-none.dump"
        );
    }
}
