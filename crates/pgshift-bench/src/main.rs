//! `pgshift-bench`: how fast `pgshift up` applies many small migrations,
//! measured against what `psql` needs to run the same SQL; with
//! `--snapshot`, how fast `pgshift dump` reads a 2,000-table schema against
//! `pg_dump --schema-only` (see [`snapshot`]); with `--lint`, how fast
//! `pgshift lint` checks a folder of 100-line migrations (see [`lint`]);
//! with `--lock-contention`, how long a migration blocked by a long reader
//! freezes the application, psql against pgshift (see [`lockwait`]).
//!
//! # What is measured
//!
//! The workload is `--migrations` (default 1,000) generated files
//! `NNNN_tN.sql`, each a small table, an index on it and one row:
//!
//! ```sql
//! CREATE TABLE tN (id int primary key, name text);
//! CREATE INDEX tN_name_idx ON tN (name);
//! INSERT INTO tN VALUES (1, 'x');
//! ```
//!
//! Tiny migrations make the per-migration overhead of the tool (round trips,
//! transaction handling, tracking rows, parsing, checksums, output) the
//! dominant cost, which is what this benchmark is about. Every method runs
//! against a fresh database of one throwaway cluster (`fsync` off, unix
//! socket), with a `CHECKPOINT` and a `sync(2)` before it so that each run
//! starts from the same state. The databases are kept until the cluster is
//! removed at the end rather than dropped after each run: on ext4, creating
//! files soon after deleting thousands makes the next run two to three
//! times slower (see [`mod@bench`]).
//!
//! | method | what runs | why |
//! | --- | --- | --- |
//! | `pgshift` | `pgshift up --dir D --database-url URL` | the thing measured |
//! | `psql-session` | one `psql -f` session, each migration wrapped in `BEGIN; … COMMIT;` | the floor for one transaction per migration on one connection: same statements, sent one by one, no tracking |
//! | `psql-single` | `psql -1 -f all.sql` | everything in one transaction: fewer commits than any per-migration scheme (for scale, not a target) |
//! | `psql-loop` | one `psql -1 -f FILE` process per file, in order, from `sh` | the seed's `migrate.sh` way (each seed file carries its own `BEGIN`/`COMMIT`; `-1` does the same for the generated files) |
//!
//! psql is the real binary installed with the server programs (not
//! Debian's `pg_wrapper` Perl script on `PATH`, whose start-up would
//! dominate the per-file loop), and `-X` keeps `.psqlrc` out.
//!
//! The cluster and the generated files live in `/dev/shm` (tmpfs) when it
//! exists (`--tmpdir` to choose). On a disk file system the numbers
//! depended on what else had just deleted files: on ext4, creating files
//! within a minute or so of thousands being deleted (by the previous
//! benchmark's cleanup, another cluster, a `cargo clean`) made whole runs
//! two to three times slower, in the server's kernel time. The comparison
//! is about the client side, so the file system is taken out of it.
//!
//! The time of a run is the wall clock of the whole process (or, for the
//! loop, of the shell running all the `psql` processes): process start,
//! connection, work, exit. Next to it: the CPU time of the client
//! process(es), and of the server backends that served the run (the growth
//! of the postmaster's reaped-children CPU time), which still say where the
//! work is when a busy machine makes wall times mostly waiting. Methods are interleaved within a round, the
//! order rotated each round, and the report gives the median, minimum and
//! maximum per method and the ratio of medians to the `psql-session` floor.
//! The 1.1× target is judged on the median of the per-round ratios
//! (pgshift's run against the floor's run of the same round), shown next to
//! the ratio of medians: on a shared machine whose speed drifts from one
//! minute to the next, runs minutes apart differ by 20% or more, while two
//! runs of the same round saw the same load.
//! Every run is verified afterwards (all tables, indexes and rows present;
//! for pgshift, all tracking rows), so a broken run cannot look fast.
//!
//! Then, on a database with all migrations applied, it times a no-op
//! `pgshift up` and `pgshift status` (`--noop-runs` each, median), next to
//! `psql -c 'SELECT 1'` as the cost of starting a client and connecting.
//!
//! Peak memory is the maximum resident set size of the measured process
//! and its children, from `getrusage(RUSAGE_CHILDREN)`. That value is a
//! running maximum over every child a process ever waited for, so each
//! measured command is started through a small wrapper: this same binary
//! re-executed in a hidden `--measure-rss OUT -- CMD ARGS…` mode, which
//! runs only that one command, times it and writes the figures to `OUT`
//! (see [`measure`]). The wrapper's own start-up is outside the timing.
//!
//! # Targets
//!
//! From the issue: `pgshift up` within 1.1× of the `psql-session` floor and
//! at least 3× faster than the per-file loop; a no-op `up` and `status`
//! with everything applied within 15 ms (over loopback TCP, the cluster's
//! `fsync` turned on for that part) and within 8 MB; other runs' peak
//! memory under 20 MB. The report
//! says PASS or MISS for each. It is informational: the exit status is
//! non-zero only when a run itself failed or produced a wrong database.

// Printing is the point of this binary: the report goes to stdout,
// progress to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod lint;
mod lockwait;
mod measure;
mod memory;
mod report;
mod snapshot;
mod stats;
mod workload;

use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// Benchmark `pgshift up` on many small migrations against psql baselines,
/// on a throwaway PostgreSQL cluster.
#[derive(Debug, Parser)]
#[command(name = "pgshift-bench", max_term_width = 100)]
#[command(after_help = "Examples:
  cargo run --release -p pgshift-bench     builds pgshift, then measures it
  target/release/pgshift-bench --json      measures target/release/pgshift as built
  cargo run --release -p pgshift-bench -- --snapshot   2,000-table snapshot against pg_dump
  cargo run --release -p pgshift-bench -- --lint       pgshift lint on 1,000 migrations of 100 lines
  cargo run --release -p pgshift-bench -- --lock-contention --quick   a blocked migration under pgbench load

  cargo run --release -p pgshift-bench -- --memory --memory-mb 20   peak memory of up on large files")]
pub struct Args {
    /// Migrations to generate (each a table, an index and a row)
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=9999))]
    pub migrations: u32,

    /// Timed rounds of pgshift and the two one-session psql methods
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,

    /// Rounds that also run the (slow) one-psql-per-file loop; 0 skips it
    #[arg(long, default_value_t = 1)]
    pub loop_rounds: u32,

    /// Untimed warm-up runs of pgshift and psql before the rounds
    #[arg(long, default_value_t = 1)]
    pub warmup: u32,

    /// Runs each of no-op `up` and `status` on a fully migrated database
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub noop_runs: u32,

    /// The pgshift binary [default: `pgshift` next to this executable, built
    /// first when run by `cargo run`]
    #[arg(long, value_name = "PATH")]
    pub pgshift: Option<PathBuf>,

    /// The psql binary [default: the one installed with the server binaries,
    /// else `psql` on PATH]
    #[arg(long, value_name = "PATH")]
    pub psql: Option<PathBuf>,

    /// Where the throwaway cluster and the generated files go [default:
    /// /dev/shm if it exists, else the system temporary directory]
    #[arg(long, value_name = "DIR")]
    pub tmpdir: Option<PathBuf>,

    /// Instead: time a schema snapshot (`pgshift dump`) of a generated schema
    /// against `pg_dump --schema-only` on the same database
    #[arg(long, conflicts_with_all = ["lint", "memory"])]
    pub snapshot: bool,

    /// Tables in the generated schema of --snapshot
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub tables: u32,

    /// Instead: time `pgshift lint` on a folder of --migrations generated
    /// migrations of about 100 lines each (no database)
    #[arg(long, conflicts_with = "memory")]
    pub lint: bool,

    /// Instead: pgbench load, a reader holding a lock on the table a
    /// migration alters, and how long the application stalls, for psql and
    /// for pgshift
    #[arg(long, conflicts_with_all = ["lint", "snapshot", "memory"])]
    pub lock_contention: bool,

    /// How long the reader of --lock-contention holds its lock, in seconds
    /// [default: 15, 4 with --quick]
    #[arg(long, value_name = "SECS")]
    pub reader_secs: Option<u64>,

    /// A short --lock-contention run
    #[arg(long)]
    pub quick: bool,

    /// Size of the largest single migration --lint checks, in MB (also
    /// one of a quarter of that)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub lint_mb: u32,

    /// Instead: peak memory of `pgshift up` on large migrations (one
    /// statement of --memory-mb/4 MB, bulk INSERTs of --memory-mb/2 and
    /// --memory-mb MB)
    #[arg(long)]
    pub memory: bool,

    /// Size of the largest migration of --memory, in MB
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub memory_mb: u32,

    /// Print the results as JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

fn main() -> ExitCode {
    let raw: Vec<OsString> = std::env::args_os().collect();
    if raw.get(1).is_some_and(|a| a == measure::WRAPPER_FLAG) {
        return measure::wrapper_main(&raw[2..]);
    }
    let args = Args::parse();
    let pgshift = || bench::resolve_pgshift(args.pgshift.as_deref());
    if args.snapshot {
        let results = pgshift().and_then(|p| snapshot::run(&args, p));
        return finish(results, args.json, snapshot::json, snapshot::text);
    }
    if args.lock_contention {
        let results = pgshift().and_then(|p| lockwait::run(&args, p));
        return finish(results, args.json, lockwait::json, lockwait::text);
    }
    if args.lint {
        let results = pgshift().and_then(|p| lint::run(&args, p));
        return finish(results, args.json, lint::json, lint::text);
    }
    if args.memory {
        let results = pgshift().and_then(|p| memory::run(&args, p));
        return finish(results, args.json, memory::json, memory::text);
    }
    finish(bench::run(&args), args.json, report::json, report::text)
}

/// Prints a benchmark's report, as JSON or text, or its error.
fn finish<R>(
    results: anyhow::Result<R>,
    json: bool,
    as_json: fn(&R) -> serde_json::Value,
    as_text: fn(&R) -> String,
) -> ExitCode {
    match results {
        Ok(results) => {
            if json {
                println!("{}", as_json(&results));
            } else {
                print!("{}", as_text(&results));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pgshift-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
