//! The local development database: what pgshift uses when no connection is
//! configured at all.
//!
//! A cluster under `.pgshift/dev/` in the project (see
//! [`pgshift_cluster::Cluster::dev`]), started on demand, reused across runs,
//! holding one database, [`DEV_DATABASE`]. It trades durability for speed
//! (fsync off): it is for development, never for data you need.

use crate::connect::{ConnectError, ConnectionSettings, Environment, Origin};
use crate::history::quote_ident;
use pgshift_cluster::{Cluster, ClusterError, Status};
use std::path::{Path, PathBuf};

/// The database pgshift creates in the development cluster.
pub const DEV_DATABASE: &str = "pgshift_dev";

/// The project's development database.
#[derive(Debug, Clone)]
pub struct DevDatabase {
    project_dir: PathBuf,
}

impl DevDatabase {
    /// The development database of the project in `project_dir`.
    pub fn new(project_dir: &Path) -> Self {
        DevDatabase {
            project_dir: project_dir.to_path_buf(),
        }
    }

    fn cluster(&self) -> Result<Cluster, DevError> {
        Ok(Cluster::dev(&self.project_dir)?)
    }

    /// Starts the cluster if needed (creating it the first time), creates
    /// the database if missing, and returns how to connect.
    pub fn ensure(&self) -> Result<ConnectionSettings, DevError> {
        let admin = self.admin()?;
        let mut client = admin.connect("pgshift")?;
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
                &[&DEV_DATABASE],
            )
            .map_err(DevError::Create)?
            .get(0);
        if !exists {
            let created =
                client.batch_execute(&format!("CREATE DATABASE {}", quote_ident(DEV_DATABASE)));
            // Two first runs racing: the loser sees duplicate_database (42P04).
            if let Err(e) = created {
                if e.code().map(|c| c.code()) != Some("42P04") {
                    return Err(DevError::Create(e));
                }
            }
        }
        Ok(admin.with_database(DEV_DATABASE))
    }

    /// Starts the cluster if needed and returns how to connect to its
    /// `postgres` maintenance database, as the cluster's superuser: where
    /// scratch databases ([`crate::scratch`]) are created and dropped.
    pub fn admin(&self) -> Result<ConnectionSettings, DevError> {
        let running = self.cluster()?.ensure_running()?;
        // The dev cluster trusts local connections: nothing from the
        // environment (PGPASSWORD, PGSSLMODE, …) applies to it.
        let env = Environment::empty();
        Ok(ConnectionSettings::from_url(
            &format!("{}?sslmode=disable", running.url("postgres")),
            Origin::LocalDev,
            &env,
        )?)
    }

    /// The URL of the database, starting it if needed.
    pub fn url(&self) -> Result<String, DevError> {
        Ok(self.ensure()?.redacted())
    }

    /// Whether the cluster is running.
    pub fn status(&self) -> Result<Status, DevError> {
        Ok(self.cluster()?.status()?)
    }

    /// Stops the cluster; true if it was running.
    pub fn stop(&self) -> Result<bool, DevError> {
        Ok(self.cluster()?.stop()?)
    }

    /// Where the cluster's files are.
    pub fn dir(&self) -> Result<PathBuf, DevError> {
        Ok(self.cluster()?.dir().to_path_buf())
    }
}

/// Why the development database is not available.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevError {
    /// The cluster could not be created, started or stopped.
    #[error("local development database: {0}")]
    Cluster(#[from] ClusterError),
    /// It started but refused the connection.
    #[error("local development database: {0}")]
    Connect(#[from] ConnectError),
    /// Creating the database failed.
    #[error("local development database: cannot create {DEV_DATABASE}: {}", crate::error::db_message(.0))]
    Create(#[source] postgres::Error),
}
