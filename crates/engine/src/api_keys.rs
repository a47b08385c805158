//! API keys: issuing, checking, listing and revoking them. Keys live in the metadata (hashed),
//! so every node and the `tapedeck keys` command see the same set.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tapedeck_core::api_key::DEFAULT_PROJECT;
use tapedeck_core::{id, ApiKeyRecord, EngineError};
use tapedeck_store::secrets::{random_secret, secret_hash};
use tapedeck_store::Metadata;
use time::OffsetDateTime;

use crate::{lock, Engine};

/// Length of an issued key's secret: 40 alphanumerics, about 238 bits.
pub const API_KEY_LEN: usize = 40;
/// How long a key check is remembered; a revocation takes effect within this.
const CHECK_TTL: Duration = Duration::from_secs(1);
/// How long a remembered check is still taken while the database does not answer.
const OUTAGE_GRACE: Duration = Duration::from_secs(300);
/// Most remembered checks; past it the memory starts over, so guessing cannot grow it.
const MAX_REMEMBERED: usize = 10_000;

/// Recent key checks by secret hash: the record (or `None` for an unknown key) and when.
#[derive(Default)]
pub(crate) struct KeyChecks(Mutex<HashMap<String, (Option<ApiKeyRecord>, Instant)>>);

/// A key just issued: its record, and its secret, shown this once.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The stored key.
    pub record: ApiKeyRecord,
    /// The secret clients present; not stored anywhere.
    pub secret: String,
}

/// What a new key is for.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// A name people give it.
    pub name: String,
    /// Its project; the default project when `None`.
    pub project: Option<String>,
    /// Whether it may manage keys.
    pub admin: bool,
}

/// Longest key name or project name, in characters.
const MAX_NAME_LEN: usize = 100;

impl Engine {
    /// The active key whose secret is `presented`, or `None`. A check is remembered for a
    /// second, so a revocation (from any node or the CLI) takes effect within a second.
    ///
    /// Errors: metadata failures only.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<ApiKeyRecord>, EngineError> {
        let hash = secret_hash(presented.trim());
        let remembered = lock(&self.inner.key_checks.0).get(&hash).cloned();
        let key = match remembered {
            Some((key, at)) if at.elapsed() < CHECK_TTL => key,
            _ => {
                let key = match self.inner.meta.api_key_by_hash(&hash).await {
                    Ok(key) => key,
                    // With the database down nothing can be revoked either, so a key checked
                    // within the last minutes is still taken: teardown and reads served from
                    // memory keep working through an outage.
                    Err(e) => match remembered {
                        Some((key, at)) if at.elapsed() < OUTAGE_GRACE => {
                            return Ok(key.filter(ApiKeyRecord::is_active))
                        }
                        _ => return Err(e.into()),
                    },
                };
                let mut checks = lock(&self.inner.key_checks.0);
                if checks.len() >= MAX_REMEMBERED {
                    checks.clear();
                }
                checks.insert(hash, (key.clone(), Instant::now()));
                key
            }
        };
        Ok(key.filter(ApiKeyRecord::is_active))
    }

    /// Issues a key; see [`create`].
    pub async fn create_api_key(&self, new: NewKey) -> Result<IssuedKey, EngineError> {
        create(self.inner.meta.as_ref(), new).await
    }

    /// Makes `secret` an admin key of the default project; see [`adopt_admin`].
    pub async fn adopt_admin_key(&self, secret: &str) -> Result<(), EngineError> {
        adopt_admin(self.inner.meta.as_ref(), secret).await
    }

    /// Every key, oldest first, without secrets.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, EngineError> {
        Ok(self.inner.meta.list_api_keys().await?)
    }

    /// Revokes key `key_id`; see [`revoke`].
    pub async fn revoke_api_key(&self, key_id: &str) -> Result<(), EngineError> {
        revoke(self.inner.meta.as_ref(), key_id).await
    }
}

/// Issues a key in `meta`: a new random secret, stored only as its hash. Used by the engine and
/// by `tapedeck keys create`, which works on the database without a running server.
///
/// Errors: [`EngineError::InvalidInput`] for an empty or overlong name or project.
pub async fn create(meta: &dyn Metadata, new: NewKey) -> Result<IssuedKey, EngineError> {
    let project = new.project.unwrap_or_else(|| DEFAULT_PROJECT.to_owned());
    for (field, value) in [("name", &new.name), ("project", &project)] {
        if value.trim().is_empty() || value.chars().count() > MAX_NAME_LEN {
            return Err(EngineError::InvalidInput(format!(
                "{field} must be 1 to {MAX_NAME_LEN} characters"
            )));
        }
    }
    let secret = random_secret(API_KEY_LEN);
    let record = ApiKeyRecord {
        id: id::new_id(),
        name: new.name,
        project,
        admin: new.admin,
        created_at: OffsetDateTime::now_utc(),
        revoked_at: None,
    };
    meta.insert_api_key(&record, &secret_hash(&secret)).await?;
    tracing::info!(key = %record.id, name = %record.name, project = %record.project, admin = record.admin, "API key created");
    Ok(IssuedKey { record, secret })
}

/// Makes `secret` (the key file's, or `--api-key`) an admin key of the default project in
/// `meta`, unless it is already stored. A key revoked since stays revoked.
pub async fn adopt_admin(meta: &dyn Metadata, secret: &str) -> Result<(), EngineError> {
    let hash = secret_hash(secret.trim());
    if meta.api_key_by_hash(&hash).await?.is_some() {
        return Ok(());
    }
    let record = ApiKeyRecord {
        id: id::new_id(),
        name: "admin".into(),
        project: DEFAULT_PROJECT.into(),
        admin: true,
        created_at: OffsetDateTime::now_utc(),
        revoked_at: None,
    };
    meta.insert_api_key(&record, &hash).await?;
    tracing::info!(key = %record.id, "stored the first admin key (hashed)");
    Ok(())
}

/// Revokes key `key_id` in `meta`; running servers refuse it within a second.
///
/// Errors: [`EngineError::NotFound`] when no active key has that id.
pub async fn revoke(meta: &dyn Metadata, key_id: &str) -> Result<(), EngineError> {
    if !meta
        .revoke_api_key(key_id, OffsetDateTime::now_utc())
        .await?
    {
        return Err(EngineError::not_found("API key", key_id));
    }
    tracing::info!(key = %key_id, "API key revoked");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::engine;

    #[tokio::test]
    async fn an_issued_key_authenticates_until_it_is_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let issued = engine
            .create_api_key(NewKey {
                name: "ci".into(),
                project: Some("team-b".into()),
                admin: false,
            })
            .await
            .unwrap();
        assert_eq!(issued.secret.len(), API_KEY_LEN);
        let found = engine.authenticate(&issued.secret).await.unwrap().unwrap();
        assert_eq!(found.project, "team-b");
        assert!(engine.authenticate("not-a-key").await.unwrap().is_none());

        engine.revoke_api_key(&issued.record.id).await.unwrap();
        // Within a second the remembered check runs out and the revocation holds.
        tokio::time::sleep(CHECK_TTL).await;
        assert!(engine.authenticate(&issued.secret).await.unwrap().is_none());
        assert!(matches!(
            engine.revoke_api_key(&issued.record.id).await,
            Err(EngineError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn the_first_key_is_adopted_once_as_admin_of_the_default_project() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        engine.adopt_admin_key("first-key").await.unwrap();
        engine.adopt_admin_key("first-key").await.unwrap();
        let keys = engine.list_api_keys().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].admin && keys[0].project == DEFAULT_PROJECT);
        assert!(engine.authenticate(" first-key ").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn names_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let long = NewKey {
            name: "x".repeat(MAX_NAME_LEN + 1),
            project: None,
            admin: false,
        };
        assert!(matches!(
            engine.create_api_key(long).await,
            Err(EngineError::InvalidInput(_))
        ));
    }
}
