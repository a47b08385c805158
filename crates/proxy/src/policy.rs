//! Where the proxy must not connect: Tapedeck's own listeners (the API and the proxy itself)
//! and the endpoints the engine runs for its own use (every browser's DevTools server). Other
//! loopback targets stay reachable: tests and local apps use them.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tapedeck_core::traffic::TrafficSink;
use tapedeck_upstream::checked::AddressPolicy;

/// Refuses the addresses that reach one of Tapedeck's own endpoints.
pub(crate) struct RefuseOwnEndpoints {
    /// The API's and the proxy's listeners, as bound.
    pub(crate) listeners: Vec<SocketAddr>,
    /// Asked for the engine's endpoints at each check: they change as sessions come and go.
    pub(crate) sink: Arc<dyn TrafficSink>,
}

impl AddressPolicy for RefuseOwnEndpoints {
    fn refusal(&self, addr: SocketAddr) -> Option<String> {
        if self.listeners.iter().any(|&l| reaches(addr, l)) {
            return Some("Tapedeck's own listener (its API or this proxy)".to_owned());
        }
        if self
            .sink
            .own_endpoints()
            .into_iter()
            .any(|e| reaches(addr, e))
        {
            return Some("a Tapedeck session's DevTools port".to_owned());
        }
        None
    }
}

/// True when a connection to `target` may arrive at a server bound to `endpoint`. On the same
/// port, that is: the same address; any loopback or unspecified address (`0.0.0.0` and `::`
/// connect to the local host) when the server is bound to loopback or to every address; and
/// any address of this host when it is bound to every address. IPv4-mapped IPv6 addresses
/// count as the IPv4 address they carry.
fn reaches(target: SocketAddr, endpoint: SocketAddr) -> bool {
    if target.port() != endpoint.port() {
        return false;
    }
    let ip = target.ip().to_canonical();
    let bound = endpoint.ip().to_canonical();
    let local_host = |ip: IpAddr| ip.is_loopback() || ip.is_unspecified();
    ip == bound
        || (local_host(ip) && local_host(bound))
        || (bound.is_unspecified() && is_this_hosts(ip))
}

/// True when `ip` is an address of one of this host's interfaces: only those can be bound.
fn is_this_hosts(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use tapedeck_core::traffic::{Admission, Authentication, Principal};

    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_loopback_spelling_reaches_a_loopback_server_on_its_port_only() {
        let devtools = a("127.0.0.1:9222");
        for target in [
            "127.0.0.1:9222",
            "127.0.0.2:9222",
            "[::1]:9222",
            "0.0.0.0:9222",
            "[::]:9222",
            "[::ffff:127.0.0.1]:9222",
        ] {
            assert!(reaches(a(target), devtools), "{target}");
        }
        assert!(!reaches(a("127.0.0.1:9223"), devtools));
        assert!(!reaches(a("192.0.2.1:9222"), devtools));
    }

    #[test]
    fn a_server_on_every_address_is_reached_through_this_hosts_addresses_too() {
        let proxy = a("0.0.0.0:7601");
        assert!(reaches(a("127.0.0.1:7601"), proxy));
        assert!(reaches(a("[::1]:7601"), proxy));
        // TEST-NET-1 is no address of this host.
        assert!(!reaches(a("192.0.2.1:7601"), proxy));
        let specific = a("192.0.2.1:7601");
        assert!(reaches(a("192.0.2.1:7601"), specific));
        assert!(!reaches(a("127.0.0.1:7601"), specific));
    }

    /// An engine running one browser whose DevTools listen on 127.0.0.1:9222.
    struct OneBrowser;

    impl TrafficSink for OneBrowser {
        fn authenticate<'a>(&'a self, _: &'a str) -> Authentication<'a> {
            Box::pin(async { None })
        }
        fn admit<'a>(&'a self, _: Option<&'a Principal>, _: &'a str) -> Admission<'a> {
            Box::pin(async { None })
        }
        fn own_endpoints(&self) -> Vec<SocketAddr> {
            vec![a("127.0.0.1:9222")]
        }
    }

    #[test]
    fn listeners_and_devtools_are_refused_with_their_reason() {
        let policy = RefuseOwnEndpoints {
            listeners: vec![a("127.0.0.1:7600"), a("127.0.0.1:7601")],
            sink: Arc::new(OneBrowser),
        };
        let refusal = |s| policy.refusal(a(s)).unwrap_or_default();
        assert!(refusal("[::1]:7600").contains("listener"));
        assert!(refusal("0.0.0.0:7601").contains("listener"));
        assert!(refusal("127.0.0.1:9222").contains("DevTools"));
        assert_eq!(policy.refusal(a("127.0.0.1:8080")), None);
    }
}
