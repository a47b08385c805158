//! [`TrafficMetadata`] in SQL (SQLite or PostgreSQL).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use tapedeck_core::{Baseline, TestRecord, TestRun, TestRunSpec, TestRunState};
use time::OffsetDateTime;

use super::sql::{from_micros, micros, opt_from_micros};
use super::{SqlMetadata, TrafficMetadata};
use crate::StoreError;

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or_default()
}

fn run_from_row(row: &AnyRow) -> Result<TestRun, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(TestRun {
        id: row.try_get("id")?,
        test_record_id: row.try_get("test_record_id")?,
        spec: from_json::<TestRunSpec>(&row.try_get::<String, _>("spec")?)?,
        state: TestRunState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("test run state {state:?}")))?,
        recording: row.try_get("recording")?,
        passed_count: count(row.try_get("passed_count")?),
        failed_count: count(row.try_get("failed_count")?),
        waiting_count: count(row.try_get("waiting_count")?),
        failures: from_json(&row.try_get::<String, _>("failures")?)?,
        start_time: from_micros(row.try_get("start_time")?)?,
        end_time: opt_from_micros(row.try_get("end_time")?)?,
    })
}

fn baseline_from_row(row: &AnyRow) -> Result<Baseline, StoreError> {
    Ok(Baseline {
        id: row.try_get("id")?,
        test_record_id: row.try_get("test_record_id")?,
        started_at: from_micros(row.try_get("started_at")?)?,
        duration_ms: count(row.try_get("duration_ms")?),
        method: row.try_get("method")?,
        url: row.try_get("url")?,
        request_headers: from_json(&row.try_get::<String, _>("request_headers")?)?,
        request_body: row.try_get("request_body")?,
        request_truncated: row.try_get("request_truncated")?,
        status: row.try_get::<i64, _>("status")? as u16,
        response_headers: from_json(&row.try_get::<String, _>("response_headers")?)?,
        response_body: row.try_get("response_body")?,
        response_truncated: row.try_get("response_truncated")?,
    })
}

#[async_trait]
impl TrafficMetadata for SqlMetadata {
    async fn create_test_record(
        &self,
        name: &str,
        at: OffsetDateTime,
    ) -> Result<TestRecord, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO test_records (name, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(name)
        .bind(micros(at))
        .fetch_one(&self.pool)
        .await?;
        Ok(TestRecord {
            id,
            name: name.to_owned(),
            created_at: at,
        })
    }

    async fn get_test_record(&self, id: i64) -> Result<Option<TestRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM test_records WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(TestRecord {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_at: from_micros(row.try_get("created_at")?)?,
            })
        })
        .transpose()
    }

    async fn insert_test_run(&self, run: &TestRun) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO test_runs (test_record_id, spec, state, recording, passed_count,
                failed_count, waiting_count, failures, start_time, end_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(run.test_record_id)
        .bind(json(&run.spec)?)
        .bind(run.state.as_str())
        .bind(run.recording)
        .bind(run.passed_count as i64)
        .bind(run.failed_count as i64)
        .bind(run.waiting_count as i64)
        .bind(json(&run.failures)?)
        .bind(micros(run.start_time))
        .bind(run.end_time.map(micros))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn update_test_run(&self, run: &TestRun) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE test_runs SET state = $1, recording = $2, passed_count = $3, failed_count = $4,
                waiting_count = $5, failures = $6, end_time = $7 WHERE id = $8",
        )
        .bind(run.state.as_str())
        .bind(run.recording)
        .bind(run.passed_count as i64)
        .bind(run.failed_count as i64)
        .bind(run.waiting_count as i64)
        .bind(json(&run.failures)?)
        .bind(run.end_time.map(micros))
        .bind(run.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_test_run(&self, id: i64) -> Result<Option<TestRun>, StoreError> {
        let row = sqlx::query("SELECT * FROM test_runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn running_test_runs(&self) -> Result<Vec<TestRun>, StoreError> {
        let rows = sqlx::query("SELECT * FROM test_runs WHERE state = 'running' ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn insert_baselines(&self, baselines: &mut [Baseline]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for b in baselines.iter_mut() {
            b.id = sqlx::query_scalar(
                "INSERT INTO baselines (test_record_id, started_at, duration_ms, method, url,
                    request_headers, request_body, request_truncated, status, response_headers,
                    response_body, response_truncated)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(b.test_record_id)
            .bind(micros(b.started_at))
            .bind(b.duration_ms as i64)
            .bind(&b.method)
            .bind(&b.url)
            .bind(json(&b.request_headers)?)
            .bind(&b.request_body)
            .bind(b.request_truncated)
            .bind(i64::from(b.status))
            .bind(json(&b.response_headers)?)
            .bind(&b.response_body)
            .bind(b.response_truncated)
            .fetch_one(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_baselines(&self, test_record_id: i64) -> Result<Vec<Baseline>, StoreError> {
        let rows = sqlx::query("SELECT * FROM baselines WHERE test_record_id = $1 ORDER BY id")
            .bind(test_record_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(baseline_from_row).collect()
    }

    async fn count_baselines(&self, test_record_id: i64) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM baselines WHERE test_record_id = $1")
            .bind(test_record_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(count(row.try_get("n")?))
    }
}
