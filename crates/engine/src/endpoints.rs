//! The loopback endpoints the engine's browsers listen on (their DevTools servers), so the
//! recording proxy can refuse to connect to them.
//!
//! A browser's endpoint is claimed as soon as its DevTools port is known and released when the
//! claim drops, which is after the browser is stopped: the claim lives in the pooled session
//! and then in the live session, so a browser in the warm pool, one being handed out and one
//! being deleted are all covered.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::lock;

/// The DevTools endpoints of every browser this engine runs; cheap to clone, clones share.
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnEndpoints(Arc<Mutex<Vec<SocketAddr>>>);

impl OwnEndpoints {
    /// Records `addr` until the returned claim drops.
    pub(crate) fn claim(&self, addr: SocketAddr) -> EndpointClaim {
        lock(&self.0).push(addr);
        EndpointClaim {
            endpoints: self.clone(),
            addr,
        }
    }

    /// The endpoints claimed now.
    pub(crate) fn snapshot(&self) -> Vec<SocketAddr> {
        lock(&self.0).clone()
    }
}

/// Keeps one endpoint in [`OwnEndpoints`] while it lives.
#[derive(Debug)]
pub(crate) struct EndpointClaim {
    endpoints: OwnEndpoints,
    addr: SocketAddr,
}

impl Drop for EndpointClaim {
    fn drop(&mut self) {
        let mut endpoints = lock(&self.endpoints.0);
        // One entry per claim: a port reused by a newer browser stays claimed by its own.
        if let Some(i) = endpoints.iter().position(|a| *a == self.addr) {
            endpoints.swap_remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_listed_while_any_claim_on_it_lives() {
        let endpoints = OwnEndpoints::default();
        let addr: SocketAddr = "127.0.0.1:9222".parse().unwrap();
        let first = endpoints.claim(addr);
        let second = endpoints.claim(addr);
        drop(first);
        assert_eq!(endpoints.snapshot(), vec![addr]);
        drop(second);
        assert!(endpoints.snapshot().is_empty());
    }
}
