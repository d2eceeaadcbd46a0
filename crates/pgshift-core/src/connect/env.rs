//! The environment pgshift reads its connection settings from: the real
//! process environment first, then a `.env` file in the working folder that
//! never overrides it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::ConnectError;

/// Where an environment value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvSource {
    /// The real process environment.
    Process,
    /// The `.env` file of the working folder.
    DotEnv,
}

/// A read-only view of the environment: the process environment, then the
/// `.env` file of the working folder.
///
/// Nothing here ever writes to the process environment: we never call
/// `dotenvy::dotenv()`, which would, and which would also make a `.env` value
/// visible to every child process pgshift starts (`psql`, `pg_dump`, …).
///
/// `.env` is parsed by dotenvy: `KEY=value` lines, `#` comments, optional
/// `export`, quotes; `$NAME` / `${NAME}` are expanded in unquoted and
/// double-quoted values, so a password containing `$` needs single quotes.
/// The first definition of a name in the file wins.
///
/// Values that are set but empty count as unset (a `.env` template with
/// `DATABASE_URL=` should not mean "connect to the empty URL").
///
/// Its `Debug` output lists variable names only, never values, because the
/// environment usually holds `PGPASSWORD` or a `DATABASE_URL` with a password.
#[derive(Clone, Default)]
pub struct Environment {
    real: HashMap<String, String>,
    dotenv: HashMap<String, String>,
    dotenv_path: Option<PathBuf>,
    os_user: Option<String>,
    home: Option<PathBuf>,
    default_socket_dir: Option<PathBuf>,
}

/// Socket directories a packaged PostgreSQL server listens in; libpq uses its
/// compiled-in `DEFAULT_PGSOCKET_DIR`, which is `/var/run/postgresql` on
/// Debian and Ubuntu and `/run/postgresql` on Fedora and Arch.
const SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/run/postgresql"];

impl Environment {
    /// Reads the process environment and, if present, `dir/.env`.
    ///
    /// A missing `.env` is fine; one that cannot be read or parsed is a
    /// [`ConnectError::DotEnv`] naming the file and, where known, the line.
    /// Variables whose name or value is not valid UTF-8 are skipped.
    pub fn load(dir: &Path) -> Result<Self, ConnectError> {
        let real: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let path = dir.join(".env");
        let (dotenv, dotenv_path) = match std::fs::read(&path) {
            Ok(bytes) => (parse_dotenv(&path, &bytes)?, Some(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (HashMap::new(), None),
            Err(e) => {
                return Err(ConnectError::DotEnv {
                    path,
                    line: None,
                    reason: e.to_string(),
                })
            }
        };
        let passwd = os_account();
        let os_user = non_empty(&real, "USER")
            .or_else(|| non_empty(&real, "LOGNAME"))
            .map(str::to_owned)
            .or_else(|| passwd.as_ref().map(|(name, _)| name.clone()));
        let home = non_empty(&real, "HOME")
            .map(PathBuf::from)
            .or_else(|| passwd.map(|(_, home)| home));
        let default_socket_dir = SOCKET_DIRS
            .iter()
            .map(PathBuf::from)
            .find(|dir| dir.is_dir());
        Ok(Self {
            real,
            dotenv,
            dotenv_path,
            os_user,
            home,
            default_socket_dir,
        })
    }

    /// An environment with nothing in it: no variables, no `.env`, no home
    /// directory (so no password file), no OS user, no default socket. For
    /// targets that must not be influenced by the user's settings, such as
    /// the local development cluster.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds an environment from explicit pairs, for tests and embedding:
    /// `real` plays the process environment, `dotenv` the `.env` file
    /// (reported as `.env`). The OS user and home come from `USER`/`LOGNAME`
    /// and `HOME` in `real`; there is no default socket directory unless
    /// [`Environment::with_default_socket_dir`] sets one.
    pub fn from_pairs<R, D, K, V, K2, V2>(real: R, dotenv: D) -> Self
    where
        R: IntoIterator<Item = (K, V)>,
        D: IntoIterator<Item = (K2, V2)>,
        K: Into<String>,
        V: Into<String>,
        K2: Into<String>,
        V2: Into<String>,
    {
        let real: HashMap<String, String> = real
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let mut dotenv_map = HashMap::new();
        for (k, v) in dotenv {
            // Like the file parser: the first definition of a name wins.
            dotenv_map.entry(k.into()).or_insert_with(|| v.into());
        }
        let os_user = non_empty(&real, "USER")
            .or_else(|| non_empty(&real, "LOGNAME"))
            .map(str::to_owned);
        let home = non_empty(&real, "HOME").map(PathBuf::from);
        Self {
            real,
            dotenv: dotenv_map,
            dotenv_path: Some(PathBuf::from(".env")),
            os_user,
            home,
            default_socket_dir: None,
        }
    }

    /// Replaces the directory used as the default host when nothing names
    /// one (`None`: default to `localhost`).
    #[must_use]
    pub fn with_default_socket_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.default_socket_dir = dir;
        self
    }

    /// Looks `key` up: the process environment first, then `.env`.
    /// Empty values count as unset.
    pub fn get(&self, key: &str) -> Option<(String, EnvSource)> {
        self.lookup(key).map(|(v, s)| (v.to_owned(), s))
    }

    /// Like [`Environment::get`], borrowing the value.
    pub fn lookup(&self, key: &str) -> Option<(&str, EnvSource)> {
        non_empty(&self.real, key)
            .map(|v| (v, EnvSource::Process))
            .or_else(|| non_empty(&self.dotenv, key).map(|v| (v, EnvSource::DotEnv)))
    }

    /// True when `.env` sets `key` too but the process environment wins
    /// with a different value (worth a note: people edit `.env` and wonder
    /// why nothing changes).
    pub fn is_shadowed(&self, key: &str) -> bool {
        match (non_empty(&self.real, key), non_empty(&self.dotenv, key)) {
            (Some(real), Some(dot)) => real != dot,
            _ => false,
        }
    }

    /// The `.env` file that was read, if there was one.
    pub fn dotenv_path(&self) -> Option<&Path> {
        self.dotenv_path.as_deref()
    }

    /// The operating-system user name (`USER`, `LOGNAME`, then the account
    /// database): libpq's default for `user`.
    ///
    /// Only the real environment counts here: a `.env` file describes the
    /// application, not who runs it.
    pub fn os_user(&self) -> Option<&str> {
        self.os_user.as_deref()
    }

    /// The home directory (`HOME`, then the account database), where
    /// `~/.pgpass` and `~/.postgresql/` live.
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// The unix-socket directory used when no host is configured.
    pub fn default_socket_dir(&self) -> Option<&Path> {
        self.default_socket_dir.as_deref()
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut real: Vec<&String> = self.real.keys().collect();
        real.sort();
        let mut dotenv: Vec<&String> = self.dotenv.keys().collect();
        dotenv.sort();
        f.debug_struct("Environment")
            .field("real_vars", &real)
            .field("dotenv_vars", &dotenv)
            .field("dotenv_path", &self.dotenv_path)
            .field("os_user", &self.os_user)
            .field("home", &self.home)
            .field("default_socket_dir", &self.default_socket_dir)
            .finish()
    }
}

fn non_empty<'a>(map: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// Parses `.env` content with dotenvy's iterator (the same one
/// `dotenvy::from_path_iter` returns, fed from memory so that we can strip a
/// UTF-8 byte-order mark, which the path iterator keeps, and find line
/// numbers for errors). The first definition of a name wins, as with
/// `dotenvy::dotenv()`.
fn parse_dotenv(path: &Path, bytes: &[u8]) -> Result<HashMap<String, String>, ConnectError> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut map = HashMap::new();
    for item in dotenvy::from_read_iter(text) {
        match item {
            Ok((k, v)) => {
                map.entry(k).or_insert(v);
            }
            Err(dotenvy::Error::LineParse(line, index)) => {
                // dotenvy's own message quotes the whole line, which may hold a
                // password: report only where it is.
                return Err(ConnectError::DotEnv {
                    path: path.to_owned(),
                    line: find_line(text, &line),
                    reason: format!("cannot parse this line (at character {})", index + 1),
                });
            }
            Err(e) => {
                return Err(ConnectError::DotEnv {
                    path: path.to_owned(),
                    line: None,
                    reason: match e {
                        dotenvy::Error::Io(io) => io.to_string(),
                        _ => "cannot read the file".to_owned(),
                    },
                });
            }
        }
    }
    Ok(map)
}

/// 1-based number of the first line of `text` that starts the (possibly
/// multi-line) entry `entry`.
fn find_line(text: &[u8], entry: &str) -> Option<usize> {
    let text = String::from_utf8_lossy(text);
    let first = entry.lines().next().unwrap_or(entry).trim_end();
    if first.is_empty() {
        return None;
    }
    text.lines()
        .position(|l| l.trim_end() == first)
        .map(|i| i + 1)
}

/// The current user's name and home directory from `/etc/passwd`, for
/// containers where `USER` and `HOME` are not set (libpq asks `getpwuid`).
#[cfg(unix)]
fn os_account() -> Option<(String, PathBuf)> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's user; avoids unsafe `getuid`.
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() >= 6 && fields[2].parse::<u32>().ok()? == uid {
            Some((fields[0].to_owned(), PathBuf::from(fields[5])))
        } else {
            None
        }
    })
}

#[cfg(not(unix))]
fn os_account() -> Option<(String, PathBuf)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_environment_wins_over_dotenv() {
        let env = Environment::from_pairs(
            [("DATABASE_URL", "postgres://real/db")],
            [("DATABASE_URL", "postgres://dotenv/db"), ("PGUSER", "dot")],
        );
        assert_eq!(
            env.get("DATABASE_URL"),
            Some(("postgres://real/db".to_owned(), EnvSource::Process))
        );
        assert_eq!(
            env.get("PGUSER"),
            Some(("dot".to_owned(), EnvSource::DotEnv))
        );
        assert!(env.is_shadowed("DATABASE_URL"));
        assert!(!env.is_shadowed("PGUSER"));
        assert_eq!(env.get("PGHOST"), None);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = Environment::from_pairs([("DATABASE_URL", "")], [("DATABASE_URL", "x")]);
        assert_eq!(
            env.get("DATABASE_URL"),
            Some(("x".to_owned(), EnvSource::DotEnv))
        );
        let env = Environment::from_pairs([("PGHOST", "")], Vec::<(String, String)>::new());
        assert_eq!(env.get("PGHOST"), None);
    }

    #[test]
    fn load_reads_dotenv_without_touching_the_process_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "\u{feff}# comment\nPGSHIFT_TEST_ONLY_IN_DOTENV=from-file\nPGSHIFT_TEST_TWICE=first\nPGSHIFT_TEST_TWICE=second\nexport PGSHIFT_QUOTED=\"a b\"\n",
        )
        .unwrap();
        let env = Environment::load(dir.path()).unwrap();
        assert_eq!(
            env.get("PGSHIFT_TEST_ONLY_IN_DOTENV"),
            Some(("from-file".to_owned(), EnvSource::DotEnv))
        );
        assert_eq!(env.lookup("PGSHIFT_TEST_TWICE").unwrap().0, "first");
        assert_eq!(env.lookup("PGSHIFT_QUOTED").unwrap().0, "a b");
        assert!(std::env::var_os("PGSHIFT_TEST_ONLY_IN_DOTENV").is_none());
        assert_eq!(env.dotenv_path(), Some(dir.path().join(".env").as_path()));
    }

    #[test]
    fn missing_dotenv_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let env = Environment::load(dir.path()).unwrap();
        assert_eq!(env.dotenv_path(), None);
    }

    #[test]
    fn malformed_dotenv_names_file_and_line_but_not_the_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "A=1\nB=2\nDATABASE_URL=postgres://u:s3cretpw@h/db 'oops\n",
        )
        .unwrap();
        let err = Environment::load(dir.path()).unwrap_err();
        match &err {
            ConnectError::DotEnv { path, line, .. } => {
                assert_eq!(path, &dir.path().join(".env"));
                assert_eq!(*line, Some(3));
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(".env"), "{text}");
        assert!(text.contains("line 3"), "{text}");
        assert!(!text.contains("s3cretpw"), "{text}");
        assert!(!format!("{err:?}").contains("s3cretpw"));
    }

    #[test]
    fn empty_has_nothing() {
        let env = Environment::empty();
        assert_eq!(env.get("PATH"), None);
        assert_eq!(
            (env.os_user(), env.home(), env.dotenv_path()),
            (None, None, None)
        );
    }

    #[test]
    fn debug_shows_names_not_values() {
        let env = Environment::from_pairs([("PGPASSWORD", "hunter2")], [("X", "y")]);
        let dbg = format!("{env:?}");
        assert!(dbg.contains("PGPASSWORD"));
        assert!(!dbg.contains("hunter2"));
    }
}
