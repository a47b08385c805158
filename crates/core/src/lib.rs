//! Tapedeck's domain types: sessions, recordings, browser profiles, their states and the engine
//! error enum.
//!
//! Nothing here knows about HTTP, processes or storage; the dialects and the engine share these
//! types so that every wire format describes the same facts.

pub mod api_key;
pub mod duration;
pub mod environment;
pub mod error;
pub mod event;
pub mod id;
pub mod profile;
pub mod recording;
pub mod session;
pub mod traffic;
pub mod ui;
pub mod vulnerability;

pub use api_key::ApiKeyRecord;
pub use error::{ConflictReason, EngineError};
pub use event::{EventKind, SessionEvent};
pub use profile::{Profile, ProfileUse};
pub use recording::{Recording, RecordingLimits, RecordingState, StopReason};
pub use session::{Session, SessionKind, SessionSpec, SessionState, Viewport};
pub use traffic::{Baseline, ExchangeSummary, TestRecord, TestRun, TestRunSpec, TestRunState};
pub use vulnerability::{Vulnerability, VulnerabilityKey};
