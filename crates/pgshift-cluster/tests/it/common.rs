//! Helpers shared by the integration tests.

use std::fs;
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use pgshift_cluster::Cluster;

/// A temporary project directory the server's user can traverse (as root the
/// server runs as `postgres`). tempfile's mode depends on the umask, so set it.
/// The name has a space in it, to exercise quoting of paths.
pub fn project_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pgshift it-")
        .tempdir()
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Stops a (development) cluster when dropped, so a failing test does not
/// leave a server behind. Declare it after the project dir: it must drop first.
pub struct StopOnDrop(pub Cluster);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

/// `SELECT 1` over `url`.
pub fn select_one(url: &str) -> i32 {
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    client.query_one("SELECT 1", &[]).unwrap().get(0)
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(2)).is_ok()
}

/// Whether process `pid` exists, waiting up to 10 s for it to go away (the
/// postmaster may take a moment to exit after its pid file is removed).
pub fn process_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Signal 0 checks existence without sending anything.
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
        if !alive {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `dir` exists.
pub fn exists(dir: &Path) -> bool {
    dir.try_exists().unwrap()
}
