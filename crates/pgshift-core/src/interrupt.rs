//! Ctrl-C (or SIGTERM) while migrations run.
//!
//! Killing pgshift outright would leave its running statement running on
//! the server, holding its locks, until the statement ends and finds no
//! client. Instead the signal handler calls [`request`]: it asks the
//! server to cancel whatever each registered migration session is running
//! (as psql does on Ctrl-C), and the executor starts nothing new once it
//! sees [`requested`]. The migration in progress rolls back (a
//! no-transaction one is recorded as failed, resumable), its failed
//! attempt goes to the audit trail, and the run ends like any failure.

use crate::connect::ConnectionSettings;
use postgres::CancelToken;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static SESSIONS: Mutex<Vec<(u64, ConnectionSettings, CancelToken)>> = Mutex::new(Vec::new());

/// A session whose running statement [`request`] cancels, until dropped.
#[derive(Debug)]
pub struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        sessions().retain(|(id, _, _)| *id != self.0);
    }
}

/// Registers the session of `client`, opened with `settings`.
pub fn register(settings: &ConnectionSettings, client: &postgres::Client) -> Registration {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    sessions().push((id, settings.clone(), client.cancel_token()));
    Registration(id)
}

/// Marks the run as interrupted and asks the server to cancel the running
/// statement of every registered session; the number of sessions asked.
/// For a signal handler: it blocks on the network for each session.
pub fn request() -> usize {
    REQUESTED.store(true, Ordering::SeqCst);
    let targets: Vec<(ConnectionSettings, CancelToken)> = sessions()
        .iter()
        .map(|(_, settings, token)| (settings.clone(), token.clone()))
        .collect();
    // A session that is not running anything ignores the request; one
    // that cannot be reached has lost its connection, which rolls back.
    for (settings, token) in &targets {
        let _ = settings.cancel_query(token);
    }
    targets.len()
}

/// True once [`request`] was called.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// True while a migration session is registered.
pub fn running() -> bool {
    !sessions().is_empty()
}

fn sessions() -> std::sync::MutexGuard<'static, Vec<(u64, ConnectionSettings, CancelToken)>> {
    SESSIONS.lock().unwrap_or_else(|e| e.into_inner())
}
