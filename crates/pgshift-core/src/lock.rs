//! One runner at a time: a session-level advisory lock on its own connection.
//!
//! The lock lives on a connection of its own, separate from the one that
//! runs migrations, so no transaction stays open around a `CREATE INDEX
//! CONCURRENTLY` (which waits for every older transaction to finish, and
//! would otherwise wait for ours forever). Session-level advisory locks need
//! a real server session: a transaction-pooling PgBouncer hands each
//! statement to any server connection, so [`MigrationLock::acquire`] checks
//! that the lock is visible on its own backend and refuses otherwise.
//!
//! The key is pinned (see [`lock_key`]): every pgshift version that manages
//! the same tracking table must agree on it.

use crate::history::TrackingTable;
use chrono::{DateTime, Utc};
use postgres::Client;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// How often a waiting runner tries again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The advisory lock key for a tracking table: the first eight bytes of
/// SHA-256 of `pgshift:` followed by the qualified, quoted table name, read
/// as a big-endian `i64`. Two projects with different tracking tables in one
/// database do not block each other; two runners of one project always do.
///
/// Persisted behaviour: the default table's key is pinned by a test.
pub fn lock_key(table: &TrackingTable) -> i64 {
    let digest = Sha256::digest(format!("pgshift:{}", table.qualified()).as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Who holds the lock, from `pg_stat_activity`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LockHolder {
    /// Backend process id.
    pub pid: i32,
    /// Its `application_name`.
    pub application_name: Option<String>,
    /// Its client address; none for a unix socket.
    pub client_addr: Option<String>,
    /// The database user.
    pub user: Option<String>,
    /// When that session connected.
    pub since: Option<DateTime<Utc>>,
}

/// A held migration lock; released when dropped, on every path.
pub struct MigrationLock {
    client: Client,
    key: i64,
}

impl std::fmt::Debug for MigrationLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationLock")
            .field("key", &self.key)
            .finish()
    }
}

impl MigrationLock {
    /// Takes the lock on `client` (a connection used for nothing else),
    /// waiting up to `wait`. `on_wait` is called once, with the holder, when
    /// the first attempt finds the lock taken.
    ///
    /// # Errors
    /// [`LockError::Timeout`] naming the holder when the wait runs out;
    /// [`LockError::NotHeld`] behind a transaction pooler.
    pub fn acquire(
        mut client: Client,
        key: i64,
        wait: Duration,
        mut on_wait: impl FnMut(Option<&LockHolder>),
    ) -> Result<MigrationLock, LockError> {
        let started = Instant::now();
        let mut announced = false;
        loop {
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(LockError::Db)?
                .get(0);
            if got {
                return MigrationLock { client, key }.check_held();
            }
            if !announced {
                announced = true;
                let holder = holder(&mut client, key)?;
                on_wait(holder.as_ref());
            }
            if started.elapsed() >= wait {
                return Err(LockError::Timeout {
                    waited: started.elapsed(),
                    holder: holder(&mut client, key)?,
                });
            }
            std::thread::sleep(POLL_INTERVAL.min(wait.saturating_sub(started.elapsed())));
        }
    }

    /// The key held.
    pub fn key(&self) -> i64 {
        self.key
    }

    /// The session holding the lock: pgshift's own, where no migration
    /// runs, so what a migration does to its session cannot reach it. It
    /// looks up who blocks a busy migration (see `executor::busy`) and
    /// writes the progress of no-transaction migrations.
    pub(crate) fn session(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Behind a transaction pooler the next statement may run on another
    /// server session, which does not hold the lock.
    fn check_held(mut self) -> Result<Self, LockError> {
        let held: bool = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
                 AND pid = pg_backend_pid() AND granted \
                 AND classid = (($1::bigint >> 32) & 4294967295)::oid \
                 AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1)",
                &[&self.key],
            )
            .map_err(LockError::Db)?
            .get(0);
        if held {
            Ok(self)
        } else {
            // Don't try to unlock: the session holding it is not ours to reach.
            std::mem::forget(self);
            Err(LockError::NotHeld)
        }
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        // Closing the session would release it too; unlocking explicitly
        // frees it at once even if the client lives on in a pool.
        let _ = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.key]);
    }
}

/// Who holds `key` in this database. Advisory locks are per database, so
/// a runner of another database on the same server with the same tracking
/// table holds a lock of its own, not ours.
fn holder(client: &mut Client, key: i64) -> Result<Option<LockHolder>, LockError> {
    let row = client
        .query_opt(
            "SELECT a.pid, a.application_name, host(a.client_addr), a.usename::text, a.backend_start \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND l.classid = (($1::bigint >> 32) & 4294967295)::oid \
             AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1 LIMIT 1",
            &[&key],
        )
        .map_err(LockError::Db)?;
    Ok(row.map(|row| LockHolder {
        pid: row.get(0),
        application_name: row.get::<_, Option<String>>(1).filter(|s| !s.is_empty()),
        client_addr: row.get(2),
        user: row.get(3),
        since: row.get(4),
    }))
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another runner held it for the whole wait.
    #[error("another migration run holds the lock{}; waited {:.1}s (raise --lock-wait to wait longer)",
        holder.as_ref().map(describe_holder).unwrap_or_default(), waited.as_secs_f64())]
    Timeout {
        /// How long we waited.
        waited: Duration,
        /// Who holds it, if the server would tell.
        holder: Option<LockHolder>,
    },
    /// The lock was granted but is not held by our session.
    #[error("the advisory lock cannot be held on this connection; a transaction-pooling PgBouncer is in the way: connect to PostgreSQL directly or through a session-pooling port")]
    NotHeld,
    /// A query on the lock connection failed.
    #[error("cannot take the migration lock: {}", crate::error::db_message(.0))]
    Db(#[source] postgres::Error),
}

/// ` (pid 123, application pgshift, from 10.0.0.5, user app, connected since …)`
pub fn describe_holder(h: &LockHolder) -> String {
    let mut parts = vec![format!("pid {}", h.pid)];
    if let Some(app) = &h.application_name {
        parts.push(format!("application {app}"));
    }
    parts.push(match &h.client_addr {
        Some(addr) => format!("from {addr}"),
        None => "over a unix socket".to_string(),
    });
    if let Some(user) = &h.user {
        parts.push(format!("user {user}"));
    }
    if let Some(since) = h.since {
        parts.push(format!(
            "connected since {}",
            since.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    format!(" ({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden: runners of different pgshift versions must agree on the key.
    #[test]
    fn default_lock_key_is_pinned() {
        assert_eq!(lock_key(&TrackingTable::default()), PINNED_DEFAULT_KEY);
        let other = TrackingTable::new("public", "other").unwrap();
        assert_ne!(lock_key(&other), PINNED_DEFAULT_KEY);
    }

    const PINNED_DEFAULT_KEY: i64 = -7540494824168470589;
}
