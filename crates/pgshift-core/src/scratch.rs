//! Scratch databases: throwaway databases pgshift creates, uses and drops
//! itself (`pgshift test`, `pgshift drift`).
//!
//! # Where
//!
//! On a [`ScratchServer`]: the local development cluster
//! ([`ScratchServer::dev`], its `postgres` maintenance database as the
//! superuser), or any server given by URL ([`ScratchServer::from_url`],
//! `--dev-url`): pgshift connects to the database in the URL and runs
//! `CREATE DATABASE` there, so the role needs `CREATEDB`.
//!
//! # Names
//!
//! `pgshift_scratch_<pid>_<16 hex digits>`: the prefix [`SCRATCH_PREFIX`]
//! marks it as pgshift's, the process id says who made it, and 64 random
//! bits make a collision with another run (or a user's database, which
//! would have to use the prefix on purpose) practically impossible.
//! `CREATE DATABASE` fails rather than reuse an existing name anyway.
//! Each one carries a comment, `pgshift scratch database: host=H pid=P`.
//!
//! # Cleanup
//!
//! - On success and on failure: [`ScratchDb`] drops its database when it
//!   goes out of scope (or explicitly with [`ScratchDb::drop_now`]), with
//!   `DROP DATABASE … WITH (FORCE)` so sessions still open on it (a failed
//!   run's) do not stop it.
//! - On Ctrl-C: every live scratch database is also listed in a process-wide
//!   registry; [`drop_active`] drops them all. The CLI calls it from its
//!   SIGINT/SIGTERM handler before exiting (a signal's default action would
//!   skip destructors).
//! - After `kill -9`, a crash or a lost connection: the next pgshift that
//!   creates a scratch database on the same server first sweeps stale ones
//!   ([`ScratchServer::sweep_stale`]): databases named with the prefix whose
//!   comment names this host and a process that no longer runs. Scratch
//!   databases of other hosts are never touched (their process cannot be
//!   checked from here), nor are those without the comment (a run killed in
//!   the instant between `CREATE DATABASE` and `COMMENT`, or another
//!   run in that instant); drop those by hand,
//!   `DROP DATABASE "pgshift_scratch_…"`.

use crate::connect::{ConnectError, ConnectionSettings, Environment};
use crate::dev::{DevDatabase, DevError};
use crate::error::db_message;
use crate::history::{quote_ident, quote_literal};
use rand::Rng;
use std::path::Path;
use std::sync::Mutex;

/// Every scratch database's name starts with this.
pub const SCRATCH_PREFIX: &str = "pgshift_scratch_";

/// Scratch databases this process has created and not dropped yet.
static ACTIVE: Mutex<Vec<(String, ConnectionSettings)>> = Mutex::new(Vec::new());

/// Why a scratch database could not be created or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScratchError {
    /// The local development cluster is not available.
    #[error(transparent)]
    Dev(#[from] DevError),
    /// The server could not be reached.
    #[error("scratch database server: {0}")]
    Connect(#[from] ConnectError),
    /// `CREATE DATABASE` failed (no `CREATEDB` privilege, …).
    #[error("cannot create a scratch database: {}", db_message(.0))]
    Create(#[source] postgres::Error),
}

/// A server to create scratch databases on.
#[derive(Debug, Clone)]
pub struct ScratchServer {
    admin: ConnectionSettings,
    host: String,
}

impl ScratchServer {
    /// The project's local development cluster (started if needed).
    pub fn dev(project_dir: &Path) -> Result<Self, ScratchError> {
        Ok(Self::new(DevDatabase::new(project_dir).admin()?))
    }

    /// The server of `url`: scratch databases are created from a session on
    /// the database the URL names (usually `postgres`).
    pub fn from_url(url: &str, env: &Environment) -> Result<Self, ScratchError> {
        let admin = ConnectionSettings::resolve(Some(url), None, env)?
            .expect("a URL was given, so there is a connection");
        Ok(Self::new(admin))
    }

    /// A server reached through `admin`.
    pub fn new(admin: ConnectionSettings) -> Self {
        ScratchServer {
            admin,
            host: this_host(),
        }
    }

    /// The connection scratch databases are created and dropped from.
    pub fn admin(&self) -> &ConnectionSettings {
        &self.admin
    }

    /// Creates a new, empty scratch database (after a best-effort sweep of
    /// stale ones).
    pub fn create(&self) -> Result<ScratchDb, ScratchError> {
        self.create_from("template0")
    }

    /// Creates a scratch database as a copy of `database` with `CREATE
    /// DATABASE … TEMPLATE`, which PostgreSQL refuses while other sessions
    /// are connected to `database` (`up --rehearse`).
    pub fn create_copy_of(&self, database: &str) -> Result<ScratchDb, ScratchError> {
        self.create_from(database)
    }

    fn create_from(&self, template: &str) -> Result<ScratchDb, ScratchError> {
        let mut client = self.admin.connect("pgshift scratch")?;
        let _ = sweep(&mut client, &self.host);
        let pid = std::process::id();
        let name = format!(
            "{SCRATCH_PREFIX}{pid}_{:016x}",
            rand::thread_rng().gen::<u64>()
        );
        // Registered before it exists, so a Ctrl-C during CREATE DATABASE
        // still tries to drop it.
        register(&name, &self.admin);
        let created = client
            .batch_execute(&format!(
                "CREATE DATABASE {} TEMPLATE {}",
                quote_ident(&name),
                quote_ident(template)
            ))
            .and_then(|()| {
                client.batch_execute(&format!(
                    "COMMENT ON DATABASE {} IS {}",
                    quote_ident(&name),
                    quote_literal(&format!(
                        "pgshift scratch database: host={} pid={pid}",
                        self.host
                    ))
                ))
            });
        if let Err(e) = created {
            let _ = drop_database(&self.admin, &name);
            unregister(&name);
            return Err(ScratchError::Create(e));
        }
        Ok(ScratchDb {
            connection: self.admin.with_database(&name),
            admin: self.admin.clone(),
            name,
            dropped: false,
        })
    }

    /// Drops stale scratch databases (see the module documentation) and
    /// returns their names.
    pub fn sweep_stale(&self) -> Result<Vec<String>, ScratchError> {
        let mut client = self.admin.connect("pgshift scratch")?;
        Ok(sweep(&mut client, &self.host))
    }
}

/// A scratch database; dropped when this value is.
#[derive(Debug)]
pub struct ScratchDb {
    name: String,
    admin: ConnectionSettings,
    connection: ConnectionSettings,
    dropped: bool,
}

impl ScratchDb {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How to connect to it.
    pub fn connection(&self) -> &ConnectionSettings {
        &self.connection
    }

    /// Drops it now, reporting a failure (dropping on `Drop` cannot).
    pub fn drop_now(mut self) -> Result<(), ScratchError> {
        self.dropped = true;
        let result = drop_database(&self.admin, &self.name);
        unregister(&self.name);
        result
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if !self.dropped {
            let _ = drop_database(&self.admin, &self.name);
            unregister(&self.name);
        }
    }
}

/// Drops every scratch database this process still has; for a signal
/// handler. Returns the names dropped.
pub fn drop_active() -> Vec<String> {
    let active: Vec<(String, ConnectionSettings)> = {
        let mut guard = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *guard)
    };
    active
        .into_iter()
        .filter(|(name, admin)| drop_database(admin, name).is_ok())
        .map(|(name, _)| name)
        .collect()
}

/// Names of the scratch databases this process has not dropped yet.
pub fn active() -> Vec<String> {
    ACTIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(name, _)| name.clone())
        .collect()
}

fn register(name: &str, admin: &ConnectionSettings) {
    ACTIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((name.to_string(), admin.clone()));
}

fn unregister(name: &str) {
    ACTIVE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|(n, _)| n != name);
}

fn drop_database(admin: &ConnectionSettings, name: &str) -> Result<(), ScratchError> {
    let mut client = admin.connect("pgshift scratch")?;
    drop_with(&mut client, name).map_err(ScratchError::Create)
}

fn drop_with(client: &mut postgres::Client, name: &str) -> Result<(), postgres::Error> {
    let quoted = quote_ident(name);
    match client.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")) {
        Ok(()) => Ok(()),
        // Before PostgreSQL 13 there is no FORCE: end the sessions first.
        Err(e) if e.code().map(|c| c.code()) == Some("42601") => {
            client.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&name],
            )?;
            client.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted}"))
        }
        Err(e) => Err(e),
    }
}

/// Drops the stale scratch databases visible from `client`.
fn sweep(client: &mut postgres::Client, host: &str) -> Vec<String> {
    let Ok(rows) = client.query(
        "SELECT d.datname::text, shobj_description(d.oid, 'pg_database'), \
         EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname) \
         FROM pg_database d WHERE d.datname LIKE 'pgshift\\_scratch\\_%'",
        &[],
    ) else {
        return Vec::new();
    };
    let mine = active();
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.get(0);
        let comment: Option<String> = row.get(1);
        let in_use: bool = row.get(2);
        if mine.contains(&name) {
            continue;
        }
        if is_stale(&name, comment.as_deref(), in_use, host) && drop_with(client, &name).is_ok() {
            dropped.push(name);
        }
    }
    dropped
}

/// Whether a scratch database's creator is gone: see the module docs.
fn is_stale(name: &str, comment: Option<&str>, in_use: bool, host: &str) -> bool {
    let Some(comment) = comment.and_then(|c| c.strip_prefix("pgshift scratch database: ")) else {
        // Perhaps another run between CREATE DATABASE and COMMENT.
        return false;
    };
    if !name.starts_with(SCRATCH_PREFIX) {
        return false;
    }
    let field = |key: &str| {
        comment
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    if field("host") != Some(host) {
        return false;
    }
    match field("pid").and_then(|p| p.parse::<i32>().ok()) {
        Some(pid) => !process_alive(pid),
        None => !in_use,
    }
}

fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // Signal 0 checks existence; EPERM means it exists under another user.
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace))
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_means_this_host_and_a_dead_process() {
        let me = std::process::id();
        let alive = format!("pgshift scratch database: host=h pid={me}");
        assert!(!is_stale("pgshift_scratch_1_a", Some(&alive), false, "h"));
        // pid_max is far below this.
        let dead = "pgshift scratch database: host=h pid=2000000000";
        assert!(is_stale("pgshift_scratch_1_a", Some(dead), true, "h"));
        assert!(!is_stale("pgshift_scratch_1_a", Some(dead), false, "other"));
        assert!(!is_stale("pgshift_scratch_1_a", None, false, "h"));
    }
}
