//! The inactivity stop, on a real engine over SQLite: FAST's shortest timeout is 300 s, so the
//! tests age the active run's last activity instead of waiting for it.

use std::path::Path;
use std::time::{Duration, Instant};

use tapedeck_core::traffic::Principal;
use tapedeck_core::{Baseline, TestRun, TestRunSpec};
use time::OffsetDateTime;

use super::CreateRequest;
use crate::test_support::PROJECT;
use crate::{lock, test_support, Engine};

const TIMEOUT_SECS: u64 = 300;

async fn engine(dir: &Path) -> Engine {
    let engine = test_support::engine(dir).await;
    tokio::spawn(engine.clone().run_traffic_writer());
    engine
}

async fn start_run(engine: &Engine) -> TestRun {
    let spec = TestRunSpec {
        name: "idle".into(),
        inactivity_timeout_secs: TIMEOUT_SECS,
        ..TestRunSpec::default()
    };
    engine
        .create_test_run(
            PROJECT,
            CreateRequest {
                spec,
                test_record_name: None,
            },
        )
        .await
        .expect("create run")
}

/// A key of the project the runs belong to.
fn key() -> Principal {
    Principal::Key {
        key_id: "k".into(),
        project: PROJECT.into(),
    }
}

/// Pretends the active run last saw a request `idle` ago.
fn age_active_run(engine: &Engine, idle: Duration) {
    let mut active = lock(&engine.inner.traffic.active);
    let run = active.get_mut(PROJECT).expect("a run is recording");
    run.last_activity = Instant::now() - idle;
}

/// What the proxy does for a request to an allowed host: submit it and wait until it is stored.
async fn record_request(engine: &Engine, run: &TestRun) {
    let slot = engine
        .traffic_sink()
        .admit(Some(&key()), "127.0.0.1")
        .await
        .expect("the run records every host");
    let baseline = Baseline {
        id: 0,
        test_record_id: run.test_record_id,
        started_at: OffsetDateTime::now_utc(),
        duration_ms: 1,
        method: "GET".into(),
        // Nothing listens on the discard port: the replay after the stop fails quickly.
        url: "http://127.0.0.1:9/page".into(),
        request_headers: Vec::new(),
        request_body: Vec::new(),
        request_truncated: false,
        status: 200,
        response_headers: Vec::new(),
        response_body: b"ok".to_vec(),
        response_truncated: false,
    };
    slot.submit(baseline);
    engine.flush_traffic().await;
}

async fn is_recording(engine: &Engine, run: &TestRun) -> bool {
    engine
        .get_test_run(PROJECT, run.id)
        .await
        .expect("run exists")
        .recording
}

#[tokio::test]
async fn a_stored_request_restarts_the_idle_clock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine(dir.path()).await;
    let run = start_run(&engine).await;
    age_active_run(&engine, Duration::from_secs(TIMEOUT_SECS - 1));
    record_request(&engine, &run).await;
    // Past the timeout counted from before the request; the writer checks once a second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(is_recording(&engine, &run).await);
    assert_eq!(
        engine.count_baselines(run.test_record_id).await.ok(),
        Some(1)
    );
}

#[tokio::test]
async fn a_run_idle_past_its_timeout_stops_recording_and_keeps_its_baselines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = engine(dir.path()).await;
    let run = start_run(&engine).await;
    record_request(&engine, &run).await;
    age_active_run(&engine, Duration::from_secs(TIMEOUT_SECS + 1));

    let deadline = Instant::now() + Duration::from_secs(5);
    while is_recording(&engine, &run).await {
        assert!(Instant::now() < deadline, "the idle run is still recording");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(engine
        .recording_run_of(PROJECT, run.test_record_id)
        .is_none());
    assert!(engine
        .traffic_sink()
        .admit(Some(&key()), "127.0.0.1")
        .await
        .is_none());
    assert_eq!(
        engine.count_baselines(run.test_record_id).await.ok(),
        Some(1)
    );
}
