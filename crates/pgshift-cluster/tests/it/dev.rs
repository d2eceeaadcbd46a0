//! The persistent development cluster under `<project>/.pgshift/dev/`.

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

use pgshift_cluster::{Cluster, ClusterError, Running, Status};

use crate::common::{port_accepts, process_gone, project_dir, select_one, StopOnDrop};

#[test]
fn lifecycle_reuse_stop_and_restart() {
    let project = project_dir();
    let cluster = Cluster::dev(project.path()).unwrap();
    let _guard = StopOnDrop(cluster.clone());
    assert_eq!(cluster.data_dir(), project.path().join(".pgshift/dev/data"));
    assert_eq!(cluster.status().unwrap(), Status::NotInitialised);
    assert!(!cluster.stop().unwrap(), "nothing to stop yet");

    let first = cluster.ensure_running().unwrap();
    assert_eq!(
        first.socket_dir(),
        project.path().join(".pgshift/dev/socket")
    );
    assert_eq!(select_one(&first.url("postgres")), 1);
    assert_eq!(cluster.status().unwrap(), Status::Running(first.clone()));
    assert!(cluster.log_file().is_file());

    // Another Cluster value for the same project reuses the same server.
    let again = Cluster::dev(project.path())
        .unwrap()
        .ensure_running()
        .unwrap();
    assert_eq!(again, first);

    assert!(cluster.stop().unwrap());
    assert_eq!(cluster.status().unwrap(), Status::Stopped);
    assert!(!port_accepts(first.port()));
    assert!(process_gone(first.pid()));
    assert!(!cluster.stop().unwrap(), "already stopped");

    // Restarting keeps the data and, while it stays free, the port.
    let second = cluster.ensure_running().unwrap();
    assert_ne!(second.pid(), first.pid());
    assert_eq!(second.port(), first.port());
    assert_eq!(select_one(&second.socket_url("postgres")), 1);
    assert!(cluster.stop().unwrap());

    // If something else took the port meanwhile, a new one is chosen.
    let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, second.port())).unwrap();
    let third = cluster.ensure_running().unwrap();
    assert_ne!(third.port(), second.port());
    assert_eq!(select_one(&third.url("postgres")), 1);
    drop(squatter);
    assert!(cluster.stop().unwrap());
}

/// Run by [`reused_from_another_process`] in a child process (ignored when run
/// directly): starts or finds the cluster and writes "pid port" to a file.
#[test]
#[ignore = "helper, run by reused_from_another_process"]
fn child_process_helper() {
    let Some(project) = std::env::var_os("PGSHIFT_IT_PROJECT") else {
        return;
    };
    let project = PathBuf::from(project);
    let running = Cluster::dev(&project).unwrap().ensure_running().unwrap();
    fs::write(
        project.join("report"),
        format!("{} {}", running.pid(), running.port()),
    )
    .unwrap();
}

#[test]
fn reused_from_another_process() {
    let project = project_dir();
    let cluster = Cluster::dev(project.path()).unwrap();
    let _guard = StopOnDrop(cluster.clone());
    let running = cluster.ensure_running().unwrap();

    for _ in 0..2 {
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "dev::child_process_helper",
                "--ignored",
                "--quiet",
            ])
            .env("PGSHIFT_IT_PROJECT", project.path())
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stdout)
        );
        let report = fs::read_to_string(project.path().join("report")).unwrap();
        assert_eq!(report, format!("{} {}", running.pid(), running.port()));
    }
}

#[test]
fn concurrent_ensure_running_starts_one_server() {
    let project = project_dir();
    let cluster = Cluster::dev(project.path()).unwrap();
    let _guard = StopOnDrop(cluster.clone());
    let results: Vec<Running> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    Cluster::dev(project.path())
                        .unwrap()
                        .ensure_running()
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    assert_eq!(select_one(&results[0].url("postgres")), 1);
}

#[test]
fn stale_postmaster_pid_counts_as_stopped_and_start_proceeds() {
    let project = project_dir();
    let cluster = Cluster::dev(project.path()).unwrap();
    let _guard = StopOnDrop(cluster.clone());
    let before = cluster.ensure_running().unwrap();
    assert!(cluster.stop().unwrap());

    // What a crash leaves behind: a pid file naming a process that is gone.
    let mut exited = Command::new("true").spawn().unwrap();
    exited.wait().unwrap();
    let dead_pid = exited.id();
    let pid_path = cluster.data_dir().join("postmaster.pid");
    fs::write(
        &pid_path,
        format!(
            "{dead_pid}\n{}\n1700000000\n{}\n{}\n127.0.0.1\n  0  0\nready   \n",
            cluster.data_dir().display(),
            before.port(),
            before.socket_dir().display()
        ),
    )
    .unwrap();
    let owner = fs::metadata(cluster.data_dir()).unwrap();
    std::os::unix::fs::chown(&pid_path, Some(owner.uid()), Some(owner.gid())).unwrap();

    assert_eq!(cluster.status().unwrap(), Status::Stopped);
    let after = cluster.ensure_running().unwrap();
    assert_ne!(after.pid(), dead_pid);
    assert_eq!(select_one(&after.url("postgres")), 1);
}

#[test]
fn deep_project_dir_gets_a_short_socket_dir() {
    let project = project_dir();
    let deep = project.path().join("a".repeat(60)).join("b".repeat(60));
    fs::create_dir_all(&deep).unwrap();
    for dir in [deep.as_path(), deep.parent().unwrap()] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cluster = Cluster::dev(&deep).unwrap();
    let socket_dir = cluster.socket_dir().to_path_buf();
    assert!(
        socket_dir.to_str().unwrap().starts_with("/tmp/pgshift-"),
        "{}",
        socket_dir.display()
    );
    let _cleanup = RemoveDir(socket_dir.clone());
    let _guard = StopOnDrop(cluster.clone());

    let running = cluster.ensure_running().unwrap();
    assert_eq!(running.socket_dir(), socket_dir);
    assert_eq!(select_one(&running.socket_url("postgres")), 1);
    assert!(cluster.stop().unwrap());
}

#[test]
fn unreachable_project_dir_is_a_clear_error_when_root() {
    if !nix::unistd::geteuid().is_root() {
        return; // Only root switches users; a normal user owns its directories.
    }
    // Like a home directory: the postgres user cannot pass through.
    let project = project_dir();
    fs::set_permissions(project.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let cluster = Cluster::dev(project.path()).unwrap();
    let _guard = StopOnDrop(cluster.clone());
    let err = cluster.ensure_running().unwrap_err();
    match &err {
        ClusterError::NotTraversable { blocking, .. } => assert_eq!(blocking, project.path()),
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("chmod o+x"), "{msg}");
}

#[test]
fn start_failure_carries_the_end_of_the_server_log() {
    let project = project_dir();
    let cluster = Cluster::dev(project.path()).unwrap();
    let _guard = StopOnDrop(cluster.clone());
    cluster.ensure_running().unwrap();
    assert!(cluster.stop().unwrap());

    let conf = cluster.data_dir().join("postgresql.conf");
    let mut text = fs::read_to_string(&conf).unwrap();
    text.push_str("shared_buffers = 'lots'\n");
    fs::write(&conf, text).unwrap();

    let err = cluster.ensure_running().unwrap_err();
    let ClusterError::StartFailed {
        log_tail, log_file, ..
    } = &err
    else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(log_file, cluster.log_file());
    assert!(log_tail.contains("shared_buffers"), "{log_tail}");
    assert!(log_tail.lines().count() <= 20, "{log_tail}");
    let msg = err.to_string();
    assert!(msg.starts_with("postgresql server for "), "{msg}");
    assert!(msg.contains("did not start"), "{msg}");
    assert_eq!(cluster.status().unwrap(), Status::Stopped);
}

/// Removes a directory on drop (the fallback socket directory outlives a
/// development cluster by design).
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(Path::new(&self.0));
    }
}
