//! Traffic recording (FAST's model): at most one test run of a project records at a time; the
//! proxy asks which requests to keep ([`sink`]), and a single writer task appends them to their
//! test record.

pub(crate) mod canary;
mod exchanges;
mod findings;
mod fleet_sync;
mod hosts;
#[cfg(test)]
mod inactivity_tests;
mod pages;
mod runs;
mod security;
mod sink;
mod testing;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tapedeck_core::traffic::TrafficSink;
use tapedeck_core::{Baseline, TestRun};
use tokio::sync::{mpsc, oneshot};

pub use exchanges::parse_status;
pub use findings::{Change, VulnerabilityChanges};
pub use hosts::HostPattern;
pub use pages::BaselinePages;
pub use runs::{CopyRequest, CreateRequest};

use crate::counters::Counters;
use crate::{lock, Engine};

/// Most baselines written in one transaction.
const WRITE_BATCH: usize = 256;
/// Room in the writer's queue: recorded exchanges in flight plus those waiting to be stored.
/// When it is full the proxy holds new recorded requests until the writer catches up.
const WRITER_CAPACITY: usize = 1024;

/// Which run and record an admitted request is recorded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordTicket {
    /// The recording test run.
    pub(crate) test_run_id: i64,
    /// Its test record.
    pub(crate) test_record_id: i64,
    /// The run's own body cap in bytes, if it set one.
    pub(crate) body_cap: Option<usize>,
}

/// A project's run that is recording now.
pub(crate) struct ActiveRecording {
    ticket: RecordTicket,
    hosts: HostPattern,
    inactivity_timeout: Duration,
    /// When this node, or (as of the last sync) any node of the fleet, last saw its traffic.
    last_activity: Instant,
    /// When this node last told the fleet about its traffic for it.
    synced_at: Instant,
}

impl ActiveRecording {
    /// `run` recording from now on, for requests to `hosts`.
    fn new(run: &TestRun, hosts: HostPattern) -> Self {
        let now = Instant::now();
        Self {
            ticket: RecordTicket {
                test_run_id: run.id,
                test_record_id: run.test_record_id,
                body_cap: run
                    .spec
                    .body_cap_kib
                    .and_then(|kib| usize::try_from(kib * 1024).ok()),
            },
            hosts,
            inactivity_timeout: Duration::from_secs(run.spec.inactivity_timeout_secs),
            last_activity: now,
            synced_at: now,
        }
    }
}

/// Messages to the writer, processed in order.
pub(crate) enum WriterMessage {
    /// A finished exchange, admitted while its run recorded: it is stored.
    Baseline(Baseline),
    /// Answers once every message sent before it is processed.
    Flush(oneshot::Sender<()>),
}

/// Traffic state shared by the proxy's sink, the writer and the API.
pub(crate) struct TrafficState {
    /// Each project's recording run, by project.
    active: Mutex<HashMap<String, ActiveRecording>>,
    writer_tx: mpsc::Sender<WriterMessage>,
    writer_rx: Mutex<Option<mpsc::Receiver<WriterMessage>>>,
    /// Serializes run transitions (create, copy, stop), so two never interleave.
    transitions: tokio::sync::Mutex<()>,
}

impl Default for TrafficState {
    fn default() -> Self {
        let (writer_tx, writer_rx) = mpsc::channel(WRITER_CAPACITY);
        Self {
            active: Mutex::default(),
            writer_tx,
            writer_rx: Mutex::new(Some(writer_rx)),
            transitions: tokio::sync::Mutex::new(()),
        }
    }
}

impl Engine {
    /// The sink to hand the recording proxy; it accepts every active API key as the proxy's
    /// credentials.
    pub fn traffic_sink(&self) -> Arc<dyn TrafficSink> {
        Arc::new(sink::EngineSink::new(self.clone()))
    }

    /// Runs forever: appends baselines in batches, answers flushes, and stops recording runs
    /// idle past their inactivity timeout.
    pub async fn run_traffic_writer(self) {
        let Some(mut rx) = lock(&self.inner.traffic.writer_rx).take() else {
            tracing::error!("the traffic writer is already running");
            return;
        };
        let mut idle_check = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                message = rx.recv() => {
                    let Some(first) = message else { return };
                    let mut batch = vec![first];
                    while batch.len() < WRITE_BATCH {
                        match rx.try_recv() {
                            Ok(message) => batch.push(message),
                            Err(_) => break,
                        }
                    }
                    self.write_batch(batch).await;
                }
                _ = idle_check.tick() => self.stop_idle_recordings(),
            }
        }
    }

    async fn write_batch(&self, batch: Vec<WriterMessage>) {
        let mut baselines = Vec::new();
        let mut flushes = Vec::new();
        for message in batch {
            match message {
                WriterMessage::Baseline(baseline) => baselines.push(baseline),
                WriterMessage::Flush(done) => flushes.push(done),
            }
        }
        if !baselines.is_empty() {
            let counters = &self.inner.counters;
            let stored = baselines.len() as u64;
            match self.inner.meta.insert_baselines(&baselines).await {
                Ok(()) => Counters::add(&counters.baselines_recorded, stored),
                Err(e) => {
                    tracing::error!(error = %e, lost = stored, "could not store baselines");
                    Counters::add(&counters.baselines_not_stored, stored);
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }

    /// Waits until every exchange submitted so far is stored, however deep the queue is.
    async fn flush_traffic(&self) {
        let (done, wait) = oneshot::channel();
        if self
            .inner
            .traffic
            .writer_tx
            .send(WriterMessage::Flush(done))
            .await
            .is_ok()
        {
            let _ = wait.await;
        }
    }

    fn stop_idle_recordings(&self) {
        let idle_runs: Vec<i64> = lock(&self.inner.traffic.active)
            .values()
            .filter(|a| a.last_activity.elapsed() > a.inactivity_timeout)
            .map(|a| a.ticket.test_run_id)
            .collect();
        for id in idle_runs {
            tracing::info!(
                test_run = id,
                "recording stopped after its inactivity timeout"
            );
            // A stop flushes through the writer, so it must not run on the writer's own task.
            let engine = self.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.end_recording_phase(id).await {
                    tracing::warn!(test_run = id, error = %e, "could not stop an idle recording");
                }
            });
        }
    }
}
