//! Throwaway clusters.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use pgshift_cluster::{Cluster, Status, TempCluster};

use crate::common::{exists, port_accepts, process_gone, select_one};

#[test]
fn starts_accepts_connections_and_vanishes_on_drop() {
    let temp = Cluster::temporary().unwrap();
    assert_eq!(select_one(&temp.url("postgres")), 1);

    let port = temp.port();
    let pid = temp.running().pid();
    let dir = temp.cluster().dir().to_path_buf();
    assert_eq!(
        temp.cluster().status().unwrap(),
        Status::Running(temp.running().clone())
    );
    assert!(port_accepts(port));
    drop(temp);

    assert!(!port_accepts(port), "port {port} still accepts connections");
    assert!(process_gone(pid), "postmaster {pid} still exists");
    assert!(!exists(&dir), "{} not removed", dir.display());
}

#[test]
fn socket_url_and_query_form_both_work_with_the_postgres_crate() {
    let temp = Cluster::temporary().unwrap();
    let running = temp.running();
    assert!(running
        .socket_dir()
        .join(format!(".s.PGSQL.{}", running.port()))
        .exists());

    // The form we produce: percent-encoded socket directory as the host.
    assert_eq!(select_one(&temp.socket_url("postgres")), 1);

    // The documented alternative: host= query parameter with a path.
    let query_form = format!(
        "postgresql:///postgres?host={}&port={}&user=postgres",
        running.socket_dir().display(),
        running.port()
    );
    let config: postgres::Config = query_form.parse().unwrap();
    assert_eq!(
        config.get_hosts(),
        [postgres::config::Host::Unix(
            running.socket_dir().to_path_buf()
        )]
    );
    assert_eq!(select_one(&query_form), 1);
}

#[test]
fn libpq_accepts_both_urls() {
    let Ok(psql) = which("psql") else {
        return; // No client installed; the postgres-crate test covers parsing.
    };
    let temp = Cluster::temporary().unwrap();
    for url in [temp.url("postgres"), temp.socket_url("postgres")] {
        let out = Command::new(&psql)
            .args(["-X", "-At", "-c", "SELECT 40 + 2", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    }
}

#[test]
fn server_runs_with_pgshift_settings() {
    let temp = Cluster::temporary().unwrap();
    let mut client = postgres::Client::connect(&temp.url("postgres"), postgres::NoTls).unwrap();
    let show = |client: &mut postgres::Client, name: &str| -> String {
        client
            .query_one(&format!("SHOW {name}"), &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(show(&mut client, "listen_addresses"), "127.0.0.1");
    assert_eq!(show(&mut client, "port"), temp.port().to_string());
    assert_eq!(show(&mut client, "fsync"), "off");
    assert_eq!(show(&mut client, "synchronous_commit"), "off");
    assert_eq!(show(&mut client, "full_page_writes"), "off");
    assert_eq!(show(&mut client, "server_encoding"), "UTF8");
    assert_eq!(show(&mut client, "lc_collate"), "C");
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(user, "postgres");
}

#[test]
fn destroy_is_idempotent_and_drop_after_it_is_fine() {
    let temp = Cluster::temporary().unwrap();
    let dir = temp.cluster().dir().to_path_buf();
    temp.destroy().unwrap();
    assert!(!exists(&dir));
    temp.destroy().unwrap();
    assert_eq!(temp.cluster().status().unwrap(), Status::NotInitialised);
    drop(temp);
}

/// Run by [`sweep_cleans_up_after_killed_processes`] in a child process
/// (ignored when run directly): starts a temporary cluster, reports it, then
/// waits to be killed.
#[test]
#[ignore = "helper, run by sweep_cleans_up_after_killed_processes"]
fn abandoning_child_helper() {
    let Some(report) = std::env::var_os("PGSHIFT_IT_ABANDON_REPORT") else {
        return;
    };
    let temp = Cluster::temporary().unwrap();
    let text = format!("{}\n{}\n", temp.port(), temp.cluster().dir().display());
    fs::write(&report, text).unwrap();
    loop {
        thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn sweep_cleans_up_after_killed_processes() {
    let scratch = tempfile::tempdir().unwrap();
    let report = scratch.path().join("report");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "temporary::abandoning_child_helper",
            "--ignored",
            "--quiet",
        ])
        .env("PGSHIFT_IT_ABANDON_REPORT", &report)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        match fs::read_to_string(&report) {
            Ok(text) if text.ends_with('\n') => break text,
            _ if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("child never reported");
            }
            _ => thread::sleep(Duration::from_millis(100)),
        }
    };
    // SIGKILL: no destructors, no exit handlers; the server survives it.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut lines = text.lines();
    let port: u16 = lines.next().unwrap().parse().unwrap();
    let dir = PathBuf::from(lines.next().unwrap());
    assert!(port_accepts(port), "abandoned server should still run");

    let swept = TempCluster::sweep_abandoned();
    assert!(swept.contains(&dir), "{swept:?} lacks {}", dir.display());
    assert!(!port_accepts(port));
    assert!(!exists(&dir));
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .ok_or(())
}
