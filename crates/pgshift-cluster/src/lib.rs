//! A local PostgreSQL cluster: found, created, started and stopped by pgshift.
//!
//! Used two ways: the persistent development database under `.pgshift/dev/` in
//! a project (reused across runs), and throwaway clusters for tests.
//!
//! - [`Binaries::find`] locates `initdb`, `pg_ctl` and `postgres`.
//! - [`Cluster::open`] / [`Cluster::dev`] describe a cluster in a directory;
//!   [`Cluster::ensure_running`] runs `initdb` if needed and starts the server
//!   (or finds it already running) and returns [`Running`], which gives the
//!   port, socket directory and connection URLs; [`Cluster::stop`] stops it;
//!   [`Cluster::status`] reports.
//! - [`Cluster::temporary`] makes a throwaway [`TempCluster`] that stops and is
//!   removed on drop.
//!
//! The servers listen on 127.0.0.1 only, use trust authentication for the
//! superuser `postgres`, and run with `fsync` off: fast and disposable, never
//! for data that matters (see [`Cluster`] for the layout and settings). When
//! run as root, the server programs are run as an unprivileged user
//! (PostgreSQL refuses root), normally the `postgres` system user.
//!
//! This crate never prints; every outcome is a return value. It does not
//! connect to databases: callers use the URLs with their client of choice.

mod binaries;
mod cluster;
mod error;
mod pidfile;
mod port;
mod process;
mod socket;
mod temp;

pub use binaries::{Binaries, Version};
pub use cluster::{Cluster, Running, Status};
pub use error::ClusterError;
pub use temp::TempCluster;
