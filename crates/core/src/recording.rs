//! Screen recordings of a session's display.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Lifecycle of a recording.
///
/// `Recording → Stopping → Finished` is the normal path. A recording found in flight at start-up
/// is finalized from its segments and ends `Interrupted`; one whose finalization failed ends
/// `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// ffmpeg is capturing; segments are persisted as they close.
    Recording,
    /// A stop is finalizing the artifact.
    Stopping,
    /// The artifact is complete and downloadable.
    Finished,
    /// The server died while it was recording; the artifact holds what was on disk.
    Interrupted,
    /// Nothing playable could be produced.
    Failed,
    /// A newer recording replaced it and its video was deleted (GBOX keeps only the latest).
    Discarded,
}

impl RecordingState {
    /// The name stored in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recording => "recording",
            Self::Stopping => "stopping",
            Self::Finished => "finished",
            Self::Interrupted => "interrupted",
            Self::Failed => "failed",
            Self::Discarded => "discarded",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "recording" => Self::Recording,
            "stopping" => Self::Stopping,
            "finished" => Self::Finished,
            "interrupted" => Self::Interrupted,
            "failed" => Self::Failed,
            "discarded" => Self::Discarded,
            _ => return None,
        })
    }

    /// True while the artifact is not yet final.
    pub fn in_flight(self) -> bool {
        matches!(self, Self::Recording | Self::Stopping)
    }
}

/// Why a recording stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A client asked.
    Requested,
    /// It reached its maximum duration.
    MaxDuration,
    /// It reached its maximum size.
    MaxSize,
    /// Its session ended (deleted, expired, server shutdown).
    SessionEnded,
    /// The recorder process exited by itself.
    RecorderExited,
    /// It was found in flight at start-up and finalized from what was on disk.
    Recovered,
    /// A newer recording of the same session replaced it.
    Replaced,
    /// The disk it records to fell below the server's free-space floor.
    DiskFull,
    /// The node recording it was lost; another node finalized it from the stored segments.
    NodeLost,
}

impl StopReason {
    /// The name stored in metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::MaxDuration => "max_duration",
            Self::MaxSize => "max_size",
            Self::SessionEnded => "session_ended",
            Self::RecorderExited => "recorder_exited",
            Self::Recovered => "recovered",
            Self::Replaced => "replaced",
            Self::DiskFull => "disk_full",
            Self::NodeLost => "node_lost",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requested" => Self::Requested,
            "max_duration" => Self::MaxDuration,
            "max_size" => Self::MaxSize,
            "session_ended" => Self::SessionEnded,
            "recorder_exited" => Self::RecorderExited,
            "recovered" => Self::Recovered,
            "replaced" => Self::Replaced,
            "disk_full" => Self::DiskFull,
            "node_lost" => Self::NodeLost,
            _ => return None,
        })
    }
}

/// Limits a recording enforces on itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingLimits {
    /// Frames per second captured.
    pub framerate: u32,
    /// Stop by itself after this many seconds.
    pub max_duration_secs: u64,
    /// Stop by itself once the persisted video reaches this many bytes.
    pub max_bytes: u64,
}

impl RecordingLimits {
    /// Frame rates the recorder accepts. Dialects may allow less (Kernel: 20 without a GPU).
    pub const FRAMERATE_RANGE: std::ops::RangeInclusive<u32> = 1..=30;
}

/// A recording as stored in metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// Unique id.
    pub id: String,
    /// The session whose display is recorded.
    pub session_id: String,
    /// Current lifecycle state.
    pub state: RecordingState,
    /// Why it stopped, once it has.
    pub stop_reason: Option<StopReason>,
    /// The limits it was started with.
    pub limits: RecordingLimits,
    /// When capture started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When capture ended, once it has.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Where the MP4 is, once finalized (`storage://tapedeck/...`).
    pub storage_key: Option<String>,
    /// Size of the MP4 in bytes, once finalized.
    pub size_bytes: Option<u64>,
    /// Duration of the MP4 in milliseconds, once finalized.
    pub duration_ms: Option<u64>,
    /// What went wrong, for people: why it failed, or what its recovery left out.
    #[serde(default)]
    pub problem: Option<String>,
}

impl Recording {
    /// True once the artifact can be downloaded.
    pub fn is_downloadable(&self) -> bool {
        matches!(
            self.state,
            RecordingState::Finished | RecordingState::Interrupted
        ) && self.storage_key.is_some()
    }
}
