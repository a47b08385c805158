//! Tapedeck's store: metadata (SQLite now, PostgreSQL behind the same trait later), blobs
//! (a local directory via `object_store`), storage keys and presigned URLs.

pub mod blobs;
pub mod error;
pub mod keys;
pub mod meta;
pub mod presign;
pub mod secrets;

pub use blobs::BlobStore;
pub use error::StoreError;
pub use keys::StorageKey;
pub use meta::{Metadata, SqliteMetadata};
pub use presign::{PresignError, Presigner, Signer};
