//! Objects written piece by piece, whose head can still be rewritten until they complete: a
//! video's index is known only once its last segment is, but belongs before the first.
//!
//! A local store writes a staging file beside the object and renames it over the object at the
//! end. A bucket gets a multipart upload whose first part is held back: the later parts go out
//! as they fill, numbered from 1, and part 0 is sent last, once rewritten. Every part but the
//! last is [`PART_SIZE`], as S3 (at least 5 MiB) and R2 (equal sizes) want.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, PutPayload};
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
use tokio::task::JoinSet;

use crate::blobs::BytesWritten;
use crate::StoreError;

/// The size of every part of a bucket upload but the last, and so also how many leading bytes
/// of any upload [`BlobUpload::rewrite`] can reach.
pub const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts of one upload sent at once before a write waits.
const PARTS_IN_FLIGHT: usize = 2;

/// An object being written piece by piece; it appears only once [`BlobUpload::finish`]
/// succeeds. See [`crate::BlobStore::upload`].
pub struct BlobUpload {
    sink: Sink,
    size: u64,
    /// Where the object's size is counted once it appears.
    written: BytesWritten,
}

/// Where an upload's bytes go.
enum Sink {
    File(FileUpload),
    Bucket(PartUpload),
}

impl BlobUpload {
    /// An upload into a staging file that becomes `dest` at the end, counted in `written`.
    pub(crate) async fn file(dest: PathBuf, written: BytesWritten) -> Result<Self, StoreError> {
        Ok(Self {
            sink: Sink::File(FileUpload::create(dest).await?),
            size: 0,
            written,
        })
    }

    /// A multipart upload of `path` into `store`, counted in `written`.
    pub(crate) async fn bucket(
        store: Arc<dyn MultipartStore>,
        path: Path,
        written: BytesWritten,
    ) -> Result<Self, StoreError> {
        let id = store.create_multipart(&path).await?;
        Ok(Self {
            sink: Sink::Bucket(PartUpload {
                store,
                path,
                id,
                head: Vec::new(),
                filling: Vec::new(),
                next_part: 1,
                in_flight: JoinSet::new(),
                sent: Vec::new(),
            }),
            size: 0,
            written,
        })
    }

    /// Appends `bytes`, waiting while too many parts are still uploading.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        match &mut self.sink {
            Sink::File(file) => file.file.write_all(bytes).await?,
            Sink::Bucket(parts) => parts.write(bytes).await?,
        }
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Replaces the bytes written at `at` with `bytes`; they must lie within the first
    /// [`PART_SIZE`] bytes, which a bucket holds back until the end.
    pub async fn rewrite(&mut self, at: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let end = at.saturating_add(bytes.len() as u64);
        if end > self.size.min(PART_SIZE as u64) {
            return Err(StoreError::Rewrite { at, end });
        }
        match &mut self.sink {
            Sink::File(file) => file.rewrite(at, bytes).await?,
            // `end` is within the head, which is what was written up to PART_SIZE.
            Sink::Bucket(parts) => parts.head[at as usize..end as usize].copy_from_slice(bytes),
        }
        Ok(())
    }

    /// Completes the object; returns its size. On failure the upload is aborted, so the store
    /// keeps nothing of an object that never appears.
    pub async fn finish(self) -> Result<u64, StoreError> {
        let finished = match self.sink {
            Sink::File(file) => file.finish().await,
            Sink::Bucket(parts) => parts.finish().await,
        };
        finished?;
        self.written.add(self.size);
        Ok(self.size)
    }

    /// Drops what was uploaded; the object never appears.
    pub async fn abort(self) {
        match self.sink {
            Sink::File(file) => file.abort().await,
            Sink::Bucket(parts) => parts.abort().await,
        }
    }
}

/// A local object being written: a staging file beside it.
struct FileUpload {
    file: tokio::fs::File,
    staging: PathBuf,
    dest: PathBuf,
}

/// Tells apart the staging files of one process's uploads.
static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FileUpload {
    async fn create(dest: PathBuf) -> Result<Self, StoreError> {
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        // `<object>#<digits>`, the name object_store gives its own staging files, which its
        // listings skip: an upload a crash cut short is never taken for an object.
        let mut staging = dest.clone().into_os_string();
        let n = STAGING_COUNTER.fetch_add(1, Ordering::Relaxed);
        staging.push(format!("#{}{n:06}", std::process::id()));
        let staging = PathBuf::from(staging);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)
            .await?;
        Ok(Self {
            file,
            staging,
            dest,
        })
    }

    async fn rewrite(&mut self, at: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.file.seek(std::io::SeekFrom::Start(at)).await?;
        self.file.write_all(bytes).await?;
        self.file.seek(std::io::SeekFrom::End(0)).await?;
        Ok(())
    }

    async fn finish(mut self) -> Result<(), StoreError> {
        let done = async {
            self.file.flush().await?;
            tokio::fs::rename(&self.staging, &self.dest).await
        };
        if let Err(e) = done.await {
            self.abort().await;
            return Err(e.into());
        }
        Ok(())
    }

    async fn abort(self) {
        if let Err(e) = tokio::fs::remove_file(&self.staging).await {
            tracing::debug!(file = %self.staging.display(), error = %e, "staging file not removed");
        }
    }
}

/// A bucket object being written: a multipart upload whose part 0 is sent last.
struct PartUpload {
    store: Arc<dyn MultipartStore>,
    path: Path,
    id: MultipartId,
    /// Part 0: the first [`PART_SIZE`] bytes, held until the end.
    head: Vec<u8>,
    /// The part being filled.
    filling: Vec<u8>,
    /// The number the next full part gets.
    next_part: usize,
    in_flight: JoinSet<Result<(usize, PartId), object_store::Error>>,
    /// Parts uploaded, with their numbers.
    sent: Vec<(usize, PartId)>,
}

impl PartUpload {
    async fn write(&mut self, mut bytes: &[u8]) -> Result<(), StoreError> {
        let to_head = bytes.len().min(PART_SIZE - self.head.len());
        self.head.extend_from_slice(&bytes[..to_head]);
        bytes = &bytes[to_head..];
        while !bytes.is_empty() {
            let take = bytes.len().min(PART_SIZE - self.filling.len());
            self.filling.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.filling.len() == PART_SIZE {
                while self.in_flight.len() >= PARTS_IN_FLIGHT {
                    self.collect_one().await?;
                }
                let part = std::mem::take(&mut self.filling);
                self.send(self.next_part, part);
                self.next_part += 1;
            }
        }
        Ok(())
    }

    fn send(&mut self, number: usize, part: Vec<u8>) {
        let (store, path, id) = (self.store.clone(), self.path.clone(), self.id.clone());
        self.in_flight.spawn(async move {
            let part_id = store
                .put_part(&path, &id, number, PutPayload::from(part))
                .await?;
            Ok((number, part_id))
        });
    }

    /// Waits for one part in flight.
    async fn collect_one(&mut self) -> Result<(), StoreError> {
        if let Some(joined) = self.in_flight.join_next().await {
            let sent = joined.map_err(|e| StoreError::Io(std::io::Error::other(e)))??;
            self.sent.push(sent);
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<(), StoreError> {
        let completed = async {
            let (head, last) = (
                std::mem::take(&mut self.head),
                std::mem::take(&mut self.filling),
            );
            self.send(0, head);
            if !last.is_empty() {
                self.send(self.next_part, last);
            }
            while !self.in_flight.is_empty() {
                self.collect_one().await?;
            }
            self.sent.sort_by_key(|(number, _)| *number);
            let parts = self.sent.drain(..).map(|(_, part)| part).collect();
            self.store
                .complete_multipart(&self.path, &self.id, parts)
                .await?;
            Ok(())
        };
        let outcome: Result<(), StoreError> = completed.await;
        if outcome.is_err() {
            self.abort().await;
        }
        outcome
    }

    async fn abort(mut self) {
        self.in_flight.abort_all();
        if let Err(e) = self.store.abort_multipart(&self.path, &self.id).await {
            tracing::debug!(error = %e, "aborting an upload failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use object_store::PutResult;

    use super::*;

    /// S3's part API as a bucket sees it: parts kept by number, in any order, and joined in
    /// number order on completion. (object_store's `InMemory` takes parts only in order.)
    #[derive(Debug, Default)]
    struct Parts {
        parts: Mutex<BTreeMap<usize, Vec<u8>>>,
        completed: Mutex<Option<(Vec<usize>, Vec<u8>)>>,
    }

    #[async_trait::async_trait]
    impl MultipartStore for Parts {
        async fn create_multipart(&self, _: &Path) -> object_store::Result<MultipartId> {
            Ok("upload".into())
        }

        async fn put_part(
            &self,
            _: &Path,
            _: &MultipartId,
            part_idx: usize,
            data: PutPayload,
        ) -> object_store::Result<PartId> {
            let bytes: Vec<u8> = data.iter().flat_map(|chunk| chunk.to_vec()).collect();
            self.parts.lock().unwrap().insert(part_idx, bytes);
            Ok(PartId {
                content_id: part_idx.to_string(),
            })
        }

        async fn complete_multipart(
            &self,
            _: &Path,
            _: &MultipartId,
            parts: Vec<PartId>,
        ) -> object_store::Result<PutResult> {
            let stored = self.parts.lock().unwrap();
            let sizes = stored.values().map(Vec::len).collect();
            let named: Vec<String> = parts.into_iter().map(|p| p.content_id).collect();
            let numbers: Vec<String> = stored.keys().map(usize::to_string).collect();
            assert_eq!(named, numbers, "parts are completed in number order");
            *self.completed.lock().unwrap() =
                Some((sizes, stored.values().flatten().copied().collect()));
            Ok(PutResult {
                e_tag: None,
                version: None,
            })
        }

        async fn abort_multipart(&self, _: &Path, _: &MultipartId) -> object_store::Result<()> {
            self.parts.lock().unwrap().clear();
            Ok(())
        }
    }

    /// Writes `pieces`, rewrites `patch` at its offset, and finishes.
    async fn upload(mut upload: BlobUpload, pieces: &[Vec<u8>], patch: (u64, &[u8])) -> u64 {
        for piece in pieces {
            upload.write(piece).await.unwrap();
        }
        upload.rewrite(patch.0, patch.1).await.unwrap();
        upload.finish().await.unwrap()
    }

    /// Three parts' worth and a bit, in pieces that straddle the part boundaries.
    fn pieces() -> Vec<Vec<u8>> {
        (0..7u8)
            .map(|n| vec![n; PART_SIZE / 2 + 1000])
            .chain([b"tail".to_vec()])
            .collect()
    }

    fn expected(pieces: &[Vec<u8>], patch: (u64, &[u8])) -> Vec<u8> {
        let mut all = pieces.concat();
        let at = patch.0 as usize;
        all[at..at + patch.1.len()].copy_from_slice(patch.1);
        all
    }

    #[tokio::test]
    async fn a_bucket_upload_sends_its_rewritten_head_last_in_equal_parts() {
        let bucket = Arc::new(Parts::default());
        let pieces = pieces();
        let patch = (1000, &b"index"[..]);
        let started =
            BlobUpload::bucket(bucket.clone(), Path::from("x.mp4"), BytesWritten::default())
                .await
                .unwrap();
        let size = upload(started, &pieces, patch).await;
        let (sizes, stored) = bucket.completed.lock().unwrap().take().expect("completed");
        assert_eq!(size, stored.len() as u64);
        assert_eq!(stored, expected(&pieces, patch));
        let last = pieces.iter().map(Vec::len).sum::<usize>() - 3 * PART_SIZE;
        assert_eq!(sizes, [PART_SIZE, PART_SIZE, PART_SIZE, last]);
    }

    #[tokio::test]
    async fn a_small_bucket_upload_is_its_head_alone() {
        let bucket = Arc::new(Parts::default());
        let pieces = vec![b"init".to_vec(), b"free".to_vec(), b"video".to_vec()];
        let started =
            BlobUpload::bucket(bucket.clone(), Path::from("x.mp4"), BytesWritten::default())
                .await
                .unwrap();
        upload(started, &pieces, (4, b"sidx")).await;
        let (sizes, stored) = bucket.completed.lock().unwrap().take().expect("completed");
        assert_eq!((sizes, stored), (vec![13], b"initsidxvideo".to_vec()));
    }

    #[tokio::test]
    async fn a_file_upload_appears_whole_with_its_rewritten_head_and_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("recordings").join("x.mp4");
        let pieces = pieces();
        let patch = (PART_SIZE as u64 - 5, &b"index"[..]);
        let mut started = BlobUpload::file(dest.clone(), BytesWritten::default())
            .await
            .unwrap();
        started.write(b"").await.unwrap();
        assert!(!dest.exists(), "not before it is finished");
        let size = upload(started, &pieces, patch).await;
        assert_eq!(size, std::fs::metadata(&dest).unwrap().len());
        assert_eq!(std::fs::read(&dest).unwrap(), expected(&pieces, patch));
        assert_eq!(
            std::fs::read_dir(dest.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[tokio::test]
    async fn a_rewrite_past_the_head_or_the_end_is_refused_and_abort_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x.mp4");
        let mut started = BlobUpload::file(dest.clone(), BytesWritten::default())
            .await
            .unwrap();
        started.write(&vec![0; PART_SIZE + 10]).await.unwrap();
        assert!(started
            .rewrite(PART_SIZE as u64 - 2, b"four")
            .await
            .is_err());
        assert!(started.rewrite(0, b"four").await.is_ok());
        started.abort().await;
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let bucket = Arc::new(Parts::default());
        let mut started =
            BlobUpload::bucket(bucket.clone(), Path::from("x.mp4"), BytesWritten::default())
                .await
                .unwrap();
        started.write(&vec![0; PART_SIZE + 10]).await.unwrap();
        assert!(started
            .rewrite(PART_SIZE as u64 + 1, b"four")
            .await
            .is_err());
        started.abort().await;
        assert!(bucket.completed.lock().unwrap().is_none());
        assert!(bucket.parts.lock().unwrap().is_empty());
    }
}
