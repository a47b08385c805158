//! `/v1/metrics`: the engine's counters in Prometheus' text exposition format, so an operator's
//! Prometheus (with the API key as its bearer token) or a test can read what happened.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tapedeck_engine::EngineCounters;

use crate::ApiState;

/// The media type of Prometheus' text format, version 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The engine's counters since it started, as Prometheus counters.
#[utoipa::path(get, path = "/v1/metrics", tag = "metrics",
    responses((status = 200, description = "counters in Prometheus' text format",
               content_type = "text/plain")))]
pub async fn metrics(State(state): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
        exposition(&state.engine.counters()),
    )
        .into_response()
}

/// Renders `counters` as `# HELP`, `# TYPE` and value lines, one counter after another.
fn exposition(counters: &EngineCounters) -> String {
    let rows = [
        (
            "tapedeck_sessions_created_total",
            "Sessions handed to clients.",
            counters.sessions_created,
        ),
        (
            "tapedeck_sessions_deleted_total",
            "Sessions ended (deleted, expired, or their browser died).",
            counters.sessions_deleted,
        ),
        (
            "tapedeck_recordings_started_total",
            "Recordings started, rewind rings included.",
            counters.recordings_started,
        ),
        (
            "tapedeck_recordings_finalized_total",
            "Recordings finalized, once each however many callers stopped them.",
            counters.recordings_finalized,
        ),
        (
            "tapedeck_pooled_sessions_started_total",
            "Warm-pool sessions that became ready.",
            counters.pooled_sessions_started,
        ),
        (
            "tapedeck_pooled_sessions_evicted_total",
            "Warm-pool sessions ended to make room for a create that did not fit the pool.",
            counters.pooled_sessions_evicted,
        ),
    ];
    let mut text = String::new();
    for (name, help, value) in rows {
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_a_typed_prometheus_line() {
        let counters = EngineCounters {
            sessions_created: 3,
            sessions_deleted: 2,
            recordings_started: 5,
            recordings_finalized: 4,
            pooled_sessions_started: 1,
            pooled_sessions_evicted: 0,
        };
        let text = exposition(&counters);
        assert!(text.contains("# TYPE tapedeck_recordings_finalized_total counter\ntapedeck_recordings_finalized_total 4\n"));
        assert!(text.contains("\ntapedeck_pooled_sessions_evicted_total 0\n"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 6);
    }
}
