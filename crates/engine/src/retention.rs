//! Deleting what was recorded: one recording or test record on request, and everything older
//! than the retention period (`--retention-days`) on a schedule.

use std::time::Duration;

use tapedeck_core::{EngineError, Recording, RecordingState};
use tapedeck_store::StorageKey;
use time::OffsetDateTime;

use crate::layout::parts_prefix;
use crate::{lock, Engine};

/// How often retention looks for expired recordings and test records.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Rows deleted per metadata query while sweeping.
const SWEEP_BATCH: u32 = 100;

impl Engine {
    /// Deletes one of `project`'s recordings: its MP4, any segments left of it, then its
    /// metadata. Its presigned URLs answer 404 from then on.
    ///
    /// Errors: `NotFound` when `project` has no such recording, `Conflict` while it still
    /// captures or finalizes (stop it first).
    pub async fn delete_recording(&self, project: &str, id: &str) -> Result<(), EngineError> {
        let recording = self.get_recording(project, id).await?;
        self.erase_recording(&recording).await?;
        tracing::info!(recording = %id, "recording deleted");
        Ok(())
    }

    /// Deletes one of `project`'s test records with its baselines and test runs.
    ///
    /// Errors: `NotFound` when `project` has no such record, `Conflict` while a run records
    /// into it (stop the run first).
    pub async fn delete_test_record(&self, project: &str, id: i64) -> Result<(), EngineError> {
        self.get_test_record(project, id).await?;
        self.erase_test_record(id).await?;
        tracing::info!(test_record = id, "test record deleted");
        Ok(())
    }

    /// Runs forever: every hour, deletes recordings that ended, test records created and
    /// session events that began more than `keep` ago, in every project.
    pub async fn enforce_retention(self, keep: Duration) {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        loop {
            tick.tick().await;
            let before = OffsetDateTime::now_utc() - keep;
            match self.sweep_expired(before).await {
                Ok((0, 0)) => {}
                Ok((recordings, records)) => tracing::info!(
                    recordings,
                    test_records = records,
                    "retention deleted what was older than its period"
                ),
                Err(e) => tracing::warn!(error = %e, "retention sweep failed; retrying next hour"),
            }
        }
    }

    /// Deletes recordings that ended, test records created and session events that began
    /// before `before`; returns how many recordings and test records.
    pub(crate) async fn sweep_expired(
        &self,
        before: OffsetDateTime,
    ) -> Result<(usize, usize), EngineError> {
        let mut recordings = 0;
        loop {
            let batch = self
                .inner
                .meta
                .ended_recordings(before, SWEEP_BATCH)
                .await?;
            if batch.is_empty() {
                break;
            }
            for recording in &batch {
                self.erase_recording(recording).await?;
            }
            recordings += batch.len();
        }
        let mut records = 0;
        loop {
            let batch = self
                .inner
                .meta
                .test_records_before(before, SWEEP_BATCH)
                .await?;
            // A record still recording is kept (it stays first in line), so a batch made of
            // such records only is the end.
            let expired: Vec<i64> = batch
                .into_iter()
                .filter(|id| !self.is_recording_into(*id))
                .collect();
            if expired.is_empty() {
                break;
            }
            for id in &expired {
                self.inner.meta.delete_test_record(*id).await?;
            }
            records += expired.len();
        }
        let events = self.inner.meta.delete_events_before(before).await?;
        if events > 0 {
            tracing::info!(
                events,
                "retention deleted session events older than its period"
            );
        }
        Ok((recordings, records))
    }

    async fn erase_recording(&self, recording: &Recording) -> Result<(), EngineError> {
        let live = lock(&self.inner.recordings).contains_key(&recording.id);
        if live
            || matches!(
                recording.state,
                RecordingState::Recording | RecordingState::Stopping
            )
        {
            return Err(EngineError::conflict(format!(
                "recording {} is still running; stop it before deleting it",
                recording.id
            )));
        }
        if let Some(key) = &recording.storage_key {
            self.blobs().delete(&StorageKey::parse(key)?).await?;
        }
        for part in self.blobs().list(&parts_prefix(&recording.id)).await? {
            self.blobs().delete(&part.key).await?;
        }
        self.inner.meta.delete_recording(&recording.id).await?;
        Ok(())
    }

    async fn erase_test_record(&self, id: i64) -> Result<(), EngineError> {
        if self.is_recording_into(id) {
            return Err(EngineError::conflict(format!(
                "test record {id} is still recording; stop its test run before deleting it"
            )));
        }
        Ok(self.inner.meta.delete_test_record(id).await?)
    }
}

#[cfg(test)]
mod tests {
    use tapedeck_core::traffic::Principal;
    use tapedeck_core::TestRunSpec;

    use super::*;
    use crate::layout::recording_key;
    use crate::test_support::{engine, recording_row, PROJECT};
    use crate::CreateRequest;

    /// A finished recording with an MP4 in the store, ended `ago`.
    async fn finished(engine: &Engine, ago: time::Duration) -> (Recording, StorageKey) {
        let mut recording = recording_row(engine, RecordingState::Finished, 1 << 40).await;
        let key = recording_key(&recording.id).expect("key");
        engine
            .blobs()
            .put(&key, bytes::Bytes::from_static(b"mp4"))
            .await
            .expect("put");
        recording.storage_key = Some(key.to_string());
        recording.finished_at = Some(OffsetDateTime::now_utc() - ago);
        engine
            .inner
            .meta
            .update_recording(&recording)
            .await
            .expect("update");
        (recording, key)
    }

    #[tokio::test]
    async fn a_deleted_recording_takes_its_video_with_it_and_only_its_project_may_delete_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = engine(dir.path()).await;
        let (recording, key) = finished(&engine, time::Duration::ZERO).await;
        assert!(matches!(
            engine.delete_recording("team-b", &recording.id).await,
            Err(EngineError::NotFound { .. })
        ));
        engine
            .delete_recording(PROJECT, &recording.id)
            .await
            .expect("delete");
        assert_eq!(engine.blobs().size(&key).await.expect("size"), None);
        assert!(matches!(
            engine.get_recording(PROJECT, &recording.id).await,
            Err(EngineError::NotFound { .. })
        ));
        let capturing = recording_row(&engine, RecordingState::Recording, 1 << 40).await;
        assert!(matches!(
            engine.delete_recording(PROJECT, &capturing.id).await,
            Err(EngineError::Conflict { .. })
        ));
    }

    #[tokio::test]
    async fn retention_deletes_what_ended_before_its_period_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = engine(dir.path()).await;
        tokio::spawn(engine.clone().run_traffic_writer());
        let day = time::Duration::days(1);
        let (old, old_key) = finished(&engine, 3 * day).await;
        let (recent, recent_key) = finished(&engine, time::Duration::hours(1)).await;
        let capturing = recording_row(&engine, RecordingState::Recording, 1 << 40).await;
        let run = |name: &str| CreateRequest {
            spec: TestRunSpec {
                name: name.into(),
                inactivity_timeout_secs: 300,
                ..TestRunSpec::default()
            },
            test_record_name: None,
        };
        let stopped = engine
            .create_test_run(PROJECT, run("old"))
            .await
            .expect("run");
        engine
            .stop_test_run(PROJECT, stopped.id)
            .await
            .expect("stop");
        let recording = engine
            .create_test_run("team-b", run("still recording"))
            .await
            .expect("run");

        // A day from now, every record is older than the period; a day ago, only `old` ended.
        let swept = engine
            .sweep_expired(OffsetDateTime::now_utc() - day)
            .await
            .expect("sweep");
        assert_eq!(swept, (1, 0));
        assert_eq!(engine.blobs().size(&old_key).await.expect("size"), None);
        assert!(engine.get_recording(PROJECT, &old.id).await.is_err());
        let swept = engine
            .sweep_expired(OffsetDateTime::now_utc() + day)
            .await
            .expect("sweep");
        assert_eq!(swept, (1, 1));
        assert_eq!(engine.blobs().size(&recent_key).await.expect("size"), None);
        assert!(engine.get_recording(PROJECT, &recent.id).await.is_err());
        assert!(engine.get_recording(PROJECT, &capturing.id).await.is_ok());
        assert!(engine
            .get_test_record(PROJECT, stopped.test_record_id)
            .await
            .is_err());
        let key = Principal::Key {
            key_id: "b".into(),
            project: "team-b".into(),
        };
        assert!(engine
            .traffic_sink()
            .admit(Some(&key), "app.test")
            .await
            .is_some());
        assert!(engine
            .get_test_record("team-b", recording.test_record_id)
            .await
            .is_ok());
    }
}
