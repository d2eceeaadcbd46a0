//! Where to connect, and opening sessions.
//!
//! # Where the connection settings come from
//!
//! The first of these that is set decides the connection string:
//!
//! 1. the `--database-url` flag;
//! 2. `DATABASE_URL` from the process environment, then from the `.env` file
//!    of the working folder (a `.env` value never overrides the real
//!    environment);
//! 3. `database_url` in `pgshift.toml`;
//! 4. the libpq variables alone, when at least one of `PGHOST`,
//!    `PGHOSTADDR`, `PGPORT`, `PGDATABASE`, `PGUSER` or `PGSERVICE` is set
//!    (`PGPASSWORD` or `PGSSLMODE` alone do not count: they say how to
//!    connect, not where);
//! 5. nothing: [`ConnectionSettings::resolve`] returns `None` and the caller
//!    uses its local development cluster.
//!
//! Whatever the source, the libpq environment variables (process
//! environment, then `.env`) then fill in every parameter the connection
//! string leaves out, as libpq does (PostgreSQL docs, section
//! "libpq-envars"): `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGDATABASE`, `PGUSER`,
//! `PGPASSWORD`, `PGPASSFILE`, `PGOPTIONS`, `PGAPPNAME`, `PGSSLMODE`,
//! `PGREQUIRESSL`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`, `PGSSLSNI`,
//! `PGSSLNEGOTIATION`, `PGSSLMINPROTOCOLVERSION`, `PGSSLMAXPROTOCOLVERSION`,
//! `PGCONNECT_TIMEOUT`, `PGTARGETSESSIONATTRS`, `PGCHANNELBINDING`,
//! `PGLOADBALANCEHOSTS`, `PGCLIENTENCODING`, `PGGSSENCMODE`. So
//! `DATABASE_URL=postgres://db.internal/app` with `PGUSER=deploy` connects as
//! `deploy`. Empty variables count as unset.
//!
//! What is still unset after that gets libpq's defaults:
//!
//! - host: the unix socket directory `/var/run/postgresql` (or
//!   `/run/postgresql`) if it exists, else `localhost`;
//! - port: 5432;
//! - user: the operating-system user (`USER`, `LOGNAME`, then the account
//!   database);
//! - database: the user name;
//! - sslmode: `prefer` (`verify-full` with `sslrootcert=system`);
//! - connect_timeout: **10 seconds** (libpq waits forever; we want an
//!   unreachable host to fail in bounded time). `connect_timeout=0` asks for
//!   no limit, as in libpq.
//!
//! The password comes from the connection string, else `PGPASSWORD`, else
//! the password file (`passfile=`, `PGPASSFILE`, else `~/.pgpass`; see
//! "libpq-pgpass"). A password never appears in any message, `Debug` output
//! or error of this module: connection targets are shown by
//! [`ConnectionSettings::redacted`], and [`redact_url`] is there for callers
//! to scrub any other text.
//!
//! Both URL forms (`postgresql://`, `postgres://`) and libpq keyword/value
//! strings (`host=db dbname=app`) are accepted wherever a URL is.
//!
//! # Application name
//!
//! Sessions are labelled with the `application_name` the caller passes to
//! [`ConnectionSettings::connect`] (e.g. `pgshift`) unless the user chose one:
//! `application_name` in the connection string or `PGAPPNAME` wins, then
//! `fallback_application_name` from the connection string.
//!
//! # TLS
//!
//! `sslmode` (URL or `PGSSLMODE`) follows libpq (PostgreSQL docs, section
//! "libpq-ssl"); TLS is done by rustls with the `ring` provider:
//!
//! | sslmode | encryption | certificate checked | host name checked |
//! |---|---|---|---|
//! | `disable` | no | – | – |
//! | `allow`, `prefer` (default) | if the server offers it | only if a root certificate file exists | no |
//! | `require` | yes | only if a root certificate file exists | no |
//! | `verify-ca` | yes | yes | no |
//! | `verify-full` | yes | yes | yes |
//!
//! The root certificate file is `sslrootcert` / `PGSSLROOTCERT`, else
//! `~/.postgresql/root.crt`; `verify-ca` and `verify-full` fail with a clear
//! message when it does not exist. `sslrootcert=system` uses the Mozilla root
//! set (`webpki-roots`) and, as in libpq, requires `verify-full` (and makes
//! it the default). As with libpq and OpenSSL, a self-signed server
//! certificate listed in the root file is trusted, and without a DNS
//! subjectAltName the host name is compared with the certificate's Common
//! Name. A client certificate is sent when `sslcert` (default
//! `~/.postgresql/postgresql.crt`) exists, with the key `sslkey` (default
//! `~/.postgresql/postgresql.key`). `allow` is treated as `prefer`.
//! Unix-socket connections never use TLS (PostgreSQL does not offer it
//! there), whatever `sslmode` says.
//!
//! Not supported, and refused with a clear error rather than ignored:
//! `service` (pg_service.conf; a `PGSERVICE` variable is ignored with a
//! warning when something else says where to connect), `sslcrl`,
//! `sslcrldir`, `sslpassword`, `require_auth`, `replication`,
//! `gssencmode=require`, and a `client_encoding` other than UTF8.
//!
//! This module never prints: anything worth telling the user that is not an
//! error comes back as a [`ConnectWarning`].

mod conninfo;
mod env;
mod libpq;
mod pgpass;
mod redact;
mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::error::{DbError, ErrorPosition, SqlState};

pub use env::{EnvSource, Environment};
pub use libpq::LIBPQ_VARS;
pub use redact::{redact_url, REDACTED};

/// The connect timeout used when neither `connect_timeout` nor
/// `PGCONNECT_TIMEOUT` is set.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The port used when none is configured.
pub const DEFAULT_PORT: u16 = 5432;

/// Where a connection setting came from, for messages like "using
/// DATABASE_URL from .env".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The `--database-url` command-line flag.
    Flag,
    /// A variable of the process environment.
    Env(String),
    /// A variable of the `.env` file.
    DotEnv(String),
    /// `database_url` in this configuration file.
    ConfigFile(PathBuf),
    /// The local development cluster the caller starts itself.
    LocalDev,
}

impl Origin {
    fn from_env(var: &str, source: EnvSource) -> Self {
        match source {
            EnvSource::Process => Origin::Env(var.to_owned()),
            EnvSource::DotEnv => Origin::DotEnv(var.to_owned()),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag => f.write_str("--database-url"),
            Origin::Env(var) => write!(f, "{var} from the environment"),
            Origin::DotEnv(var) => write!(f, "{var} from .env"),
            Origin::ConfigFile(path) => write!(f, "database_url in {}", path.display()),
            Origin::LocalDev => f.write_str("the local development cluster"),
        }
    }
}

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// libpq tries without TLS first; we treat it like [`SslMode::Prefer`]
    /// (the driver cannot fall back in that direction, and trying TLS first
    /// is never less safe).
    Allow,
    /// TLS if the server offers it (libpq's default).
    #[default]
    Prefer,
    /// TLS or fail; the certificate is only checked if a root certificate
    /// file exists.
    Require,
    /// TLS, and the certificate must chain to a trusted root.
    VerifyCa,
    /// TLS, a trusted chain, and a certificate for the host name.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling (`verify-full`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// True for the modes that check the server certificate.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }

    fn driver_mode(self) -> PgSslMode {
        // tokio-postgres knows disable/prefer/require only; certificate
        // checks happen in our rustls verifier.
        match self {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `sslmode` value that is not one of libpq's six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sslmode `{value}`; expected one of disable, allow, prefer, require, verify-ca, verify-full")]
pub struct ParseSslModeError {
    /// The rejected value.
    pub value: String,
}

impl FromStr for SslMode {
    type Err = ParseSslModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(ParseSslModeError {
                    value: s.chars().take(32).collect(),
                })
            }
        })
    }
}

/// Where the password that will be sent came from (never the password
/// itself), for authentication-failure hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// The connection string or `PGPASSWORD`, as named by the origin.
    Setting(Origin),
    /// A line of a password file.
    PgPass {
        /// The file.
        path: PathBuf,
        /// The 1-based line number of the matching entry.
        line: usize,
    },
}

impl fmt::Display for PasswordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordSource::Setting(Origin::Env(var)) if var == "PGPASSWORD" => {
                f.write_str("PGPASSWORD")
            }
            PasswordSource::Setting(Origin::DotEnv(var)) if var == "PGPASSWORD" => {
                f.write_str("PGPASSWORD in .env")
            }
            PasswordSource::Setting(origin) => write!(f, "the connection URL ({origin})"),
            PasswordSource::PgPass { path, line } => {
                write!(f, "{} line {line}", path.display())
            }
        }
    }
}

/// Something worth telling the user that does not stop the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectWarning {
    /// The password file grants access to group or others and was ignored,
    /// as libpq does.
    PgPassPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The password file is not a plain file and was ignored.
    PgPassNotAFile {
        /// The path.
        path: PathBuf,
    },
    /// `.env` sets this variable too, but the process environment wins.
    DotEnvShadowed {
        /// The variable.
        var: String,
    },
    /// A setting pgshift does not support was ignored.
    Ignored {
        /// The setting (`PGSERVICE`, …).
        setting: String,
        /// Why, and what to do instead.
        reason: String,
    },
}

impl fmt::Display for ConnectWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectWarning::PgPassPermissions { path, mode } => write!(
                f,
                "password file {} has group or world access (mode {mode:04o}) and is ignored; \
                 permissions should be u=rw (0600) or less: chmod 0600 {}",
                path.display(),
                path.display()
            ),
            ConnectWarning::PgPassNotAFile { path } => write!(
                f,
                "password file {} is not a plain file and is ignored",
                path.display()
            ),
            ConnectWarning::DotEnvShadowed { var } => write!(
                f,
                "{var} is set both in the environment and in .env; the environment's value is used"
            ),
            ConnectWarning::Ignored { setting, reason } => {
                write!(f, "{setting} is ignored: {reason}")
            }
        }
    }
}

/// A NOTICE, WARNING or other non-error message the server sent during a
/// session (e.g. `RAISE NOTICE`, "relation already exists, skipping").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeMessage {
    /// `NOTICE`, `WARNING`, `INFO`, `DEBUG` or `LOG` (not localized).
    pub severity: String,
    /// The SQLSTATE code, e.g. `42P07`.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// The optional DETAIL line.
    pub detail: Option<String>,
    /// The optional HINT line.
    pub hint: Option<String>,
    /// 1-based character position in the statement the client sent, when
    /// the server reported one.
    pub position: Option<u32>,
    /// The optional CONTEXT (call stack of PL/pgSQL functions, …).
    pub context: Option<String>,
}

impl From<&DbError> for NoticeMessage {
    fn from(e: &DbError) -> Self {
        NoticeMessage {
            severity: e
                .parsed_severity()
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.severity().to_owned()),
            code: e.code().code().to_owned(),
            message: e.message().to_owned(),
            detail: e.detail().map(str::to_owned),
            hint: e.hint().map(str::to_owned),
            position: match e.position() {
                Some(ErrorPosition::Original(p)) => Some(*p),
                _ => None,
            },
            context: e.where_().map(str::to_owned),
        }
    }
}

/// Why no session could be opened. No variant ever shows a password:
/// targets are [`ConnectionSettings::redacted`] strings and reasons never
/// quote connection-string values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The connection string or a `PG*` variable is malformed or asks for
    /// something pgshift does not support.
    #[error("invalid connection settings ({origin}): {reason}")]
    InvalidUrl {
        /// Where the bad value came from.
        origin: Origin,
        /// What is wrong.
        reason: String,
    },
    /// Nothing answered at the address.
    #[error("cannot reach {target}: {reason}")]
    Unreachable {
        /// The redacted target.
        target: String,
        /// What failed, with a hint.
        reason: String,
    },
    /// No answer within the connect timeout.
    #[error(
        "timed out after {seconds} s connecting to {target}; is the host reachable and the port \
         open? (set PGCONNECT_TIMEOUT or connect_timeout=N to wait longer)"
    )]
    Timeout {
        /// The redacted target.
        target: String,
        /// The timeout that elapsed.
        seconds: u64,
    },
    /// The server refused the credentials (SQLSTATE 28P01 or 28000, or no
    /// password to send).
    #[error("authentication failed for user \"{user}\" at {target}: {reason}; {hint}")]
    AuthenticationFailed {
        /// The redacted target.
        target: String,
        /// The user name sent.
        user: String,
        /// The server's message (or ours).
        reason: String,
        /// What to check.
        hint: String,
    },
    /// The server has no such database (SQLSTATE 3D000).
    #[error(
        "database \"{database}\" does not exist on {target}; create it with `createdb {database}` \
         or connect to another database"
    )]
    DatabaseMissing {
        /// The redacted target.
        target: String,
        /// The missing database.
        database: String,
    },
    /// TLS could not be set up or negotiated.
    #[error("TLS error connecting to {target}: {reason}")]
    Tls {
        /// The redacted target.
        target: String,
        /// What failed.
        reason: String,
    },
    /// The password file could not be read.
    #[error("cannot read password file {}{}: {reason}", path.display(), fmt_line(*line))]
    PgPass {
        /// The file.
        path: PathBuf,
        /// The 1-based line, where known.
        line: Option<usize>,
        /// What is wrong (never the line's content).
        reason: String,
    },
    /// The `.env` file could not be read or parsed.
    #[error("cannot read {}{}: {reason}", path.display(), fmt_line(*line))]
    DotEnv {
        /// The file.
        path: PathBuf,
        /// The 1-based line, where known.
        line: Option<usize>,
        /// What is wrong (never the line's content).
        reason: String,
    },
    /// Any other failure while connecting.
    #[error("cannot connect to {target}: {reason}")]
    Other {
        /// The redacted target.
        target: String,
        /// The driver's error with its causes, flattened.
        reason: String,
        /// The driver's error.
        source: postgres::Error,
    },
}

fn fmt_line(line: Option<usize>) -> String {
    line.map(|l| format!(" line {l}")).unwrap_or_default()
}

/// The variables that, set on their own, mean "connect there" (step 4 of
/// the precedence).
const TRIGGER_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGSERVICE",
];

/// Every connection keyword we accept, with the environment variable that
/// supplies its default (libpq-connect "Parameter Key Words" and
/// "libpq-envars").
const KEYWORDS: &[(&str, Option<&str>)] = &[
    ("host", Some("PGHOST")),
    ("hostaddr", Some("PGHOSTADDR")),
    ("port", Some("PGPORT")),
    ("dbname", Some("PGDATABASE")),
    ("user", Some("PGUSER")),
    ("password", Some("PGPASSWORD")),
    ("passfile", Some("PGPASSFILE")),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    ("application_name", Some("PGAPPNAME")),
    ("fallback_application_name", None),
    ("options", Some("PGOPTIONS")),
    ("sslmode", Some("PGSSLMODE")),
    ("requiressl", Some("PGREQUIRESSL")),
    ("sslrootcert", Some("PGSSLROOTCERT")),
    ("sslcert", Some("PGSSLCERT")),
    ("sslkey", Some("PGSSLKEY")),
    ("sslcertmode", Some("PGSSLCERTMODE")),
    ("sslsni", Some("PGSSLSNI")),
    ("sslnegotiation", Some("PGSSLNEGOTIATION")),
    ("sslcompression", Some("PGSSLCOMPRESSION")),
    ("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION")),
    ("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION")),
    ("sslcrl", Some("PGSSLCRL")),
    ("sslcrldir", Some("PGSSLCRLDIR")),
    ("sslpassword", None),
    ("keepalives", None),
    ("keepalives_idle", None),
    ("keepalives_interval", None),
    ("keepalives_count", None),
    ("tcp_user_timeout", None),
    ("target_session_attrs", Some("PGTARGETSESSIONATTRS")),
    ("channel_binding", Some("PGCHANNELBINDING")),
    ("load_balance_hosts", Some("PGLOADBALANCEHOSTS")),
    ("client_encoding", Some("PGCLIENTENCODING")),
    ("gssencmode", Some("PGGSSENCMODE")),
    ("krbsrvname", Some("PGKRBSRVNAME")),
    ("gsslib", Some("PGGSSLIB")),
    ("gssdelegation", Some("PGGSSDELEGATION")),
    ("require_auth", Some("PGREQUIREAUTH")),
    ("service", Some("PGSERVICE")),
    ("replication", None),
];

/// Keywords handed to tokio-postgres's own parser unchanged (it validates
/// them), with the name it knows them by.
const PASS_THROUGH: &[(&str, &str)] = &[
    ("hostaddr", "hostaddr"),
    ("options", "options"),
    ("keepalives", "keepalives"),
    ("keepalives_idle", "keepalives_idle"),
    ("keepalives_interval", "keepalives_interval"),
    ("keepalives_count", "keepalives_retries"),
    ("tcp_user_timeout", "tcp_user_timeout"),
    ("target_session_attrs", "target_session_attrs"),
    ("channel_binding", "channel_binding"),
    ("load_balance_hosts", "load_balance_hosts"),
    ("sslnegotiation", "sslnegotiation"),
];

/// A password that cannot leak through `Debug`.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// A resolved connection target: everything needed to open sessions.
///
/// Its `Debug` output never shows the password.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Driver configuration without password and application name.
    base: tokio_postgres::Config,
    hosts: Vec<Host>,
    hostaddrs: Vec<String>,
    ports: Vec<u16>,
    user: String,
    database: String,
    password: Option<Secret>,
    password_source: Option<PasswordSource>,
    /// The password file consulted when no password is set explicitly; kept
    /// so that [`ConnectionSettings::with_database`] can look again.
    passfile: Option<PathBuf>,
    ssl_mode: SslMode,
    verification: tls::Verification,
    client_cert: Option<tls::ClientCert>,
    tls_versions: tls::Versions,
    sni: bool,
    connect_timeout: Option<Duration>,
    application_name: Option<String>,
    fallback_application_name: Option<String>,
    origin: Origin,
    warnings: Vec<ConnectWarning>,
}

/// The parameter map while resolving: value and where it came from.
type ParamMap = BTreeMap<&'static str, (String, Origin)>;

impl ConnectionSettings {
    /// Resolves the connection target following the precedence in the
    /// [module documentation](self): `url_flag` (`--database-url`), then
    /// `DATABASE_URL`, then `config_file_url` (`database_url` and the file it
    /// was read from), then the libpq variables alone. `Ok(None)` means
    /// nothing is configured: use the local development cluster.
    ///
    /// Non-fatal findings (an ignored `.pgpass`, a `.env` value shadowed by
    /// the environment, …) are in [`ConnectionSettings::warnings`].
    pub fn resolve(
        url_flag: Option<&str>,
        config_file_url: Option<(&str, &Path)>,
        env: &Environment,
    ) -> Result<Option<ConnectionSettings>, ConnectError> {
        if let Some(url) = url_flag {
            return Self::from_url(url, Origin::Flag, env).map(Some);
        }
        if let Some((url, source)) = env.lookup("DATABASE_URL") {
            let mut settings = Self::from_url(url, Origin::from_env("DATABASE_URL", source), env)?;
            if env.is_shadowed("DATABASE_URL") {
                settings.warnings.insert(
                    0,
                    ConnectWarning::DotEnvShadowed {
                        var: "DATABASE_URL".to_owned(),
                    },
                );
            }
            return Ok(Some(settings));
        }
        if let Some((url, path)) = config_file_url {
            if !url.trim().is_empty() {
                return Self::from_url(url, Origin::ConfigFile(path.to_owned()), env).map(Some);
            }
        }
        let Some((var, source)) = TRIGGER_VARS
            .iter()
            .find_map(|var| env.lookup(var).map(|(_, source)| (*var, source)))
        else {
            return Ok(None);
        };
        let origin = Origin::from_env(var, source);
        if var == "PGSERVICE" {
            return Err(ConnectError::InvalidUrl {
                origin,
                reason: "connection service files (pg_service.conf) are not supported; \
                         set DATABASE_URL or PGHOST/PGPORT/PGDATABASE/PGUSER instead"
                    .to_owned(),
            });
        }
        Self::build(Vec::new(), origin, env).map(Some)
    }

    /// Resolves one connection string (a `postgresql://` / `postgres://` URL
    /// or libpq `keyword=value` pairs). The `PG*` variables of `env` fill
    /// what it leaves out, as in libpq; the password comes from the string,
    /// else `PGPASSWORD`, else the password file.
    pub fn from_url(url: &str, origin: Origin, env: &Environment) -> Result<Self, ConnectError> {
        let params = conninfo::parse(url).map_err(|reason| ConnectError::InvalidUrl {
            origin: origin.clone(),
            reason,
        })?;
        Self::build(params, origin, env)
    }

    /// Settings for a server listening on a unix socket in `socket_dir`,
    /// without consulting the environment or a password file: for the
    /// local development cluster ([`Origin::LocalDev`]) and tests.
    pub fn unix_socket(
        socket_dir: &Path,
        port: u16,
        user: &str,
        database: &str,
        origin: Origin,
    ) -> Self {
        let mut base = tokio_postgres::Config::new();
        base.host_path(socket_dir)
            .port(port)
            .user(user)
            .dbname(database)
            .ssl_mode(PgSslMode::Disable)
            .connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        ConnectionSettings {
            base,
            hosts: vec![Host::Unix(socket_dir.to_owned())],
            hostaddrs: Vec::new(),
            ports: vec![port],
            user: user.to_owned(),
            database: database.to_owned(),
            password: None,
            password_source: None,
            passfile: None,
            ssl_mode: SslMode::Disable,
            verification: tls::Verification::None,
            client_cert: None,
            tls_versions: tls::Versions::default(),
            sni: true,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            application_name: None,
            fallback_application_name: None,
            origin,
            warnings: Vec::new(),
        }
    }

    fn build(
        params: conninfo::Params,
        origin: Origin,
        env: &Environment,
    ) -> Result<Self, ConnectError> {
        let invalid = |origin: &Origin, reason: String| ConnectError::InvalidUrl {
            origin: origin.clone(),
            reason,
        };
        let mut warnings = Vec::new();

        // 1. The connection string (a later keyword overrides an earlier one).
        let mut map = ParamMap::new();
        for (key, value) in params {
            let Some(&(canonical, _)) = KEYWORDS.iter().find(|(k, _)| *k == key) else {
                return Err(invalid(&origin, unknown_keyword(&key)));
            };
            map.insert(canonical, (value, origin.clone()));
        }

        // 2. libpq: environment variables supply the parameters still unset.
        for &(key, var) in KEYWORDS {
            let Some(var) = var else { continue };
            if map.contains_key(key) {
                continue;
            }
            if let Some((value, source)) = env.lookup(var) {
                map.insert(key, (value.to_owned(), Origin::from_env(var, source)));
                if env.is_shadowed(var) {
                    warnings.push(ConnectWarning::DotEnvShadowed {
                        var: var.to_owned(),
                    });
                }
            }
        }

        // 3. Things we refuse rather than silently ignore.
        reject_unsupported(&map, &mut warnings)?;

        // 4. Hosts and ports.
        let mut hosts: Vec<Host> = Vec::new();
        if let Some((value, _)) = map.get("host") {
            for h in value.split(',') {
                hosts.push(match h.trim() {
                    "" => default_host(env),
                    h if h.starts_with('/') => Host::Unix(PathBuf::from(h)),
                    h => Host::Tcp(h.to_owned()),
                });
            }
        }
        let hostaddrs: Vec<String> = map
            .get("hostaddr")
            .map(|(v, _)| v.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default();
        if hosts.is_empty() && hostaddrs.is_empty() {
            hosts.push(default_host(env));
        }
        let host_count = hosts.len().max(hostaddrs.len());
        let ports = match map.get("port") {
            None => vec![DEFAULT_PORT],
            Some((value, port_origin)) => {
                let mut ports = Vec::new();
                for p in value.split(',') {
                    let p = p.trim();
                    if p.is_empty() {
                        ports.push(DEFAULT_PORT);
                        continue;
                    }
                    // Never quote the value: a mangled URL can put part of a
                    // password where the port should be.
                    match p.parse::<u16>() {
                        Ok(n) if n > 0 => ports.push(n),
                        _ => {
                            return Err(invalid(
                                port_origin,
                                "invalid port number (expected 1-65535)".to_owned(),
                            ))
                        }
                    }
                }
                ports
            }
        };
        if ports.len() != 1 && ports.len() != host_count {
            return Err(invalid(
                &map["port"].1,
                format!("{} ports given for {host_count} hosts", ports.len()),
            ));
        }

        // 5. User and database.
        let user = match map.get("user") {
            Some((u, _)) => u.clone(),
            None => env.os_user().map(str::to_owned).ok_or_else(|| {
                invalid(
                    &origin,
                    "no user name: put one in the URL or set PGUSER".to_owned(),
                )
            })?,
        };
        let database = map
            .get("dbname")
            .map(|(d, _)| d.clone())
            .unwrap_or_else(|| user.clone());

        // 6. TLS.
        let root_setting = map.get("sslrootcert").map(|(v, o)| (v.as_str(), o));
        let ssl_mode = match map.get("sslmode") {
            Some((value, mode_origin)) => {
                let mode: SslMode = value
                    .parse()
                    .map_err(|e: ParseSslModeError| invalid(mode_origin, e.to_string()))?;
                if let Some(("system", root_origin)) = root_setting {
                    if mode != SslMode::VerifyFull {
                        // libpq refuses weak modes with the system store.
                        return Err(invalid(
                            root_origin,
                            format!("sslrootcert=system requires sslmode=verify-full, not {mode}"),
                        ));
                    }
                }
                mode
            }
            None => match (root_setting, map.get("requiressl")) {
                (Some(("system", _)), _) => SslMode::VerifyFull,
                (_, Some((v, _))) if v == "1" => SslMode::Require,
                _ => SslMode::Prefer,
            },
        };
        let root = match root_setting {
            Some(("system", _)) => Some(tls::RootCerts::System),
            Some((path, _)) => Some(tls::RootCerts::File(PathBuf::from(path))),
            None => env
                .home()
                .map(|h| tls::RootCerts::File(h.join(".postgresql").join("root.crt"))),
        };
        let root_exists = match &root {
            Some(tls::RootCerts::System) => true,
            Some(tls::RootCerts::File(p)) => p.is_file(),
            None => false,
        };
        let verification =
            match ssl_mode {
                SslMode::Disable => tls::Verification::None,
                // libpq loads an existing root file and verifies the chain even
                // in these modes ("libpq-ssl": "if a root CA file exists, the
                // behavior of sslmode=require will be the same as that of
                // verify-ca").
                SslMode::Allow | SslMode::Prefer | SslMode::Require => match root {
                    Some(r) if root_exists => tls::Verification::Chain(r),
                    _ => tls::Verification::None,
                },
                // A missing root file is reported when connecting (like libpq),
                // so that resolving alone never fails for it.
                SslMode::VerifyCa => tls::Verification::Chain(root.unwrap_or_else(|| {
                    tls::RootCerts::File(PathBuf::from("~/.postgresql/root.crt"))
                })),
                SslMode::VerifyFull => tls::Verification::Full(root.unwrap_or_else(|| {
                    tls::RootCerts::File(PathBuf::from("~/.postgresql/root.crt"))
                })),
            };
        let client_cert = client_cert(&map, env)?;
        let sni = match map.get("sslsni") {
            None => true,
            Some((v, _)) if v == "1" => true,
            Some((v, _)) if v == "0" => false,
            Some((_, o)) => return Err(invalid(o, "sslsni must be 0 or 1".to_owned())),
        };
        let tls_versions = tls_versions(&map)?;

        // 7. Timeout, application name.
        let connect_timeout = match map.get("connect_timeout") {
            None => Some(DEFAULT_CONNECT_TIMEOUT),
            Some((v, o)) => {
                let secs: i64 = v.trim().parse().map_err(|_| {
                    invalid(
                        o,
                        "invalid connect_timeout (expected whole seconds)".to_owned(),
                    )
                })?;
                // libpq: zero or negative waits forever; 1 is raised to 2.
                (secs > 0).then(|| Duration::from_secs(secs.max(2) as u64))
            }
        };
        let application_name = map.get("application_name").map(|(v, _)| v.clone());
        let fallback_application_name =
            map.get("fallback_application_name").map(|(v, _)| v.clone());

        // 8. The driver configuration: pass-through keywords through its own
        // parser (which validates them), the rest through setters.
        let mut pass = String::new();
        for &(ours, theirs) in PASS_THROUGH {
            if let Some((v, _)) = map.get(ours) {
                pass.push_str(&format!("{theirs}={} ", conninfo::quote(v)));
            }
        }
        let mut base: tokio_postgres::Config = pass
            .parse()
            .map_err(|e: tokio_postgres::Error| invalid(&origin, error_chain(&e)))?;
        for h in &hosts {
            match h {
                Host::Tcp(name) => base.host(name.as_str()),
                #[cfg(unix)]
                Host::Unix(path) => base.host_path(path),
            };
        }
        for p in &ports {
            base.port(*p);
        }
        base.user(user.as_str()).dbname(database.as_str());
        let all_unix = hostaddrs.is_empty() && hosts.iter().all(is_unix);
        // PostgreSQL offers no TLS on unix sockets; libpq ignores sslmode
        // there, but tokio-postgres would fail under `require`.
        base.ssl_mode(if all_unix {
            PgSslMode::Disable
        } else {
            ssl_mode.driver_mode()
        });
        if let Some(t) = connect_timeout {
            base.connect_timeout(t);
        }

        // 9. Password: connection string / PGPASSWORD, else password file.
        let passfile = match map.get("passfile") {
            Some((p, _)) => Some(PathBuf::from(p)),
            None => env.home().map(|h| h.join(".pgpass")),
        };
        let mut settings = ConnectionSettings {
            base,
            hosts,
            hostaddrs,
            ports,
            user,
            database,
            password: None,
            password_source: None,
            passfile: None,
            ssl_mode,
            verification,
            client_cert,
            tls_versions,
            sni,
            connect_timeout,
            application_name,
            fallback_application_name,
            origin,
            warnings,
        };
        match map.remove("password") {
            Some((password, password_origin)) => {
                settings.password = Some(Secret(password));
                settings.password_source = Some(PasswordSource::Setting(password_origin));
            }
            None => {
                settings.passfile = passfile;
                settings.lookup_passfile()?;
            }
        }
        Ok(settings)
    }

    /// Looks the password up in the password file for the current
    /// host/port/database/user (libpq uses the first host for this).
    fn lookup_passfile(&mut self) -> Result<(), ConnectError> {
        self.password = None;
        self.password_source = None;
        let Some(path) = self.passfile.clone() else {
            return Ok(());
        };
        let port = self.ports[0].to_string();
        let mut names: Vec<&str> = Vec::new();
        match self.hosts.first() {
            Some(Host::Tcp(name)) => names.push(name),
            #[cfg(unix)]
            Some(Host::Unix(dir)) => {
                // libpq matches `localhost` for its default socket directory;
                // every build has a different default, so we accept
                // `localhost` for any socket as well as the directory itself.
                names.extend(dir.to_str());
                names.push("localhost");
            }
            None => names.extend(self.hostaddrs.first().map(String::as_str)),
        }
        let key = pgpass::PgPassKey {
            hosts: names,
            port: &port,
            database: &self.database,
            user: &self.user,
        };
        let mut warnings = Vec::new();
        let found = pgpass::lookup(&path, &key, &mut warnings)?;
        for w in warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        if let Some(m) = found {
            self.password = Some(Secret(m.password));
            self.password_source = Some(PasswordSource::PgPass { path, line: m.line });
        }
        Ok(())
    }

    /// Opens a session. `application_name` labels it in `pg_stat_activity`
    /// unless the user chose a name (see the [module documentation](self)).
    /// Server notices are discarded; use
    /// [`ConnectionSettings::connect_with_notices`] to receive them.
    pub fn connect(&self, application_name: &str) -> Result<postgres::Client, ConnectError> {
        self.connect_with_notices(application_name, |_| {})
    }

    /// Opens a session and forwards every NOTICE, WARNING, … the server
    /// sends on it to `on_notice` (called on the thread that runs the
    /// query).
    ///
    /// The whole attempt, including name resolution, the TLS handshake and
    /// authentication, is bounded by the connect timeout (per host).
    pub fn connect_with_notices<F>(
        &self,
        application_name: &str,
        on_notice: F,
    ) -> Result<postgres::Client, ConnectError>
    where
        F: Fn(NoticeMessage) + Send + Sync + 'static,
    {
        let mut config = postgres::Config::from(self.to_tokio_config(application_name));
        config.notice_callback(move |notice| on_notice(NoticeMessage::from(&notice)));
        let tls = self.tls_connector()?;
        // libpq applies the timeout to each host in turn: the whole attempt
        // gets that much per host, and not a moment more (a grace second
        // here once made `connect_timeout=2` take three).
        let deadline = self
            .connect_timeout
            .map(|t| t * u32::try_from(self.host_count()).unwrap_or(1));
        match run_with_deadline(config, tls, deadline) {
            Some(Ok(client)) => Ok(client),
            Some(Err(e)) => Err(self.classify(e)),
            None => Err(ConnectError::Timeout {
                target: self.redacted(),
                seconds: self.connect_timeout.map_or(0, |t| t.as_secs()),
            }),
        }
    }

    /// Asks the server to cancel what the session of `token` (opened with
    /// these settings) is running, over the same kind of connection.
    pub(crate) fn cancel_query(&self, token: &postgres::CancelToken) -> Result<(), ConnectError> {
        let result = match self.tls_connector()? {
            Some(tls) => token.cancel_query(tls),
            None => token.cancel_query(postgres::NoTls),
        };
        result.map_err(|e| self.classify(e))
    }

    /// The driver configuration, password and application name included
    /// (its `Debug` output hides the password), for async callers.
    pub fn to_tokio_config(&self, application_name: &str) -> tokio_postgres::Config {
        let mut config = self.base.clone();
        if let Some(Secret(p)) = &self.password {
            config.password(p.as_bytes());
        }
        let name = self
            .application_name
            .as_deref()
            .or(self.fallback_application_name.as_deref())
            .unwrap_or(application_name);
        if !name.is_empty() {
            config.application_name(name);
        }
        config
    }

    fn tls_connector(
        &self,
    ) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, ConnectError> {
        if self.ssl_mode == SslMode::Disable || self.base.get_ssl_mode() == PgSslMode::Disable {
            return Ok(None);
        }
        let tls_error = |reason: String| ConnectError::Tls {
            target: self.redacted(),
            reason,
        };
        if let tls::Verification::Chain(tls::RootCerts::File(path))
        | tls::Verification::Full(tls::RootCerts::File(path)) = &self.verification
        {
            if !path.is_file() {
                return Err(tls_error(format!(
                    "sslmode={} needs the root certificate file {}, which does not exist; \
                     provide it, point sslrootcert (or PGSSLROOTCERT) at the CA certificate, \
                     use sslrootcert=system with sslmode=verify-full, or choose a weaker sslmode",
                    self.ssl_mode,
                    path.display()
                )));
            }
        }
        let config = tls::client_config(
            &self.verification,
            self.client_cert.as_ref(),
            self.sni,
            self.tls_versions,
        )
        .map_err(tls_error)?;
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }

    fn host_count(&self) -> usize {
        self.hosts.len().max(self.hostaddrs.len()).max(1)
    }

    /// Turns a driver error into one of our variants.
    fn classify(&self, e: postgres::Error) -> ConnectError {
        let target = self.redacted();
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                let hint = if db.message().contains("pg_hba.conf") {
                    "the server's pg_hba.conf does not accept this user/database/host/SSL \
                     combination"
                        .to_owned()
                } else if *code == SqlState::INVALID_PASSWORD {
                    self.password_hint()
                } else {
                    format!(
                        "check that the role exists and may log in; {}",
                        self.password_hint()
                    )
                };
                return ConnectError::AuthenticationFailed {
                    target,
                    user: self.user.clone(),
                    reason: db.message().to_owned(),
                    hint,
                };
            }
            if *code == SqlState::UNDEFINED_DATABASE {
                return ConnectError::DatabaseMissing {
                    target,
                    database: self.database.clone(),
                };
            }
            return ConnectError::Other {
                target,
                reason: db_error_text(db),
                source: e,
            };
        }
        let chain = error_chain(&e);
        let kind = e.to_string();
        if chain.contains("password missing") {
            return ConnectError::AuthenticationFailed {
                target,
                user: self.user.clone(),
                reason: "the server asked for a password and none is configured".to_owned(),
                hint: "put it in PGPASSWORD, in the URL, or in ~/.pgpass".to_owned(),
            };
        }
        if kind == "authentication error" {
            let hint = if chain.contains("channel binding") {
                "channel_binding=require needs TLS (an sslmode other than disable) and \
                 SCRAM-SHA-256 authentication on the server"
            } else {
                "pgshift supports trust, password, md5 and SCRAM-SHA-256 authentication"
            };
            return ConnectError::AuthenticationFailed {
                target,
                user: self.user.clone(),
                reason: chain
                    .strip_prefix("authentication error: ")
                    .unwrap_or(&chain)
                    .to_owned(),
                hint: hint.to_owned(),
            };
        }
        if kind == "error performing TLS handshake" {
            let reason = if chain.contains("server does not support TLS") {
                format!(
                    "the server does not support TLS but sslmode={} requires it",
                    self.ssl_mode
                )
            } else {
                let raw = chain
                    .strip_prefix("error performing TLS handshake: ")
                    .unwrap_or(&chain);
                let cause = match tls::explain(raw) {
                    Some(words) => format!("{words} ({raw})"),
                    None => raw.to_owned(),
                };
                match &self.verification {
                    tls::Verification::None => cause,
                    tls::Verification::Chain(r) => format!(
                        "{cause} (the certificate chain is checked against {})",
                        describe_roots(r)
                    ),
                    tls::Verification::Full(r) => format!(
                        "{cause} (the certificate chain is checked against {} and must name \
                         the host)",
                        describe_roots(r)
                    ),
                }
            };
            return ConnectError::Tls { target, reason };
        }
        if let Some(io) = find_io_error(&e) {
            use std::io::ErrorKind as K;
            let unix = self.hostaddrs.is_empty() && self.hosts.iter().all(is_unix);
            match io.kind() {
                K::TimedOut => {
                    return ConnectError::Timeout {
                        target,
                        seconds: self.connect_timeout.map_or(0, |t| t.as_secs()),
                    }
                }
                K::ConnectionRefused => {
                    return ConnectError::Unreachable {
                        target,
                        reason: "connection refused; is the server running and accepting \
                                 TCP/IP connections on that host and port?"
                            .to_owned(),
                    }
                }
                K::NotFound if unix => {
                    return ConnectError::Unreachable {
                        target,
                        reason: format!(
                            "no server socket {}; is the server running locally and accepting \
                             connections on that socket?",
                            self.socket_file()
                        ),
                    }
                }
                K::PermissionDenied if unix => {
                    return ConnectError::Unreachable {
                        target,
                        reason: format!("permission denied on socket {}", self.socket_file()),
                    }
                }
                _ if kind == "error connecting to server" => {
                    let text = io.to_string();
                    let reason = if text.contains("lookup address")
                        || text.contains("resolve")
                        || text.contains("Name or service not known")
                    {
                        format!("cannot resolve the host name ({text})")
                    } else {
                        text
                    };
                    return ConnectError::Unreachable { target, reason };
                }
                _ => {}
            }
        }
        let reason = if e.is_closed() {
            "the server closed the connection unexpectedly; it may have crashed or refused \
             the session (see its log)"
                .to_owned()
        } else if kind == "unexpected message from server"
            || kind == "error parsing response from server"
        {
            format!("{chain}; is this really a PostgreSQL server?")
        } else {
            chain
        };
        ConnectError::Other {
            target,
            reason,
            source: e,
        }
    }

    fn password_hint(&self) -> String {
        match &self.password_source {
            Some(source) => format!("the password came from {source}; check it"),
            None => "no password was sent; set PGPASSWORD, put it in the URL, or add it to \
                     ~/.pgpass"
                .to_owned(),
        }
    }

    fn socket_file(&self) -> String {
        match self.hosts.first() {
            #[cfg(unix)]
            Some(Host::Unix(dir)) => dir
                .join(format!(".s.PGSQL.{}", self.ports[0]))
                .display()
                .to_string(),
            _ => String::new(),
        }
    }

    /// A URL-like description without the password, for messages:
    /// `postgresql://user@host:port/db?sslmode=prefer`, or for a unix socket
    /// `postgresql://user@/db?host=/var/run/postgresql&port=5432`. It is a
    /// valid connection URL (minus the password).
    pub fn redacted(&self) -> String {
        use conninfo::{encode_component as enc, encode_path};
        let mut out = format!("postgresql://{}@", enc(&self.user));
        let mut query: Vec<String> = Vec::new();
        let all_tcp = !self.hosts.is_empty() && self.hosts.iter().all(|h| !is_unix(h));
        let port_at = |i: usize| self.ports.get(i).copied().unwrap_or(self.ports[0]);
        if all_tcp {
            let list: Vec<String> = self
                .hosts
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let name = match h {
                        Host::Tcp(n) if n.contains(':') => format!("[{n}]"),
                        Host::Tcp(n) => enc(n),
                        #[cfg(unix)]
                        Host::Unix(_) => unreachable!("all hosts are TCP here"),
                    };
                    format!("{name}:{}", port_at(i))
                })
                .collect();
            out.push_str(&list.join(","));
        } else {
            if !self.hosts.is_empty() {
                let list: Vec<String> = self
                    .hosts
                    .iter()
                    .map(|h| match h {
                        Host::Tcp(n) => enc(n),
                        #[cfg(unix)]
                        Host::Unix(p) => encode_path(&p.to_string_lossy()),
                    })
                    .collect();
                query.push(format!("host={}", list.join(",")));
            }
            let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
            query.push(format!("port={}", ports.join(",")));
        }
        out.push('/');
        out.push_str(&enc(&self.database));
        if !self.hostaddrs.is_empty() {
            query.push(format!("hostaddr={}", self.hostaddrs.join(",")));
        }
        if !self.hostaddrs.is_empty() || self.hosts.iter().any(|h| !is_unix(h)) {
            query.push(format!("sslmode={}", self.ssl_mode));
        }
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query.join("&"));
        }
        out
    }

    /// The database name.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The first (usually only) port.
    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    /// The same target with another database (a scratch database, the
    /// `postgres` maintenance database, …). A password from a password file
    /// is looked up again for the new database, as libpq would.
    pub fn with_database(&self, database: &str) -> Self {
        let mut s = self.clone();
        s.database = database.to_owned();
        s.base.dbname(database);
        if !matches!(s.password_source, Some(PasswordSource::Setting(_))) {
            // Reading the file succeeded a moment ago; if it fails now, go on
            // without a password and let the server say what it thinks.
            if s.lookup_passfile().is_err() {
                s.password = None;
                s.password_source = None;
            }
        }
        s
    }

    /// Where the connection string came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The `sslmode` in force (for unix sockets it is irrelevant).
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The connect timeout per host; `None` waits forever
    /// (`connect_timeout=0`).
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// Where the password comes from, if one will be sent.
    pub fn password_source(&self) -> Option<&PasswordSource> {
        self.password_source.as_ref()
    }

    /// True when every host is a unix-socket directory.
    pub fn is_unix_socket(&self) -> bool {
        self.hostaddrs.is_empty() && self.hosts.iter().all(is_unix)
    }

    /// Non-fatal findings made while resolving, for the caller to show.
    pub fn warnings(&self) -> &[ConnectWarning] {
        &self.warnings
    }
}

fn is_unix(h: &Host) -> bool {
    match h {
        Host::Tcp(_) => false,
        #[cfg(unix)]
        Host::Unix(_) => true,
    }
}

fn default_host(env: &Environment) -> Host {
    match env.default_socket_dir() {
        #[cfg(unix)]
        Some(dir) => Host::Unix(dir.to_owned()),
        _ => Host::Tcp("localhost".to_owned()),
    }
}

fn describe_roots(roots: &tls::RootCerts) -> String {
    match roots {
        tls::RootCerts::File(p) => p.display().to_string(),
        tls::RootCerts::System => "the system's trusted roots (webpki-roots)".to_owned(),
    }
}

/// An unknown keyword's name is worth showing (`sslmdoe`), but only if it
/// looks like a keyword and not like a stray password.
fn unknown_keyword(key: &str) -> String {
    let looks_like_keyword = !key.is_empty()
        && key.len() <= 40
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit());
    if looks_like_keyword {
        format!("unknown connection parameter `{key}`")
    } else {
        "unknown connection parameter".to_owned()
    }
}

fn reject_unsupported(
    map: &ParamMap,
    warnings: &mut Vec<ConnectWarning>,
) -> Result<(), ConnectError> {
    let refuse = |key: &str, reason: &str| -> Result<(), ConnectError> {
        match map.get(key) {
            Some((_, origin)) => Err(ConnectError::InvalidUrl {
                origin: origin.clone(),
                reason: format!("{key}: {reason}"),
            }),
            None => Ok(()),
        }
    };
    if let Some((_, origin)) = map.get("service") {
        match origin {
            Origin::Env(var) | Origin::DotEnv(var) => warnings.push(ConnectWarning::Ignored {
                setting: var.clone(),
                reason: "connection service files (pg_service.conf) are not supported".to_owned(),
            }),
            _ => refuse(
                "service",
                "connection service files (pg_service.conf) are not supported",
            )?,
        }
    }
    refuse("sslcrl", "certificate revocation lists are not supported")?;
    refuse(
        "sslcrldir",
        "certificate revocation lists are not supported",
    )?;
    refuse("sslpassword", "encrypted client keys are not supported")?;
    refuse("require_auth", "not supported")?;
    refuse("replication", "replication connections are not supported")?;
    if let Some((v, _)) = map.get("gssencmode") {
        if v == "require" {
            refuse("gssencmode", "GSSAPI encryption is not supported")?;
        }
    }
    if let Some((v, _)) = map.get("client_encoding") {
        let v = v.to_ascii_lowercase();
        if !matches!(v.as_str(), "utf8" | "utf-8" | "unicode" | "auto") {
            refuse("client_encoding", "pgshift always talks UTF8 to the server")?;
        }
    }
    if let Some((v, _)) = map.get("sslcertmode") {
        if !matches!(v.as_str(), "disable" | "allow" | "require") {
            refuse("sslcertmode", "expected disable, allow or require")?;
        }
    }
    Ok(())
}

/// libpq: a client certificate is sent if `sslcert` (default
/// `~/.postgresql/postgresql.crt`) exists, with the key `sslkey` (default
/// `~/.postgresql/postgresql.key`).
fn client_cert(map: &ParamMap, env: &Environment) -> Result<Option<tls::ClientCert>, ConnectError> {
    let mode = map.get("sslcertmode").map(|(v, _)| v.as_str());
    if mode == Some("disable") {
        return Ok(None);
    }
    let dir = env.home().map(|h| h.join(".postgresql"));
    let cert = map
        .get("sslcert")
        .map(|(v, _)| PathBuf::from(v))
        .or_else(|| dir.as_ref().map(|d| d.join("postgresql.crt")));
    let key = map
        .get("sslkey")
        .map(|(v, _)| PathBuf::from(v))
        .or_else(|| dir.as_ref().map(|d| d.join("postgresql.key")));
    match (cert, key) {
        (Some(cert), Some(key)) if cert.is_file() => Ok(Some(tls::ClientCert { cert, key })),
        _ if mode == Some("require") => Err(ConnectError::InvalidUrl {
            origin: map["sslcertmode"].1.clone(),
            reason: "sslcertmode=require but no client certificate (sslcert) exists".to_owned(),
        }),
        _ => Ok(None),
    }
}

fn tls_versions(map: &ParamMap) -> Result<tls::Versions, ConnectError> {
    let mut versions = tls::Versions::default();
    if let Some((v, origin)) = map.get("ssl_min_protocol_version") {
        match v.as_str() {
            "TLSv1" | "TLSv1.1" | "TLSv1.2" => {}
            "TLSv1.3" => versions.tls12 = false,
            _ => {
                return Err(ConnectError::InvalidUrl {
                    origin: origin.clone(),
                    reason: "ssl_min_protocol_version must be TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3"
                        .to_owned(),
                })
            }
        }
    }
    if let Some((v, origin)) = map.get("ssl_max_protocol_version") {
        match v.as_str() {
            "TLSv1.3" => {}
            "TLSv1.2" => versions.tls13 = false,
            _ => {
                return Err(ConnectError::InvalidUrl {
                    origin: origin.clone(),
                    reason: "ssl_max_protocol_version must be TLSv1.2 or TLSv1.3 \
                             (only TLS 1.2 and 1.3 are supported)"
                        .to_owned(),
                })
            }
        }
    }
    if !versions.tls12 && !versions.tls13 {
        return Err(ConnectError::InvalidUrl {
            origin: map["ssl_min_protocol_version"].1.clone(),
            reason: "ssl_min_protocol_version is above ssl_max_protocol_version".to_owned(),
        });
    }
    Ok(versions)
}

/// Runs the blocking connect, giving up after `deadline` (`None`: the
/// attempt outlived it). The connect runs on its own thread so that a server
/// that accepts the TCP connection and then never answers cannot hang us;
/// tokio-postgres's own timeout only covers opening the socket.
fn run_with_deadline(
    config: postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    deadline: Option<Duration>,
) -> Option<Result<postgres::Client, postgres::Error>> {
    let attempt =
        |config: postgres::Config, tls: Option<tokio_postgres_rustls::MakeRustlsConnect>| match tls
        {
            Some(tls) => config.connect(tls),
            None => config.connect(postgres::NoTls),
        };
    let Some(deadline) = deadline else {
        return Some(attempt(config, tls));
    };
    let (tx, rx) = mpsc::channel();
    let (thread_config, thread_tls) = (config.clone(), tls.clone());
    let spawned = std::thread::Builder::new()
        .name("pgshift-connect".to_owned())
        .spawn(move || {
            // The receiver is gone if we gave up; the client is then dropped,
            // which closes the connection.
            let _ = tx.send(attempt(thread_config, thread_tls));
        });
    if spawned.is_err() {
        return Some(attempt(config, tls));
    }
    rx.recv_timeout(deadline).ok()
}

/// The driver error and its causes, joined with `: `. tokio-postgres's own
/// `Display` is only the outer kind ("db error", "error connecting to
/// server"); the useful part is in the sources. None of these texts contain
/// the password (the driver never puts it in an error).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn find_io_error(e: &postgres::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

fn db_error_text(db: &DbError) -> String {
    let mut text = format!("{}: {}", db.severity(), db.message());
    if let Some(d) = db.detail() {
        text.push_str(&format!(" (DETAIL: {d})"));
    }
    if let Some(h) = db.hint() {
        text.push_str(&format!(" (HINT: {h})"));
    }
    text
}

#[cfg(test)]
mod tests;
