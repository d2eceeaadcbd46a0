//! Reading `postmaster.pid`, the lock file a running server keeps in its data
//! directory.
//!
//! Since PostgreSQL 10 its lines are: 1 pid, 2 data directory, 3 start time
//! (epoch seconds), 4 port, 5 first unix socket directory (empty if none),
//! 6 first listen address (empty if none), 7 shared memory key, 8 status
//! (`starting`, `ready`, `stopping`, `standby`). Lines may be missing while the
//! server is starting. Whether the pid is alive is not decided here (`pg_ctl
//! status` does that).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::ClusterError;

/// The parsed contents of `postmaster.pid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PidFile {
    pub(crate) pid: u32,
    pub(crate) port: Option<u16>,
    pub(crate) socket_dir: Option<PathBuf>,
    /// Line 8; `None` if not written yet.
    pub(crate) status: Option<String>,
}

impl PidFile {
    /// Parses the text of a `postmaster.pid` file.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let pid_text = lines.first().copied().unwrap_or("");
        let pid: u32 = pid_text
            .parse()
            .map_err(|_| format!("line 1 should be a process id, found {pid_text:?}"))?;
        if pid == 0 {
            return Err("line 1 should be a process id, found 0".to_owned());
        }
        let port = match lines.get(3) {
            None | Some(&"") => None,
            Some(text) => Some(
                text.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| format!("line 4 should be a port, found {text:?}"))?,
            ),
        };
        let socket_dir = lines.get(4).filter(|s| !s.is_empty()).map(PathBuf::from);
        let status = lines
            .get(7)
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned());
        Ok(Self {
            pid,
            port,
            socket_dir,
            status,
        })
    }

    /// Reads and parses `path`; `Ok(None)` if it does not exist.
    pub(crate) fn read(path: &Path) -> Result<Option<Self>, ClusterError> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ClusterError::io("read", path, e)),
        };
        Self::parse(&text)
            .map(Some)
            .map_err(|reason| ClusterError::InvalidPidFile {
                path: path.to_path_buf(),
                reason,
            })
    }

    /// Whether the server says it accepts connections (`ready`, or `standby`
    /// for a replica). Servers older than 10 write no status line; treat a
    /// complete file without one as ready.
    pub(crate) fn is_ready(&self) -> bool {
        match self.status.as_deref() {
            Some(status) => status == "ready" || status == "standby",
            None => self.port.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READY: &str = "12345\n/work/p/.pgshift/dev/data\n1700000000\n54321\n/work/p/.pgshift/dev/socket\n127.0.0.1\n  1234567     98304\nready   \n";

    #[test]
    fn parses_a_ready_server() {
        let pf = PidFile::parse(READY).unwrap();
        assert_eq!(pf.pid, 12345);
        assert_eq!(pf.port, Some(54321));
        assert_eq!(
            pf.socket_dir,
            Some(PathBuf::from("/work/p/.pgshift/dev/socket"))
        );
        assert_eq!(pf.status.as_deref(), Some("ready"));
        assert!(pf.is_ready());
    }

    #[test]
    fn partial_file_while_starting_is_not_ready() {
        let pf = PidFile::parse("12345\n/data\n1700000000\n").unwrap();
        assert_eq!(pf.port, None);
        assert_eq!(pf.socket_dir, None);
        assert!(!pf.is_ready());
        let pf =
            PidFile::parse("12345\n/data\n1700000000\n5432\n/tmp\n*\n1 2\nstarting\n").unwrap();
        assert!(!pf.is_ready());
    }

    #[test]
    fn empty_socket_dir_line_means_no_socket() {
        let pf = PidFile::parse("7\n/data\n1\n5432\n\n127.0.0.1\n1 2\nready\n").unwrap();
        assert_eq!(pf.socket_dir, None);
        assert!(pf.is_ready());
    }

    #[test]
    fn rejects_garbage() {
        assert!(PidFile::parse("").is_err());
        assert!(PidFile::parse("not a pid\n").is_err());
        assert!(PidFile::parse("0\n").is_err());
        let err = PidFile::parse("12\n/data\n1\nport?\n").unwrap_err();
        assert!(err.contains("line 4"), "{err}");
        assert!(PidFile::parse("12\n/data\n1\n70000\n").is_err());
    }

    #[test]
    fn read_missing_file_is_none_and_garbage_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postmaster.pid");
        assert_eq!(PidFile::read(&path).unwrap(), None);
        fs::write(&path, "junk").unwrap();
        let err = PidFile::read(&path).unwrap_err();
        assert!(err.to_string().contains("postmaster.pid"), "{err}");
    }
}
