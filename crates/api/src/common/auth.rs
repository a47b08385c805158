//! The API-key check every dialect puts in front of its routes. Dialects differ only in the
//! header the key comes in and in how they render the refusal, so the middleware takes the
//! first as a parameter ([`ApiKey`]) and the second as a type ([`require_api_key`]'s `E`).
//! The engine knows the keys (stored hashed); a request let in carries its key as [`Caller`].

use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tapedeck_core::ApiKeyRecord;
use tapedeck_engine::Engine;
use time::OffsetDateTime;

use super::cluster::{self, ClusterAuth};
use super::error::CommonError;
use super::forward::Forwarded;
use crate::ApiState;

/// Where a dialect's clients present the API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>` (native, Kernel, GBOX).
    Bearer,
    /// A header whose whole value is the key, e.g. FAST's `X-WallarmAPI-Token`.
    Named(&'static str),
}

impl KeyHeader {
    /// The key presented in `headers`, if any.
    fn presented(self, headers: &HeaderMap) -> Option<&str> {
        match self {
            Self::Bearer => headers
                .get(header::AUTHORIZATION)?
                .to_str()
                .ok()?
                .strip_prefix("Bearer "),
            // Header names are case-insensitive; `HeaderMap` compares them lowercased.
            Self::Named(name) => headers.get(name)?.to_str().ok(),
        }
    }
}

/// The state of [`require_api_key`]: the engine that knows the keys, and where a dialect's
/// clients present one.
#[derive(Clone)]
pub struct ApiKey {
    engine: Engine,
    header: KeyHeader,
    cluster: Option<ClusterAuth>,
}

impl ApiKey {
    /// Keys as the engine stores them, expected in `header`.
    pub fn new(state: &ApiState, header: KeyHeader) -> Self {
        Self {
            engine: state.engine.clone(),
            header,
            cluster: state.forwarder.cluster().cloned(),
        }
    }
}

/// The key a request was let in with, in the request's extensions for handlers that need it.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKeyRecord);

impl Caller {
    /// The key's project, which scopes every engine call the request makes: another project's
    /// ids are not found, and lists hold only this project's work.
    pub fn project(&self) -> &str {
        &self.0.project
    }
}

/// Middleware that lets a request through only with an active API key, or forwarded by
/// another node of the fleet under the cluster key (then marked [`Forwarded`]), and otherwise
/// answers [`CommonError::Unauthorized`] in the dialect's error format `E`. Mount it with
/// `middleware::from_fn_with_state(ApiKey::new(&state, header), require_api_key::<E>)`.
pub async fn require_api_key<E>(
    State(keys): State<ApiKey>,
    original_uri: OriginalUri,
    mut request: Request,
    next: Next,
) -> Result<Response, E>
where
    E: From<CommonError> + IntoResponse,
{
    if cluster::claims_forwarded(request.headers()) {
        // The node that forwarded the request checked the caller's key; it vouches for the
        // caller with the cluster key instead of passing the key on.
        let path_and_query = original_uri.path_and_query().map_or("/", |pq| pq.as_str());
        let vouched = keys.cluster.as_ref().and_then(|cluster| {
            let now = OffsetDateTime::now_utc();
            cluster.verify(request.headers(), request.method(), path_and_query, now)
        });
        let Some(key) = vouched else {
            return Err(CommonError::Unauthorized.into());
        };
        request.extensions_mut().insert(Caller(key));
        request.extensions_mut().insert(Forwarded);
        return Ok(next.run(request).await);
    }
    let Some(presented) = keys.header.presented(request.headers()) else {
        return Err(CommonError::Unauthorized.into());
    };
    // Keys are looked up by the hash of what was presented, so no secret is compared here.
    match keys.engine.authenticate(presented).await {
        Ok(Some(key)) => {
            request.extensions_mut().insert(Caller(key));
            Ok(next.run(request).await)
        }
        Ok(None) => Err(CommonError::Unauthorized.into()),
        Err(e) => Err(CommonError::Engine(e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_reads_only_a_bearer_authorization() {
        let mut headers = HeaderMap::new();
        assert_eq!(KeyHeader::Bearer.presented(&headers), None);
        headers.insert("authorization", "Bearer k1".parse().unwrap());
        assert_eq!(KeyHeader::Bearer.presented(&headers), Some("k1"));
        headers.insert("authorization", "Basic k1".parse().unwrap());
        assert_eq!(KeyHeader::Bearer.presented(&headers), None);
    }

    #[test]
    fn a_named_header_carries_the_bare_key_in_any_case() {
        let header = KeyHeader::Named("x-wallarmapi-token");
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer k1".parse().unwrap());
        assert_eq!(header.presented(&headers), None);
        headers.insert("X-WallarmAPI-Token", " k1 ".parse().unwrap());
        assert_eq!(header.presented(&headers), Some(" k1 "));
    }
}
