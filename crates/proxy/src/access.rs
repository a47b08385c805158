//! Who may use the proxy: a client on loopback as it is, any other with an API key as the
//! password of `Proxy-Authorization: Basic` (any user name, so `http://tapedeck:KEY@host:7601`
//! works as a proxy URL). Credentials that are sent must be valid, on loopback too.

use std::net::SocketAddr;

use base64::Engine as _;
use hudsucker::hyper::header::{self, HeaderMap};
use tapedeck_core::traffic::{Principal, TrafficSink};

/// A client the proxy let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Client {
    /// A loopback client that sent no credentials.
    Loopback,
    /// A client that presented a valid API key.
    Authenticated(Principal),
}

impl Client {
    /// Who its requests are recorded for, as [`TrafficSink::admit`] takes it.
    pub(crate) fn principal(&self) -> Option<&Principal> {
        match self {
            Self::Loopback => None,
            Self::Authenticated(principal) => Some(principal),
        }
    }
}

/// Why a client was not let in; both are answered 407.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// A client off loopback sent no credentials.
    Missing,
    /// The credentials are not Basic, not decodable, or not a valid key.
    Invalid,
}

impl Denied {
    /// The short plain-text body of the 407.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Missing => {
                "Tapedeck's proxy needs the API key: Proxy-Authorization: Basic with any user \
                 name and the key as the password\n"
            }
            Self::Invalid => {
                "Tapedeck's proxy: the Proxy-Authorization password is not a valid API key\n"
            }
        }
    }
}

/// Lets in a request from `peer` carrying `headers`, or says why not.
pub(crate) async fn authorize(
    sink: &dyn TrafficSink,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Client, Denied> {
    match headers.get(header::PROXY_AUTHORIZATION) {
        Some(value) => {
            let Some(key) = basic_password(value.as_bytes()) else {
                return Err(Denied::Invalid);
            };
            sink.authenticate(&key)
                .await
                .map(Client::Authenticated)
                .ok_or(Denied::Invalid)
        }
        // A listener on `[::]` sees IPv4 clients as `::ffff:a.b.c.d`.
        None if peer.ip().to_canonical().is_loopback() => Ok(Client::Loopback),
        None => Err(Denied::Missing),
    }
}

/// The password of a `Basic` credential (`base64(user:password)`).
fn basic_password(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (_user, password) = decoded.split_once(':')?;
    Some(password.to_owned())
}

#[cfg(test)]
mod tests {
    use tapedeck_core::traffic::{Admission, Authentication};

    use super::*;

    /// Knows one key, "k1".
    struct OneKey;

    fn principal() -> Principal {
        Principal::Key {
            key_id: "id1".into(),
            project: "default".into(),
        }
    }

    impl TrafficSink for OneKey {
        fn authenticate<'a>(&'a self, api_key: &'a str) -> Authentication<'a> {
            Box::pin(async move { (api_key == "k1").then(principal) })
        }
        fn admit<'a>(&'a self, _: Option<&'a Principal>, _: &'a str) -> Admission<'a> {
            Box::pin(async { None })
        }
        fn own_endpoints(&self) -> Vec<SocketAddr> {
            Vec::new()
        }
    }

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::PROXY_AUTHORIZATION, value.parse().unwrap());
        }
        headers
    }

    fn basic(user_and_password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_and_password)
        )
    }

    #[tokio::test]
    async fn loopback_needs_no_credentials_and_others_need_the_key() {
        let remote: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        for local in [
            "127.0.0.1:5000",
            "127.0.0.2:5000",
            "[::1]:5000",
            "[::ffff:127.0.0.1]:5000",
        ] {
            let local: SocketAddr = local.parse().unwrap();
            assert_eq!(
                authorize(&OneKey, local, &headers(None)).await,
                Ok(Client::Loopback)
            );
        }
        assert_eq!(
            authorize(&OneKey, remote, &headers(None)).await,
            Err(Denied::Missing)
        );
        let mapped: SocketAddr = "[::ffff:10.0.0.2]:5000".parse().unwrap();
        assert_eq!(
            authorize(&OneKey, mapped, &headers(None)).await,
            Err(Denied::Missing)
        );
        for user in ["tapedeck", "", "anyone"] {
            let valid = headers(Some(&basic(&format!("{user}:k1"))));
            assert_eq!(
                authorize(&OneKey, remote, &valid).await,
                Ok(Client::Authenticated(principal()))
            );
        }
        let lower = headers(Some(&basic("u:k1").replace("Basic", "basic")));
        assert!(authorize(&OneKey, remote, &lower).await.is_ok());
    }

    #[tokio::test]
    async fn sent_credentials_must_be_a_valid_key_even_on_loopback() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        for wrong in [
            basic("u:k2"),
            basic("k1"),
            basic("k1:"),
            "Bearer k1".to_owned(),
            "Basic !!!".to_owned(),
            "Basic".to_owned(),
        ] {
            assert_eq!(
                authorize(&OneKey, local, &headers(Some(&wrong))).await,
                Err(Denied::Invalid),
                "{wrong}"
            );
        }
    }
}
