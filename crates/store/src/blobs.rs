//! The blob store: artifacts and recording segments, addressed by [`StorageKey`].
//!
//! It wraps `object_store`, so that a local directory (the embedded default) and an
//! S3-compatible bucket share one code path.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::Signer as UrlSigner;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

use crate::keys::StorageKey;
use crate::StoreError;

/// The longest lifetime a SigV4 presigned URL may have.
const SIGV4_MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Chunk size for multipart writes; S3 wants parts of at least 5 MiB.
const MULTIPART_CHUNK: usize = 5 * 1024 * 1024;
/// Chunks of one upload sent at once before a write waits.
const UPLOADS_IN_FLIGHT: usize = 2;

/// An object in the store, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its key.
    pub key: StorageKey,
    /// Its size in bytes.
    pub size: u64,
}

/// Artifacts and segments, in a local directory or a bucket.
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// Set for the local backend, whose files the presigned file route serves directly.
    local_root: Option<PathBuf>,
    /// Set for a bucket, which presigns its own URLs (SigV4) and serves them itself.
    url_signer: Option<Arc<dyn UrlSigner>>,
}

impl BlobStore {
    /// A store in the local directory `root`, created if missing.
    pub fn local(root: &FsPath) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        Ok(Self {
            inner: Arc::new(LocalFileSystem::new_with_prefix(&root)?),
            local_root: Some(root),
            url_signer: None,
        })
    }

    /// A store in the S3-compatible bucket of `url` (`s3://bucket`). Endpoint, region and
    /// credentials come from the standard `AWS_*` variables (`AWS_ENDPOINT_URL`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`).
    ///
    /// Fails early, with the bucket named, when the bucket cannot be listed.
    pub async fn s3(url: &str) -> Result<Self, StoreError> {
        let bucket = url
            .strip_prefix("s3://")
            .filter(|b| !b.is_empty() && !b.contains('/'))
            .ok_or_else(|| StoreError::Config(format!("blob URL {url:?}: expected s3://BUCKET")))?;
        let s3 = Arc::new(
            AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()?,
        );
        let store = Self {
            inner: s3.clone(),
            local_root: None,
            url_signer: Some(s3),
        };
        store
            .inner
            .list_with_delimiter(None)
            .await
            .map_err(|e| StoreError::Config(format!("bucket {bucket:?} is not usable: {e}")))?;
        Ok(store)
    }

    /// A URL of the bucket itself that downloads `key` without credentials for at least `ttl`,
    /// or `None` for the local backend (whose presigned URLs the server signs and serves).
    pub async fn bucket_url(
        &self,
        key: &StorageKey,
        ttl: Duration,
    ) -> Result<Option<String>, StoreError> {
        let Some(signer) = &self.url_signer else {
            return Ok(None);
        };
        // SigV4 counts the lifetime from X-Amz-Date, which is truncated to the second: signed at
        // 12:00:00.9 for 1 s, a URL would live 0.1 s. One more second keeps the promise, within
        // the 7 days SigV4 allows.
        let lifetime = (ttl + Duration::from_secs(1)).min(SIGV4_MAX_EXPIRY);
        let url = signer
            .signed_url(http::Method::GET, &key.object_path(), lifetime)
            .await?;
        Ok(Some(url.to_string()))
    }

    /// The file behind `key` when the store is a local directory.
    pub fn local_path(&self, key: &StorageKey) -> Option<PathBuf> {
        // Keys are validated to plain segments, so the join cannot leave the root.
        self.local_root.as_ref().map(|root| root.join(key.path()))
    }

    /// Writes `bytes` under `key`, replacing what was there.
    pub async fn put(&self, key: &StorageKey, bytes: bytes::Bytes) -> Result<(), StoreError> {
        self.inner
            .put(&key.object_path(), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Reads the whole object `key`.
    pub async fn get(&self, key: &StorageKey) -> Result<bytes::Bytes, StoreError> {
        Ok(self.inner.get(&key.object_path()).await?.bytes().await?)
    }

    /// Copies the local file `file` into the store under `key`; returns what it stored.
    pub async fn put_file(
        &self,
        key: &StorageKey,
        file: &FsPath,
    ) -> Result<bytes::Bytes, StoreError> {
        let bytes = bytes::Bytes::from(tokio::fs::read(file).await?);
        self.put(key, bytes.clone()).await?;
        Ok(bytes)
    }

    /// Writes the concatenation of `parts`, in order, under `dest`; returns its size.
    ///
    /// Parts are streamed one at a time, so memory stays at one part plus one upload chunk.
    pub async fn concat(&self, dest: &StorageKey, parts: &[StorageKey]) -> Result<u64, StoreError> {
        let mut upload = self.upload(dest).await?;
        for part in parts {
            match self.get(part).await {
                Ok(bytes) => upload.write(&bytes).await?,
                Err(e) => {
                    upload.abort().await;
                    return Err(e);
                }
            }
        }
        upload.finish().await
    }

    /// Starts writing `dest` piece by piece; it appears only once [`BlobUpload::finish`] is
    /// called (a multipart upload: a staging file locally, parts in a bucket).
    pub async fn upload(&self, dest: &StorageKey) -> Result<BlobUpload, StoreError> {
        let upload = self.inner.put_multipart(&dest.object_path()).await?;
        Ok(BlobUpload {
            writer: WriteMultipart::new_with_chunk_size(upload, MULTIPART_CHUNK),
            size: 0,
        })
    }

    /// The objects under `prefix/`, sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<BlobInfo>, StoreError> {
        let prefix = Path::from(prefix);
        let metas: Vec<_> = self.inner.list(Some(&prefix)).try_collect().await?;
        let mut blobs = metas
            .into_iter()
            .map(|meta| {
                Ok(BlobInfo {
                    key: StorageKey::for_path(meta.location.as_ref())?,
                    size: meta.size,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        blobs.sort_by(|a, b| a.key.path().cmp(b.key.path()));
        Ok(blobs)
    }

    /// The size of `key`, or `None` when it does not exist.
    pub async fn size(&self, key: &StorageKey) -> Result<Option<u64>, StoreError> {
        match self.inner.head(&key.object_path()).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes `key`; a missing object is not an error. In the local directory, the object's
    /// folder goes too once it is empty (a bucket has no folders to leave behind).
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StoreError> {
        match self.inner.delete(&key.object_path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let folder = self
            .local_path(key)
            .and_then(|p| p.parent().map(FsPath::to_path_buf));
        if let (Some(folder), Some(root)) = (folder, &self.local_root) {
            if &folder != root {
                // Fails, harmlessly, while the folder still holds other objects.
                let _ = tokio::fs::remove_dir(&folder).await;
            }
        }
        Ok(())
    }
}

/// An object being written piece by piece; see [`BlobStore::upload`].
pub struct BlobUpload {
    writer: WriteMultipart,
    size: u64,
}

impl BlobUpload {
    /// Appends `bytes`, waiting while too many chunks are still uploading.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.writer.wait_for_capacity(UPLOADS_IN_FLIGHT).await?;
        self.writer.write(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Completes the object; returns its size.
    pub async fn finish(self) -> Result<u64, StoreError> {
        self.writer.finish().await?;
        Ok(self.size)
    }

    /// Drops what was uploaded; the object never appears.
    pub async fn abort(self) {
        if let Err(e) = self.writer.abort().await {
            tracing::debug!(error = %e, "aborting an upload failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concatenates_parts_in_order_and_lists_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        let a = StorageKey::for_path("rec/x/seg_00000.m4s").unwrap();
        let b = StorageKey::for_path("rec/x/seg_00001.m4s").unwrap();
        store.put(&b, "world".into()).await.unwrap();
        store.put(&a, "hello ".into()).await.unwrap();
        let listed = store.list("rec/x").await.unwrap();
        assert_eq!(listed.iter().map(|b| &b.key).collect::<Vec<_>>(), [&a, &b]);

        let dest = StorageKey::for_path("rec/x.mp4").unwrap();
        let size = store.concat(&dest, &[a.clone(), b.clone()]).await.unwrap();
        assert_eq!(size, 11);
        let on_disk = std::fs::read(store.local_path(&dest).unwrap()).unwrap();
        assert_eq!(on_disk, b"hello world");
        assert_eq!(store.size(&dest).await.unwrap(), Some(11));

        // Deleting the parts removes their folder once it is empty, and nothing else.
        let folder = store
            .local_path(&a)
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        store.delete(&a).await.unwrap();
        assert!(folder.exists());
        store.delete(&b).await.unwrap();
        assert!(!folder.exists());
        assert_eq!(store.size(&dest).await.unwrap(), Some(11));
    }
}
