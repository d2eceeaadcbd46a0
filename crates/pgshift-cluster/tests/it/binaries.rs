//! Finding the server programs.

use pgshift_cluster::{Binaries, ClusterError};

#[test]
fn finds_installed_binaries_and_their_version() {
    let binaries = Binaries::find().unwrap();
    assert!(binaries.initdb().is_file());
    assert!(binaries.pg_ctl().is_file());
    assert!(binaries.postgres().is_file());
    let version = binaries.version().unwrap();
    assert!(version.major >= 10, "{version}");
}

#[test]
fn find_in_explicit_dirs() {
    let real = Binaries::find().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let found = Binaries::find_in([empty.path(), real.bindir()]).unwrap();
    assert_eq!(found, real);
}

#[test]
fn not_found_error_lists_searched_dirs_and_the_fix() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let err = Binaries::find_in([a.path(), b.path()]).unwrap_err();
    assert!(
        matches!(err, ClusterError::BinariesNotFound { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.starts_with("postgresql server binaries"), "{msg}");
    assert!(
        msg.contains(&format!("{}, {}", a.path().display(), b.path().display())),
        "{msg}"
    );
    assert!(msg.contains("apt-get install postgresql"), "{msg}");
}
