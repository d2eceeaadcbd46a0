//! A busy database: who blocks a migration, and when to try it again.
//!
//! A statement that waits for a lock queues its request, and every later
//! request that conflicts with it queues behind it: while an `ALTER TABLE`
//! waits for a long reader, the application's own queries on that table
//! wait too. So a migration waits only `lock_timeout` (short by default) per
//! attempt, and between attempts holds nothing.
//!
//! While an attempt runs, a [`Watcher`] on pgshift's lock session (idle
//! otherwise) asks the server every [`WATCH_INTERVAL`] whether the
//! migration session waits for a lock, and if so, for which one and behind
//! whom (`pg_blocking_pids()`). After a busy failure, [`Executor::wait_out`]
//! waits for those sessions to end the transaction that blocked it
//! (checking every [`POLL_INTERVAL`]) and tries again as soon as they have:
//! queueing again behind the same transaction would only freeze the
//! application once more. When it does not know who blocked (a deadlock,
//! a session outside a transaction, no lock session), it waits the
//! backoff: [`ExecOptions::retry_delay`] doubling up to
//! [`ExecOptions::max_retry_delay`], each delay drawn between half and
//! all of that ("equal jitter", so two runners do not retry in step).
//! Either way within the time budget [`ExecOptions::retry_for`].

use super::{Event, ExecOptions, Executor, NextAttempt};
use chrono::{DateTime, Utc};
use postgres::Client;
use rand::Rng;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often the watch asks whether the migration session waits.
const WATCH_INTERVAL: Duration = Duration::from_millis(40);

/// How often a wait between attempts checks on the blockers.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How often a long wait between attempts says it is still waiting.
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// A lock the migration waited for, and the sessions it waited behind.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Blockage {
    /// The table (or other relation) of the lock, as `regclass` shows it;
    /// none for a lock on something else (a row's transaction, an object).
    pub relation: Option<String>,
    /// `pg_locks.locktype`: `relation`, `transactionid`, `object`, …
    pub lock_type: String,
    /// The lock mode wanted, e.g. `AccessExclusiveLock`.
    pub mode: String,
    /// The sessions holding or queued ahead for a conflicting lock.
    pub blockers: Vec<Blocker>,
    /// The relation's oid, to check whether a blocker still holds it.
    #[serde(skip)]
    relation_oid: Option<u32>,
}

/// A session that blocked the migration, from `pg_stat_activity`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Blocker {
    /// Backend process id.
    pub pid: i32,
    /// Its `application_name`, when set.
    pub application_name: Option<String>,
    /// `active`, `idle in transaction`, …
    pub state: Option<String>,
    /// When its transaction began (what holds a lock until it ends).
    pub transaction_since: Option<DateTime<Utc>>,
    /// The first line of its current or last query.
    pub query: String,
}

/// Asks, on the lock session, who blocks the session `pid`: the lock it
/// waits for and the sessions in its way, or `None` when it does not wait.
///
/// `pg_locks` and `pg_blocking_pids()` take every lock-manager partition
/// for a moment ("Frequent calls … could have some impact on database
/// performance", PostgreSQL docs, "System Information Functions"), so they
/// are asked only once `pg_stat_activity`, which takes none, says the
/// session waits for a lock: a long migration that does not wait costs the
/// server nothing more than that.
fn blockage(lock_session: &mut Client, pid: i32) -> Result<Option<Blockage>, postgres::Error> {
    let waits: bool = lock_session
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
             WHERE pid = $1 AND wait_event_type = 'Lock')",
            &[&pid],
        )?
        .get(0);
    if !waits {
        return Ok(None);
    }
    let rows = lock_session.query(
        "SELECT l.locktype, l.relation::regclass::text, l.relation, l.mode, \
                a.pid, a.application_name, a.state, a.xact_start, a.query \
         FROM pg_locks l \
         CROSS JOIN LATERAL unnest(pg_blocking_pids($1)) AS b(pid) \
         JOIN pg_stat_activity a ON a.pid = b.pid \
         WHERE l.pid = $1 AND NOT l.granted \
         ORDER BY a.xact_start NULLS LAST, a.pid",
        &[&pid],
    )?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut found = Blockage {
        lock_type: first.get(0),
        relation: first.get(1),
        relation_oid: first.get(2),
        mode: first.get(3),
        blockers: Vec::with_capacity(rows.len()),
    };
    for row in &rows {
        let query: Option<String> = row.get(8);
        found.blockers.push(Blocker {
            pid: row.get(4),
            application_name: row.get::<_, Option<String>>(5).filter(|s| !s.is_empty()),
            state: row.get(6),
            transaction_since: row.get(7),
            query: first_line(query.as_deref().unwrap_or_default()),
        });
    }
    Ok(Some(found))
}

/// The first non-blank line of a query, trimmed, at most 100 characters.
fn first_line(query: &str) -> String {
    let line = query
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    match line.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}

/// Which of `blockage`'s blockers still block: the same session, in the
/// same transaction, still holding a lock on the relation (a transaction
/// can let go of one early, by rolling back to a savepoint). `None` when
/// none of them was in a transaction: then their end cannot be seen.
fn still_blocking(
    lock_session: &mut Client,
    blockage: &Blockage,
) -> Result<Option<usize>, postgres::Error> {
    let (pids, since): (Vec<i32>, Vec<DateTime<Utc>>) = blockage
        .blockers
        .iter()
        .filter_map(|b| Some((b.pid, b.transaction_since?)))
        .unzip();
    if pids.is_empty() {
        return Ok(None);
    }
    let count: i64 = lock_session
        .query_one(
            "SELECT count(*) FROM unnest($1::int[], $2::timestamptz[]) AS b(pid, since) \
             JOIN pg_stat_activity a ON a.pid = b.pid AND a.xact_start = b.since \
             WHERE $3::oid IS NULL OR EXISTS (SELECT 1 FROM pg_locks l \
                 WHERE l.pid = b.pid AND l.granted AND l.relation = $3::oid)",
            &[&pids, &since, &blockage.relation_oid],
        )?
        .get(0);
    Ok(Some(count as usize))
}

/// pgshift's lock session, shared with a thread of its own for the
/// executor's run: while an attempt runs, the migration session's thread is
/// busy waiting for the server, so the watching happens there. Starting and
/// stopping a watch only flips a field under a mutex, so a migration that
/// waits for nothing pays nothing for it (a thread per attempt cost
/// ~0.15 ms a migration, a request and reply over channels ~0.03 ms).
pub(crate) struct Watcher<'s> {
    session: Mutex<&'s mut Client>,
    state: Mutex<WatchState>,
    wake: Condvar,
}

#[derive(Default)]
struct WatchState {
    /// The session to watch, while an attempt runs.
    watching: Option<i32>,
    /// Bumped by every watch, so a look that ends after its watch does not
    /// land in the next one.
    generation: u64,
    /// The last blockage seen in this watch.
    seen: Option<Blockage>,
    /// The run is over: the thread ends.
    shutdown: bool,
}

/// The watcher's thread, running until this is dropped.
pub(crate) struct Watching<'a, 's> {
    watcher: &'a Watcher<'s>,
}

impl Drop for Watching<'_, '_> {
    fn drop(&mut self) {
        lock(&self.watcher.state).shutdown = true;
        self.watcher.wake.notify_all();
    }
}

/// Locks a mutex whose data stays valid even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'s> Watcher<'s> {
    /// A watcher on `lock_session`; [`Watcher::spawn`] starts its thread.
    pub(crate) fn new(lock_session: &'s mut Client) -> Self {
        Watcher {
            session: Mutex::new(lock_session),
            state: Mutex::new(WatchState::default()),
            wake: Condvar::new(),
        }
    }

    /// The lock session, for bookkeeping between the watcher's looks.
    pub(crate) fn session(&self) -> std::sync::MutexGuard<'_, &'s mut Client> {
        lock(&self.session)
    }

    /// Starts the thread in `scope`; it ends when the result is dropped.
    pub(crate) fn spawn<'a>(&'a self, scope: &'a std::thread::Scope<'a, '_>) -> Watching<'a, 's> {
        scope.spawn(|| self.serve());
        Watching { watcher: self }
    }

    /// Starts watching session `pid`.
    fn watch(&self, pid: i32) {
        let mut state = lock(&self.state);
        state.generation += 1;
        state.watching = Some(pid);
        state.seen = None;
    }

    /// Stops watching; the last blockage seen.
    fn stop(&self) -> Option<Blockage> {
        let mut state = lock(&self.state);
        state.watching = None;
        state.seen.take()
    }

    /// How many of `blockage`'s blockers still block (see
    /// [`still_blocking`]); `None` when that cannot be told.
    fn still_blocking(&self, blockage: &Blockage) -> Option<usize> {
        let mut session = lock(&self.session);
        still_blocking(&mut session, blockage).ok().flatten()
    }

    /// The thread: every [`WATCH_INTERVAL`] while a watch is on, asks who
    /// blocks the watched session. A failed look is best effort (the
    /// migration's own error is what counts) and leaves the last one.
    fn serve(&self) {
        let mut state = lock(&self.state);
        loop {
            if state.shutdown {
                return;
            }
            state = match self.wake.wait_timeout(state, WATCH_INTERVAL) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
            let (Some(pid), false) = (state.watching, state.shutdown) else {
                continue;
            };
            let generation = state.generation;
            drop(state);
            let found = blockage(&mut lock(&self.session), pid);
            state = lock(&self.state);
            if let Ok(Some(found)) = found {
                if state.generation == generation && state.watching.is_some() {
                    state.seen = Some(found);
                }
            }
        }
    }
}

/// The backoff before attempt `attempt + 1` (1-based `attempt`): the
/// first delay doubled per attempt, capped, then drawn between half and all
/// of it.
pub(super) fn backoff(options: &ExecOptions, attempt: u32, rng: &mut impl Rng) -> Duration {
    let doubled = options
        .retry_delay
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    let capped = doubled.min(options.max_retry_delay);
    capped.mul_f64(rng.gen_range(0.5..=1.0))
}

/// How a wait between attempts ended.
pub(super) enum Waited {
    /// Try again.
    Retry,
    /// The budget ran out with the blockers still there.
    OutOfBudget,
    /// Ctrl-C.
    Interrupted,
}

impl Executor<'_> {
    /// The migration session's pid, asked once (for the watch).
    pub(super) fn session_pid(&mut self) -> Option<i32> {
        if self.session_pid.is_none() {
            self.session_pid = self
                .client
                .query_one("SELECT pg_backend_pid()", &[])
                .ok()
                .map(|row| row.get(0));
        }
        self.session_pid
    }

    /// Runs `attempt`, watching from the lock session (when there is one)
    /// who the migration session waits behind.
    pub(super) fn watched<T>(
        &mut self,
        attempt: impl FnOnce(&mut Self) -> T,
    ) -> (T, Option<Blockage>) {
        let pid = match self.watcher.is_some() {
            true => self.session_pid(),
            false => None,
        };
        let watching = match (pid, self.watcher) {
            (Some(pid), Some(watcher)) => {
                watcher.watch(pid);
                Some(watcher)
            }
            _ => None,
        };
        let result = attempt(self);
        (result, watching.and_then(Watcher::stop))
    }

    /// Waits between attempts: until the sessions in `blockage` have ended
    /// the transaction that blocked the migration when they are known
    /// (`next` is then [`NextAttempt::WhenBlockersFinish`]), else for the
    /// backoff in `next`; never past `deadline`. Reports every
    /// [`REPORT_INTERVAL`] that it still waits.
    pub(super) fn wait_out(
        &mut self,
        next: NextAttempt,
        blockage: Option<&Blockage>,
        started: Instant,
        deadline: Instant,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Waited {
        let wait_until = match next {
            NextAttempt::After(delay) => Instant::now() + delay,
            NextAttempt::WhenBlockersFinish => deadline,
        };
        let mut reported = Instant::now();
        loop {
            if crate::interrupt::requested() {
                return Waited::Interrupted;
            }
            let now = Instant::now();
            if now >= wait_until {
                return match next {
                    NextAttempt::After(_) => Waited::Retry,
                    NextAttempt::WhenBlockersFinish => Waited::OutOfBudget,
                };
            }
            if let (NextAttempt::WhenBlockersFinish, Some(blockage), Some(watcher)) =
                (next, blockage, self.watcher)
            {
                match watcher.still_blocking(blockage) {
                    Some(0) | None => return Waited::Retry,
                    Some(_) => {}
                }
                if now.duration_since(reported) >= REPORT_INTERVAL {
                    reported = now;
                    observer(Event::Blocked {
                        blockage,
                        waited: now.duration_since(started),
                        budget_left: deadline.saturating_duration_since(now),
                    });
                }
            }
            std::thread::sleep(POLL_INTERVAL.min(wait_until.saturating_duration_since(now)));
        }
    }

    /// Whether the wait for `blockage` can be a wait for its blockers to
    /// finish: they are known, and the lock session can watch them.
    pub(super) fn can_wait_for(&mut self, blockage: Option<&Blockage>) -> bool {
        let (Some(blockage), Some(watcher)) = (blockage, self.watcher) else {
            return false;
        };
        matches!(watcher.still_blocking(blockage), Some(n) if n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let options = ExecOptions {
            retry_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_secs(2),
            ..ExecOptions::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for (attempt, full) in [
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1600),
            (5, 2000),
            (40, 2000),
        ] {
            let full = Duration::from_millis(full);
            for _ in 0..50 {
                let delay = backoff(&options, attempt, &mut rng);
                assert!(
                    delay >= full / 2 && delay <= full,
                    "attempt {attempt}: {delay:?} not within [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn first_line_skips_blank_lines_and_shortens() {
        assert_eq!(first_line("\n  SELECT 1\n  FROM t"), "SELECT 1");
        assert_eq!(first_line(""), "");
        let long = "x".repeat(150);
        assert_eq!(first_line(&long).chars().count(), 101);
    }
}
