//! The engine as the proxy's [`TrafficSink`]: who a proxy key is, which run records a request,
//! and the slot an admitted exchange holds in the writer's queue until it is handed over.

use std::net::SocketAddr;

use tapedeck_core::api_key::DEFAULT_PROJECT;
use tapedeck_core::traffic::{Admission, Authentication, Principal, RecordSlot, TrafficSink};
use tapedeck_core::Baseline;
use tokio::sync::mpsc::OwnedPermit;

use super::{RecordTicket, WriterMessage};
use crate::counters::Counters;
use crate::{lock, Engine};

/// The engine, as the proxy sees it.
pub(super) struct EngineSink {
    engine: Engine,
}

impl EngineSink {
    pub(super) fn new(engine: Engine) -> Self {
        Self { engine }
    }

    /// The ticket of the run recording `host` for `principal`'s project now, if any: a key
    /// records into its project's run, a loopback client without one into the default
    /// project's.
    fn ticket(&self, principal: Option<&Principal>, host: &str) -> Option<RecordTicket> {
        let project = principal.map_or(DEFAULT_PROJECT, Principal::project);
        let active = lock(&self.engine.inner.traffic.active);
        let run = active.get(project)?;
        run.hosts.matches(host).then_some(run.ticket)
    }
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

    fn admit<'a>(&'a self, principal: Option<&'a Principal>, host: &'a str) -> Admission<'a> {
        // The proxy asks about every request it relays, so each is counted here once.
        Counters::bump(&self.engine.inner.counters.proxy_requests);
        Box::pin(async move {
            let ticket = self.ticket(principal, host)?;
            // Waits while the queue is full; fails only once the engine is gone.
            let permit = self
                .engine
                .inner
                .traffic
                .writer_tx
                .clone()
                .reserve_owned()
                .await
                .ok()?;
            Some(Box::new(EngineSlot {
                engine: self.engine.clone(),
                ticket,
                permit,
            }) as Box<dyn RecordSlot>)
        })
    }

    fn own_endpoints(&self) -> Vec<SocketAddr> {
        self.engine.inner.own_endpoints.snapshot()
    }
}

/// An admitted exchange's reserved place in the writer's queue.
struct EngineSlot {
    engine: Engine,
    ticket: RecordTicket,
    permit: OwnedPermit<WriterMessage>,
}

impl RecordSlot for EngineSlot {
    fn test_record_id(&self) -> i64 {
        self.ticket.test_record_id
    }

    fn body_cap(&self) -> Option<usize> {
        self.ticket.body_cap
    }

    fn submit(self: Box<Self>, baseline: Baseline) {
        // Decided and queued under the lock a stop takes to end its run: a baseline accepted
        // here is queued before that stop's flush, so the stop waits for it; one that finds the
        // run stopped finished after the stop and is not part of the record.
        let mut active = lock(&self.engine.inner.traffic.active);
        match active.values_mut().find(|run| run.ticket == self.ticket) {
            Some(run) => {
                run.last_activity = std::time::Instant::now();
                self.permit.send(WriterMessage::Baseline(baseline));
            }
            None => {
                Counters::bump(&self.engine.inner.counters.baselines_after_stop);
                tracing::debug!(
                    // Without the query, which may carry credentials.
                    url = baseline.url.split('?').next().unwrap_or_default(),
                    "exchange finished after its run stopped"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tapedeck_core::{EngineError, TestRun, TestRunSpec, TestRunState};
    use time::OffsetDateTime;

    use super::*;
    use crate::test_support;
    use crate::traffic::CreateRequest;

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

    /// Which record `sink` admits a request to `host` from `principal` into, if any.
    async fn admitted(
        sink: &dyn TrafficSink,
        principal: Option<&Principal>,
        host: &str,
    ) -> Option<i64> {
        sink.admit(principal, host)
            .await
            .map(|slot| slot.test_record_id())
    }

    async fn start_run(engine: &Engine, project: &str) -> (TestRun, Option<i64>) {
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
        let record = Some(run.test_record_id);
        (run, record)
    }

    #[tokio::test]
    async fn each_project_records_into_its_own_run_and_loopback_into_the_default_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = test_support::engine(dir.path()).await;
        tokio::spawn(engine.clone().run_traffic_writer());
        let sink = engine.traffic_sink();
        assert_eq!(admitted(&*sink, None, "app.test").await, None);
        let (default_run, default_record) = start_run(&engine, DEFAULT_PROJECT).await;
        let (first_a, first_a_record) = start_run(&engine, "team-a").await;

        assert_eq!(
            admitted(&*sink, Some(&key_of("team-a")), "app.test").await,
            first_a_record
        );
        assert_eq!(admitted(&*sink, None, "www.app.test").await, default_record);
        assert_eq!(
            admitted(&*sink, Some(&key_of(DEFAULT_PROJECT)), "app.test").await,
            default_record
        );
        assert_eq!(
            admitted(&*sink, Some(&key_of("team-b")), "app.test").await,
            None
        );
        assert_eq!(admitted(&*sink, None, "other.test").await, None);

        // A project's new run replaces its own active run only.
        let (_, second_a_record) = start_run(&engine, "team-a").await;
        assert_eq!(
            admitted(&*sink, Some(&key_of("team-a")), "app.test").await,
            second_a_record
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
        assert_eq!(admitted(&*sink, None, "app.test").await, default_record);
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

    fn baseline(test_record_id: i64, path: &str) -> Baseline {
        Baseline {
            id: 0,
            test_record_id,
            started_at: OffsetDateTime::now_utc(),
            duration_ms: 1,
            method: "GET".into(),
            url: format!("http://app.test{path}"),
            request_headers: Vec::new(),
            request_body: Vec::new(),
            request_truncated: false,
            status: 200,
            response_headers: Vec::new(),
            response_body: Vec::new(),
            response_truncated: false,
        }
    }

    /// More exchanges than the writer's queue holds, handed over faster than it stores them:
    /// the stop that follows waits for every one, and one that outlives the stop is dropped.
    #[tokio::test]
    async fn a_stop_keeps_every_exchange_that_finished_before_it_however_deep_the_queue() {
        const EXCHANGES: usize = 3 * super::super::WRITER_CAPACITY;
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = test_support::engine(dir.path()).await;
        tokio::spawn(engine.clone().run_traffic_writer());
        let sink = engine.traffic_sink();
        let (run, _) = start_run(&engine, DEFAULT_PROJECT).await;
        for i in 0..EXCHANGES {
            let slot = sink.admit(None, "app.test").await.expect("admitted");
            slot.submit(baseline(run.test_record_id, &format!("/{i}")));
        }
        let outliving = sink.admit(None, "app.test").await.expect("admitted");
        engine
            .stop_test_run(DEFAULT_PROJECT, run.id)
            .await
            .expect("stop");
        let stored = engine
            .count_baselines(run.test_record_id)
            .await
            .expect("count");
        assert_eq!(stored, EXCHANGES as u64);
        outliving.submit(baseline(run.test_record_id, "/after-the-stop"));
        engine.flush_traffic().await;
        let record = engine
            .get_test_record(DEFAULT_PROJECT, run.test_record_id)
            .await
            .expect("record");
        let mut pages = engine.baseline_pages(&record);
        let mut stored = Vec::new();
        while let Some(page) = pages.next_page().await.expect("page") {
            stored.extend(page);
        }
        assert_eq!(stored.len(), EXCHANGES);
        let counted = engine.metrics().counters;
        assert_eq!(counted.proxy_requests, EXCHANGES as u64 + 1);
        assert_eq!(counted.baselines_recorded, EXCHANGES as u64);
        assert_eq!(counted.baselines_after_stop, 1);
        assert_eq!(counted.baselines_not_stored, 0);
        assert!(stored
            .iter()
            .enumerate()
            .all(|(i, b)| b.url == format!("http://app.test/{i}")));
    }
}
