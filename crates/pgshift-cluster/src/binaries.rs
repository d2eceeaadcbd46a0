//! Finding the PostgreSQL server programs (`initdb`, `pg_ctl`, `postgres`).
//!
//! The three are looked for *together*, in one directory: `pg_ctl` and
//! `initdb` themselves start the `postgres` that sits next to them, so taking
//! them from different directories could mix major versions. Client programs
//! (`psql`, `pg_dump`) are not this module's concern.

use std::env;
use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process;
use crate::ClusterError;

/// Debian and Ubuntu install each major version's server programs here.
const DEBIAN_LIB_DIR: &str = "/usr/lib/postgresql";

/// The default prefix of a PostgreSQL built from source.
const SOURCE_INSTALL_BINDIR: &str = "/usr/local/pgsql/bin";

/// A directory holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    bindir: PathBuf,
}

impl Binaries {
    /// Finds the server programs.
    ///
    /// Looks in, in order: each directory on `PATH`; the directory printed by
    /// `pg_config --bindir` (if `pg_config` is on `PATH`); the newest
    /// `/usr/lib/postgresql/<version>/bin` (Debian's layout, compared by
    /// version number, so 10 beats 9.6); `/usr/local/pgsql/bin`. The first
    /// directory holding all three programs wins.
    ///
    /// # Errors
    ///
    /// [`ClusterError::BinariesNotFound`] listing every directory searched.
    pub fn find() -> Result<Self, ClusterError> {
        let mut searched = Vec::new();
        let path_dirs: Vec<PathBuf> = env::var_os("PATH")
            .map(|p| env::split_paths(&p).collect())
            .unwrap_or_default();
        if let Some(found) = search(path_dirs.clone(), &mut searched) {
            return Ok(found);
        }
        // Only now pay for running pg_config: usually PATH already answered.
        let mut fallbacks: Vec<PathBuf> = pg_config_bindir(&path_dirs).into_iter().collect();
        fallbacks.extend(versioned_bindirs(Path::new(DEBIAN_LIB_DIR)));
        fallbacks.push(PathBuf::from(SOURCE_INSTALL_BINDIR));
        search(fallbacks, &mut searched).ok_or(ClusterError::BinariesNotFound { searched })
    }

    /// Finds the server programs in exactly `dirs` (first match wins), ignoring
    /// `PATH` and the usual install locations. For callers with their own
    /// configuration (and for tests).
    ///
    /// # Errors
    ///
    /// [`ClusterError::BinariesNotFound`] listing `dirs`.
    pub fn find_in<I, P>(dirs: I) -> Result<Self, ClusterError>
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        let mut searched = Vec::new();
        search(dirs.into_iter().map(Into::into), &mut searched)
            .ok_or(ClusterError::BinariesNotFound { searched })
    }

    /// The directory the programs are in.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// Path of `initdb`.
    pub fn initdb(&self) -> PathBuf {
        self.bindir.join("initdb")
    }

    /// Path of `pg_ctl`.
    pub fn pg_ctl(&self) -> PathBuf {
        self.bindir.join("pg_ctl")
    }

    /// Path of `postgres`.
    pub fn postgres(&self) -> PathBuf {
        self.bindir.join("postgres")
    }

    /// The server version, from `postgres --version` (which, unlike starting
    /// the server, is allowed as root).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Spawn`] / [`ClusterError::Command`] if it cannot be run,
    /// or [`ClusterError::Command`] if its output has no version number.
    pub fn version(&self) -> Result<Version, ClusterError> {
        let mut cmd = Command::new(self.postgres());
        cmd.arg("--version");
        let out = process::run(&mut cmd)?;
        let text = String::from_utf8_lossy(&out.stdout);
        Version::parse_version_output(&text).ok_or_else(|| ClusterError::Command {
            command: process::describe(&cmd),
            status: out.status,
            stderr: format!("no version number in output {:?}", text.trim()),
        })
    }
}

/// A PostgreSQL server version, e.g. 15.8 (major 15, minor 8).
///
/// For pre-10 versions the "major" is just the first component (9.6.24 parses
/// as major 9, minor 6); this crate does not support those anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// First component, e.g. 15.
    pub major: u32,
    /// Second component, e.g. 8; 0 for development versions like "17beta1".
    pub minor: u32,
}

impl Version {
    /// Parses the output of `postgres --version`, e.g.
    /// `postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)`: the first
    /// whitespace-separated word starting with a digit.
    fn parse_version_output(text: &str) -> Option<Self> {
        let word = text
            .split_whitespace()
            .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
        let mut parts = word.split('.');
        let major = leading_number(parts.next()?)?;
        let minor = parts.next().and_then(leading_number).unwrap_or(0);
        Some(Self { major, minor })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

fn leading_number(s: &str) -> Option<u32> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

/// Returns the first of `dirs` holding all three programs, recording each
/// directory looked at (once) in `searched`.
fn search(
    dirs: impl IntoIterator<Item = PathBuf>,
    searched: &mut Vec<PathBuf>,
) -> Option<Binaries> {
    for dir in dirs {
        if dir.as_os_str().is_empty() || searched.contains(&dir) {
            continue;
        }
        searched.push(dir.clone());
        if ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|name| is_executable(&dir.join(name)))
        {
            return Some(Binaries { bindir: dir });
        }
    }
    None
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `pg_config --bindir`, if `pg_config` is in one of `path_dirs` and says something.
fn pg_config_bindir(path_dirs: &[PathBuf]) -> Option<PathBuf> {
    let pg_config = path_dirs
        .iter()
        .map(|d| d.join("pg_config"))
        .find(|p| is_executable(p))?;
    let out = Command::new(pg_config).arg("--bindir").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<root>/<version>/bin` for every version-named subdirectory of `root`,
/// newest first by numeric version.
fn versioned_bindirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let key = name
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((key, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bindir(dir: &Path, programs: &[&str]) {
        fs::create_dir_all(dir).unwrap();
        for name in programs {
            let path = dir.join(name);
            fs::write(&path, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn parses_version_output() {
        let v =
            Version::parse_version_output("postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)\n");
        assert_eq!(
            v,
            Some(Version {
                major: 15,
                minor: 8
            })
        );
        let v = Version::parse_version_output("postgres (PostgreSQL) 17beta1");
        assert_eq!(
            v,
            Some(Version {
                major: 17,
                minor: 0
            })
        );
        let v = Version::parse_version_output("postgres (PostgreSQL) 9.6.24");
        assert_eq!(v, Some(Version { major: 9, minor: 6 }));
        assert_eq!(Version::parse_version_output("no digits here"), None);
        assert_eq!(
            Version {
                major: 15,
                minor: 8
            }
            .to_string(),
            "15.8"
        );
    }

    #[test]
    fn versioned_bindirs_are_newest_first_numerically() {
        let root = tempfile::tempdir().unwrap();
        for name in ["9.6", "10", "15", "9.5", "notaversion"] {
            fs::create_dir(root.path().join(name)).unwrap();
        }
        let dirs = versioned_bindirs(root.path());
        let names: Vec<_> = dirs
            .iter()
            .map(|d| d.parent().unwrap().file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["15", "10", "9.6", "9.5"]);
        assert!(dirs.iter().all(|d| d.ends_with("bin")));
    }

    #[test]
    fn find_in_requires_all_three_in_one_dir() {
        let root = tempfile::tempdir().unwrap();
        let partial = root.path().join("partial");
        let full = root.path().join("full");
        fake_bindir(&partial, &["initdb", "pg_ctl"]);
        fake_bindir(&full, &["initdb", "pg_ctl", "postgres"]);
        let found = Binaries::find_in([&partial, &full]).unwrap();
        assert_eq!(found.bindir(), full);
        assert_eq!(found.pg_ctl(), full.join("pg_ctl"));
    }

    #[test]
    fn find_in_ignores_non_executables() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("bin");
        fake_bindir(&dir, &["initdb", "pg_ctl", "postgres"]);
        fs::set_permissions(dir.join("postgres"), fs::Permissions::from_mode(0o644)).unwrap();
        let err = Binaries::find_in([&dir]).unwrap_err();
        match err {
            ClusterError::BinariesNotFound { searched } => assert_eq!(searched, [dir]),
            other => panic!("unexpected {other:?}"),
        }
    }
}
