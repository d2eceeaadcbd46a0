//! Running one command and measuring its wall time and peak memory.
//!
//! `getrusage(RUSAGE_CHILDREN).ru_maxrss` is the largest resident set of any
//! child (and, through them, grandchild) a process has waited for, ever. In
//! the benchmark process it would mix pgshift with every psql before it. So
//! each measured command runs under a fresh wrapper process: this binary
//! re-executed as `pgshift-bench --measure-rss OUT -- CMD ARGS…`, which
//! starts `CMD` with the wrapper's standard streams, waits for it, and
//! writes `<elapsed ns> <max RSS KiB> <CPU µs>` to `OUT`. Its only child is
//! `CMD`, so the figures are `CMD`'s (for a shell: the largest RSS of its
//! children, and the CPU time of them all). Timing from inside the wrapper
//! keeps its own start-up out of the result. The wrapper exits with `CMD`'s
//! status.

use anyhow::{bail, ensure, Context, Result};
use nix::sys::resource::{getrusage, UsageWho};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The hidden first argument that selects wrapper mode.
pub const WRAPPER_FLAG: &str = "--measure-rss";

/// Entry point of wrapper mode; `args` are what follows [`WRAPPER_FLAG`].
pub fn wrapper_main(args: &[OsString]) -> ExitCode {
    match wrapper(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pgshift-bench {WRAPPER_FLAG}: {e:#}");
            ExitCode::from(125)
        }
    }
}

fn wrapper(args: &[OsString]) -> Result<ExitCode> {
    let [out, separator, program, rest @ ..] = args else {
        bail!("usage: pgshift-bench {WRAPPER_FLAG} OUT -- CMD [ARGS...]");
    };
    ensure!(separator == "--", "expected `--` after the output file");
    let started = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .status()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let elapsed = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let micros = |t: nix::sys::time::TimeVal| {
        (t.tv_sec().max(0) as u64) * 1_000_000 + t.tv_usec().max(0) as u64
    };
    let cpu = micros(usage.user_time()) + micros(usage.system_time());
    fs::write(
        out,
        format!("{} {} {cpu}\n", elapsed.as_nanos(), usage.max_rss().max(0)),
    )
    .with_context(|| format!("cannot write {}", Path::new(out).display()))?;
    Ok(exit_code(status))
}

/// The exit code a shell would report for `status`.
fn exit_code(status: ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        (None, Some(signal)) => ExitCode::from(u8::try_from(128 + signal).unwrap_or(255)),
        (None, None) => ExitCode::FAILURE,
    }
}

/// What one measured command did.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Wall time from start to exit.
    pub elapsed: Duration,
    /// Peak resident set size, KiB.
    pub max_rss_kib: u64,
    /// CPU time (user + system) of the command and its children.
    pub cpu: Duration,
    /// CPU time the server's backends spent for the run, when measured.
    pub server_cpu: Option<Duration>,
    /// Its standard output.
    pub stdout: String,
}

/// Starts commands through the wrapper, in a clean environment and folder.
#[derive(Debug)]
pub struct Runner {
    wrapper: PathBuf,
    cwd: PathBuf,
    out_file: PathBuf,
}

impl Runner {
    /// Runs commands in `cwd` (which must hold no `pgshift.toml` or `.env`),
    /// writing the wrapper's figures to a file in it.
    pub fn new(cwd: &Path) -> Result<Self> {
        let wrapper = std::env::current_exe().context("cannot find this executable")?;
        Ok(Runner {
            wrapper,
            cwd: cwd.to_path_buf(),
            out_file: cwd.join(".measure"),
        })
    }

    /// Runs `program args…` to completion and measures it. A non-zero exit
    /// is an error carrying the command's standard error.
    pub fn run(&self, program: &OsStr, args: &[&OsStr]) -> Result<Measured> {
        let _ = fs::remove_file(&self.out_file);
        let mut command = Command::new(&self.wrapper);
        command
            .arg(WRAPPER_FLAG)
            .arg(&self.out_file)
            .arg("--")
            .arg(program)
            .args(args)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            // No colour, no stray connection settings from the caller's
            // environment: every method sees only its command line.
            .env("NO_COLOR", "1");
        for (name, _) in std::env::vars_os() {
            let name_str = name.to_string_lossy();
            if name_str.starts_with("PG") || name_str == "DATABASE_URL" {
                command.env_remove(&name);
            }
        }
        let output = command
            .output()
            .with_context(|| format!("cannot start {}", self.wrapper.display()))?;
        let describe = || {
            std::iter::once(program)
                .chain(args.iter().copied())
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
            bail!(
                "`{}` failed ({}):\n{}",
                describe(),
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let figures = fs::read_to_string(&self.out_file)
            .with_context(|| format!("the wrapper wrote no figures for `{}`", describe()))?;
        let mut fields = figures.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(nanos)), Some(Ok(max_rss_kib)), Some(Ok(cpu_us))) =
            (fields.next(), fields.next(), fields.next())
        else {
            bail!("unreadable wrapper figures {figures:?}");
        };
        Ok(Measured {
            elapsed: Duration::from_nanos(nanos),
            max_rss_kib,
            cpu: Duration::from_micros(cpu_us),
            server_cpu: None,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        })
    }
}
