//! Tapedeck's store: metadata (SQLite or PostgreSQL), blobs (a local directory or an S3 bucket,
//! via `object_store`), storage keys and presigned URLs.

pub mod blobs;
pub mod error;
pub mod keys;
pub mod meta;
pub mod presign;
pub mod secrets;
pub mod upload;

pub use blobs::BlobStore;
pub use error::StoreError;
pub use keys::StorageKey;
pub use meta::{
    redact_password, DatabaseTime, FleetMetadata, LostRows, Metadata, NodeOwner, NodeRecord,
    NodeRegistration, RecordingRun, SqlMetadata, TakenOver,
};
pub use presign::{PresignError, Presigner, Signer};
pub use upload::BlobUpload;
