//! Test harness for pgshift: a real PostgreSQL server per test process and a
//! fresh, uniquely named database per test.
//!
//! ```no_run
//! #[test]
//! fn applies_a_migration() {
//!     let Some(db) = pgshift_test_support::test_db_or_skip!() else { return };
//!     let mut client = db.client();
//!     client.batch_execute("CREATE TABLE t (id int)").unwrap();
//! }   // the database is dropped here
//! ```
//!
//! # What it owns
//!
//! - One throwaway cluster ([`pgshift_cluster::TempCluster`]) per test process,
//!   started lazily by the first test that asks and shared by all tests in the
//!   process, which may run in parallel. It is stopped and deleted when the
//!   process exits (see `exit.rs`), and clusters left behind by test processes
//!   that were killed (Ctrl-C) are cleaned up by the next one to start.
//! - [`TestDb`]: a database per test, dropped (`WITH (FORCE)`) when the value
//!   is dropped.
//! - Skipping: without PostgreSQL installed (or, as root, without a `postgres`
//!   user to run it as) tests skip, unless the environment variable
//!   `PGSHIFT_TEST_REQUIRE_PG=1` is set (as CI should), in which case they
//!   fail. Any other problem always fails. libtest can only say `ok` for a
//!   test that returned, so a skip is made visible outside it: each skipped
//!   test prints `skipped <test name>: <reason>` to the process's real stderr
//!   (not captured by libtest), and when the test process exits it prints
//!   `N database test(s) skipped: <reason>` once.
//!
//! Schema contents, fixtures and assertions are up to the tests themselves.

mod exit;

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

use pgshift_cluster::{Cluster, ClusterError, TempCluster};

pub use pgshift_cluster;

/// Set to `1` to turn "PostgreSQL is not available" from a skip into a failure.
pub const REQUIRE_PG_ENV: &str = "PGSHIFT_TEST_REQUIRE_PG";

/// The process's cluster, or why there is none. Initialised once: a failure is
/// remembered rather than retried by every test.
static CLUSTER: OnceLock<Result<TempCluster, Unavailable>> = OnceLock::new();

/// Numbers the databases of this process.
static NEXT_DB: AtomicU64 = AtomicU64::new(1);

/// The skips of this process, summed up at exit.
static SKIPS: Tally = Tally::new();

/// Why no cluster could be started.
#[derive(Debug)]
struct Unavailable {
    reason: String,
    /// True when the machine just lacks PostgreSQL (skip); false for real failures.
    skippable: bool,
}

/// PostgreSQL is not available here, so a test should skip. Only ever returned
/// when skipping is allowed (`PGSHIFT_TEST_REQUIRE_PG` unset); otherwise the
/// functions returning it panic instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    reason: String,
}

impl Skip {
    /// Why, as one line.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Counts the skip towards the summary printed at process exit and prints
    /// `skipped <test name>: <reason>` to the process's stderr.
    ///
    /// Written to the stderr handle rather than with `eprintln!`: libtest
    /// captures only the print macros of a passing test, so this line shows in
    /// the test output next to the test's `ok`.
    pub fn report(&self) {
        SKIPS.record(self);
        exit::report_skips_at_exit();
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("<unnamed test>");
        let _ = writeln!(std::io::stderr(), "skipped {test}: {}", self.reason);
    }
}

/// How many tests skipped, and why the first one did (every skip in a process
/// has the same cause: its one cluster could not start).
#[derive(Debug)]
struct Tally {
    count: AtomicUsize,
    reason: OnceLock<String>,
}

impl Tally {
    const fn new() -> Self {
        Self {
            count: AtomicUsize::new(0),
            reason: OnceLock::new(),
        }
    }

    fn record(&self, skip: &Skip) {
        self.reason.get_or_init(|| skip.reason.clone());
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// `N database test(s) skipped: <reason>`, or `None` if nothing skipped.
    fn summary(&self) -> Option<String> {
        let count = self.count.load(Ordering::Relaxed);
        let reason = self.reason.get()?;
        (count > 0).then(|| format!("{count} database test(s) skipped: {reason}"))
    }
}

/// Called by the exit handler: prints the skip summary, if any, to stderr.
/// libtest has finished (and stopped capturing) by then, so it is the last
/// line of the test binary's output.
fn print_skip_summary() {
    if let Some(summary) = SKIPS.summary() {
        let _ = writeln!(
            std::io::stderr(),
            "{summary} (set {REQUIRE_PG_ENV}=1 to fail instead)"
        );
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skipped: {}", self.reason)
    }
}

/// The shared cluster, starting it if this is the first call in the process.
///
/// # Errors
///
/// [`Skip`] if PostgreSQL is not installed (or, as root, there is no
/// `postgres` user).
///
/// # Panics
///
/// If the cluster fails to start for any other reason, or PostgreSQL is
/// missing and `PGSHIFT_TEST_REQUIRE_PG=1`.
pub fn try_cluster() -> Result<&'static TempCluster, Skip> {
    match CLUSTER.get_or_init(start) {
        Ok(cluster) => Ok(cluster),
        Err(unavailable) => Err(skip_or_panic(unavailable, pg_required())),
    }
}

/// The [`Skip`] for `unavailable`, or a panic if it is not a reason to skip or
/// skipping is not allowed (`required`).
fn skip_or_panic(unavailable: &Unavailable, required: bool) -> Skip {
    let reason = &unavailable.reason;
    if !unavailable.skippable {
        panic!("test postgresql cluster failed to start: {reason}");
    }
    if required {
        panic!("postgresql is required ({REQUIRE_PG_ENV}=1) but unavailable: {reason}");
    }
    Skip {
        reason: reason.clone(),
    }
}

/// The shared cluster; for tests that need more than a [`TestDb`] (say, to
/// create several databases or roles through [`admin_url`]).
///
/// # Panics
///
/// If there is none (call [`try_cluster`] or [`test_db_or_skip!`] first to skip
/// gracefully).
pub fn cluster() -> &'static TempCluster {
    try_cluster().unwrap_or_else(|skip| panic!("{skip} (use try_cluster to skip instead)"))
}

/// URL of the shared cluster's `postgres` database, as the superuser.
///
/// # Panics
///
/// As [`cluster`].
pub fn admin_url() -> String {
    cluster().url("postgres")
}

fn start() -> Result<TempCluster, Unavailable> {
    // Servers orphaned by killed test runs would otherwise live until reboot.
    let _ = TempCluster::sweep_abandoned();
    match Cluster::temporary() {
        Ok(cluster) => {
            // Statics are never dropped: stop the server at process exit.
            exit::stop_cluster_at_exit();
            Ok(cluster)
        }
        Err(e) => Err(Unavailable {
            skippable: matches!(
                e,
                ClusterError::BinariesNotFound { .. } | ClusterError::NoUnprivilegedUser
            ),
            reason: e.to_string(),
        }),
    }
}

fn pg_required() -> bool {
    std::env::var_os(REQUIRE_PG_ENV).is_some_and(|v| v == "1")
}

/// Called by the exit handler.
fn destroy_cluster() {
    if let Some(Ok(cluster)) = CLUSTER.get() {
        let _ = cluster.destroy();
    }
}

/// A fresh database in the shared cluster, dropped when this value is.
///
/// Named `t_<pid>_<n>`, created from `template0` (so concurrent creation never
/// trips over a session connected to `template1`), owned by the superuser
/// `postgres`.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDb {
    /// Creates a database.
    ///
    /// # Panics
    ///
    /// If PostgreSQL is unavailable (see [`TestDb::try_new`] or
    /// [`test_db_or_skip!`] to skip instead) or `CREATE DATABASE` fails.
    pub fn new() -> Self {
        Self::try_new()
            .unwrap_or_else(|skip| panic!("{skip} (use test_db_or_skip! to skip instead)"))
    }

    /// Creates a database, or says why the test should skip.
    ///
    /// # Errors
    ///
    /// [`Skip`] as for [`try_cluster`].
    ///
    /// # Panics
    ///
    /// As [`try_cluster`], and if `CREATE DATABASE` fails.
    pub fn try_new() -> Result<Self, Skip> {
        let cluster = try_cluster()?;
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let admin_url = cluster.url("postgres");
        let mut admin = connect(&admin_url);
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"))
            .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
        Ok(Self {
            url: cluster.url(&name),
            name,
            admin_url,
        })
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connection URL for the database (loopback TCP, user `postgres`, no password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection to the database.
    ///
    /// # Panics
    ///
    /// If connecting fails.
    pub fn client(&self) -> postgres::Client {
        connect(&self.url)
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Best effort: the whole cluster goes at exit anyway. FORCE
        // disconnects clients the test left open.
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect to test database {url}: {e}"))
}

/// A fresh [`TestDb`], or `None` after reporting the skip (see
/// [`Skip::report`]) when PostgreSQL is not available and
/// `PGSHIFT_TEST_REQUIRE_PG` is not `1`.
///
/// ```no_run
/// let Some(db) = pgshift_test_support::test_db_or_skip!() else { return };
/// ```
#[macro_export]
macro_rules! test_db_or_skip {
    () => {
        match $crate::TestDb::try_new() {
            ::std::result::Result::Ok(db) => ::std::option::Option::Some(db),
            ::std::result::Result::Err(skip) => {
                skip.report();
                ::std::option::Option::None
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing() -> Unavailable {
        Unavailable {
            reason: "postgresql server binaries not found".to_owned(),
            skippable: true,
        }
    }

    #[test]
    fn missing_postgres_skips_with_one_line_reason() {
        let skip = skip_or_panic(&missing(), false);
        assert_eq!(skip.reason(), "postgresql server binaries not found");
        assert_eq!(
            skip.to_string(),
            "skipped: postgresql server binaries not found"
        );
    }

    #[test]
    fn skips_are_counted_with_the_first_reason() {
        let tally = Tally::new();
        assert_eq!(tally.summary(), None, "no skip, no summary");
        let skip = skip_or_panic(&missing(), false);
        tally.record(&skip);
        assert_eq!(
            tally.summary().as_deref(),
            Some("1 database test(s) skipped: postgresql server binaries not found")
        );
        tally.record(&skip);
        tally.record(&Skip {
            reason: "a later reason".to_owned(),
        });
        assert_eq!(
            tally.summary().as_deref(),
            Some("3 database test(s) skipped: postgresql server binaries not found")
        );
    }

    #[test]
    #[should_panic(expected = "PGSHIFT_TEST_REQUIRE_PG=1")]
    fn missing_postgres_fails_when_required() {
        skip_or_panic(&missing(), true);
    }

    #[test]
    #[should_panic(expected = "failed to start: disk full")]
    fn other_failures_never_skip() {
        let broken = Unavailable {
            reason: "disk full".to_owned(),
            skippable: false,
        };
        skip_or_panic(&broken, false);
    }
}
