//! The connection as libpq environment variables, for the PostgreSQL client
//! programs pgshift runs (`pg_dump`, `pg_restore`).
//!
//! The password travels in the child's environment (`PGPASSWORD`), or as
//! the password file it came from (`PGPASSFILE`), never on a command line
//! where `ps` would show it. Every other `PG*` variable of pgshift's own
//! environment is cleared first ([`LIBPQ_VARS`]), so the child connects
//! exactly where pgshift does (PostgreSQL docs, "libpq-envars").

use super::{is_unix, tls, ConnectionSettings, PasswordSource, Secret};
use std::ffi::OsString;
use tokio_postgres::config::Host;

/// The libpq variables a child must not inherit: the ones that choose the
/// server, the login or the session's behaviour.
pub const LIBPQ_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGAPPNAME",
    "PGSSLMODE",
    "PGREQUIRESSL",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLCRL",
    "PGSSLCRLDIR",
    "PGSSLSNI",
    "PGCONNECT_TIMEOUT",
    "PGTARGETSESSIONATTRS",
    "PGCHANNELBINDING",
    "PGCLIENTENCODING",
    "PGGSSENCMODE",
    "PGTZ",
    "PGDATESTYLE",
];

impl ConnectionSettings {
    /// The variables that make a libpq program connect as these settings
    /// do, to `database` (the settings' own database when `None`).
    /// Clear [`LIBPQ_VARS`] in the child before setting these.
    pub fn libpq_env(
        &self,
        application_name: &str,
        database: Option<&str>,
    ) -> Vec<(&'static str, OsString)> {
        let mut env: Vec<(&'static str, OsString)> = Vec::new();
        let hosts: Vec<OsString> = self
            .hosts
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => OsString::from(name),
                #[cfg(unix)]
                Host::Unix(path) => path.clone().into_os_string(),
            })
            .collect();
        if !hosts.is_empty() {
            env.push(("PGHOST", join(&hosts)));
        }
        if !self.hostaddrs.is_empty() {
            env.push(("PGHOSTADDR", OsString::from(self.hostaddrs.join(","))));
        }
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        env.push(("PGPORT", OsString::from(ports.join(","))));
        env.push(("PGUSER", OsString::from(&self.user)));
        env.push((
            "PGDATABASE",
            OsString::from(database.unwrap_or(&self.database)),
        ));
        match (&self.password, &self.password_source) {
            (Some(_), Some(PasswordSource::PgPass { path, .. })) => {
                env.push(("PGPASSFILE", path.clone().into_os_string()));
            }
            (Some(Secret(password)), _) => env.push(("PGPASSWORD", OsString::from(password))),
            (None, _) => {
                // No password found: point libpq at no file rather than
                // letting it read ~/.pgpass on its own.
                env.push(("PGPASSFILE", OsString::from("/dev/null")));
            }
        }
        let all_unix = !self.hosts.is_empty() && self.hosts.iter().all(is_unix);
        if !all_unix {
            env.push(("PGSSLMODE", OsString::from(self.ssl_mode.as_str())));
        }
        match &self.verification {
            tls::Verification::Chain(tls::RootCerts::File(path))
            | tls::Verification::Full(tls::RootCerts::File(path)) => {
                env.push(("PGSSLROOTCERT", path.clone().into_os_string()));
            }
            tls::Verification::Chain(tls::RootCerts::System)
            | tls::Verification::Full(tls::RootCerts::System) => {
                env.push(("PGSSLROOTCERT", OsString::from("system")));
            }
            tls::Verification::None => {}
        }
        if let Some(cert) = &self.client_cert {
            env.push(("PGSSLCERT", cert.cert.clone().into_os_string()));
            env.push(("PGSSLKEY", cert.key.clone().into_os_string()));
        }
        if let Some(timeout) = self.connect_timeout {
            env.push((
                "PGCONNECT_TIMEOUT",
                OsString::from(timeout.as_secs().max(2).to_string()),
            ));
        }
        let name = self
            .application_name
            .as_deref()
            .or(self.fallback_application_name.as_deref())
            .unwrap_or(application_name);
        env.push(("PGAPPNAME", OsString::from(name)));
        env.push(("PGCLIENTENCODING", OsString::from("UTF8")));
        env
    }
}

fn join(parts: &[OsString]) -> OsString {
    let mut out = OsString::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(",");
        }
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{Environment, Origin};

    #[test]
    fn the_password_goes_to_pgpassword_and_nowhere_else() {
        let env = Environment::default();
        let settings = ConnectionSettings::from_url(
            "postgresql://app:s3cret@db.internal:5433/users?sslmode=require",
            Origin::Flag,
            &env,
        )
        .unwrap();
        let vars = settings.libpq_env("pgshift", None);
        let get = |k: &str| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        assert_eq!(get("PGHOST").as_deref(), Some("db.internal"));
        assert_eq!(get("PGPORT").as_deref(), Some("5433"));
        assert_eq!(get("PGUSER").as_deref(), Some("app"));
        assert_eq!(get("PGDATABASE").as_deref(), Some("users"));
        assert_eq!(get("PGPASSWORD").as_deref(), Some("s3cret"));
        assert_eq!(get("PGSSLMODE").as_deref(), Some("require"));
        let others = vars
            .iter()
            .filter(|(k, _)| *k != "PGPASSWORD")
            .any(|(_, v)| v.to_string_lossy().contains("s3cret"));
        assert!(!others);
        let other_db = settings.libpq_env("pgshift", Some("scratch"));
        assert!(other_db
            .iter()
            .any(|(k, v)| *k == "PGDATABASE" && v == "scratch"));
    }
}
