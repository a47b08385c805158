//! Traffic recording (FAST's model): at most one test run records at a time; the proxy asks it
//! which requests to keep, and a single writer task appends them to its test record.

mod hosts;
#[cfg(test)]
mod inactivity_tests;
mod runs;
mod testing;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tapedeck_core::api_key::DEFAULT_PROJECT;
use tapedeck_core::traffic::{Authentication, Principal, RecordTicket, TrafficSink};
use tapedeck_core::Baseline;
use tokio::sync::{mpsc, oneshot};

pub use hosts::HostPattern;
pub use runs::{CopyRequest, CreateRequest};

use crate::{lock, Engine};

/// Most baselines written in one transaction.
const WRITE_BATCH: usize = 256;

/// The run that is recording now.
pub(crate) struct ActiveRecording {
    ticket: RecordTicket,
    hosts: HostPattern,
    inactivity_timeout: Duration,
    last_activity: Instant,
}

/// Messages to the writer, processed in order.
pub(crate) enum WriterMessage {
    /// A finished exchange.
    Baseline(RecordTicket, Baseline),
    /// Answers once every message sent before it is processed.
    Flush(oneshot::Sender<()>),
}

/// Traffic state shared by the proxy's sink, the writer and the API.
pub(crate) struct TrafficState {
    /// Each project's recording run, by project.
    active: Mutex<HashMap<String, ActiveRecording>>,
    writer_tx: mpsc::UnboundedSender<WriterMessage>,
    writer_rx: Mutex<Option<mpsc::UnboundedReceiver<WriterMessage>>>,
    /// Serializes run transitions (create, copy, stop), so two never interleave.
    transitions: tokio::sync::Mutex<()>,
}

impl Default for TrafficState {
    fn default() -> Self {
        let (writer_tx, writer_rx) = mpsc::unbounded_channel();
        Self {
            active: Mutex::default(),
            writer_tx,
            writer_rx: Mutex::new(Some(writer_rx)),
            transitions: tokio::sync::Mutex::new(()),
        }
    }
}

/// The engine as the proxy's [`TrafficSink`].
struct EngineSink {
    engine: Engine,
}

impl TrafficSink for EngineSink {
    fn authenticate<'a>(&'a self, api_key: &'a str) -> Authentication<'a> {
        Box::pin(async move {
            match self.engine.authenticate(api_key).await {
                Ok(key) => key.map(|key| Principal::Key {
                    key_id: key.id,
                    project: key.project,
                }),
                Err(e) => {
                    // The proxy answers 407; the cause is for the operator.
                    tracing::warn!(error = %e, "could not check a proxy client's API key");
                    None
                }
            }
        })
    }

    fn admit(&self, principal: Option<&Principal>, host: &str) -> Option<RecordTicket> {
        // A key records into its project's run; a loopback client without one, into the
        // default project's.
        let project = principal.map_or(DEFAULT_PROJECT, Principal::project);
        let active = lock(&self.engine.inner.traffic.active);
        let active = active.get(project)?;
        active.hosts.matches(host).then_some(active.ticket)
    }

    fn own_endpoints(&self) -> Vec<SocketAddr> {
        self.engine.inner.own_endpoints.snapshot()
    }

    fn submit(&self, ticket: RecordTicket, baseline: Baseline) {
        // The writer only stops with the engine; a send after that has nowhere to go.
        let _ = self
            .engine
            .inner
            .traffic
            .writer_tx
            .send(WriterMessage::Baseline(ticket, baseline));
    }
}

impl Engine {
    /// The sink to hand the recording proxy; it accepts every active API key as the proxy's
    /// credentials.
    pub fn traffic_sink(&self) -> Arc<dyn TrafficSink> {
        Arc::new(EngineSink {
            engine: self.clone(),
        })
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
        {
            let mut active = lock(&self.inner.traffic.active);
            for message in batch {
                match message {
                    // A run stopped since the request began: its stop has already flushed,
                    // so this exchange finished after the stop and is not part of the record.
                    WriterMessage::Baseline(ticket, baseline) => {
                        match active.values_mut().find(|run| run.ticket == ticket) {
                            Some(run) => {
                                run.last_activity = Instant::now();
                                baselines.push(baseline);
                            }
                            _ => {
                                tracing::debug!(
                                    // Without the query, which may carry credentials.
                                    url = baseline.url.split('?').next().unwrap_or_default(),
                                    "exchange finished after its run stopped"
                                )
                            }
                        }
                    }
                    WriterMessage::Flush(done) => flushes.push(done),
                }
            }
        }
        if !baselines.is_empty() {
            if let Err(e) = self.inner.meta.insert_baselines(&mut baselines).await {
                tracing::error!(error = %e, lost = baselines.len(), "could not store baselines");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }

    /// Waits until every exchange submitted so far is stored.
    async fn flush_traffic(&self) {
        let (done, wait) = oneshot::channel();
        if self
            .inner
            .traffic
            .writer_tx
            .send(WriterMessage::Flush(done))
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

#[cfg(test)]
mod sink_tests {
    use tapedeck_core::{EngineError, TestRun, TestRunSpec, TestRunState};

    use super::*;
    use crate::test_support;

    #[tokio::test]
    async fn the_sink_accepts_active_keys_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = test_support::engine(dir.path()).await;
        engine.adopt_admin_key("k1").await.expect("adopt");
        let sink = engine.traffic_sink();
        assert!(matches!(
            sink.authenticate("k1").await,
            Some(Principal::Key { project, .. }) if project == "default"
        ));
        for wrong in ["", "k", "k12", "K1"] {
            assert_eq!(sink.authenticate(wrong).await, None, "{wrong:?}");
        }
    }

    fn key_of(project: &str) -> Principal {
        Principal::Key {
            key_id: format!("key-of-{project}"),
            project: project.into(),
        }
    }

    async fn start_run(engine: &Engine, project: &str) -> (TestRun, Option<RecordTicket>) {
        let spec = TestRunSpec {
            name: format!("run of {project}"),
            allowed_hosts: ".app.test".into(),
            inactivity_timeout_secs: 300,
            ..TestRunSpec::default()
        };
        let request = CreateRequest {
            spec,
            test_record_name: None,
        };
        let run = engine
            .create_test_run(project, request)
            .await
            .expect("create run");
        let ticket = RecordTicket {
            test_run_id: run.id,
            test_record_id: run.test_record_id,
        };
        (run, Some(ticket))
    }

    #[tokio::test]
    async fn each_project_records_into_its_own_run_and_loopback_into_the_default_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = test_support::engine(dir.path()).await;
        tokio::spawn(engine.clone().run_traffic_writer());
        let sink = engine.traffic_sink();
        assert_eq!(sink.admit(None, "app.test"), None);
        let (default_run, default_ticket) = start_run(&engine, DEFAULT_PROJECT).await;
        let (first_a, first_a_ticket) = start_run(&engine, "team-a").await;

        assert_eq!(
            sink.admit(Some(&key_of("team-a")), "app.test"),
            first_a_ticket
        );
        assert_eq!(sink.admit(None, "www.app.test"), default_ticket);
        assert_eq!(
            sink.admit(Some(&key_of(DEFAULT_PROJECT)), "app.test"),
            default_ticket
        );
        assert_eq!(sink.admit(Some(&key_of("team-b")), "app.test"), None);
        assert_eq!(sink.admit(None, "other.test"), None);

        // A project's new run replaces its own active run only.
        let (_, second_a_ticket) = start_run(&engine, "team-a").await;
        assert_eq!(
            sink.admit(Some(&key_of("team-a")), "app.test"),
            second_a_ticket
        );
        let first_a = engine
            .get_test_run("team-a", first_a.id)
            .await
            .expect("run");
        assert_eq!(first_a.state, TestRunState::Interrupted);
        let default_run = engine
            .get_test_run(DEFAULT_PROJECT, default_run.id)
            .await
            .expect("run");
        assert!(default_run.recording);

        // Another project's run and record are not found, and cannot be stopped.
        for other in ["team-b", DEFAULT_PROJECT] {
            assert!(matches!(
                engine.get_test_run(other, first_a.id).await,
                Err(EngineError::NotFound { .. })
            ));
            assert!(matches!(
                engine.get_test_record(other, first_a.test_record_id).await,
                Err(EngineError::NotFound { .. })
            ));
        }
        assert!(matches!(
            engine.stop_test_run("team-b", default_run.id).await,
            Err(EngineError::NotFound { .. })
        ));
        assert_eq!(sink.admit(None, "app.test"), default_ticket);
    }

    #[tokio::test]
    async fn own_endpoints_are_the_claimed_devtools_addresses() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = test_support::engine(dir.path()).await;
        let sink = engine.traffic_sink();
        let devtools: SocketAddr = "127.0.0.1:40123".parse().expect("address");
        let claim = engine.inner.own_endpoints.claim(devtools);
        assert_eq!(sink.own_endpoints(), vec![devtools]);
        drop(claim);
        assert!(sink.own_endpoints().is_empty());
    }
}
