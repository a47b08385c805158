//! Request bodies that official SDKs really send: often empty, sometimes with a JSON
//! content type and zero bytes (Kernel's stop and delete), so `axum::Json` is not used.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// Why a body was refused; each dialect renders it as its 400.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all.
    #[error("malformed JSON body: {0}")]
    Malformed(String),
    /// JSON, but a field is missing or of the wrong type or value.
    #[error("invalid request body: {0}")]
    Invalid(String),
}

/// Parses `body` as `T`; an empty, blank or `null` body is `T::default()`.
pub fn parse_json<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    match serde_json::from_slice::<Option<T>>(body) {
        Ok(value) => Ok(value.unwrap_or_default()),
        Err(e) if e.is_data() => Err(BodyError::Invalid(e.to_string())),
        Err(e) => Err(BodyError::Malformed(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    struct Params {
        framerate: Option<u32>,
    }

    #[test]
    fn empty_blank_and_null_bodies_are_defaults() {
        for body in ["", "  \n", "null", "{}"] {
            let parsed: Params = parse_json(&Bytes::from(body)).unwrap();
            assert_eq!(parsed, Params::default(), "{body:?}");
        }
    }

    #[test]
    fn malformed_and_mistyped_bodies_are_told_apart() {
        let malformed = parse_json::<Params>(&Bytes::from("{framerate"));
        assert!(matches!(malformed, Err(BodyError::Malformed(_))));
        let mistyped = parse_json::<Params>(&Bytes::from(r#"{"framerate":"fast"}"#));
        assert!(matches!(mistyped, Err(BodyError::Invalid(_))));
        let ok: Params = parse_json(&Bytes::from(r#"{"framerate":10,"extra":1}"#)).unwrap();
        assert_eq!(ok.framerate, Some(10));
    }
}
