//! The one error type of this crate.
//!
//! Every variant names what happened and carries the path or command involved,
//! so a caller can print it as is. Messages are short lowercase phrases that end
//! with the fix when there is an obvious one. Presentation (colours, exit codes)
//! is left to the CLI.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

/// Everything that can go wrong finding, creating, starting, inspecting or
/// stopping a cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No directory holding `initdb`, `pg_ctl` and `postgres` together was found.
    #[error(
        "postgresql server binaries (initdb, pg_ctl, postgres) not found (searched {}); \
         install postgresql, e.g. `apt-get install postgresql`",
        display_paths(.searched)
    )]
    BinariesNotFound {
        /// The directories that were looked in, in search order.
        searched: Vec<PathBuf>,
    },

    /// Running as root, and there is no `postgres` system user to run the server as.
    #[error(
        "running as root, but postgresql refuses to run as root and there is no `postgres` \
         system user to run it as; create one (e.g. `useradd --system postgres`) or run as an \
         unprivileged user"
    )]
    NoUnprivilegedUser,

    /// Looking up a system user failed (not "no such user": the lookup itself failed).
    #[error("could not look up system user {name}: {source}")]
    UserLookup {
        /// The user name or uid looked up.
        name: String,
        /// The underlying error.
        source: nix::Error,
    },

    /// The unprivileged user the server runs as cannot reach a path the server needs.
    #[error(
        "user {user} cannot reach {path} because {blocking} is not searchable by it; \
         allow it (e.g. `chmod o+x {blocking}`) or put the cluster elsewhere",
        path = .path.display(),
        blocking = .blocking.display()
    )]
    NotTraversable {
        /// The user the server runs as.
        user: String,
        /// The path the server needs.
        path: PathBuf,
        /// The first ancestor directory lacking search (`x`) permission for `user`.
        blocking: PathBuf,
    },

    /// A command could not be started at all.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The underlying error.
        source: io::Error,
    },

    /// A command ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}){}", output_suffix(.stderr))]
    Command {
        /// The command line.
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// Its standard error (or standard output when that was empty), trimmed.
        stderr: String,
    },

    /// `pg_ctl start` failed; the server log usually says why.
    #[error(
        "postgresql server for {data_dir} did not start ({reason}); last lines of {log_file}:\n{log_tail}",
        data_dir = .data_dir.display(),
        log_file = .log_file.display()
    )]
    StartFailed {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// What `pg_ctl` said, trimmed.
        reason: String,
        /// The server log file.
        log_file: PathBuf,
        /// The last lines (about 20) of the server log.
        log_tail: String,
    },

    /// A file system operation failed.
    #[error("could not {action} {path}: {source}", path = .path.display())]
    Io {
        /// What was being done, as a verb phrase (e.g. "create directory").
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// `postmaster.pid` exists but does not look like one the server wrote.
    #[error(
        "unexpected contents in {path}: {reason}; if no server is running on it, delete the file",
        path = .path.display()
    )]
    InvalidPidFile {
        /// The `postmaster.pid` file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },

    /// No TCP port could be reserved on the loopback interface.
    #[error("could not find a free tcp port on 127.0.0.1: {source}")]
    NoFreePort {
        /// The underlying error.
        source: io::Error,
    },

    /// The unix socket directory exists but is not owned by the server's user
    /// (or is not a plain directory); using it would let another user intercept
    /// connections.
    #[error(
        "socket directory {path} is not a directory owned by {user}; remove it and try again",
        path = .path.display()
    )]
    SocketDirNotOwned {
        /// The socket directory.
        path: PathBuf,
        /// The user the server runs as.
        user: String,
    },

    /// A path that must be written into the server configuration or a URL is not UTF-8.
    #[error("path is not valid utf-8: {path}; use a utf-8 path", path = .path.display())]
    NonUtf8Path {
        /// The offending path.
        path: PathBuf,
    },

    /// The running server has no unix socket (`unix_socket_directories` was
    /// emptied, e.g. by `ALTER SYSTEM`), so [`Running`](crate::Running) cannot
    /// describe it.
    #[error(
        "postgresql server for {data_dir} has no unix socket directory; run \
         `ALTER SYSTEM RESET unix_socket_directories` and restart it",
        data_dir = .data_dir.display()
    )]
    NoSocket {
        /// The cluster's data directory.
        data_dir: PathBuf,
    },

    /// The server is in a state this crate will not wait out (e.g. stuck starting).
    #[error("postgresql server for {data_dir} is {state}; wait or stop it with `pg_ctl stop -D {data_dir}`", data_dir = .data_dir.display())]
    NotReady {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// The state reported in `postmaster.pid` (e.g. "starting").
        state: String,
    },
}

impl ClusterError {
    /// Shorthand for [`ClusterError::Io`].
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn output_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_not_found_names_searched_dirs_and_fix() {
        let err = ClusterError::BinariesNotFound {
            searched: vec![PathBuf::from("/a/bin"), PathBuf::from("/b/bin")],
        };
        let msg = err.to_string();
        assert!(msg.contains("searched /a/bin, /b/bin"), "{msg}");
        assert!(msg.contains("apt-get install postgresql"), "{msg}");
    }

    #[test]
    fn io_error_names_action_and_path() {
        let err = ClusterError::io(
            "create directory",
            Path::new("/x/y"),
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(err
            .to_string()
            .starts_with("could not create directory /x/y: "));
    }
}
