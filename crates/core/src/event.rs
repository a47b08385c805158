//! Session events: what happened in a session and when, for the timeline under its recordings
//! (and later Kernel's telemetry). The engine writes them; clients read them a page at a time.

use time::OffsetDateTime;

use crate::EngineError;

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Input on the session's screen: an API action (a click, typing, a gesture) or a live
    /// viewer's input. Its payload names the action, its source and its coordinates or text.
    Action,
    /// A stretch of time in which a recording's screen kept changing (frames less than a
    /// second apart). Its payload holds the recording, its video offset and its length.
    Activity,
}

impl EventKind {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 2] = [Self::Action, Self::Activity];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Activity => "activity",
        }
    }

    /// The kind named `name`.
    ///
    /// Errors: [`EngineError::InvalidInput`] naming the known kinds.
    pub fn parse(name: &str) -> Result<Self, EngineError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| {
                EngineError::InvalidInput(format!(
                    "unknown event kind {name:?}: expected action or activity"
                ))
            })
    }
}

/// One event of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent {
    /// Assigned by the store, increasing in the order events were written: the paging cursor.
    pub id: i64,
    /// The session it happened in.
    pub session_id: String,
    /// Wall-clock time it began.
    pub at: OffsetDateTime,
    /// Milliseconds from the session's start to it on this node's monotonic clock, immune to
    /// wall-clock steps. Within a session, its order is the events' true order.
    pub elapsed_ms: u64,
    /// What it records.
    pub kind: EventKind,
    /// Its details as a JSON object, shaped by its kind.
    pub payload: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names_and_an_unknown_one_is_refused() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(matches!(
            EventKind::parse("click"),
            Err(EngineError::InvalidInput(why)) if why.contains("action or activity")
        ));
    }
}
