//! Tapedeck's engine: it owns display sessions, their recordings and the browser profiles they
//! load and save.
//!
//! The engine never knows which dialect called it. Dialects translate their wire format into
//! the calls here and render [`EngineError`] in their own error format.

mod actions;
pub mod api_keys;
mod box_files;
mod box_programs;
mod computer;
mod config;
mod counters;
mod disk;
mod displays;
mod endpoints;
mod events;
mod fleet;
mod launch;
mod layout;
mod leftovers;
mod live_view;
mod pool;
mod profiles;
mod reaper;
mod recording;
mod recovery;
mod retention;
mod routing;
mod session;
#[cfg(test)]
mod test_support;
mod traffic;

use std::sync::{Arc, Mutex};

use tapedeck_store::{BlobStore, Metadata, Presigner};
use tapedeck_upstream::UpstreamClient;
use tokio::sync::Semaphore;

pub use actions::{DetectedElements, MAX_THUMBNAIL_WIDTH, MAX_WHEEL_CLICKS};
pub use api_keys::{IssuedKey, NewKey, API_KEY_LEN};
pub use box_programs::{BoxCode, BoxRun, CodeLanguage, MAX_PROGRAM_TIME};
pub use computer::{BatchFailure, ClickKind, ComputerAction, Motion, MAX_BATCH};
pub use config::EngineConfig;
pub use counters::{EngineCounters, EngineMetrics, HistogramSnapshot};
pub use events::MAX_EVENTS_PAGE;
pub use fleet::{HEARTBEAT_EVERY, SILENT_AFTER};
pub use live_view::LiveWatch;
pub use profiles::{ArchiveChunks, ArchiveFormat, ProfileRequest};
pub use recording::{Artifact, RecordingKind, RecordingRequest};
pub use recovery::RecoveryProgress;
pub use routing::NodeRoute;
pub use session::{CdpEndpoint, SessionLabels};
pub use tapedeck_capture::box_files::{FileAnswer, FileEntry, FileOperation, MAX_FILE_BYTES};
pub use tapedeck_capture::chromium::through_proxy_args as browser_through_proxy_args;
pub use tapedeck_capture::exec::ProgramOutput;
pub use tapedeck_capture::live_feed::LiveFrame;
pub use tapedeck_capture::live_input::LiveInput;
pub use tapedeck_capture::screenshot::Region;
pub use tapedeck_capture::Sandbox;
pub use tapedeck_core::{EngineError, EventKind, SessionEvent};
pub use traffic::{
    parse_status, BaselinePages, Change, CopyRequest, CreateRequest, HostPattern,
    VulnerabilityChanges,
};

use displays::DisplayNumbers;
use recording::LiveRecordings;
use session::LiveSessions;

/// The engine; cheap to clone, all clones share state.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: EngineConfig,
    meta: Arc<dyn Metadata>,
    blobs: BlobStore,
    presigner: Presigner,
    displays: DisplayNumbers,
    session_slots: Arc<Semaphore>,
    sessions: Mutex<LiveSessions>,
    recordings: Mutex<LiveRecordings>,
    traffic: traffic::TrafficState,
    events: events::EventQueue,
    upstream: UpstreamClient,
    canary: traffic::canary::CanaryHits,
    warm: pool::WarmPool,
    own_endpoints: endpoints::OwnEndpoints,
    counters: counters::Counters,
    key_checks: api_keys::KeyChecks,
    recovery: recovery::Recovery,
    /// Set once the node stops taking new sessions (SIGTERM with a drain period).
    draining: std::sync::atomic::AtomicBool,
    /// The fleet as the last heartbeat read it.
    fleet: routing::FleetView,
}

impl Engine {
    /// An engine over the given store. Call [`Engine::recover`] once before serving.
    pub fn new(
        config: EngineConfig,
        meta: Arc<dyn Metadata>,
        blobs: BlobStore,
        presigner: Presigner,
        upstream: UpstreamClient,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                displays: DisplayNumbers::new(config.first_display),
                session_slots: Arc::new(Semaphore::new(config.max_sessions)),
                config,
                meta,
                blobs,
                presigner,
                sessions: Mutex::default(),
                recordings: Mutex::default(),
                traffic: traffic::TrafficState::default(),
                events: events::EventQueue::default(),
                upstream,
                canary: traffic::canary::CanaryHits::default(),
                warm: pool::WarmPool::default(),
                own_endpoints: endpoints::OwnEndpoints::default(),
                counters: counters::Counters::default(),
                key_checks: api_keys::KeyChecks::default(),
                recovery: recovery::Recovery::default(),
                draining: std::sync::atomic::AtomicBool::new(false),
                fleet: routing::FleetView::default(),
            }),
        }
    }

    /// The settings it runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The presigner for download URLs.
    pub fn presigner(&self) -> &Presigner {
        &self.inner.presigner
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// Ends every recording (finalizing it) and every session, all at once; for server
    /// shutdown, which bounds how long this may take.
    pub async fn shutdown(&self) {
        self.close_warm_pool().await;
        let ids = self.live_session_ids();
        tracing::info!(sessions = ids.len(), "shutting down sessions");
        let endings = ids.into_iter().map(|id| {
            let engine = self.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.end_session(&id).await {
                    tracing::warn!(session = %id, error = %e, "shutdown: session ended with an error");
                }
            })
        });
        for ending in endings.collect::<Vec<_>>() {
            let _ = ending.await;
        }
        // Ending sessions stopped their recordings, which noted their last activity.
        self.flush_events().await;
    }
}

/// Runs `work` on its own task and waits for it, so that it runs to completion (or fails and
/// rolls back) even when the caller's future is dropped: a client that disconnects mid-create
/// or mid-delete leaves neither a row without processes nor processes without a row.
async fn to_completion<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, EngineError>> + Send + 'static,
) -> Result<T, EngineError> {
    use tracing::Instrument as _;
    tokio::spawn(work.in_current_span())
        .await
        .map_err(|e| EngineError::Internal(format!("an engine task failed: {e}")))?
}

/// Locks a std mutex, ignoring poisoning: the maps hold plain data that stays consistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
