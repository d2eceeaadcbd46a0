//! Throwaway clusters: made in a fresh temporary directory, started, and
//! stopped and deleted when dropped. For tests and one-off checks; nothing in
//! them survives.

use std::env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::cluster::StopMode;
use crate::{Binaries, Cluster, ClusterError, Running};

/// Name prefix of temporary cluster directories (in [`env::temp_dir`]).
const DIR_PREFIX: &str = "pgshift-";

/// File in a temporary cluster's directory holding the creating process's id,
/// so [`TempCluster::sweep_abandoned`] can tell whether anyone still owns it.
const OWNER_FILE: &str = "owner.pid";

/// A started cluster in a temporary directory, removed on drop.
///
/// Dropping it stops the server with `pg_ctl stop -m immediate` (no shutdown
/// checkpoint: the data is about to be deleted) and then deletes the directory.
/// Values that are never dropped, such as statics, must call
/// [`TempCluster::destroy`] themselves (e.g. from an exit handler).
#[derive(Debug)]
pub struct TempCluster {
    cluster: Cluster,
    running: Running,
    dir: tempfile::TempDir,
    destroyed: Mutex<bool>,
}

impl TempCluster {
    pub(crate) fn create() -> Result<Self, ClusterError> {
        let binaries = Binaries::find()?;
        let tmp = env::temp_dir();
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .map_err(|e| ClusterError::io("create a temporary directory in", &tmp, e))?;
        let owner = dir.path().join(OWNER_FILE);
        fs::write(&owner, std::process::id().to_string())
            .map_err(|e| ClusterError::io("write", &owner, e))?;
        // tempfile makes it 0700. When we run as root the server runs as
        // another user, which must be able to pass through (not list) it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711))
            .map_err(|e| ClusterError::io("set permissions of", dir.path(), e))?;
        let cluster = Cluster::open(dir.path())?.with_binaries(binaries);
        match cluster.ensure_running() {
            Ok(running) => Ok(Self {
                cluster,
                running,
                dir,
                destroyed: Mutex::new(false),
            }),
            Err(e) => {
                // pg_ctl can give up waiting while the server still comes up;
                // don't leave it running on a directory we are about to delete.
                let _ = cluster.stop_with(StopMode::Immediate);
                remove_fallback_socket_dir(&cluster, dir.path());
                Err(e)
            }
        }
    }

    /// The cluster (paths, status).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// How to reach the server.
    pub fn running(&self) -> &Running {
        &self.running
    }

    /// The server's TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.running.port()
    }

    /// Loopback TCP URL for database `dbname`; see [`Running::url`].
    pub fn url(&self, dbname: &str) -> String {
        self.running.url(dbname)
    }

    /// Unix socket URL for database `dbname`; see [`Running::socket_url`].
    pub fn socket_url(&self, dbname: &str) -> String {
        self.running.socket_url(dbname)
    }

    /// Stops the server (immediately) and deletes the directory. Idempotent and
    /// safe to call from several threads; [`Drop`] calls it and ignores errors.
    ///
    /// If stopping fails the directory is left in place, so a server that may
    /// still be running does not lose its data directory underneath it.
    ///
    /// # Errors
    ///
    /// `pg_ctl stop` failing, or the directory not being removable.
    pub fn destroy(&self) -> Result<(), ClusterError> {
        let mut destroyed = self
            .destroyed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *destroyed {
            return Ok(());
        }
        self.cluster.stop_with(StopMode::Immediate)?;
        *destroyed = true;
        remove_fallback_socket_dir(&self.cluster, self.dir.path());
        // TempDir's own drop would do this too, but silently; here a failure
        // is reported. (Its later attempt then finds nothing and is a no-op.)
        fs::remove_dir_all(self.dir.path())
            .map_err(|e| ClusterError::io("remove directory", self.dir.path(), e))
    }
}

impl TempCluster {
    /// Stops and deletes temporary clusters whose creating process is gone
    /// without having cleaned up, and returns their directories.
    ///
    /// A process killed by a signal (Ctrl-C during `cargo test`, a timeout)
    /// runs no destructors or exit handlers, and `pg_ctl` starts the server in
    /// a session of its own, so the server outlives it. This looks at the
    /// `pgshift-*` directories in the system temporary directory that carry
    /// the creator's process id, and cleans up those whose process no longer
    /// exists. Anything else (no id file, creator alive, not ours to read) is
    /// left alone. Best effort: failures only mean a directory is not returned.
    pub fn sweep_abandoned() -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(env::temp_dir()) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(DIR_PREFIX))
            .map(|e| e.path())
            .filter(|dir| owner_is_gone(dir))
            .filter(|dir| {
                let Ok(cluster) = Cluster::open(dir) else {
                    return false;
                };
                if cluster.stop_with(StopMode::Immediate).is_err() {
                    return false;
                }
                remove_fallback_socket_dir(&cluster, dir);
                fs::remove_dir_all(dir).is_ok()
            })
            .collect()
    }
}

/// Whether `dir` has an owner file naming a process that does not exist.
fn owner_is_gone(dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(dir.join(OWNER_FILE)) else {
        return false;
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return false;
    };
    // Signal 0 only checks existence; EPERM means it exists as another user.
    pid > 0 && kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.destroy();
    }
}

/// Removes the `/tmp/pgshift-<hash>` socket directory if the cluster needed
/// one (i.e. its socket directory is not inside `dir`). Best effort.
fn remove_fallback_socket_dir(cluster: &Cluster, dir: &Path) {
    if !cluster.socket_dir().starts_with(dir) {
        let _ = fs::remove_dir_all(cluster.socket_dir());
    }
}
