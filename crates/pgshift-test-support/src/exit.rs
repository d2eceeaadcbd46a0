//! Stopping the shared cluster when the test process exits, and saying how
//! many tests skipped.
//!
//! The cluster lives in a `static`, and statics are never dropped, so
//! [`TempCluster`](pgshift_cluster::TempCluster)'s `Drop` never runs for it.
//! The C library's `atexit` handlers do run on every normal exit: when `main`
//! returns and on `std::process::exit`, which is how the libtest harness ends
//! (including when tests failed). The handler stops the server
//! (`pg_ctl stop -m immediate`) and deletes its directory before the process
//! is gone.
//!
//! A process killed by a signal runs no handlers; `TempCluster::sweep_abandoned`
//! (called before starting the next cluster) covers that case.
//!
//! This is the crate's only unsafe code, which is why its `Cargo.toml` restates
//! the workspace lints with `unsafe_code = "deny"` instead of inheriting
//! `forbid`.

use std::sync::Once;

/// Registers the exit handler (once per process, however often called).
///
/// # Panics
///
/// If the C library cannot register it (it has no room), since the server
/// would then outlive the tests.
pub(crate) fn stop_cluster_at_exit() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        assert!(
            register(at_exit),
            "could not register the test cluster's exit handler"
        );
    });
}

/// Registers the handler that prints the skip summary (once per process).
///
/// # Panics
///
/// If the C library cannot register it.
pub(crate) fn report_skips_at_exit() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        assert!(
            register(skips_at_exit),
            "could not register the skip summary's exit handler"
        );
    });
}

/// Runs at process exit: prints how many tests skipped.
extern "C" fn skips_at_exit() {
    let _ = std::panic::catch_unwind(crate::print_skip_summary);
}

/// Runs at process exit on the exiting thread.
extern "C" fn at_exit() {
    // Unwinding out of an `extern "C"` function aborts the process; a failure
    // here must not turn a passing test run into a crash, so contain it.
    let _ = std::panic::catch_unwind(crate::destroy_cluster);
}

#[allow(unsafe_code)]
fn register(handler: extern "C" fn()) -> bool {
    // SAFETY: `atexit` only records the function pointer. `handler` is a
    // plain `extern "C" fn()` with no captured state that never unwinds (see
    // `at_exit`) and only touches `'static` data, so it is sound to call at any
    // point during exit.
    unsafe { nix::libc::atexit(handler) == 0 }
}
