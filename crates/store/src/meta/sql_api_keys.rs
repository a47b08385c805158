//! [`ApiKeyMetadata`] in SQL (SQLite or PostgreSQL).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use tapedeck_core::ApiKeyRecord;
use time::OffsetDateTime;

use super::sql::{from_micros, micros, opt_from_micros};
use super::{ApiKeyMetadata, SqlMetadata};
use crate::StoreError;

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        project: row.try_get("project")?,
        admin: row.try_get::<i64, _>("admin")? != 0,
        created_at: from_micros(row.try_get("created_at")?)?,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
    })
}

#[async_trait]
impl ApiKeyMetadata for SqlMetadata {
    async fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        secret_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, project, admin, secret_hash, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.project)
        .bind(i64::from(key.admin))
        .bind(secret_hash)
        .bind(micros(key.created_at))
        .bind(key.revoked_at.map(micros))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn api_key_by_hash(&self, secret_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE secret_hash = $1")
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM api_keys ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(micros(at))
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::secret_hash;

    fn key(id: &str, at: OffsetDateTime) -> ApiKeyRecord {
        ApiKeyRecord {
            id: id.to_owned(),
            name: format!("key {id}"),
            project: "team-a".into(),
            admin: id == "k1",
            created_at: at,
            revoked_at: None,
        }
    }

    #[tokio::test]
    async fn keys_are_found_by_their_secrets_hash_and_revoked_once() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SqlMetadata::open_sqlite(&dir.path().join("t.db"))
            .await
            .unwrap();
        let at = from_micros(micros(OffsetDateTime::now_utc())).unwrap();
        meta.insert_api_key(&key("k1", at), &secret_hash("secret-1"))
            .await
            .unwrap();
        meta.insert_api_key(&key("k2", at), &secret_hash("secret-2"))
            .await
            .unwrap();

        let found = meta
            .api_key_by_hash(&secret_hash("secret-2"))
            .await
            .unwrap();
        assert_eq!(found, Some(key("k2", at)));
        assert_eq!(
            meta.api_key_by_hash(&secret_hash("secret-3"))
                .await
                .unwrap(),
            None
        );
        assert!(meta.list_api_keys().await.unwrap()[0].admin);

        assert!(meta.revoke_api_key("k2", at).await.unwrap());
        assert!(
            !meta.revoke_api_key("k2", at).await.unwrap(),
            "already revoked"
        );
        assert!(!meta.revoke_api_key("nope", at).await.unwrap());
        let revoked = meta
            .api_key_by_hash(&secret_hash("secret-2"))
            .await
            .unwrap()
            .unwrap();
        assert!(!revoked.is_active());
        // The secret itself is nowhere in the table.
        let dump: Vec<String> = sqlx::query_scalar("SELECT secret_hash FROM api_keys")
            .fetch_all(&meta.pool)
            .await
            .unwrap();
        assert!(dump.iter().all(|h| h.len() == 64 && !h.contains("secret")));
    }
}
