//! What a backup file holds, as `pg_restore --list` tells.

use super::{tail, BackupError, PgTool};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a backup file holds, from `pg_restore --list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Archive {
    /// The file.
    pub path: PathBuf,
    /// The database it was dumped from.
    pub database: Option<String>,
    /// When, as pg_restore says.
    pub created: Option<String>,
    /// Its tables, as `(schema, name)`.
    pub tables: Vec<(String, String)>,
}

/// Reads a backup's table of contents; fails unless pg_restore can read it.
pub fn read_archive(tool: &PgTool, path: &Path) -> Result<Archive, BackupError> {
    if !path.is_file() {
        return Err(BackupError::File {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let output = tool.output(Command::new(&tool.path).arg("--list").arg(path))?;
    if !output.status.success() {
        return Err(BackupError::NotAnArchive {
            path: path.to_path_buf(),
            stderr: tail(&output.stderr),
        });
    }
    let mut archive = parse_list(&String::from_utf8_lossy(&output.stdout));
    archive.path = path.to_path_buf();
    Ok(archive)
}

/// Parses `pg_restore --list` output: header comments, then one entry per
/// line, `id; catalog oid object-oid TYPE schema name owner`.
fn parse_list(text: &str) -> Archive {
    let mut archive = Archive {
        path: PathBuf::new(),
        database: None,
        created: None,
        tables: Vec::new(),
    };
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix(';') {
            let comment = comment.trim();
            if let Some(name) = comment.strip_prefix("dbname:") {
                archive.database = Some(name.trim().to_string());
            } else if let Some(at) = comment.strip_prefix("Archive created at") {
                archive.created = Some(at.trim().to_string());
            }
            continue;
        }
        let Some((_, entry)) = line.split_once(';') else {
            continue;
        };
        let words: Vec<&str> = entry.split_whitespace().collect();
        // `catalog-oid object-oid TYPE schema name owner`
        if words.len() >= 5 && words[2] == "TABLE" && words[3] != "DATA" {
            archive
                .tables
                .push((words[3].to_string(), words[4].to_string()));
        }
    }
    archive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_contents_lists_tables() {
        let list = ";\n; Archive created at 2026-11-27 19:01:02 UTC\n;     dbname: users_api\n;\n\
                    215; 1259 16386 TABLE public users postgres\n\
                    3350; 0 16386 TABLE DATA public users postgres\n\
                    216; 1259 16390 SEQUENCE public users_id_seq postgres\n";
        let archive = parse_list(list);
        assert_eq!(archive.database.as_deref(), Some("users_api"));
        assert_eq!(archive.created.as_deref(), Some("2026-11-27 19:01:02 UTC"));
        assert_eq!(archive.tables, [("public".into(), "users".into())]);
    }
}
