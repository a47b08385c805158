//! The API-key check every dialect puts in front of its routes. Dialects differ only in the
//! header the key comes in and in how they render the refusal, so the middleware takes the
//! first as a parameter ([`ApiKey`]) and the second as a type ([`require_api_key`]'s `E`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::CommonError;
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

/// The state of [`require_api_key`]: the key, and where a dialect's clients present it.
#[derive(Clone)]
pub struct ApiKey {
    key: Arc<str>,
    header: KeyHeader,
}

impl ApiKey {
    /// The server's API key, expected in `header`.
    pub fn new(state: &ApiState, header: KeyHeader) -> Self {
        Self {
            key: state.api_key.clone(),
            header,
        }
    }

    /// True when `headers` present the API key.
    fn admits(&self, headers: &HeaderMap) -> bool {
        self.header.presented(headers).is_some_and(|presented| {
            // Constant time, so response timing does not reveal how much of a guess was right.
            bool::from(presented.trim().as_bytes().ct_eq(self.key.as_bytes()))
        })
    }
}

/// Middleware that lets a request through only with the API key, and otherwise answers
/// [`CommonError::Unauthorized`] in the dialect's error format `E`. Mount it with
/// `middleware::from_fn_with_state(ApiKey::new(&state, header), require_api_key::<E>)`.
pub async fn require_api_key<E>(
    State(key): State<ApiKey>,
    request: Request,
    next: Next,
) -> Result<Response, E>
where
    E: From<CommonError> + IntoResponse,
{
    if key.admits(request.headers()) {
        Ok(next.run(request).await)
    } else {
        Err(CommonError::Unauthorized.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(header: KeyHeader) -> ApiKey {
        ApiKey {
            key: "k1".into(),
            header,
        }
    }

    #[test]
    fn bearer_accepts_only_the_exact_key() {
        let key = key(KeyHeader::Bearer);
        let mut headers = HeaderMap::new();
        assert!(!key.admits(&headers));
        headers.insert("authorization", "Bearer k1".parse().unwrap());
        assert!(key.admits(&headers));
        headers.insert("authorization", "Bearer k2".parse().unwrap());
        assert!(!key.admits(&headers));
        headers.insert("authorization", "Bearer k".parse().unwrap());
        assert!(!key.admits(&headers));
        headers.insert("authorization", "Basic k1".parse().unwrap());
        assert!(!key.admits(&headers));
    }

    #[test]
    fn a_named_header_carries_the_bare_key_in_any_case() {
        let key = key(KeyHeader::Named("x-wallarmapi-token"));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer k1".parse().unwrap());
        assert!(!key.admits(&headers));
        headers.insert("X-WallarmAPI-Token", " k1 ".parse().unwrap());
        assert!(key.admits(&headers));
        headers.insert("X-WallarmAPI-Token", "k12".parse().unwrap());
        assert!(!key.admits(&headers));
    }
}
