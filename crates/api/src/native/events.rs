//! `/v1/sessions/{id}/events`: a session's events a page at a time, the actions on its screen
//! and its recordings' activity bands, for the timeline under a recording.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use tapedeck_engine::{EventKind, SessionEvent, MAX_EVENTS_PAGE};
use tapedeck_store::meta::EventFilter;
use utoipa::ToSchema;

use super::wire::rfc3339_param;
use super::NativeError;
use crate::common::auth::Caller;
use crate::common::error::{query, ErrorBody};
use crate::common::timestamp::rfc3339;
use crate::ApiState;

/// Query of `GET /v1/sessions/{id}/events`.
#[derive(Debug, Default, Deserialize)]
pub struct EventQuery {
    /// Page size, 1..=1000 (default 500).
    pub limit: Option<u32>,
    /// The previous page's `next_after`.
    pub after: Option<i64>,
    /// `action` or `activity`.
    pub kind: Option<String>,
    /// Only events that began at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only events that began before this RFC 3339 time.
    pub until: Option<String>,
}

/// One event of a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventJson {
    /// Increasing in the order events were written.
    pub id: i64,
    /// When it began (RFC 3339, microseconds).
    pub at: String,
    /// Milliseconds from the session's start on the node's monotonic clock.
    pub elapsed_ms: u64,
    /// `action`: input on the screen; its payload has `action` (`click_mouse`, `move_mouse`,
    /// `drag_mouse`, `scroll`, `type_text`, `press_key`, `mouse_down`, `key_down`, `paste`),
    /// `source` (`api` or `live_view`), and `x`/`y`, `button`, `clicks`, `path`, `dx`/`dy`,
    /// `keys`, or `text` (its first 200 characters) with `chars` as they apply.
    /// `activity`: a stretch in which a recording's screen kept changing; its payload has
    /// `recording_id`, `video_ms` (its start in the video), `duration_ms` and `frames`.
    pub kind: String,
    /// Its details, shaped by its kind.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<SessionEvent> for EventJson {
    fn from(e: SessionEvent) -> Self {
        Self {
            id: e.id,
            at: rfc3339(e.at),
            elapsed_ms: e.elapsed_ms,
            kind: e.kind.as_str().to_owned(),
            payload: e.payload,
        }
    }
}

/// A page of a session's events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// The events of this page, in the order they were written.
    pub items: Vec<EventJson>,
    /// Pass as `after` for the next page, when there is one.
    pub next_after: Option<i64>,
}

/// A session's events (ended sessions too), in the order they were written, a page at a time.
#[utoipa::path(get, path = "/v1/sessions/{id}/events",
    params(("id" = String, Path),
           ("limit" = Option<u32>, Query, description = "page size, 1..=1000 (default 500)"),
           ("after" = Option<i64>, Query, description = "the previous page's next_after"),
           ("kind" = Option<String>, Query, description = "action or activity"),
           ("since" = Option<String>, Query, description = "only events that began at or after this RFC 3339 time"),
           ("until" = Option<String>, Query, description = "only events that began before this RFC 3339 time")),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<EventQuery>, QueryRejection>,
) -> Result<Json<EventPage>, NativeError> {
    let q = query(q)?;
    let filter = EventFilter {
        after_id: q.after,
        kind: q.kind.as_deref().map(EventKind::parse).transpose()?,
        since: rfc3339_param("since", q.since)?,
        until: rfc3339_param("until", q.until)?,
    };
    let limit = q.limit.unwrap_or(500).min(MAX_EVENTS_PAGE);
    let page = state
        .engine
        .session_events(caller.project(), &id, &filter, limit)
        .await?;
    let next_after = page
        .has_more
        .then(|| page.items.last().map(|e| e.id))
        .flatten();
    let items = page.items.into_iter().map(Into::into).collect();
    Ok(Json(EventPage { items, next_after }))
}
