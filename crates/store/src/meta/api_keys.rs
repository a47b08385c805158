//! Metadata of API keys: stored by the hash of their secret, looked up by it, listed, revoked.

use async_trait::async_trait;
use tapedeck_core::ApiKeyRecord;
use time::OffsetDateTime;

use crate::StoreError;

/// Where API keys are kept.
#[async_trait]
pub trait ApiKeyMetadata: Send + Sync {
    /// Stores a new key under the hash of its secret ([`crate::secrets::secret_hash`]).
    async fn insert_api_key(&self, key: &ApiKeyRecord, secret_hash: &str)
        -> Result<(), StoreError>;
    /// The key whose secret has `secret_hash`, revoked or not.
    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Every key, oldest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes key `id` at `at`; false when no active key has that id.
    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<bool, StoreError>;
}
