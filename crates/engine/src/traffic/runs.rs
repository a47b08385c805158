//! Test runs: create (record into a new test record), copy (replay an existing one), stop.

use tapedeck_core::{ConflictReason, EngineError, TestRecord, TestRun, TestRunSpec, TestRunState};
use time::OffsetDateTime;

use tapedeck_store::meta::Page;

use super::{ActiveRecording, HostPattern};
use crate::{lock, Engine};

/// Most test runs or records in one page of a list.
const MAX_PAGE: u32 = 100;

/// A new run that records into a new test record.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The run's settings.
    pub spec: TestRunSpec,
    /// The new record's name; the run's name when absent.
    pub test_record_name: Option<String>,
}

/// A new run that replays an existing, stopped, non-empty test record.
#[derive(Debug, Clone)]
pub struct CopyRequest {
    /// The run's settings.
    pub spec: TestRunSpec,
    /// The record to replay.
    pub test_record_id: i64,
}

impl Engine {
    /// Creates a run in `project` that records from now on, into a new test record; the
    /// project's run still active is interrupted (one active run per project). Requests through
    /// the proxy with a key of `project` record into it (or, for the default project, without
    /// a key from loopback).
    ///
    /// Errors: `InvalidInput` for an empty name, an inactivity timeout out of range, a bad
    /// host pattern, or a test policy `tapedeck_attack` refuses.
    pub async fn create_test_run(
        &self,
        project: &str,
        request: CreateRequest,
    ) -> Result<TestRun, EngineError> {
        let spec = request.spec;
        if spec.name.trim().is_empty() {
            return Err(EngineError::InvalidInput("name is required".into()));
        }
        if !TestRunSpec::INACTIVITY_RANGE.contains(&spec.inactivity_timeout_secs) {
            return Err(EngineError::InvalidInput(format!(
                "inactivity_timeout must be in {}..={} seconds",
                TestRunSpec::INACTIVITY_RANGE.start(),
                TestRunSpec::INACTIVITY_RANGE.end()
            )));
        }
        if let Some(cap) = spec.body_cap_kib {
            if !TestRunSpec::BODY_CAP_KIB_RANGE.contains(&cap) {
                return Err(EngineError::InvalidInput(format!(
                    "body_cap_kib must be in {}..={} KiB",
                    TestRunSpec::BODY_CAP_KIB_RANGE.start(),
                    TestRunSpec::BODY_CAP_KIB_RANGE.end()
                )));
            }
        }
        let hosts = HostPattern::parse(&spec.allowed_hosts)?;
        check_policy(&spec)?;
        let transition = self.inner.traffic.transitions.lock().await;
        self.interrupt_active_runs(project).await?;
        let now = OffsetDateTime::now_utc();
        let record_name = request
            .test_record_name
            .unwrap_or_else(|| spec.name.clone());
        let record = self
            .inner
            .meta
            .create_test_record(project, &record_name, now)
            .await?;
        let mut run = new_run(record.id, spec, true, now);
        run.id = self.inner.meta.insert_test_run(&run).await?;
        lock(&self.inner.traffic.active)
            .insert(project.to_owned(), ActiveRecording::new(&run, hosts));
        drop(transition);
        // Once this answers, every node's proxy records into the run.
        self.wait_for_fleet_traffic().await;
        tracing::info!(
            project,
            test_run = run.id,
            test_record = record.id,
            "recording baselines for TestRun#{}",
            run.id
        );
        Ok(run)
    }

    /// Creates a run in `project` that replays one of its test records at once; the project's
    /// run still active is interrupted.
    ///
    /// Errors: `InvalidInput` for an empty name or a bad test policy, `NotFound` when
    /// `project` has no such record,
    /// `Conflict` (`TestRecordNotCopyable`) when it is empty or still recording.
    pub async fn copy_test_run(
        &self,
        project: &str,
        request: CopyRequest,
    ) -> Result<TestRun, EngineError> {
        if request.spec.name.trim().is_empty() {
            return Err(EngineError::InvalidInput("name is required".into()));
        }
        check_policy(&request.spec)?;
        let record_id = request.test_record_id;
        self.get_test_record(project, record_id).await?;
        let _transition = self.inner.traffic.transitions.lock().await;
        let recording = self.recording_run_of(project, record_id).is_some();
        let not_copyable = |why: &str| EngineError::Conflict {
            reason: ConflictReason::TestRecordNotCopyable,
            message: format!(
                "test record {record_id} {why}; only a stopped, non-empty one can be copied"
            ),
        };
        if recording {
            return Err(not_copyable("is still recording"));
        }
        if self.inner.meta.count_baselines(record_id).await? == 0 {
            return Err(not_copyable(
                "has no baselines: nothing was recorded into it",
            ));
        }
        self.interrupt_active_runs(project).await?;
        let mut run = new_run(record_id, request.spec, false, OffsetDateTime::now_utc());
        run.id = self.inner.meta.insert_test_run(&run).await?;
        tokio::spawn(self.clone().replay_test_run(run.clone()));
        Ok(run)
    }

    /// `project`'s run recording into `test_record_id` now, if any; never another project's.
    pub fn recording_run_of(&self, project: &str, test_record_id: i64) -> Option<i64> {
        lock(&self.inner.traffic.active)
            .get(project)
            .filter(|a| a.ticket.test_record_id == test_record_id)
            .map(|a| a.ticket.test_run_id)
    }

    /// True while any project's run records into `test_record_id`.
    pub(crate) fn is_recording_into(&self, test_record_id: i64) -> bool {
        lock(&self.inner.traffic.active)
            .values()
            .any(|a| a.ticket.test_record_id == test_record_id)
    }

    /// One of `project`'s test runs (those of its test records) by id.
    ///
    /// Errors: `NotFound` when `project` has no such run, whether or not another has.
    pub async fn get_test_run(&self, project: &str, id: i64) -> Result<TestRun, EngineError> {
        let run = self.run_by_id(id).await?;
        match self.inner.meta.get_test_record(run.test_record_id).await? {
            Some(record) if record.project == project => Ok(run),
            _ => Err(EngineError::not_found("test run", id.to_string())),
        }
    }

    /// A test run by id, whoever owns it.
    pub(crate) async fn run_by_id(&self, id: i64) -> Result<TestRun, EngineError> {
        self.inner
            .meta
            .get_test_run(id)
            .await?
            .ok_or_else(|| EngineError::not_found("test run", id.to_string()))
    }

    /// One of `project`'s test records by id.
    ///
    /// Errors: `NotFound` when `project` has no such record, whether or not another has.
    pub async fn get_test_record(&self, project: &str, id: i64) -> Result<TestRecord, EngineError> {
        self.inner
            .meta
            .get_test_record(id)
            .await?
            .filter(|record| record.project == project)
            .ok_or_else(|| EngineError::not_found("test record", id.to_string()))
    }

    /// `project`'s test records, newest first, `limit` (at most 100) from `offset`.
    pub async fn list_test_records(
        &self,
        project: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Page<TestRecord>, EngineError> {
        let limit = limit.clamp(1, MAX_PAGE);
        Ok(self
            .inner
            .meta
            .list_test_records(project, limit, offset)
            .await?)
    }

    /// The test runs of `project`'s records, newest first, `limit` (at most 100) from
    /// `offset`.
    pub async fn list_test_runs(
        &self,
        project: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Page<TestRun>, EngineError> {
        let limit = limit.clamp(1, MAX_PAGE);
        Ok(self
            .inner
            .meta
            .list_test_runs(project, limit, offset)
            .await?)
    }

    /// How many baselines a record holds.
    pub async fn count_baselines(&self, test_record_id: i64) -> Result<u64, EngineError> {
        Ok(self.inner.meta.count_baselines(test_record_id).await?)
    }

    /// Stops one of `project`'s runs recording; see [`Engine::end_recording_phase`].
    ///
    /// Errors: `NotFound` when `project` has no such run.
    pub async fn stop_test_run(&self, project: &str, id: i64) -> Result<TestRun, EngineError> {
        self.get_test_run(project, id).await?;
        self.end_recording_phase(id).await
    }

    /// Stops a run recording, whoever owns it: nothing that starts from now on is recorded, and
    /// every exchange that finished before is stored when this returns (docs/fast.md, "Stopping
    /// a recording"). Then the run replays its record. Stopping a run that no longer records
    /// returns it as it is.
    pub(crate) async fn end_recording_phase(&self, id: i64) -> Result<TestRun, EngineError> {
        let transition = self.inner.traffic.transitions.lock().await;
        let mut run = self.run_by_id(id).await?;
        if !run.recording {
            return Ok(run);
        }
        lock(&self.inner.traffic.active).retain(|_, a| a.ticket.test_run_id != id);
        self.flush_traffic().await;
        if !self.inner.meta.end_recording_phase(id).await? {
            // Another node of the fleet stopped it first, and runs its testing phase.
            return self.run_by_id(id).await;
        }
        run.recording = false;
        drop(transition);
        // What the other nodes' proxies admitted before the stop is stored before it answers.
        self.wait_for_fleet_traffic().await;
        tracing::info!(test_run = id, "recording stopped");
        tokio::spawn(self.clone().replay_test_run(run.clone()));
        Ok(run)
    }

    /// Marks a project's running runs interrupted before its new run starts (one active run
    /// per project).
    pub(crate) async fn interrupt_active_runs(&self, project: &str) -> Result<(), EngineError> {
        let had_recording = lock(&self.inner.traffic.active).remove(project).is_some();
        if had_recording {
            self.flush_traffic().await;
        }
        for run in self.inner.meta.running_test_runs(Some(project)).await? {
            self.interrupt_run(run).await?;
        }
        Ok(())
    }

    /// Ends `run` as `interrupted`, now.
    pub(crate) async fn interrupt_run(&self, mut run: TestRun) -> Result<(), EngineError> {
        run.state = TestRunState::Interrupted;
        run.recording = false;
        run.end_time = Some(OffsetDateTime::now_utc());
        self.inner.meta.update_test_run(&run).await?;
        tracing::info!(test_run = run.id, "test run interrupted");
        Ok(())
    }
}

/// Refuses a test policy that would not parse when the testing phase starts.
fn check_policy(spec: &TestRunSpec) -> Result<(), EngineError> {
    match spec
        .policy
        .as_deref()
        .map(tapedeck_attack::policy::Policy::from_json)
    {
        Some(Err(e)) => Err(EngineError::InvalidInput(format!("policy: {e}"))),
        _ => Ok(()),
    }
}

fn new_run(
    test_record_id: i64,
    spec: TestRunSpec,
    recording: bool,
    now: OffsetDateTime,
) -> TestRun {
    TestRun {
        id: 0,
        test_record_id,
        spec,
        state: TestRunState::Running,
        recording,
        passed_count: 0,
        failed_count: 0,
        waiting_count: 0,
        tech_failed_count: 0,
        sent_requests_count: 0,
        failures: Vec::new(),
        problem: None,
        start_time: now,
        end_time: None,
    }
}
