//! What the engine measures, for operators (`/metrics`) and for tests that must tell "it
//! happened once" from "it happened twice" without reading logs: event counters, latency
//! histograms, and the gauges read from the engine's state when asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::lock;

/// Bucket bounds, in seconds, of a recording's stop (from the stop to the finalized video):
/// tens of milliseconds for a short recording on a local disk, up to half a minute for a long
/// one assembled in a slow bucket.
const STOP_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Bucket bounds, in seconds, of an API request relayed to another node: Prometheus' defaults,
/// from a loopback hop to a slow create.
const REQUEST_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Monotonic event counters, each only ever goes up, and latency histograms.
#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) sessions_created: AtomicU64,
    pub(crate) sessions_deleted: AtomicU64,
    pub(crate) recordings_started: AtomicU64,
    pub(crate) recordings_finalized: AtomicU64,
    pub(crate) pooled_sessions_started: AtomicU64,
    pub(crate) pooled_sessions_evicted: AtomicU64,
    pub(crate) proxy_requests: AtomicU64,
    pub(crate) baselines_recorded: AtomicU64,
    pub(crate) baselines_after_stop: AtomicU64,
    pub(crate) baselines_not_stored: AtomicU64,
    /// From a recording's stop (asked for or a limit) to its finalized video.
    pub(crate) recording_stops: Histogram,
    /// API requests relayed to the node that serves them.
    forwarded: Histogram,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            sessions_created: AtomicU64::default(),
            sessions_deleted: AtomicU64::default(),
            recordings_started: AtomicU64::default(),
            recordings_finalized: AtomicU64::default(),
            pooled_sessions_started: AtomicU64::default(),
            pooled_sessions_evicted: AtomicU64::default(),
            proxy_requests: AtomicU64::default(),
            baselines_recorded: AtomicU64::default(),
            baselines_after_stop: AtomicU64::default(),
            baselines_not_stored: AtomicU64::default(),
            recording_stops: Histogram::new(STOP_BUCKETS),
            forwarded: Histogram::new(REQUEST_BUCKETS),
        }
    }
}

impl Counters {
    /// Counts one more of `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        Self::add(counter, 1);
    }

    /// Counts `n` more of `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A copy of every counter now; `blob_bytes_written` is the blob store's own count.
    fn snapshot(&self, blob_bytes_written: u64) -> EngineCounters {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        EngineCounters {
            sessions_created: read(&self.sessions_created),
            sessions_deleted: read(&self.sessions_deleted),
            recordings_started: read(&self.recordings_started),
            recordings_finalized: read(&self.recordings_finalized),
            pooled_sessions_started: read(&self.pooled_sessions_started),
            pooled_sessions_evicted: read(&self.pooled_sessions_evicted),
            proxy_requests: read(&self.proxy_requests),
            baselines_recorded: read(&self.baselines_recorded),
            baselines_after_stop: read(&self.baselines_after_stop),
            baselines_not_stored: read(&self.baselines_not_stored),
            blob_bytes_written,
        }
    }
}

/// A histogram of durations: how many fell at or below each bound, their sum and their count.
#[derive(Debug)]
pub(crate) struct Histogram {
    /// Upper bounds in seconds, ascending.
    bounds: &'static [f64],
    observed: Mutex<Observed>,
}

/// What a [`Histogram`] has seen; one lock keeps the buckets, sum and count consistent.
#[derive(Debug, Default)]
struct Observed {
    /// Per bound, the observations at or below it (cumulative, as Prometheus reads them).
    at_or_below: Vec<u64>,
    sum: Duration,
    count: u64,
}

impl Histogram {
    /// An empty histogram with buckets up to each of `bounds` (seconds, ascending).
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            observed: Mutex::new(Observed {
                at_or_below: vec![0; bounds.len()],
                ..Observed::default()
            }),
        }
    }

    /// Counts one observation of `duration`.
    pub(crate) fn observe(&self, duration: Duration) {
        let secs = duration.as_secs_f64();
        let mut observed = lock(&self.observed);
        for (bound, n) in self.bounds.iter().zip(&mut observed.at_or_below) {
            if secs <= *bound {
                *n += 1;
            }
        }
        observed.sum = observed.sum.saturating_add(duration);
        observed.count += 1;
    }

    /// A copy of what it has seen.
    fn snapshot(&self) -> HistogramSnapshot {
        let observed = lock(&self.observed);
        HistogramSnapshot {
            buckets: self
                .bounds
                .iter()
                .copied()
                .zip(observed.at_or_below.iter().copied())
                .collect(),
            sum_seconds: observed.sum.as_secs_f64(),
            count: observed.count,
        }
    }
}

/// A histogram of durations as Prometheus reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Each bucket's upper bound in seconds, ascending, with how many observations were at or
    /// below it; the `+Inf` bucket is [`Self::count`].
    pub buckets: Vec<(f64, u64)>,
    /// The sum of the observations, in seconds.
    pub sum_seconds: f64,
    /// How many observations there were.
    pub count: u64,
}

/// What the engine has done since it started.
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
    /// HTTP requests the recording proxy relayed (those inside HTTPS tunnels included),
    /// recorded or not; WebSocket upgrades are not counted.
    pub proxy_requests: u64,
    /// Exchanges stored as baselines of a test record.
    pub baselines_recorded: u64,
    /// Exchanges admitted for recording that finished after their run stopped, and so are not
    /// part of its record.
    pub baselines_after_stop: u64,
    /// Exchanges lost because the database refused to store them.
    pub baselines_not_stored: u64,
    /// Bytes written to the blob store: segments, videos, screenshots and extracts.
    pub blob_bytes_written: u64,
}

/// Everything the engine measures, as one consistent read for a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineMetrics {
    /// Events since the engine started.
    pub counters: EngineCounters,
    /// Clients' sessions running on this node now.
    pub sessions_running: u64,
    /// Warm-pool sessions ready to be handed out now.
    pub sessions_pooled: u64,
    /// Recordings capturing or being finalized on this node now, rewind rings included.
    pub recordings_in_flight: u64,
    /// Seconds from each recording's stop to its finalized video.
    pub recording_stops: HistogramSnapshot,
    /// Seconds each API request relayed to another node took, answer included.
    pub forwarded_requests: HistogramSnapshot,
}

impl crate::Engine {
    /// Everything the engine measures, now.
    pub fn metrics(&self) -> EngineMetrics {
        let inner = &self.inner;
        let count = |n: usize| n as u64;
        EngineMetrics {
            counters: inner.counters.snapshot(inner.blobs.bytes_written()),
            sessions_running: count(lock(&inner.sessions).len()),
            sessions_pooled: count(self.pooled_sessions()),
            recordings_in_flight: count(lock(&inner.recordings).len()),
            recording_stops: inner.counters.recording_stops.snapshot(),
            forwarded_requests: inner.counters.forwarded.snapshot(),
        }
    }

    /// Counts one API request this node relayed to the node serving it, and how long it took
    /// until the answer's head came back; for the API's forwarding, which alone sees both.
    pub fn observe_forwarded(&self, took: Duration) {
        self.inner.counters.forwarded.observe(took);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_each_observation_in_every_bucket_at_or_above_it() {
        let histogram = Histogram::new(&[0.1, 1.0, 10.0]);
        for ms in [50, 100, 101, 900, 20_000] {
            histogram.observe(Duration::from_millis(ms));
        }
        let seen = histogram.snapshot();
        // 0.1 s falls in its own bucket (`le` is "less than or equal").
        assert_eq!(seen.buckets, vec![(0.1, 2), (1.0, 4), (10.0, 4)]);
        assert_eq!(seen.count, 5, "the 20 s one is only in +Inf");
        assert!(
            (seen.sum_seconds - 21.151).abs() < 1e-9,
            "{}",
            seen.sum_seconds
        );
    }

    #[test]
    fn an_empty_histogram_has_every_bucket_at_zero() {
        let seen = Histogram::new(STOP_BUCKETS).snapshot();
        assert_eq!(seen.buckets.len(), STOP_BUCKETS.len());
        assert!(seen.buckets.iter().all(|&(_, n)| n == 0));
        assert_eq!((seen.sum_seconds, seen.count), (0.0, 0));
    }

    #[test]
    fn bucket_bounds_ascend() {
        for bounds in [STOP_BUCKETS, REQUEST_BUCKETS] {
            assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
        }
    }
}
