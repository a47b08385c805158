//! Errors of the store layer.

use tapedeck_core::EngineError;
use thiserror::Error;

/// A failure in metadata or blob storage.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The metadata database failed.
    #[error("metadata database: {0}")]
    Database(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("metadata migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The blob store failed.
    #[error("blob store: {0}")]
    Blob(#[from] object_store::Error),
    /// Local file I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A stored row could not be decoded; the database was edited by hand or is corrupt.
    #[error("corrupt metadata: {0}")]
    Corrupt(String),
    /// A database or blob store URL or setting is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// An upload was asked to rewrite bytes it no longer holds (past its head) or never had.
    #[error("an upload can rewrite only its first 5 MiB as written so far, not bytes {at}..{end}")]
    Rewrite {
        /// Where the rewrite started.
        at: u64,
        /// Where it ended.
        end: u64,
    },
    /// A storage key was malformed or pointed outside the store's root.
    #[error("invalid storage key: {0}")]
    InvalidKey(String),
    /// A row would take a unique name its project already uses; says what exists.
    #[error("{0} already exists")]
    Duplicate(String),
    /// A row this node wrote belongs to another node now: the fleet found this node lost and
    /// a survivor took the row over.
    #[error("{0} was taken over by another node; this node no longer owns it")]
    NotOwner(String),
}

impl From<StoreError> for EngineError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidKey(msg) => EngineError::Forbidden(msg),
            duplicate @ StoreError::Duplicate(_) => EngineError::conflict(duplicate.to_string()),
            StoreError::NotOwner(what) => EngineError::Unavailable(format!(
                "{what} was taken over by another node; this node is leaving the fleet"
            )),
            StoreError::Database(e) if is_outage(&e) => {
                tracing::warn!(error = %e, "the metadata database is not answering");
                EngineError::Unavailable(
                    "the metadata database is not answering; try again shortly".into(),
                )
            }
            other => EngineError::internal(other),
        }
    }
}

/// True for failures of reaching the database (down, restarting, unreachable), as opposed to
/// a query it refused.
fn is_outage(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
    ) || matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|code| {
        // PostgreSQL's admin shutdown, crash shutdown and cannot-connect-now.
        matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
    }))
}
