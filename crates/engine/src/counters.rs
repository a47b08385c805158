//! Counters of what the engine has done since it started, for operators (`/v1/metrics`) and for
//! tests that must tell "it happened once" from "it happened twice" without reading logs.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic event counters; each only ever goes up.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) sessions_created: AtomicU64,
    pub(crate) sessions_deleted: AtomicU64,
    pub(crate) recordings_started: AtomicU64,
    pub(crate) recordings_finalized: AtomicU64,
    pub(crate) pooled_sessions_started: AtomicU64,
    pub(crate) pooled_sessions_evicted: AtomicU64,
}

impl Counters {
    /// Counts one more of `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of every counter now.
    fn snapshot(&self) -> EngineCounters {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EngineCounters {
            sessions_created: read(&self.sessions_created),
            sessions_deleted: read(&self.sessions_deleted),
            recordings_started: read(&self.recordings_started),
            recordings_finalized: read(&self.recordings_finalized),
            pooled_sessions_started: read(&self.pooled_sessions_started),
            pooled_sessions_evicted: read(&self.pooled_sessions_evicted),
        }
    }
}

/// What the engine has done since it started, and what it holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineCounters {
    /// Sessions handed to clients (pooled or started on demand).
    pub sessions_created: u64,
    /// Sessions ended: deleted by a client, expired, or after their browser died.
    pub sessions_deleted: u64,
    /// Recordings started, rewind rings included.
    pub recordings_started: u64,
    /// Recordings finalized by a stop or a limit (once each, however many callers stopped it).
    pub recordings_finalized: u64,
    /// Pooled sessions that became ready.
    pub pooled_sessions_started: u64,
    /// Pooled sessions ended to free a slot for a create that did not fit the pool.
    pub pooled_sessions_evicted: u64,
}

impl crate::Engine {
    /// The engine's counters now.
    pub fn counters(&self) -> EngineCounters {
        self.inner.counters.snapshot()
    }
}
