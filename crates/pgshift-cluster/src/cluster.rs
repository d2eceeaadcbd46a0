//! A cluster on disk and its server: create (`initdb`), configure, start,
//! inspect and stop.
//!
//! The on-disk layout and the server settings are documented on [`Cluster`].
//!
//! # Not here
//!
//! Connecting, creating databases and running SQL are for the callers (the
//! URLs from [`Running`] are the interface). Which user the programs run as
//! lives in `process.rs`; finding them in `binaries.rs`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use crate::pidfile::PidFile;
use crate::process::{self, RunAs};
use crate::temp::TempCluster;
use crate::{port, socket, Binaries, ClusterError};

/// The database superuser `initdb` creates (`-U`).
const SUPERUSER: &str = "postgres";
/// Where the server listens for TCP connections. Loopback only, always.
const TCP_HOST: &str = "127.0.0.1";
/// The settings file pgshift rewrites before every start.
const SETTINGS_FILE: &str = "pgshift.conf";
/// The line that makes `postgresql.conf` read [`SETTINGS_FILE`]. Relative
/// include paths resolve against the including file's directory.
const INCLUDE_LINE: &str = "include_if_exists = 'pgshift.conf'";
/// How often to pick a new port when the chosen one was taken in the meantime.
const START_ATTEMPTS: u32 = 5;
/// How long `pg_ctl` waits for start or stop, and we wait for a server another
/// process is starting.
const WAIT_SECS: u64 = 60;
/// Lines of server log attached to start errors.
const LOG_TAIL_LINES: usize = 20;
/// Beyond this size the log is moved to `server.log.old` before a start, so a
/// long-lived development cluster does not grow it forever.
const LOG_ROTATE_BYTES: u64 = 16 * 1024 * 1024;

/// A PostgreSQL cluster in a directory of its own. Cheap to create: nothing
/// touches the disk until a method runs.
///
/// # Layout
///
/// A [`Cluster`] lives in one directory of its own (for the development
/// database, `<project>/.pgshift/dev/`):
///
/// ```text
/// <dir>/data/          the data directory (initdb's -D); owned by the server's user
/// <dir>/server.log     the server log (pg_ctl -l), appended to across starts
/// <dir>/socket/        the unix socket directory (see below)
/// <dir>/cluster.lock   flock(2)ed while starting or stopping, so concurrent
///                      pgshift processes do not both run initdb or pg_ctl start
/// ```
///
/// If `<dir>/socket/.s.PGSQL.<port>` would be too long for a unix socket path
/// (about 107 bytes), the socket directory is `/tmp/pgshift-<hash of the data
/// directory path>` instead; [`Cluster::socket_dir`] says which.
///
/// # Settings
///
/// Before every start the settings pgshift owns are written to
/// `data/pgshift.conf`, which `postgresql.conf` includes: the port,
/// `listen_addresses = '127.0.0.1'` (loopback only), the socket directory, and
/// `fsync`, `synchronous_commit` and `full_page_writes` off. **These clusters
/// trade durability for speed**: after an operating system crash or power loss
/// the data may be corrupt. That is the right trade for a development or test
/// database that can be recreated from migrations, and the wrong one for
/// anything else. Authentication is `trust` for the superuser `postgres`, which
/// is safe only because the server listens on loopback and a private socket
/// directory. The port is kept across restarts while it stays free, so URLs a
/// developer copied keep working.
#[derive(Debug, Clone)]
pub struct Cluster {
    dir: PathBuf,
    data_dir: PathBuf,
    log_file: PathBuf,
    socket_dir: PathBuf,
    binaries: Option<Binaries>,
}

/// What [`Cluster::status`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// There is no initialised data directory (`initdb` has not run).
    NotInitialised,
    /// Initialised, no server running (a stale `postmaster.pid` counts as stopped).
    Stopped,
    /// A server is running on the data directory.
    Running(Running),
}

/// How to reach a running server.
///
/// The server accepts the superuser `postgres` without a password (trust
/// authentication) over TCP on 127.0.0.1 and over its unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pid: u32,
    port: u16,
    socket_dir: PathBuf,
}

/// `pg_ctl stop` modes we use.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StopMode {
    /// Disconnect clients, shut down cleanly.
    Fast,
    /// Kill everything, no shutdown checkpoint: for clusters about to be deleted.
    Immediate,
}

/// What the data directory says, before deciding what a caller sees.
enum Probe {
    NotInitialised,
    Stopped,
    Running(PidFile),
}

impl Cluster {
    /// A cluster in `dir` (created on first start). A relative `dir` is made
    /// absolute against the current directory now, because the server runs
    /// with `/` as its working directory.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Io`] if the current directory cannot be determined.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, ClusterError> {
        let dir = dir.as_ref();
        let dir =
            std::path::absolute(dir).map_err(|e| ClusterError::io("make absolute", dir, e))?;
        let data_dir = dir.join("data");
        let socket_dir = socket::choose_dir(&dir.join("socket"), &data_dir);
        Ok(Self {
            log_file: dir.join("server.log"),
            data_dir,
            socket_dir,
            dir,
            binaries: None,
        })
    }

    /// The development cluster of the project in `project_dir`: the directory
    /// `<project_dir>/.pgshift/dev/`. It persists, and is reused by every
    /// pgshift run until stopped.
    ///
    /// # Errors
    ///
    /// As [`Cluster::open`].
    pub fn dev(project_dir: &Path) -> Result<Self, ClusterError> {
        Self::open(project_dir.join(".pgshift").join("dev"))
    }

    /// Creates and starts a throwaway cluster in a fresh temporary directory.
    /// Dropping the returned value stops the server and deletes everything.
    ///
    /// # Errors
    ///
    /// As [`Binaries::find`] and [`Cluster::ensure_running`].
    pub fn temporary() -> Result<TempCluster, ClusterError> {
        TempCluster::create()
    }

    /// Uses `binaries` instead of calling [`Binaries::find`] on every operation.
    #[must_use]
    pub fn with_binaries(mut self, binaries: Binaries) -> Self {
        self.binaries = Some(binaries);
        self
    }

    /// The cluster's own directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data directory (`<dir>/data`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log (`<dir>/server.log`).
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// Where a server started by this crate puts its unix socket:
    /// `<dir>/socket`, or the short `/tmp/pgshift-<hash>` fallback when that
    /// path would be too long for a socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Whether the cluster is initialised and whether its server runs.
    ///
    /// # Errors
    ///
    /// Finding the binaries, reading `postmaster.pid`, or `pg_ctl status`
    /// failing in a way that does not mean "not running" (e.g. the data
    /// directory is unreadable). [`ClusterError::NotReady`] while a server is
    /// so early in starting that it has not recorded its port yet.
    pub fn status(&self) -> Result<Status, ClusterError> {
        if !self.is_initialised()? {
            return Ok(Status::NotInitialised);
        }
        let binaries = self.binaries()?;
        let run_as = RunAs::for_data_dir(&self.data_dir)?;
        match self.probe(&binaries, &run_as)? {
            Probe::NotInitialised => Ok(Status::NotInitialised),
            Probe::Stopped => Ok(Status::Stopped),
            Probe::Running(pid_file) => self.running_from(pid_file).map(Status::Running),
        }
    }

    /// Makes sure the server runs and says how to reach it.
    ///
    /// Runs `initdb` if the data directory is not initialised, then starts the
    /// server (on the previous port if still free, else a free one, retrying if
    /// another process grabs it first). If a server already runs on the data
    /// directory, for example one started by an earlier pgshift process, it is
    /// reused as is; if it is still starting, this waits up to 60 seconds.
    ///
    /// # Errors
    ///
    /// Anything from finding binaries to [`ClusterError::StartFailed`], which
    /// carries the end of the server log.
    pub fn ensure_running(&self) -> Result<Running, ClusterError> {
        let binaries = self.binaries()?;
        self.create_own_dir()?;
        let _lock = self.lock()?;
        let run_as = RunAs::for_data_dir(&self.data_dir)?;
        let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
        loop {
            match self.probe(&binaries, &run_as)? {
                Probe::NotInitialised => {
                    self.initdb(&binaries, &run_as)?;
                    break;
                }
                Probe::Stopped => break,
                Probe::Running(pid_file) if pid_file.is_ready() => {
                    return self.running_from(pid_file);
                }
                Probe::Running(pid_file) => {
                    // Started (or being stopped) by someone not holding our
                    // lock, e.g. a developer's own pg_ctl: wait it out.
                    if Instant::now() >= deadline {
                        return Err(ClusterError::NotReady {
                            data_dir: self.data_dir.clone(),
                            state: pid_file.status.unwrap_or_else(|| "starting".to_owned()),
                        });
                    }
                    thread::sleep(Duration::from_millis(100));
                }
            }
        }
        self.start(&binaries, &run_as)
    }

    /// Stops the server (`pg_ctl stop -m fast`: clients are disconnected,
    /// shutdown is clean). Returns whether it was running.
    ///
    /// # Errors
    ///
    /// Finding binaries, probing the status, or `pg_ctl stop` failing.
    pub fn stop(&self) -> Result<bool, ClusterError> {
        self.stop_with(StopMode::Fast)
    }

    /// Stops the server with `mode`; returns whether it was running.
    pub(crate) fn stop_with(&self, mode: StopMode) -> Result<bool, ClusterError> {
        if !self.is_initialised()? {
            return Ok(false);
        }
        let binaries = self.binaries()?;
        let _lock = self.lock()?;
        let run_as = RunAs::for_data_dir(&self.data_dir)?;
        if !matches!(self.probe(&binaries, &run_as)?, Probe::Running(_)) {
            return Ok(false);
        }
        let mode = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        let mut cmd = run_as.command(&binaries.pg_ctl());
        cmd.args([
            "stop",
            "-s",
            "-w",
            "-t",
            &WAIT_SECS.to_string(),
            "-m",
            mode,
            "-D",
        ])
        .arg(&self.data_dir);
        process::run(&mut cmd)?;
        Ok(true)
    }

    fn binaries(&self) -> Result<Binaries, ClusterError> {
        match &self.binaries {
            Some(binaries) => Ok(binaries.clone()),
            None => Binaries::find(),
        }
    }

    fn is_initialised(&self) -> Result<bool, ClusterError> {
        let marker = self.data_dir.join("PG_VERSION");
        marker
            .try_exists()
            .map_err(|e| ClusterError::io("inspect", &marker, e))
    }

    fn probe(&self, binaries: &Binaries, run_as: &RunAs) -> Result<Probe, ClusterError> {
        if !self.is_initialised()? {
            return Ok(Probe::NotInitialised);
        }
        let pid_path = self.data_dir.join("postmaster.pid");
        // No pid file: certainly stopped, no need to ask pg_ctl.
        if PidFile::read(&pid_path)?.is_none() {
            return Ok(Probe::Stopped);
        }
        let mut cmd = run_as.command(&binaries.pg_ctl());
        cmd.arg("status").arg("-D").arg(&self.data_dir);
        let out = process::output(&mut cmd)?;
        match out.status.code() {
            // Running. Read the pid file again: it may have changed meanwhile.
            Some(0) => Ok(match PidFile::read(&pid_path)? {
                Some(pid_file) => Probe::Running(pid_file),
                None => Probe::Stopped,
            }),
            // Documented "not running": the pid file is stale (crash, reboot).
            // The server removes it itself when it next starts.
            Some(3) => Ok(Probe::Stopped),
            _ => Err(process::failed(&cmd, &out)),
        }
    }

    fn running_from(&self, pid_file: PidFile) -> Result<Running, ClusterError> {
        let Some(port) = pid_file.port else {
            return Err(ClusterError::NotReady {
                data_dir: self.data_dir.clone(),
                state: pid_file.status.unwrap_or_else(|| "starting".to_owned()),
            });
        };
        let socket_dir = pid_file.socket_dir.ok_or_else(|| ClusterError::NoSocket {
            data_dir: self.data_dir.clone(),
        })?;
        Ok(Running {
            pid: pid_file.pid,
            port,
            socket_dir,
        })
    }

    /// Creates `<dir>` (and its parents). Group and others get search
    /// permission so an unprivileged server user can reach the data directory
    /// below it when we run as root.
    fn create_own_dir(&self) -> Result<(), ClusterError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.dir)
            .map_err(|e| ClusterError::io("create directory", &self.dir, e))
    }

    /// Takes `<dir>/cluster.lock`, blocking; released when the value is dropped.
    fn lock(&self) -> Result<Flock<File>, ClusterError> {
        let path = self.dir.join("cluster.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o644)
            .open(&path)
            .map_err(|e| ClusterError::io("open lock file", &path, e))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| ClusterError::io("lock", &path, io::Error::from(errno)))
    }

    fn initdb(&self, binaries: &Binaries, run_as: &RunAs) -> Result<(), ClusterError> {
        // We create the data directory (rather than initdb) because its parent
        // belongs to us, not necessarily to the server's user.
        match fs::DirBuilder::new().mode(0o700).create(&self.data_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ClusterError::io("create directory", &self.data_dir, e)),
        }
        run_as.give(&self.data_dir)?;
        run_as.check_can_reach(&self.data_dir)?;
        let mut cmd = run_as.command(&binaries.initdb());
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8"])
            // The locale would otherwise come from the environment, making
            // sort order differ between machines; C is the same everywhere.
            .arg("--no-locale")
            // Skipping fsync makes initdb several times faster; a crash during
            // it just means running it again.
            .arg("--no-sync");
        process::run(&mut cmd)?;
        Ok(())
    }

    fn start(&self, binaries: &Binaries, run_as: &RunAs) -> Result<Running, ClusterError> {
        self.ensure_include()?;
        self.prepare_socket_dir(run_as)?;
        self.prepare_log_file(run_as)?;
        for path in [&self.data_dir, &self.socket_dir, &self.log_file] {
            run_as.check_can_reach(path)?;
        }
        let mut port = match self.previous_port() {
            Some(previous) if port::is_free(previous) => previous,
            _ => port::free_port()?,
        };
        let mut attempt = 1;
        loop {
            self.write_settings(port, run_as)?;
            let log_offset = fs::metadata(&self.log_file).map_or(0, |m| m.len());
            let mut cmd = run_as.command(&binaries.pg_ctl());
            cmd.args(["start", "-s", "-w", "-t", &WAIT_SECS.to_string(), "-D"])
                .arg(&self.data_dir)
                .arg("-l")
                .arg(&self.log_file);
            let out = process::output(&mut cmd)?;
            if out.status.success() {
                let pid_path = self.data_dir.join("postmaster.pid");
                let pid_file = PidFile::read(&pid_path)?.ok_or_else(|| {
                    // pg_ctl saw it ready, and it is already gone again.
                    ClusterError::StartFailed {
                        data_dir: self.data_dir.clone(),
                        reason: "the server exited right after starting".to_owned(),
                        log_file: self.log_file.clone(),
                        log_tail: self.log_tail(),
                    }
                })?;
                return self.running_from(pid_file);
            }
            let new_log = read_from(&self.log_file, log_offset, 64 * 1024).unwrap_or_default();
            if attempt < START_ATTEMPTS && port_was_taken(&new_log) {
                // Someone bound the port between our check and the server's bind.
                attempt += 1;
                port = port::free_port()?;
                continue;
            }
            return Err(ClusterError::StartFailed {
                data_dir: self.data_dir.clone(),
                reason: failure_reason(&new_log, &process::diagnostics(&out)),
                log_file: self.log_file.clone(),
                // This attempt's lines if it wrote any (pg_ctl may fail before
                // the server logs anything), else whatever the log ends with.
                log_tail: if new_log.trim().is_empty() {
                    self.log_tail()
                } else {
                    process::last_lines(&new_log, LOG_TAIL_LINES)
                },
            });
        }
    }

    /// Adds [`INCLUDE_LINE`] to `postgresql.conf` unless present, so clusters
    /// initialised by someone else get pgshift's settings too.
    fn ensure_include(&self) -> Result<(), ClusterError> {
        let conf = self.data_dir.join("postgresql.conf");
        let text = fs::read_to_string(&conf).map_err(|e| ClusterError::io("read", &conf, e))?;
        if text.lines().any(|line| line.trim() == INCLUDE_LINE) {
            return Ok(());
        }
        // Appending keeps the file's owner and mode.
        let mut file = OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(|e| ClusterError::io("open", &conf, e))?;
        let sep = if text.ends_with('\n') || text.is_empty() {
            ""
        } else {
            "\n"
        };
        write!(file, "{sep}\n# Settings managed by pgshift (rewritten before every start).\n{INCLUDE_LINE}\n")
            .map_err(|e| ClusterError::io("write", &conf, e))
    }

    /// Writes `data/pgshift.conf` for a start on `port`.
    fn write_settings(&self, port: u16, run_as: &RunAs) -> Result<(), ClusterError> {
        let socket_dir = self
            .socket_dir
            .to_str()
            .ok_or_else(|| ClusterError::NonUtf8Path {
                path: self.socket_dir.clone(),
            })?;
        let text = settings_text(port, socket_dir);
        let path = self.data_dir.join(SETTINGS_FILE);
        fs::write(&path, text).map_err(|e| ClusterError::io("write", &path, e))?;
        run_as.give(&path)
    }

    /// The port in the last `pgshift.conf` written, if any.
    fn previous_port(&self) -> Option<u16> {
        let text = fs::read_to_string(self.data_dir.join(SETTINGS_FILE)).ok()?;
        text.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "port").then(|| value.trim().parse().ok())?
        })
    }

    /// Creates the socket directory private to the server's user, or checks
    /// that an existing one is a real directory owned by that user: a socket
    /// directory someone else controls could be used to impersonate the server.
    fn prepare_socket_dir(&self, run_as: &RunAs) -> Result<(), ClusterError> {
        let dir = &self.socket_dir;
        let not_owned = || ClusterError::SocketDirNotOwned {
            path: dir.clone(),
            user: run_as.name().to_owned(),
        };
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.is_dir() && meta.uid() == run_as.uid() => Ok(()),
            Ok(_) => Err(not_owned()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| ClusterError::io("create directory", dir, e))?;
                // DirBuilder's mode is filtered by the umask; make it exact.
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| ClusterError::io("set permissions of", dir, e))?;
                run_as.give(dir)
            }
            Err(e) => Err(ClusterError::io("inspect", dir, e)),
        }
    }

    /// Makes sure the log file exists and belongs to the server's user (the
    /// server appends to it, and cannot create files in `<dir>` when that is
    /// ours); moves an oversized one aside.
    fn prepare_log_file(&self, run_as: &RunAs) -> Result<(), ClusterError> {
        let log = &self.log_file;
        if fs::metadata(log).is_ok_and(|m| m.len() > LOG_ROTATE_BYTES) {
            let old = log.with_extension("log.old");
            fs::rename(log, &old).map_err(|e| ClusterError::io("rotate", log, e))?;
        }
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(log)
            .map_err(|e| ClusterError::io("create", log, e))?;
        run_as.give(log)
    }

    /// The last [`LOG_TAIL_LINES`] lines of the server log, or a note why not.
    fn log_tail(&self) -> String {
        match read_from(&self.log_file, 0, 16 * 1024) {
            Ok(text) => process::last_lines(&text, LOG_TAIL_LINES),
            Err(e) => format!("(could not read the log: {e})"),
        }
    }
}

/// The contents of `pgshift.conf`.
fn settings_text(port: u16, socket_dir: &str) -> String {
    // unix_socket_directories is a list: double-quote the entry so commas and
    // spaces in the path are literal, then quote it as a configuration string.
    let list_entry = format!("\"{}\"", socket_dir.replace('"', "\"\""));
    format!(
        "# Written by pgshift before every start: changes here are lost.\n\
         # Use postgresql.conf or ALTER SYSTEM for your own settings.\n\
         listen_addresses = '{TCP_HOST}'\n\
         port = {port}\n\
         unix_socket_directories = {}\n\
         unix_socket_permissions = 0700\n\
         # A development/test cluster: speed over durability (see pgshift-cluster docs).\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n",
        conf_quote(&list_entry)
    )
}

/// A configuration-file string literal: backslashes and single quotes escaped.
fn conf_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// One line saying why a start failed: the server's last FATAL or PANIC
/// message in `new_log` (the useful part), else the first line `pg_ctl` printed.
fn failure_reason(new_log: &str, pg_ctl_output: &str) -> String {
    let fatal = new_log.lines().rev().find_map(|line| {
        ["FATAL:", "PANIC:"]
            .iter()
            .find_map(|tag| line.split_once(tag).map(|(_, msg)| msg.trim()))
    });
    match fatal {
        Some(msg) if !msg.is_empty() => msg.to_owned(),
        _ => {
            let first = pg_ctl_output.lines().next().unwrap_or("").trim();
            let first = first.strip_prefix("pg_ctl: ").unwrap_or(first);
            if first.is_empty() {
                "pg_ctl start failed".to_owned()
            } else {
                first.to_owned()
            }
        }
    }
}

/// Whether a failed start's log says the TCP port was in use.
fn port_was_taken(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("could not create any TCP/IP sockets")
}

/// Up to the last `max` bytes of `path` from byte `offset` on, lossily decoded.
fn read_from(path: &Path, offset: u64, max: u64) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = offset.max(len.saturating_sub(max));
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl Running {
    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The TCP port (also part of the unix socket's name).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the unix socket `.s.PGSQL.<port>`.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The TCP host to connect to: always `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        TCP_HOST
    }

    /// The superuser to connect as (no password needed): `postgres`.
    pub fn user(&self) -> &'static str {
        SUPERUSER
    }

    /// A URL for database `dbname` over loopback TCP, e.g.
    /// `postgresql://postgres@127.0.0.1:54321/app`. Works with libpq (`psql`),
    /// the `postgres`/`tokio-postgres` crates and most other clients; this is
    /// the form to hand out.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@{TCP_HOST}:{}/{}",
            self.port,
            socket::percent_encode(dbname.as_bytes())
        )
    }

    /// A URL for database `dbname` over the unix socket, with the socket
    /// directory percent-encoded as the host, e.g.
    /// `postgresql://postgres@%2Ftmp%2Fpgshift-1a2b:54321/app`.
    ///
    /// Both libpq and `tokio_postgres::Config::from_str` read a host starting
    /// with `/` (after decoding) as a socket directory. They also accept the
    /// equivalent query form `postgresql:///app?host=/tmp/x&port=54321&user=postgres`,
    /// which this crate does not produce. Slightly faster than TCP, but only
    /// usable on this machine by the server's user or root.
    pub fn socket_url(&self, dbname: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@{}:{}/{}",
            socket::percent_encode(self.socket_dir.as_os_str().as_encoded_bytes()),
            self.port,
            socket::percent_encode(dbname.as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_loopback_and_quote_the_socket_dir() {
        let text = settings_text(5433, "/tmp/it's a \"dir\"\\x");
        assert!(text.contains("listen_addresses = '127.0.0.1'\n"), "{text}");
        assert!(text.contains("port = 5433\n"), "{text}");
        assert!(
            text.contains(r#"unix_socket_directories = '"/tmp/it''s a ""dir""\\x"'"#),
            "{text}"
        );
        assert!(text.contains("fsync = off\n"));
    }

    #[test]
    fn previous_port_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = Cluster::open(dir.path()).unwrap();
        assert_eq!(cluster.previous_port(), None);
        fs::create_dir(cluster.data_dir()).unwrap();
        fs::write(
            cluster.data_dir().join(SETTINGS_FILE),
            settings_text(61234, "/s"),
        )
        .unwrap();
        assert_eq!(cluster.previous_port(), Some(61234));
    }

    #[test]
    fn layout_and_socket_fallback() {
        let cluster = Cluster::dev(Path::new("/work/p")).unwrap();
        assert_eq!(cluster.dir(), Path::new("/work/p/.pgshift/dev"));
        assert_eq!(cluster.data_dir(), Path::new("/work/p/.pgshift/dev/data"));
        assert_eq!(
            cluster.log_file(),
            Path::new("/work/p/.pgshift/dev/server.log")
        );
        assert_eq!(
            cluster.socket_dir(),
            Path::new("/work/p/.pgshift/dev/socket")
        );

        let deep = PathBuf::from(format!("/work/{}", "deep/".repeat(20)));
        let cluster = Cluster::dev(&deep).unwrap();
        let socket_dir = cluster.socket_dir().to_str().unwrap();
        assert!(socket_dir.starts_with("/tmp/pgshift-"), "{socket_dir}");
        assert!(socket::fits(cluster.socket_dir()));
    }

    #[test]
    fn relative_dirs_become_absolute() {
        let cluster = Cluster::open("rel/dir").unwrap();
        assert!(cluster.dir().is_absolute());
        assert!(cluster.dir().ends_with("rel/dir"));
    }

    #[test]
    fn urls() {
        let running = Running {
            pid: 1,
            port: 5999,
            socket_dir: PathBuf::from("/tmp/pg sock"),
        };
        assert_eq!(
            running.url("app"),
            "postgresql://postgres@127.0.0.1:5999/app"
        );
        assert_eq!(
            running.url("a b"),
            "postgresql://postgres@127.0.0.1:5999/a%20b"
        );
        assert_eq!(
            running.socket_url("app"),
            "postgresql://postgres@%2Ftmp%2Fpg%20sock:5999/app"
        );
    }

    #[test]
    fn port_taken_detection() {
        assert!(port_was_taken(
            "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use\n"
        ));
        assert!(!port_was_taken(
            "FATAL:  data directory has wrong ownership\n"
        ));
    }

    #[test]
    fn failure_reason_prefers_the_servers_fatal_message() {
        let log = "2026-01-01 LOG:  invalid value for parameter \"shared_buffers\": \"lots\"\n\
                   2026-01-01 FATAL:  configuration file \"/d/postgresql.conf\" contains errors\n";
        let pg_ctl = "pg_ctl: could not start server\nExamine the log output.";
        assert_eq!(
            failure_reason(log, pg_ctl),
            "configuration file \"/d/postgresql.conf\" contains errors"
        );
        assert_eq!(
            failure_reason("", "pg_ctl: server did not start in time"),
            "server did not start in time"
        );
        assert_eq!(failure_reason("", ""), "pg_ctl start failed");
    }

    #[test]
    fn read_from_limits_to_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_from(&path, 0, 4).unwrap(), "6789");
        assert_eq!(read_from(&path, 8, 100).unwrap(), "89");
        assert_eq!(read_from(&path, 3, 100).unwrap(), "3456789");
    }
}
