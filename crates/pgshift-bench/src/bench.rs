//! The benchmark run: one throwaway cluster, fresh databases, interleaved
//! rounds, then the no-op measurements.

use crate::measure::{Measured, Runner};
use crate::stats::kib_to_mb;
use crate::workload::{self, Workload};
use crate::Args;
use anyhow::{bail, ensure, Context, Result};
use pgshift_cluster::{Cluster, TempCluster};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A way of applying the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `pgshift up`.
    Pgshift,
    /// One psql session, `BEGIN; … COMMIT;` around each migration.
    PsqlSession,
    /// `psql -1`: everything in one transaction.
    PsqlSingle,
    /// One psql process per file.
    PsqlLoop,
}

/// Every method, in the order of the first round (later rounds rotate it).
pub const METHODS: [Method; 4] = [
    Method::Pgshift,
    Method::PsqlSession,
    Method::PsqlSingle,
    Method::PsqlLoop,
];

impl Method {
    /// Short name, used in database names and JSON.
    pub fn key(self) -> &'static str {
        match self {
            Method::Pgshift => "pgshift",
            Method::PsqlSession => "psql_session",
            Method::PsqlSingle => "psql_single",
            Method::PsqlLoop => "psql_loop",
        }
    }

    /// What the report calls it.
    pub fn label(self) -> &'static str {
        match self {
            Method::Pgshift => "pgshift up",
            Method::PsqlSession => "psql 1 session, BEGIN/COMMIT (floor)",
            Method::PsqlSingle => "psql -1 (one transaction)",
            Method::PsqlLoop => "psql per file (seed's loop)",
        }
    }
}

/// Everything measured, for the report.
#[derive(Debug)]
pub struct Results {
    /// Migrations in the workload.
    pub migrations: u32,
    /// Timed rounds.
    pub rounds: u32,
    /// Rounds that included the per-file loop.
    pub loop_rounds: u32,
    /// Untimed warm-up runs.
    pub warmup: u32,
    /// `SHOW server_version`.
    pub server_version: String,
    /// The psql binary used.
    pub psql_path: PathBuf,
    /// `psql --version`.
    pub psql_version: String,
    /// The pgshift binary measured.
    pub pgshift_path: PathBuf,
    /// Where the cluster lived.
    pub tmpdir: PathBuf,
    /// `pgshift --version`.
    pub pgshift_version: String,
    /// Timed runs per method, in [`METHODS`] order.
    pub runs: Vec<(Method, Vec<Measured>)>,
    /// The full `up` that prepared the no-op database (peak memory).
    pub setup_up: Measured,
    /// No-op `pgshift up` runs with everything applied.
    pub noop_up: Vec<Measured>,
    /// `pgshift status` runs with everything applied.
    pub status: Vec<Measured>,
    /// `psql -c 'SELECT 1'`: starting a client and connecting, for scale.
    pub select_one: Vec<Measured>,
    /// No-op `refinery migrate` runs, when `refinery` (refinery_cli) is on
    /// `PATH`: the peer the issue compared against.
    pub refinery_noop: Option<Vec<Measured>>,
}

impl Results {
    /// The timed runs of `method`.
    pub fn runs_of(&self, method: Method) -> &[Measured] {
        self.runs
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, runs)| runs.as_slice())
            .unwrap_or_default()
    }
}

/// Runs the whole benchmark.
pub fn run(args: &Args) -> Result<Results> {
    let pgshift = resolve_pgshift(args.pgshift.as_deref())?;
    let pgshift_version = version_of(pgshift.as_os_str())?;
    let psql = resolve_psql(args.psql.as_deref());
    let psql_version = version_of(psql.as_os_str()).with_context(|| {
        format!(
            "psql is needed for the baselines; cannot run {}",
            psql.display()
        )
    })?;

    let tmpdir = args.tmpdir.clone().unwrap_or_else(|| {
        let shm = PathBuf::from("/dev/shm");
        if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        }
    });
    // `Cluster::temporary` makes its directory in `env::temp_dir()`, which
    // follows TMPDIR. Still single-threaded here.
    std::env::set_var("TMPDIR", &tmpdir);
    let work = tempfile::Builder::new()
        .prefix("pgshift-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let workload = workload::generate(work.path(), args.migrations)?;
    let cwd = work.path().join("cwd");
    std::fs::create_dir(&cwd).with_context(|| format!("cannot create {}", cwd.display()))?;
    let runner = Runner::new(&cwd)?;

    let cluster = start_cluster()?;
    let mut admin = postgres::Client::connect(&cluster.socket_url("postgres"), postgres::NoTls)
        .context("cannot connect to the temporary cluster")?;
    let server_version: String = admin.query_one("SHOW server_version", &[])?.get(0);

    let mut bench = Bench {
        cluster: &cluster,
        admin: &mut admin,
        runner: &runner,
        workload: &workload,
        pgshift: &pgshift,
        psql: &psql,
    };

    for i in 0..args.warmup {
        for method in [Method::Pgshift, Method::PsqlSession] {
            let m = bench.fresh_run(method, &format!("bench_warmup_{}_{i}", method.key()))?;
            progress(&format!(
                "warm-up {}/{}: {:<13} {:>7.3} s",
                i + 1,
                args.warmup,
                method.key(),
                m.elapsed.as_secs_f64()
            ));
        }
    }

    let mut runs: Vec<(Method, Vec<Measured>)> = METHODS.iter().map(|&m| (m, vec![])).collect();
    for round in 0..args.rounds {
        let mut order: Vec<Method> = METHODS
            .into_iter()
            .filter(|&m| m != Method::PsqlLoop || round < args.loop_rounds)
            .collect();
        let turn = round as usize % order.len();
        order.rotate_left(turn);
        for method in order {
            let m = bench.fresh_run(method, &format!("bench_{}_{round}", method.key()))?;
            progress(&format!(
                "round {}/{}: {:<13} {:>7.3} s  {:>5.1} MB",
                round + 1,
                args.rounds,
                method.key(),
                m.elapsed.as_secs_f64(),
                kib_to_mb(m.max_rss_kib)
            ));
            if let Some((_, list)) = runs.iter_mut().find(|(k, _)| *k == method) {
                list.push(m);
            }
        }
    }

    progress("no-op up and status with everything applied");
    let (setup_up, noop_up, status, select_one) = bench.noop(args.noop_runs)?;
    let refinery_noop = match find_on_path("refinery") {
        Some(refinery) => {
            progress("no-op refinery migrate with everything applied");
            Some(bench.refinery_noop(&refinery, work.path(), args.noop_runs)?)
        }
        None => None,
    };
    drop(admin);
    cluster
        .destroy()
        .context("cannot stop the temporary cluster")?;

    Ok(Results {
        migrations: args.migrations,
        rounds: args.rounds,
        loop_rounds: args.loop_rounds.min(args.rounds),
        warmup: args.warmup,
        server_version,
        psql_path: psql.clone(),
        psql_version,
        pgshift_path: pgshift,
        tmpdir,
        pgshift_version,
        runs,
        setup_up,
        noop_up,
        status,
        select_one,
        refinery_noop,
    })
}

/// `program` in a folder of `PATH`, if there.
fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

struct Bench<'a> {
    cluster: &'a TempCluster,
    admin: &'a mut postgres::Client,
    runner: &'a Runner,
    workload: &'a Workload,
    pgshift: &'a Path,
    psql: &'a Path,
}

impl Bench<'_> {
    /// Creates database `db`, applies the workload with `method` and
    /// verifies the result.
    ///
    /// The database is kept until the cluster is removed at the end, not
    /// dropped: dropping one deletes thousands of files, and ext4 then makes
    /// creating files slow for a while (its inode allocator skips, and
    /// reads, recently freed inodes), which made the next run two to three
    /// times slower, mostly in the server's kernel time. A migration tool
    /// does not normally run right after a mass deletion, so that is not
    /// what to measure. The price is disk space: about 65 MB per run at the
    /// default size, for the duration of the benchmark.
    fn fresh_run(&mut self, method: Method, db: &str) -> Result<Measured> {
        let url = self.create_database(db)?;
        let before = self.server_cpu_now();
        let mut measured = self
            .apply(method, &url)
            .with_context(|| format!("{} failed on database {db}", method.key()))?;
        measured.server_cpu = self.server_cpu_since(db, before)?;
        workload::verify(&url, self.workload.count, method == Method::Pgshift)
            .with_context(|| format!("{} left database {db} wrong", method.key()))?;
        Ok(measured)
    }

    /// Creates `db`, checkpoints and flushes the file system, so every run
    /// starts from the same state with no writes of earlier runs pending.
    /// Returns its URL.
    fn create_database(&mut self, db: &str) -> Result<String> {
        // One statement per call: several in one simple query would form
        // a transaction block, which CREATE DATABASE refuses.
        for sql in [format!("CREATE DATABASE {db}"), "CHECKPOINT".to_string()] {
            self.admin
                .batch_execute(&sql)
                .with_context(|| format!("cannot create database {db}: {sql}"))?;
        }
        nix::unistd::sync();
        Ok(self.cluster.socket_url(db))
    }

    /// CPU time (user + system) of the postmaster's exited and reaped
    /// children, i.e. of every finished backend: `cutime` + `cstime` of
    /// `/proc/PID/stat`, in the kernel's 1/100 s ticks. `None` if unreadable.
    fn server_cpu_now(&self) -> Option<Duration> {
        let pid = self.cluster.running().pid();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name, from field 3 (state).
        let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
        let ticks = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
        Some(Duration::from_millis((ticks(16)? + ticks(17)?) * 10))
    }

    /// The server CPU a run used: once its sessions on `db` are gone and the
    /// postmaster's count of its children's CPU has settled, the growth
    /// since `before`. Includes any autovacuum worker that ran meanwhile.
    fn server_cpu_since(&mut self, db: &str, before: Option<Duration>) -> Result<Option<Duration>> {
        let Some(before) = before else {
            return Ok(None);
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let sessions: i64 = self
                .admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                    &[&db],
                )?
                .get(0);
            if sessions == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut last = self.server_cpu_now();
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.server_cpu_now();
            if now == last {
                break;
            }
            last = now;
        }
        Ok(last.map(|after| after.saturating_sub(before)))
    }

    fn apply(&self, method: Method, url: &str) -> Result<Measured> {
        let w = self.workload;
        let psql = |extra: &[&OsStr], script: &Path| -> Vec<OsString> {
            let mut args: Vec<OsString> = extra.iter().map(|a| a.to_os_string()).collect();
            args.extend(
                ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"]
                    .iter()
                    .map(OsString::from),
            );
            args.push(script.into());
            args
        };
        let (program, args): (&OsStr, Vec<OsString>) = match method {
            Method::Pgshift => (self.pgshift.as_os_str(), self.pgshift_args("up", url)),
            Method::PsqlSession => (self.psql.as_os_str(), psql(&[], &w.session_script)),
            Method::PsqlSingle => (
                self.psql.as_os_str(),
                psql(&["-1".as_ref()], &w.single_script),
            ),
            Method::PsqlLoop => (
                "sh".as_ref(),
                vec![
                    w.loop_script.clone().into(),
                    w.migrations_dir.clone().into(),
                    url.into(),
                    self.psql.into(),
                ],
            ),
        };
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        self.runner.run(program, &args)
    }

    fn pgshift_args(&self, command: &str, url: &str) -> Vec<OsString> {
        vec![
            command.into(),
            "--dir".into(),
            self.workload.migrations_dir.clone().into(),
            "--database-url".into(),
            url.into(),
        ]
    }

    fn pgshift_run(&self, command: &str, url: &str) -> Result<Measured> {
        let args = self.pgshift_args(command, url);
        let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        self.runner.run(self.pgshift.as_os_str(), &args)
    }

    /// refinery (`cargo install refinery_cli`) on the same workload: applies
    /// it once to a fresh database, then times `runs` no-op `refinery
    /// migrate`s over loopback TCP, as the no-op pgshift runs.
    fn refinery_noop(&mut self, refinery: &Path, work: &Path, runs: u32) -> Result<Vec<Measured>> {
        let db = "bench_refinery";
        let count = self.workload.count;
        self.create_database(db)?;
        let dir = work.join("refinery");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for i in 1..=count {
            let path = dir.join(format!("V{i}__t{i}.sql"));
            std::fs::write(&path, workload::migration_sql(i))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let config = work.join("refinery.toml");
        std::fs::write(
            &config,
            format!(
                "[main]\ndb_type = \"Postgres\"\ndb_host = \"{}\"\ndb_port = \"{}\"\n\
                 db_user = \"{}\"\ndb_pass = \"\"\ndb_name = \"{db}\"\n",
                self.cluster.running().host(),
                self.cluster.port(),
                self.cluster.running().user()
            ),
        )
        .with_context(|| format!("cannot write {}", config.display()))?;
        let args: [&OsStr; 5] = [
            "migrate".as_ref(),
            "-c".as_ref(),
            config.as_os_str(),
            "-p".as_ref(),
            dir.as_os_str(),
        ];
        self.runner.run(refinery.as_os_str(), &args)?;
        workload::verify(&self.cluster.socket_url(db), count, false)?;
        (0..runs)
            .map(|_| self.runner.run(refinery.as_os_str(), &args))
            .collect()
    }

    /// On a database with the whole workload applied by pgshift: `runs`
    /// no-op `up`s, `status`es and `SELECT 1`s, interleaved. Returns the
    /// full `up` that prepared it and the three series.
    #[allow(clippy::type_complexity)]
    fn noop(
        &mut self,
        runs: u32,
    ) -> Result<(Measured, Vec<Measured>, Vec<Measured>, Vec<Measured>)> {
        let db = "bench_noop";
        let count = self.workload.count;
        let socket_url = self.create_database(db)?;
        let setup = self.pgshift_run("up", &socket_url)?;
        workload::verify(&socket_url, count, true)?;
        // Measured as the issue did: over loopback TCP, with the server's
        // durability settings on (the throwaway cluster starts without).
        // One statement per call: ALTER SYSTEM refuses a transaction block.
        for sql in [
            "ALTER SYSTEM SET fsync = on",
            "ALTER SYSTEM SET synchronous_commit = on",
            "ALTER SYSTEM SET full_page_writes = on",
            "SELECT pg_reload_conf()",
        ] {
            self.admin.batch_execute(sql)?;
        }
        let url = self.cluster.url(db);
        let (mut ups, mut statuses, mut selects) = (vec![], vec![], vec![]);
        for _ in 0..runs {
            let up = self.pgshift_run("up", &url)?;
            ensure!(
                up.stdout.contains("Nothing to apply"),
                "a second `pgshift up` did not report nothing to apply:\n{}",
                up.stdout
            );
            ups.push(up);
            let status = self.pgshift_run("status", &url)?;
            let applied = format!("{count} applied");
            if !status.stdout.lines().any(|l| l.trim() == applied) {
                bail!(
                    "`pgshift status` did not report {applied}:\n{}",
                    tail(&status.stdout)
                );
            }
            statuses.push(status);
            let args: [&OsStr; 6] = [
                "-X".as_ref(),
                "-q".as_ref(),
                "-d".as_ref(),
                url.as_ref(),
                "-c".as_ref(),
                "SELECT 1".as_ref(),
            ];
            selects.push(self.runner.run(self.psql.as_os_str(), &args)?);
        }
        workload::verify(&url, count, true)?;
        Ok((setup, ups, statuses, selects))
    }
}

/// The last lines of `text`.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// The pgshift binary: `--pgshift`, else `pgshift` next to this executable.
///
/// In the second case, when started by `cargo run` (which sets `CARGO`),
/// it first runs `cargo build -p pgshift` with this binary's profile and
/// target directory, so the binary measured is the one of the current tree
/// (a no-op when it is up to date).
pub fn resolve_pgshift(given: Option<&Path>) -> Result<PathBuf> {
    let path = match given {
        Some(path) => path.to_path_buf(),
        None => {
            let exe = std::env::current_exe().context("cannot find this executable")?;
            if let Some(cargo) = std::env::var_os("CARGO") {
                build_pgshift(&cargo, &exe)?;
            }
            exe.with_file_name("pgshift")
        }
    };
    if !path.is_file() {
        let hint = if given.is_some() {
            String::new()
        } else {
            "\nBuild it first, with the same profile and target directory as this \
             benchmark:\n    cargo build --release -p pgshift\nor run the benchmark \
             with `cargo run --release -p pgshift-bench`, which builds it, or name a \
             binary with --pgshift PATH."
                .to_string()
        };
        bail!("no pgshift binary at {}{hint}", path.display());
    }
    std::fs::canonicalize(&path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// Builds `pgshift` next to `exe` (`<target dir>/<profile>/pgshift-bench`).
fn build_pgshift(cargo: &OsStr, exe: &Path) -> Result<()> {
    let (Some(profile_dir), Some(target_dir)) = (exe.parent(), exe.parent().and_then(Path::parent))
    else {
        return Ok(());
    };
    let profile = match profile_dir.file_name().and_then(OsStr::to_str) {
        Some("debug") => "dev",
        Some(name) => name,
        None => return Ok(()),
    };
    if profile != "release" {
        progress(&format!(
            "warning: measuring a `{profile}` build; use --release for meaningful numbers"
        ));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    progress(&format!("building pgshift ({profile} profile)"));
    let status = Command::new(cargo)
        .arg("build")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--profile", profile, "-p", "pgshift", "--target-dir"])
        .arg(target_dir)
        .status()
        .context("cannot run cargo to build pgshift")?;
    ensure!(
        status.success(),
        "`cargo build --profile {profile} -p pgshift` failed"
    );
    Ok(())
}

/// The psql binary: `--psql`, else the one installed with the server
/// binaries the cluster uses, else `psql` from `PATH`.
///
/// On Debian and Ubuntu, `psql` on `PATH` is `pg_wrapper`, a Perl script
/// that picks a version and then runs the real psql: it adds tens of
/// milliseconds to every start, which would swamp the per-file loop and
/// the connection reference with Perl's start-up rather than psql's.
fn resolve_psql(given: Option<&Path>) -> PathBuf {
    if let Some(path) = given {
        return path.to_path_buf();
    }
    // The server programs may be symlinks (e.g. /usr/local/bin/initdb ->
    // /usr/lib/postgresql/15/bin/initdb): look beside their target.
    pgshift_cluster::Binaries::find()
        .ok()
        .and_then(|b| std::fs::canonicalize(b.initdb()).ok())
        .and_then(|initdb| Some(initdb.parent()?.join("psql")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("psql"))
}

/// The first line of `program --version`.
pub fn version_of(program: &OsStr) -> Result<String> {
    let output = Command::new(program)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    ensure!(
        output.status.success(),
        "`{} --version` failed",
        program.to_string_lossy()
    );
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string())
}

/// Starts the run's throwaway cluster, first removing the servers left
/// behind by benchmark or test processes killed earlier.
pub fn start_cluster() -> anyhow::Result<TempCluster> {
    progress("starting a throwaway PostgreSQL cluster");
    let _ = TempCluster::sweep_abandoned();
    Cluster::temporary().context("cannot start a temporary cluster")
}

pub fn progress(text: &str) {
    eprintln!("pgshift-bench: {text}");
}
