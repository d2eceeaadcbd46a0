//! One resolved settings value per run: flags over `PGSHIFT_*` variables
//! over `pgshift.toml` over defaults.

use crate::args::GlobalArgs;
use anyhow::{anyhow, Context};
use pgshift_core::audit::AuditContext;
use pgshift_core::config::{ConfigFile, CONFIG_FILE};
use pgshift_core::connect::Environment;
use pgshift_core::history::TrackingTable;
use pgshift_core::migrator::RunOptions;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a command needs to know, resolved.
#[derive(Debug)]
pub struct Settings {
    /// The migration folder.
    pub dir: PathBuf,
    /// Where `.pgshift/` (the local development database) lives.
    pub project_dir: PathBuf,
    /// The tracking table.
    pub table: TrackingTable,
    /// Locking, timeouts, retries.
    pub run: RunOptions,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// The config file, if one was read.
    pub config: ConfigFile,
    /// Process environment plus `.env`.
    pub env: Environment,
    /// Health checks folder.
    pub checks_dir: PathBuf,
    /// Default folder for backups.
    pub backup_dir: PathBuf,
    /// pg_dump / pg_restore paths (`PGSHIFT_PG_DUMP`, `PGSHIFT_PG_RESTORE`).
    pub tools: pgshift_core::backup::ToolPaths,
}

impl Settings {
    /// Resolves settings from flags, environment and config file.
    pub fn resolve(args: &GlobalArgs) -> Result<Settings, SettingsError> {
        let cwd = std::env::current_dir()
            .map_err(|e| SettingsError(anyhow!(e).context("cannot read the working folder")))?;
        let env = Environment::load(&cwd).map_err(|e| SettingsError(anyhow!(e)))?;
        let var = |name: &str| env.get(name).map(|(value, _)| value);

        let config_path = args
            .config
            .clone()
            .or_else(|| var("PGSHIFT_CONFIG").map(PathBuf::from))
            .or_else(|| {
                let default = cwd.join(CONFIG_FILE);
                default.is_file().then_some(default)
            });
        let config = match &config_path {
            Some(path) => ConfigFile::load(path).map_err(|e| SettingsError(anyhow!(e)))?,
            None => ConfigFile::default(),
        };
        let project_dir = config_path
            .as_deref()
            .and_then(|p| p.parent())
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| cwd.clone());

        let dir = args
            .dir
            .clone()
            .or_else(|| var("PGSHIFT_DIR").map(PathBuf::from))
            .or_else(|| config.resolved_dir())
            .unwrap_or_else(|| {
                if config_path.is_some() {
                    project_dir.join("migration_scripts")
                } else {
                    // Relative, so messages show `migration_scripts/001_x.sql`.
                    PathBuf::from("migration_scripts")
                }
            });

        let schema = args
            .schema
            .clone()
            .or_else(|| var("PGSHIFT_SCHEMA"))
            .or_else(|| config.schema.clone())
            .unwrap_or_else(|| "public".into());
        let table_name = args
            .table
            .clone()
            .or_else(|| var("PGSHIFT_TABLE"))
            .or_else(|| config.table.clone())
            .unwrap_or_else(|| "schema_migrations".into());
        let table =
            TrackingTable::new(&schema, &table_name).map_err(|e| SettingsError(anyhow!(e)))?;

        let defaults = RunOptions::default();
        let duration =
            |flag: &Option<String>, var_name: &str, file: &Option<String>, what: &str| {
                let raw = flag
                    .clone()
                    .or_else(|| var(var_name))
                    .or_else(|| file.clone());
                raw.map(|text| {
                    parse_duration(&text).with_context(|| format!("invalid {what} `{text}`"))
                })
                .transpose()
                .map_err(SettingsError)
            };
        let lock_wait = duration(
            &args.lock_wait,
            "PGSHIFT_LOCK_WAIT",
            &config.lock_wait,
            "lock wait",
        )?
        .unwrap_or(defaults.lock_wait);
        let lock_timeout = duration(
            &args.lock_timeout,
            "PGSHIFT_LOCK_TIMEOUT",
            &config.lock_timeout,
            "lock timeout",
        )?
        .map(|d| (!d.is_zero()).then_some(d))
        .unwrap_or(defaults.lock_timeout);
        let statement_timeout = duration(
            &args.statement_timeout,
            "PGSHIFT_STATEMENT_TIMEOUT",
            &config.statement_timeout,
            "statement timeout",
        )?
        .map(|d| (!d.is_zero()).then_some(d))
        .unwrap_or(defaults.statement_timeout);
        let retry_for = duration(
            &args.lock_retry_for,
            "PGSHIFT_LOCK_RETRY_FOR",
            &config.lock_retry_for,
            "lock retry budget",
        )?
        .unwrap_or(defaults.exec.retry_for);
        let max_retries = args
            .max_retries
            .or(config.max_retries)
            .or(defaults.exec.max_retries);

        let role = args
            .role
            .clone()
            .or_else(|| var("PGSHIFT_ROLE").map(|r| r.to_string()))
            .or_else(|| config.role.clone())
            .filter(|r| !r.is_empty());

        let checks_dir = var("PGSHIFT_CHECKS_DIR")
            .map(PathBuf::from)
            .or_else(|| config.resolve_path(config.checks_dir.as_deref()))
            .unwrap_or_else(|| dir.join(pgshift_core::check::DEFAULT_DIR));
        let backup_dir = var("PGSHIFT_BACKUP_DIR")
            .map(PathBuf::from)
            .or_else(|| config.resolve_path(config.backup_dir.as_deref()))
            .unwrap_or_else(|| {
                if config_path.is_some() {
                    project_dir.join("backups")
                } else {
                    PathBuf::from("backups")
                }
            });
        let tools = pgshift_core::backup::ToolPaths {
            pg_dump: var("PGSHIFT_PG_DUMP").map(PathBuf::from),
            pg_restore: var("PGSHIFT_PG_RESTORE").map(PathBuf::from),
        };

        Ok(Settings {
            checks_dir,
            backup_dir,
            tools,
            dir,
            project_dir,
            table,
            run: RunOptions {
                lock_wait,
                lock_timeout,
                statement_timeout,
                role,
                exec: pgshift_core::executor::ExecOptions {
                    retry_for,
                    max_retries,
                    ..defaults.exec
                },
                audit: AuditContext {
                    os_user: Some(pgshift_core::audit::os_user()),
                    host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                        .ok()
                        .map(|h| h.trim().to_string())
                        .filter(|h| !h.is_empty()),
                    tool_version: env!("CARGO_PKG_VERSION").to_string(),
                },
                ..defaults
            },
            database_url: args.database_url.clone(),
            config,
            env,
        })
    }
}

/// `5s`, `500ms`, `2m`, `1h`, or a bare number of seconds (`0` disables).
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Ok(Duration::from_secs_f64(seconds));
        }
    }
    humantime::parse_duration(text).map_err(|e| anyhow!("{e}; use e.g. 500ms, 5s, 2m"))
}

/// A settings problem: always a validation failure.
#[derive(Debug)]
pub struct SettingsError(pub anyhow::Error);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_bare_seconds() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
