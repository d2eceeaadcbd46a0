//! `pgshift.toml`: project settings kept with the migrations.
//!
//! ```toml
//! dir = "migration_scripts"        # the migration folder, relative to this file
//! database_url = "postgresql://app@localhost/users"   # prefer DATABASE_URL for secrets
//! schema = "public"                # tracking table schema
//! table = "schema_migrations"      # tracking table name
//! lock_wait = "60s"
//! lock_timeout = "200ms"           # "0" disables
//! lock_retry_for = "2m"            # keep retrying a busy migration this long
//! statement_timeout = "0"
//! max_retries = 10                 # optional cap on retries besides the time
//! checks_dir = "migration_scripts/checks"   # health checks (default: <dir>/checks)
//! backup_dir = "backups"           # for --backup and `pgshift backup`
//!
//! [lint]                          # see `pgshift lint --help`
//! disable = ["missing-description"]
//! postgres_version = 16            # default: the server's, else 15
//!
//! [test]                          # see `pgshift test --help`
//! idempotent = false               # skip the idempotency re-run [default: true]
//! ```
//!
//! Unknown keys are an error, so a typo does not silently fall back to a
//! default. Every key is optional; command-line flags and `PGSHIFT_*`
//! variables override the file.

use std::path::{Path, PathBuf};

/// The file name looked for in the working folder.
pub const CONFIG_FILE: &str = "pgshift.toml";

/// The parsed file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Migration folder, relative to the file.
    pub dir: Option<PathBuf>,
    /// Database URL.
    pub database_url: Option<String>,
    /// Tracking table schema.
    pub schema: Option<String>,
    /// Tracking table name.
    pub table: Option<String>,
    /// Lock wait, e.g. `"60s"`.
    pub lock_wait: Option<String>,
    /// `lock_timeout`, e.g. `"5s"`.
    pub lock_timeout: Option<String>,
    /// `statement_timeout`.
    pub statement_timeout: Option<String>,
    /// How long to retry a migration that hits a lock timeout or
    /// deadlock, e.g. `"2m"`.
    pub lock_retry_for: Option<String>,
    /// At most this many retries, besides the time budget.
    pub max_retries: Option<u32>,
    /// Role to `SET ROLE` to before running migrations.
    pub role: Option<String>,
    /// `[lint]`: which lint rules run.
    pub lint: Option<LintConfig>,
    /// `[test]`: what `pgshift test` proves.
    pub test: Option<TestConfig>,
    /// Health checks folder, relative to the file (default: `<dir>/checks`).
    pub checks_dir: Option<PathBuf>,
    /// Backups folder, relative to the file [default: `backups`].
    pub backup_dir: Option<PathBuf>,
    /// Where the file was read from (not a key).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// The `[lint]` table: rule names as in `pgshift lint --rule`.
///
/// ```toml
/// [lint]
/// enable = ["squawk/require-timeout-settings"]  # rules that are off by default
/// disable = ["squawk", "missing-description"]     # rules or groups never to run
/// postgres_version = 13   # major version squawk's rules judge for
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// Rules to run in addition to the defaults.
    #[serde(default)]
    pub enable: Vec<String>,
    /// Rules never to run.
    #[serde(default)]
    pub disable: Vec<String>,
    /// The PostgreSQL major version the migrations will run on, for
    /// squawk's version-dependent rules [default: the server's major version
    /// when the command is connected, else
    /// [`crate::lint::DEFAULT_POSTGRES_VERSION`]].
    pub postgres_version: Option<u32>,
}

/// The `[test]` table.
///
/// ```toml
/// [test]
/// idempotent = false   # the project never re-runs a file: skip the re-run check
/// ```
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestConfig {
    /// Whether `pgshift test` runs each forward file twice [default: true].
    pub idempotent: Option<bool>,
}

impl ConfigFile {
    /// Reads and parses a config file.
    ///
    /// # Errors
    /// The file cannot be read, or is not valid TOML with known keys.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            span: e.span(),
            message: e.message().to_string(),
        })?;
        config.path = Some(path.to_path_buf());
        Ok(config)
    }

    /// The migration folder, resolved against the file's folder.
    pub fn resolved_dir(&self) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let base = self
            .path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new(""));
        Some(base.join(dir))
    }
}

impl ConfigFile {
    /// A path setting of the file, resolved against the file's folder.
    pub fn resolve_path(&self, path: Option<&Path>) -> Option<PathBuf> {
        let path = path?;
        let base = self
            .path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new(""));
        Some(base.join(path))
    }
}

/// A problem with the config file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Reading failed.
    #[error("cannot read config file `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not valid TOML, or an unknown key.
    #[error("invalid config file `{}`: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where in the file, when known.
        span: Option<std::ops::Range<usize>>,
        /// What is wrong.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_with_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, "dir = \"m\"\ntabel = \"x\"\n").unwrap();
        let err = ConfigFile::load(&path).unwrap_err();
        assert!(err.to_string().contains("tabel"), "{err}");
        assert!(matches!(err, ConfigError::Parse { span: Some(_), .. }));
    }

    #[test]
    fn dir_is_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, "dir = \"db/migrations\"\nmax_retries = 1\n").unwrap();
        let config = ConfigFile::load(&path).unwrap();
        assert_eq!(
            config.resolved_dir().unwrap(),
            dir.path().join("db/migrations")
        );
        assert_eq!(config.max_retries, Some(1));
    }
}
