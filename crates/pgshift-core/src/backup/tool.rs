//! Finding `pg_dump` and `pg_restore` and checking their version against
//! the server's.

use super::{tail, BackupError};
use crate::connect::{ConnectionSettings, LIBPQ_VARS};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A PostgreSQL client program pgshift runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `pg_dump`.
    PgDump,
    /// `pg_restore`.
    PgRestore,
}

impl Tool {
    /// The program's name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::PgDump => "pg_dump",
            Tool::PgRestore => "pg_restore",
        }
    }

    /// The variable that names the program's path explicitly.
    pub fn env_var(self) -> &'static str {
        match self {
            Tool::PgDump => "PGSHIFT_PG_DUMP",
            Tool::PgRestore => "PGSHIFT_PG_RESTORE",
        }
    }
}

/// Explicit tool paths (from `PGSHIFT_PG_DUMP` and `PGSHIFT_PG_RESTORE`);
/// `None` searches `PATH`, then the local PostgreSQL installation.
#[derive(Debug, Clone, Default)]
pub struct ToolPaths {
    /// pg_dump.
    pub pg_dump: Option<PathBuf>,
    /// pg_restore.
    pub pg_restore: Option<PathBuf>,
}

impl ToolPaths {
    fn get(&self, tool: Tool) -> Option<&Path> {
        match tool {
            Tool::PgDump => self.pg_dump.as_deref(),
            Tool::PgRestore => self.pg_restore.as_deref(),
        }
    }
}

/// A located tool and its version.
#[derive(Debug, Clone)]
pub struct PgTool {
    /// Which program.
    pub tool: Tool,
    /// Its path.
    pub path: PathBuf,
    /// The version it reports, e.g. `15.4`.
    pub version: String,
    /// Its major version, e.g. 15.
    pub major: u32,
}

/// Finds `tool` (in the order described in [`crate::backup`]) and reads
/// its version.
pub fn locate(tool: Tool, paths: &ToolPaths) -> Result<PgTool, BackupError> {
    let path = match paths.get(tool) {
        Some(path) => path.to_path_buf(),
        None => search(tool.name()).ok_or(BackupError::ToolNotFound { tool })?,
    };
    let output = Command::new(&path)
        .arg("--version")
        .output()
        .map_err(|source| BackupError::Spawn {
            path: path.clone(),
            source,
        })?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let Some((version, major)) = parse_version(&text) else {
        return Err(BackupError::UnknownVersion {
            tool,
            path,
            output: text,
        });
    };
    Ok(PgTool {
        tool,
        path,
        version,
        major,
    })
}

/// `PATH`, then the bin folder of the installation local clusters use.
fn search(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        pgshift_cluster::Binaries::find()
            .ok()
            .map(|b| b.bindir().join(name))
            .filter(|p| p.is_file())
    })
}

/// `pg_dump (PostgreSQL) 15.4 (Debian 15.4-1.pgdg120+1)` → `("15.4", 15)`.
fn parse_version(text: &str) -> Option<(String, u32)> {
    let word = text
        .split_whitespace()
        .skip_while(|w| !w.ends_with(')'))
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let version: String = word
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let major = version.split('.').next()?.parse().ok()?;
    Some((version, major))
}

/// The server's `server_version_num` and `server_version`.
pub fn server_version(client: &mut postgres::Client) -> Result<(i32, String), BackupError> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version')",
            &[],
        )
        .map_err(|source| BackupError::Db {
            action: "read the server version",
            source,
        })?;
    Ok((row.get(0), row.get(1)))
}

impl PgTool {
    /// Refuses a tool older than the server's major version.
    pub fn check_server(&self, server_version_num: i32, server: &str) -> Result<(), BackupError> {
        // 150004 → 15; before PostgreSQL 10, 90624 → 9 (close enough: such a
        // server is older than any tool that would pass anyway).
        let needed = u32::try_from(server_version_num / 10_000).unwrap_or(0);
        if self.major < needed {
            return Err(BackupError::ToolTooOld {
                tool: self.tool,
                path: self.path.clone(),
                found: self.version.clone(),
                server: server.to_string(),
                needed,
            });
        }
        Ok(())
    }

    /// The program with the connection's libpq variables and nothing
    /// inherited that could send it elsewhere.
    pub(super) fn command(
        &self,
        connection: &ConnectionSettings,
        application_name: &str,
        database: Option<&str>,
    ) -> Command {
        let mut command = Command::new(&self.path);
        for var in LIBPQ_VARS {
            command.env_remove(var);
        }
        command.envs(connection.libpq_env(application_name, database));
        command
    }

    /// Runs `command`, one of this program's, to completion.
    pub(super) fn output(&self, command: &mut Command) -> Result<Output, BackupError> {
        command.output().map_err(|source| self.spawn_error(source))
    }

    /// The error for this program failing to start or to be waited for.
    pub(super) fn spawn_error(&self, source: std::io::Error) -> BackupError {
        BackupError::Spawn {
            path: self.path.clone(),
            source,
        }
    }

    /// `output` of a run of this program if it exited successfully, else
    /// the error with the end of what it printed on stderr.
    pub(super) fn succeeded(&self, output: Output) -> Result<Output, BackupError> {
        if output.status.success() {
            return Ok(output);
        }
        Err(BackupError::Failed {
            tool: self.tool,
            status: output.status.to_string(),
            stderr: tail(&output.stderr),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_the_banner() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.4 (Debian 15.4-1.pgdg120+1)"),
            Some(("15.4".into(), 15))
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 16beta2"),
            Some(("16".into(), 16))
        );
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 9.6.24"),
            Some(("9.6.24".into(), 9))
        );
        assert_eq!(parse_version("something else"), None);
    }

    #[test]
    fn an_older_tool_names_the_version_needed() {
        let tool = PgTool {
            tool: Tool::PgDump,
            path: "/usr/bin/pg_dump".into(),
            version: "14.9".into(),
            major: 14,
        };
        let err = tool.check_server(150004, "15.4").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("pg_dump 14.9"), "{text}");
        assert!(text.contains("pg_dump 15 or newer is needed"), "{text}");
        assert!(text.contains("PGSHIFT_PG_DUMP"), "{text}");
        assert!(tool.check_server(140010, "14.10").is_ok());
        assert!(tool.check_server(90624, "9.6.24").is_ok());
    }
}
