//! The one error enum of the engine. Every dialect maps it to its own wire format in one place.

use thiserror::Error;

/// What went wrong, in terms a client can act on.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The request itself is wrong: a field is missing, of the wrong type or out of range.
    #[error("{0}")]
    InvalidInput(String),
    /// No such thing exists (or it exists but not for this caller).
    #[error("{kind} not found: {id}")]
    NotFound {
        /// What was looked up: "session", "recording", ...
        kind: &'static str,
        /// The id or name that was asked for.
        id: String,
    },
    /// The request is valid but conflicts with the current state, e.g. a session is already gone.
    #[error("{message}")]
    Conflict {
        /// Which conflict, for dialects that name some of them in their own wire codes.
        reason: ConflictReason,
        /// A sentence for people.
        message: String,
    },
    /// The thing exists but is not ready yet (a recording still capturing); ask again later.
    #[error("{0}")]
    NotReady(String),
    /// Something is over the size the server keeps of it (a profile's user data); the same
    /// request would meet the same limit.
    #[error("{0}")]
    TooLarge(String),
    /// A server-wide limit is reached (sessions, displays); try again after something ends.
    #[error("{0}")]
    CapacityExhausted(String),
    /// A stored key or signed URL was refused: tampered, expired or outside the store's root.
    #[error("{0}")]
    Forbidden(String),
    /// A service the server depends on (the metadata database) is not answering; the same
    /// request should succeed once it is back.
    #[error("{0}")]
    Unavailable(String),
    /// A session's browser or desktop did not answer within its bound (a stuck or stopped
    /// process); the call was abandoned and nothing else waits on it.
    #[error("{0}")]
    TimedOut(String),
    /// The server failed: a process would not start, storage failed. Details are in the log.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a request conflicts with the current state, where a client may need to tell cases apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictReason {
    /// A test record that is empty or still recording cannot be copied into a new test run.
    TestRecordNotCopyable,
    /// Any other conflict; the message says which.
    Other,
}

impl EngineError {
    /// Shorthand for an [`EngineError::Conflict`] with [`ConflictReason::Other`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            reason: ConflictReason::Other,
            message: message.into(),
        }
    }

    /// Shorthand for [`EngineError::NotFound`].
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// Shorthand for [`EngineError::Internal`] from any displayable error.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// Which kind of failure this is, as a stable snake_case name (the variant's), for
    /// metrics and logs; it never carries the error's details.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid_input",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::NotReady(_) => "not_ready",
            Self::TooLarge(_) => "too_large",
            Self::CapacityExhausted(_) => "capacity_exhausted",
            Self::Forbidden(_) => "forbidden",
            Self::Unavailable(_) => "unavailable",
            Self::TimedOut(_) => "timed_out",
            Self::Internal(_) => "internal",
        }
    }
}
