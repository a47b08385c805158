//! The blob store: artifacts and recording segments, addressed by [`StorageKey`].
//!
//! It wraps `object_store`, so that a local directory (the embedded default) and an
//! S3-compatible bucket share one code path; only uploads whose head is rewritten at the end
//! (see [`crate::upload`]) and moves out of the spool take each backend's own way.

use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer as UrlSigner;
use object_store::{ObjectStore, PutPayload};

use crate::keys::StorageKey;
use crate::upload::BlobUpload;
use crate::StoreError;

/// `s3://BUCKET[/FOLDER…]` as the bucket's name and the folder (empty for the whole bucket).
fn parse_bucket_url(url: &str) -> Result<(&str, Path), StoreError> {
    let invalid = |why: &str| StoreError::Config(format!("blob URL {url:?}: {why}"));
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| invalid("expected s3://BUCKET or s3://BUCKET/FOLDER"))?;
    let (bucket, folder) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(invalid("the bucket name is missing"));
    }
    let folder = Path::parse(folder.trim_end_matches('/'))
        .map_err(|e| invalid(&format!("the folder is not a plain path: {e}")))?;
    Ok((bucket, folder))
}

/// A client of `bucket` at `endpoint` that only signs URLs (it never connects): the same
/// credentials, region and addressing style as the store's, another host.
fn public_signer(bucket: &str, endpoint: &str) -> Result<AmazonS3, StoreError> {
    let invalid = |why: &str| StoreError::Config(format!("public blob URL {endpoint:?}: {why}"));
    let parsed = url::Url::parse(endpoint).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(invalid("expected http(s)://HOST[:PORT]"));
    }
    Ok(AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_endpoint(endpoint.trim_end_matches('/'))
        .with_allow_http(parsed.scheme() == "http")
        .build()?)
}

/// The longest lifetime a SigV4 presigned URL may have.
const SIGV4_MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

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
    bucket: Option<Bucket>,
    /// What the store and its clones have stored so far.
    written: BytesWritten,
}

/// A count of bytes stored, shared by a store, its clones and the uploads they start.
#[derive(Debug, Clone, Default)]
pub(crate) struct BytesWritten(Arc<AtomicU64>);

impl BytesWritten {
    /// Counts `bytes` more bytes stored.
    pub(crate) fn add(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The bucket itself, for what the folder-scoped `inner` cannot do: upload parts in any order,
/// and presign URLs (SigV4, for the endpoint clients reach); and the folder of the bucket the
/// store lives in.
#[derive(Clone)]
struct Bucket {
    s3: Arc<AmazonS3>,
    signer: Arc<dyn UrlSigner>,
    prefix: Path,
}

impl Bucket {
    /// Where `key` lives in the bucket.
    fn path(&self, key: &StorageKey) -> Path {
        self.prefix
            .parts()
            .chain(key.object_path().parts())
            .collect()
    }
}

impl BlobStore {
    /// A store in the local directory `root`, created if missing.
    pub fn local(root: &FsPath) -> Result<Self, StoreError> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        Ok(Self {
            inner: Arc::new(LocalFileSystem::new_with_prefix(&root)?),
            local_root: Some(root),
            bucket: None,
            written: BytesWritten::default(),
        })
    }

    /// A store in the S3-compatible bucket of `url`: `s3://BUCKET`, or `s3://BUCKET/FOLDER` to
    /// keep every object under a folder of a shared bucket. Endpoint, region and credentials
    /// come from the standard `AWS_*` variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`).
    ///
    /// `public_endpoint` is the bucket's endpoint as clients reach it (`https://files.example`)
    /// when that is not `AWS_ENDPOINT_URL` (an internal name): presigned URLs are signed for
    /// it, since SigV4 signs the host and a URL whose host is rewritten afterwards is refused.
    ///
    /// Fails early, with the bucket named, when the bucket cannot be listed or
    /// `public_endpoint` is not an `http(s)://` URL.
    pub async fn s3(url: &str, public_endpoint: Option<&str>) -> Result<Self, StoreError> {
        let (bucket, prefix) = parse_bucket_url(url)?;
        let missing_keys = missing_credentials();
        if !missing_keys.is_empty()
            && std::env::var("AWS_EC2_METADATA_DISABLED")
                .is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(StoreError::Config(format!(
                "no credentials for bucket {bucket:?}: {} not set (and AWS_EC2_METADATA_DISABLED \
                 rules out the EC2 metadata service)",
                missing_keys.join(" and ")
            )));
        }
        let s3 = Arc::new(
            AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()?,
        );
        let signer: Arc<dyn UrlSigner> = match public_endpoint {
            Some(endpoint) => Arc::new(public_signer(bucket, endpoint)?),
            None => s3.clone(),
        };
        let inner: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            s3.clone()
        } else {
            Arc::new(PrefixStore::new(AmazonS3::clone(&s3), prefix.clone()))
        };
        let store = Self {
            inner,
            local_root: None,
            bucket: Some(Bucket { s3, signer, prefix }),
            written: BytesWritten::default(),
        };
        store.inner.list_with_delimiter(None).await.map_err(|e| {
            // Without keys in the environment, object_store asks the EC2 metadata service,
            // and its error names only that: say which keys are missing first.
            let why = match missing_keys.as_slice() {
                [] => String::new(),
                missing => format!(
                    "{} not set, so credentials were asked of the EC2 metadata service; ",
                    missing.join(" and ")
                ),
            };
            StoreError::Config(format!("bucket {bucket:?} is not usable: {why}{e}"))
        })?;
        Ok(store)
    }

    /// A URL of the bucket itself that downloads `key` without credentials for at least `ttl`,
    /// or `None` for the local backend (whose presigned URLs the server signs and serves).
    pub async fn bucket_url(
        &self,
        key: &StorageKey,
        ttl: Duration,
    ) -> Result<Option<String>, StoreError> {
        let Some(bucket) = &self.bucket else {
            return Ok(None);
        };
        // SigV4 counts the lifetime from X-Amz-Date, which is truncated to the second: signed at
        // 12:00:00.9 for 1 s, a URL would live 0.1 s. One more second keeps the promise, within
        // the 7 days SigV4 allows.
        let lifetime = (ttl + Duration::from_secs(1)).min(SIGV4_MAX_EXPIRY);
        let url = bucket
            .signer
            .signed_url(http::Method::GET, &bucket.path(key), lifetime)
            .await?;
        Ok(Some(url.to_string()))
    }

    /// The local directory the store keeps its objects in; `None` for a bucket.
    pub fn local_root(&self) -> Option<&FsPath> {
        self.local_root.as_deref()
    }

    /// The file behind `key` when the store is a local directory.
    pub fn local_path(&self, key: &StorageKey) -> Option<PathBuf> {
        // Keys are validated to plain segments, so the join cannot leave the root.
        self.local_root.as_ref().map(|root| root.join(key.path()))
    }

    /// Bytes stored since the store was opened, by it and its clones: objects put, files moved
    /// in, uploads finished. Rewrites and deletes do not count; an object replaced counts again.
    pub fn bytes_written(&self) -> u64 {
        self.written.0.load(Ordering::Relaxed)
    }

    /// Writes `bytes` under `key`, replacing what was there.
    pub async fn put(&self, key: &StorageKey, bytes: bytes::Bytes) -> Result<(), StoreError> {
        let size = bytes.len() as u64;
        self.inner
            .put(&key.object_path(), PutPayload::from(bytes))
            .await?;
        self.written.add(size);
        Ok(())
    }

    /// Reads the whole object `key`.
    pub async fn get(&self, key: &StorageKey) -> Result<bytes::Bytes, StoreError> {
        Ok(self.inner.get(&key.object_path()).await?.bytes().await?)
    }

    /// Copies the local file `file` into the store under `key`; returns what it stored.
    ///
    /// A symbolic link is refused, not followed: such files may come from directories the
    /// session user can write (a rewind extract's work folder), and a link there could point
    /// at the server's own.
    pub async fn put_file(
        &self,
        key: &StorageKey,
        file: &FsPath,
    ) -> Result<bytes::Bytes, StoreError> {
        let bytes = read_regular_file(file).await?;
        self.put(key, bytes.clone()).await?;
        Ok(bytes)
    }

    /// Moves the local file `file`, in a directory only the server writes (a recording's
    /// spool), into the store under `key`, and returns its content.
    ///
    /// A local store on the same filesystem takes the file by a rename, so it is never written
    /// twice; otherwise it is uploaded, then removed.
    pub async fn move_file(
        &self,
        key: &StorageKey,
        file: &FsPath,
    ) -> Result<bytes::Bytes, StoreError> {
        let bytes = read_regular_file(file).await?;
        if let Some(dest) = self.local_path(key) {
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            match tokio::fs::rename(file, &dest).await {
                Ok(()) => {
                    self.written.add(bytes.len() as u64);
                    return Ok(bytes);
                }
                // Another filesystem: upload below.
                Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.put(key, bytes.clone()).await?;
        tokio::fs::remove_file(file).await?;
        Ok(bytes)
    }

    /// Starts writing `dest` piece by piece; it appears only once [`BlobUpload::finish`]
    /// succeeds, and until then its first bytes can be rewritten (see [`crate::upload`]).
    pub async fn upload(&self, dest: &StorageKey) -> Result<BlobUpload, StoreError> {
        match (&self.bucket, self.local_path(dest)) {
            (Some(bucket), _) => {
                let (s3, path) = (bucket.s3.clone(), bucket.path(dest));
                BlobUpload::bucket(s3, path, self.written.clone()).await
            }
            (None, Some(file)) => BlobUpload::file(file, self.written.clone()).await,
            (None, None) => Err(StoreError::Config(
                "the store is neither a directory nor a bucket".into(),
            )),
        }
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

    /// The names of the folders directly under `prefix/` (one listing, objects not read).
    pub async fn folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let listing = self
            .inner
            .list_with_delimiter(Some(&Path::from(prefix)))
            .await?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|folder| folder.filename().map(str::to_owned))
            .collect())
    }

    /// The size of `key`, or `None` when it does not exist.
    pub async fn size(&self, key: &StorageKey) -> Result<Option<u64>, StoreError> {
        match self.inner.head(&key.object_path()).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes `key`; a missing object is not an error. In the local directory, the folders
    /// that held it go too once they are empty (a bucket has no folders to leave behind).
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StoreError> {
        match self.inner.delete(&key.object_path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if let (Some(path), Some(root)) = (self.local_path(key), &self.local_root) {
            // Stops, harmlessly, at the first folder that still holds something.
            for folder in path.ancestors().skip(1).take_while(|f| f != root) {
                if tokio::fs::remove_dir(folder).await.is_err() {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// The S3 key variables the environment lacks; none when another credential source
/// (web identity, a container's credentials endpoint) is configured.
fn missing_credentials() -> Vec<&'static str> {
    let other_source = [
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ];
    if other_source
        .iter()
        .any(|name| std::env::var_os(name).is_some())
    {
        return Vec::new();
    }
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .into_iter()
        .filter(|name| std::env::var_os(name).is_none())
        .collect()
}

/// The content of the regular file `file`; a symbolic link is refused, not followed.
async fn read_regular_file(file: &FsPath) -> Result<bytes::Bytes, StoreError> {
    use tokio::io::AsyncReadExt as _;
    let mut opened = tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
        .await?;
    let mut content = Vec::new();
    opened.read_to_end(&mut content).await?;
    Ok(bytes::Bytes::from(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls_name_a_bucket_and_optionally_a_plain_folder() {
        let parsed = |url| parse_bucket_url(url).map(|(b, p)| (b.to_owned(), p.to_string()));
        assert_eq!(parsed("s3://videos").unwrap(), ("videos".into(), "".into()));
        assert_eq!(
            parsed("s3://videos/").unwrap(),
            ("videos".into(), "".into())
        );
        assert_eq!(
            parsed("s3://shared/teams/qa/").unwrap(),
            ("shared".into(), "teams/qa".into())
        );
        for bad in ["videos", "s3://", "s3:///x", "s3://b/../x", "s3://b/a//c"] {
            assert!(parsed(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_spool_file_moves_into_a_local_store_by_rename() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(&dir.path().join("blobs")).unwrap();
        let segment = dir.path().join("seg_00000.m4s");
        std::fs::write(&segment, "video").unwrap();
        let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&segment).unwrap());
        let key = StorageKey::for_path("rec/x/parts/seg_00000.m4s").unwrap();
        assert_eq!(store.move_file(&key, &segment).await.unwrap(), "video");
        assert!(!segment.exists());
        assert_eq!(store.bytes_written(), 5);
        let stored = store.local_path(&key).unwrap();
        // The same file, not a copy of it.
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&stored).unwrap()),
            inode
        );
        assert_eq!(store.get(&key).await.unwrap(), "video");
    }

    #[tokio::test]
    async fn a_file_is_stored_but_a_link_in_its_place_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(&dir.path().join("blobs")).unwrap();
        let secret = dir.path().join("api-key");
        std::fs::write(&secret, "server secret").unwrap();
        let segment = dir.path().join("seg_00000.m4s");
        std::fs::write(&segment, "video").unwrap();
        let key = StorageKey::for_path("rec/x/parts/seg_00000.m4s").unwrap();
        assert_eq!(store.put_file(&key, &segment).await.unwrap(), "video");

        let link = dir.path().join("seg_00001.m4s");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let key = StorageKey::for_path("rec/x/parts/seg_00001.m4s").unwrap();
        assert!(store.put_file(&key, &link).await.is_err());
        assert_eq!(store.size(&key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn uploads_parts_in_order_and_lists_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        let a = StorageKey::for_path("rec/x/parts/seg_00000.m4s").unwrap();
        let b = StorageKey::for_path("rec/x/parts/seg_00001.m4s").unwrap();
        store.put(&b, "world".into()).await.unwrap();
        store.put(&a, "hello ".into()).await.unwrap();
        let listed = store.list("rec/x/parts").await.unwrap();
        assert_eq!(store.folders("rec").await.unwrap(), vec!["x".to_owned()]);
        assert_eq!(listed.iter().map(|b| &b.key).collect::<Vec<_>>(), [&a, &b]);

        let dest = StorageKey::for_path("rec/x.mp4").unwrap();
        let mut upload = store.upload(&dest).await.unwrap();
        for part in [&a, &b] {
            upload.write(&store.get(part).await.unwrap()).await.unwrap();
        }
        assert_eq!(
            store.size(&dest).await.unwrap(),
            None,
            "not before it is finished"
        );
        assert_eq!(store.bytes_written(), 11, "the parts");
        assert_eq!(upload.finish().await.unwrap(), 11);
        assert_eq!(
            store.bytes_written(),
            22,
            "the parts and the finished upload"
        );
        let on_disk = std::fs::read(store.local_path(&dest).unwrap()).unwrap();
        assert_eq!(on_disk, b"hello world");
        assert_eq!(store.size(&dest).await.unwrap(), Some(11));

        // Deleting the parts removes the folders they leave empty, and nothing else.
        let parts_folder = store
            .local_path(&a)
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        store.delete(&a).await.unwrap();
        assert!(parts_folder.exists());
        store.delete(&b).await.unwrap();
        assert!(!parts_folder.exists() && !parts_folder.parent().unwrap().exists());
        assert!(store.folders("rec").await.unwrap().is_empty());
        assert_eq!(store.size(&dest).await.unwrap(), Some(11));
    }
}
