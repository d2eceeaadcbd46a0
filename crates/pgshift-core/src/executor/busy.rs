//! A busy database: who blocks a migration, and when to try it again.
//!
//! A statement that waits for a lock queues its request, and every later
//! request that conflicts with it queues behind it: while an `ALTER TABLE`
//! waits for a long reader, the application's own queries on that table
//! wait too. So a migration waits only `lock_timeout` (short by default) per
//! attempt, and between attempts holds nothing.
//!
//! While an attempt runs, a [`Watch`] on pgshift's lock session (idle
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
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
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

/// Watches the migration session from the lock session while an attempt
/// runs, on a thread of its own: the migration session's thread is busy
/// waiting for the server. Keeps the last blockage seen.
pub(super) struct Watch<'scope> {
    stop: mpsc::Sender<()>,
    seen: Arc<Mutex<Option<Blockage>>>,
    thread: std::thread::ScopedJoinHandle<'scope, ()>,
}

impl<'scope> Watch<'scope> {
    /// Starts watching session `pid` on `lock_session`.
    pub(super) fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        lock_session: &'scope mut Client,
        pid: i32,
    ) -> Watch<'scope> {
        let (stop, stopped) = mpsc::channel();
        let seen = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&seen);
        let thread = scope.spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(WATCH_INTERVAL) {
                // Best effort: a failed look leaves the last one standing.
                if let Ok(Some(found)) = blockage(lock_session, pid) {
                    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(found);
                }
            }
        });
        Watch { stop, seen, thread }
    }

    /// Stops watching; the last blockage seen during the attempt.
    pub(super) fn finish(self) -> Option<Blockage> {
        let _ = self.stop.send(());
        let _ = self.thread.join();
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner()).take();
        seen
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
        let pid = match self.lock_session.is_some() {
            true => self.session_pid(),
            false => None,
        };
        let (Some(pid), Some(lock_session)) = (pid, self.lock_session.take()) else {
            return (attempt(self), None);
        };
        let (result, seen) = std::thread::scope(|scope| {
            let watch = Watch::start(scope, &mut *lock_session, pid);
            let result = attempt(self);
            (result, watch.finish())
        });
        self.lock_session = Some(lock_session);
        (result, seen)
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
            if let (NextAttempt::WhenBlockersFinish, Some(blockage), Some(session)) =
                (next, blockage, self.lock_session.as_deref_mut())
            {
                match still_blocking(session, blockage) {
                    Ok(Some(0)) | Ok(None) | Err(_) => return Waited::Retry,
                    Ok(Some(_)) => {}
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
        let (Some(blockage), Some(session)) = (blockage, self.lock_session.as_deref_mut()) else {
            return false;
        };
        matches!(still_blocking(session, blockage), Ok(Some(n)) if n > 0)
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
