//! Picking a TCP port on the loopback interface.
//!
//! There is an unavoidable race between learning a port is free and the
//! server binding it; `cluster.rs` retries with a fresh port when the server
//! reports the address in use.

use std::net::{Ipv4Addr, TcpListener};

use crate::ClusterError;

/// A port that was free on 127.0.0.1 a moment ago (the kernel's choice).
pub(crate) fn free_port() -> Result<u16, ClusterError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|source| ClusterError::NoFreePort { source })
}

/// Whether `port` can be bound on 127.0.0.1 right now.
pub(crate) fn is_free(port: u16) -> bool {
    port != 0 && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_free_until_taken() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        assert!(!is_free(held.local_addr().unwrap().port()));
        assert!(!is_free(0));
    }
}
