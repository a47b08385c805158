//! `GET /metrics` (also served as `/v1/metrics`): this node's metrics in Prometheus' text
//! exposition format, version 0.0.4, for an operator's Prometheus that scrapes every node with
//! an API key as its bearer token (`authorization: {credentials: <key>}` in a scrape config).
//!
//! Names follow Prometheus' conventions: `tapedeck_` first, the unit in the name (`_seconds`,
//! `_bytes`), `_total` on counters, and histograms as cumulative `_bucket{le=...}` lines with
//! `_sum` and `_count`.

use std::fmt::{Display, Write as _};
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tapedeck_engine::{EngineMetrics, HistogramSnapshot};
use tapedeck_store::NodeRecord;

use super::auth::{require_api_key, ApiKey, KeyHeader};
use super::error::answered_errors;
use crate::native::NativeError;
use crate::ApiState;

/// The media type of Prometheus' text format, version 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Longest a scrape waits for the fleet's heartbeats; past it they are left out, so a database
/// that hangs does not make the scrape time out (Prometheus waits 10 s by default).
const FLEET_READ_WAIT: Duration = Duration::from_secs(2);

/// `GET /metrics` at the root, behind a Bearer API key like `/v1`; a refusal is the native
/// API's `{code, message}`.
pub fn router(state: &ApiState) -> Router<ApiState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            ApiKey::new(state, KeyHeader::Bearer),
            require_api_key::<NativeError>,
        ))
}

/// This node's metrics in Prometheus' text format. The fleet's heartbeats come from the
/// database; when it does not answer they are left out and the rest is still served.
pub async fn metrics(State(state): State<ApiState>) -> Response {
    let engine = &state.engine;
    let nodes = match tokio::time::timeout(FLEET_READ_WAIT, engine.fleet_nodes()).await {
        Ok(Ok(nodes)) => Some(nodes),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "metrics without the fleet's heartbeats");
            None
        }
        Err(_) => {
            tracing::debug!("metrics without the fleet's heartbeats: the database is slow");
            None
        }
    };
    let text = exposition(&engine.metrics(), &answered_errors(), nodes.as_deref());
    ([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], text).into_response()
}

/// Renders every metric: the engine's, the errors answered by kind, and each fleet node's
/// heartbeat age when `nodes` is known.
fn exposition(
    metrics: &EngineMetrics,
    errors: &[(&str, u64)],
    nodes: Option<&[NodeRecord]>,
) -> String {
    let c = &metrics.counters;
    let mut out = Exposition::default();
    out.counter(
        "tapedeck_sessions_created_total",
        "Sessions handed to clients.",
        c.sessions_created,
    );
    out.counter(
        "tapedeck_sessions_deleted_total",
        "Sessions ended (deleted, expired, or their browser died).",
        c.sessions_deleted,
    );
    out.counter(
        "tapedeck_recordings_started_total",
        "Recordings started, rewind rings included.",
        c.recordings_started,
    );
    out.counter(
        "tapedeck_recordings_finalized_total",
        "Recordings finalized, once each however many callers stopped them.",
        c.recordings_finalized,
    );
    out.counter(
        "tapedeck_pooled_sessions_started_total",
        "Warm-pool sessions that became ready.",
        c.pooled_sessions_started,
    );
    out.counter(
        "tapedeck_pooled_sessions_evicted_total",
        "Warm-pool sessions ended to make room for a create that did not fit the pool.",
        c.pooled_sessions_evicted,
    );
    out.counter(
        "tapedeck_proxy_requests_total",
        "HTTP requests the recording proxy relayed, recorded or not (WebSocket upgrades aside).",
        c.proxy_requests,
    );
    out.counter(
        "tapedeck_proxy_baselines_recorded_total",
        "Proxied exchanges stored as baselines of a test record.",
        c.baselines_recorded,
    );
    out.family(
        "tapedeck_proxy_baselines_dropped_total",
        "counter",
        "Proxied exchanges admitted for recording but not stored: finished after their run \
         stopped, or refused by the database.",
    );
    for (reason, n) in [
        ("run_stopped", c.baselines_after_stop),
        ("not_stored", c.baselines_not_stored),
    ] {
        out.sample(
            "tapedeck_proxy_baselines_dropped_total",
            &[("reason", reason)],
            n,
        );
    }
    out.counter(
        "tapedeck_blob_store_written_bytes_total",
        "Bytes written to the blob store: segments, videos, screenshots and extracts.",
        c.blob_bytes_written,
    );
    out.family(
        "tapedeck_errors_total",
        "counter",
        "Errors answered to API clients, by kind (kinds seen since the start).",
    );
    for &(kind, n) in errors {
        out.sample("tapedeck_errors_total", &[("kind", kind)], n);
    }
    out.family(
        "tapedeck_sessions",
        "gauge",
        "Sessions on this node by state: running (a client's) or pooled (warm, ready).",
    );
    for (state, n) in [
        ("running", metrics.sessions_running),
        ("pooled", metrics.sessions_pooled),
    ] {
        out.sample("tapedeck_sessions", &[("state", state)], n);
    }
    out.family(
        "tapedeck_recordings_in_flight",
        "gauge",
        "Recordings capturing or being finalized on this node, rewind rings included.",
    );
    out.sample(
        "tapedeck_recordings_in_flight",
        &[],
        metrics.recordings_in_flight,
    );
    out.histogram(
        "tapedeck_recording_stop_duration_seconds",
        "Seconds from a recording's stop (asked for or a limit) to its finalized video.",
        &metrics.recording_stops,
    );
    out.counter(
        "tapedeck_forwarded_requests_total",
        "API requests this node relayed to the fleet node serving them.",
        metrics.forwarded_requests.count,
    );
    out.histogram(
        "tapedeck_forwarded_request_duration_seconds",
        "Seconds an API request relayed to another node took, until its answer's head.",
        &metrics.forwarded_requests,
    );
    if let Some(nodes) = nodes {
        out.family(
            "tapedeck_node_heartbeat_age_seconds",
            "gauge",
            "Seconds since each fleet node's last heartbeat, on the database's clock (lost \
             nodes included).",
        );
        for node in nodes {
            out.sample(
                "tapedeck_node_heartbeat_age_seconds",
                &[("node", &node.owner.node)],
                node.heartbeat_age.as_secs_f64(),
            );
        }
    }
    out.0
}

/// Prometheus' text format being written: families one after another, each a `# HELP` and a
/// `# TYPE` line followed by its samples.
#[derive(Default)]
struct Exposition(String);

impl Exposition {
    /// Starts the family `name` of type `kind` (`counter`, `gauge`, `histogram`).
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        // Writing to a String cannot fail.
        let _ = write!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    /// One sample of the current family: `name{labels} value`.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(label, value)| format!("{label}=\"{}\"", escape_label(value)))
                .collect();
            let _ = write!(self.0, "{{{}}}", pairs.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// A counter without labels.
    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.family(name, "counter", help);
        self.sample(name, &[], value);
    }

    /// A histogram: cumulative `_bucket` lines up to `+Inf`, then `_sum` and `_count`.
    fn histogram(&mut self, name: &str, help: &str, histogram: &HistogramSnapshot) {
        self.family(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        for (bound, n) in &histogram.buckets {
            self.sample(&bucket, &[("le", &bound.to_string())], n);
        }
        self.sample(&bucket, &[("le", "+Inf")], histogram.count);
        self.sample(&format!("{name}_sum"), &[], histogram.sum_seconds);
        self.sample(&format!("{name}_count"), &[], histogram.count);
    }
}

/// `value` as a label value may hold it: backslash, double quote and newline escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use tapedeck_engine::EngineCounters;
    use tapedeck_store::NodeOwner;

    use super::*;

    fn metrics() -> EngineMetrics {
        let histogram = |count| HistogramSnapshot {
            buckets: vec![(0.05, 0), (0.5, count - 1), (30.0, count - 1)],
            sum_seconds: 31.25,
            count,
        };
        EngineMetrics {
            counters: EngineCounters {
                sessions_created: 3,
                sessions_deleted: 2,
                recordings_started: 5,
                recordings_finalized: 4,
                pooled_sessions_started: 1,
                pooled_sessions_evicted: 0,
                proxy_requests: 9,
                baselines_recorded: 7,
                baselines_after_stop: 1,
                baselines_not_stored: 0,
                blob_bytes_written: 123_456,
            },
            sessions_running: 1,
            sessions_pooled: 2,
            recordings_in_flight: 1,
            recording_stops: histogram(4),
            forwarded_requests: histogram(6),
        }
    }

    fn node(id: &str, age_ms: u64) -> NodeRecord {
        NodeRecord {
            owner: NodeOwner::starting(id),
            internal_url: "http://10.0.0.1:8080".into(),
            capacity: 4,
            active_sessions: 0,
            draining: false,
            lost: false,
            heartbeat_age: Duration::from_millis(age_ms),
        }
    }

    /// Every line is a comment or `name[{labels}] value` with a number for a value, and every
    /// sample belongs to the family its `# TYPE` line announced just before.
    fn assert_well_formed(text: &str) {
        let mut family = String::new();
        for line in text.lines() {
            if let Some(typed) = line.strip_prefix("# TYPE ") {
                let (name, kind) = typed.split_once(' ').expect("name and type");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                family = name.to_owned();
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("a value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let name = series.split('{').next().unwrap_or_default();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| *base == family)
                .unwrap_or(name);
            assert_eq!(base, family, "{line}");
            assert!(series.matches('{').count() == series.matches('}').count());
        }
    }

    #[test]
    fn counters_gauges_and_histograms_are_typed_prometheus_families() {
        let errors = [("not_found", 2), ("unauthorized", 1)];
        let nodes = [node("a", 1500), node("b", 12_250)];
        let text = exposition(&metrics(), &errors, Some(&nodes));
        assert_well_formed(&text);
        for expected in [
            "# TYPE tapedeck_recordings_finalized_total counter\ntapedeck_recordings_finalized_total 4\n",
            "\ntapedeck_proxy_baselines_dropped_total{reason=\"run_stopped\"} 1\ntapedeck_proxy_baselines_dropped_total{reason=\"not_stored\"} 0\n",
            "\ntapedeck_blob_store_written_bytes_total 123456\n",
            "# TYPE tapedeck_errors_total counter\ntapedeck_errors_total{kind=\"not_found\"} 2\ntapedeck_errors_total{kind=\"unauthorized\"} 1\n",
            "# TYPE tapedeck_sessions gauge\ntapedeck_sessions{state=\"running\"} 1\ntapedeck_sessions{state=\"pooled\"} 2\n",
            "\ntapedeck_recordings_in_flight 1\n",
            "# TYPE tapedeck_recording_stop_duration_seconds histogram\n\
             tapedeck_recording_stop_duration_seconds_bucket{le=\"0.05\"} 0\n\
             tapedeck_recording_stop_duration_seconds_bucket{le=\"0.5\"} 3\n\
             tapedeck_recording_stop_duration_seconds_bucket{le=\"30\"} 3\n\
             tapedeck_recording_stop_duration_seconds_bucket{le=\"+Inf\"} 4\n\
             tapedeck_recording_stop_duration_seconds_sum 31.25\n\
             tapedeck_recording_stop_duration_seconds_count 4\n",
            "\ntapedeck_forwarded_requests_total 6\n",
            "\ntapedeck_forwarded_request_duration_seconds_count 6\n",
            "# TYPE tapedeck_node_heartbeat_age_seconds gauge\n\
             tapedeck_node_heartbeat_age_seconds{node=\"a\"} 1.5\n\
             tapedeck_node_heartbeat_age_seconds{node=\"b\"} 12.25\n",
        ] {
            assert!(text.contains(expected), "{expected}\nnot in:\n{text}");
        }
    }

    #[test]
    fn without_the_fleet_the_heartbeats_are_left_out_and_the_rest_served() {
        let text = exposition(&metrics(), &[], None);
        assert_well_formed(&text);
        assert!(!text.contains("tapedeck_node_heartbeat_age_seconds"));
        assert!(text.contains("# TYPE tapedeck_errors_total counter\n# HELP"));
        assert!(text.contains("\ntapedeck_sessions_created_total 3\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let text = exposition(&metrics(), &[], Some(&[node("rack \"7\"\\a\nb", 0)]));
        assert!(
            text.contains("{node=\"rack \\\"7\\\"\\\\a\\nb\"} 0\n"),
            "{text}"
        );
        assert_well_formed(&text);
    }
}
