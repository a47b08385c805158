//! [`TrafficMetadata`] in SQL (SQLite or PostgreSQL).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use tapedeck_core::{Baseline, ExchangeSummary, TestRecord, TestRun, TestRunSpec, TestRunState};
use time::OffsetDateTime;

use super::sql::{
    contains_pattern, from_micros, like_literal, micros, opt_from_micros, page, Backend,
};
use super::{ExchangeFilter, ExchangeScope, SqlMetadata, TrafficMetadata};
use crate::meta::Page;
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

/// A flag column: BOOLEAN in PostgreSQL, a 0/1 INTEGER in SQLite (which has no boolean type).
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    match row.try_get::<bool, _>(column) {
        Ok(flag) => Ok(flag),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

fn record_from_row(row: &AnyRow) -> Result<TestRecord, StoreError> {
    Ok(TestRecord {
        id: row.try_get("id")?,
        project: row.try_get("project")?,
        name: row.try_get("name")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

pub(super) fn run_from_row(row: &AnyRow) -> Result<TestRun, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(TestRun {
        id: row.try_get("id")?,
        test_record_id: row.try_get("test_record_id")?,
        spec: from_json::<TestRunSpec>(&row.try_get::<String, _>("spec")?)?,
        state: TestRunState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("test run state {state:?}")))?,
        recording: flag(row, "recording")?,
        passed_count: count(row.try_get("passed_count")?),
        failed_count: count(row.try_get("failed_count")?),
        waiting_count: count(row.try_get("waiting_count")?),
        tech_failed_count: count(row.try_get("tech_failed_count")?),
        sent_requests_count: count(row.try_get("sent_requests_count")?),
        failures: from_json(&row.try_get::<String, _>("failures")?)?,
        problem: row.try_get("problem")?,
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
        request_truncated: flag(row, "request_truncated")?,
        status: row.try_get::<i64, _>("status")? as u16,
        response_headers: from_json(&row.try_get::<String, _>("response_headers")?)?,
        response_body: row.try_get("response_body")?,
        response_truncated: flag(row, "response_truncated")?,
    })
}

fn exchange_from_row(row: &AnyRow) -> Result<ExchangeSummary, StoreError> {
    let headers: Vec<(String, String)> = from_json(&row.try_get::<String, _>("response_headers")?)?;
    Ok(ExchangeSummary {
        id: row.try_get("id")?,
        test_record_id: row.try_get("test_record_id")?,
        started_at: from_micros(row.try_get("started_at")?)?,
        duration_ms: count(row.try_get("duration_ms")?),
        method: row.try_get("method")?,
        url: row.try_get("url")?,
        status: row.try_get::<i64, _>("status")? as u16,
        request_bytes: count(row.try_get("request_bytes")?),
        response_bytes: count(row.try_get("response_bytes")?),
        truncated: flag(row, "request_truncated")? || flag(row, "response_truncated")?,
        response_content_type: headers
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value),
    })
}

/// Columns one baseline row binds.
const BASELINE_COLUMNS: usize = 12;
/// Rows per `INSERT`. sqlx finds each SQLite parameter by name among the statement's, so a
/// bind costs in proportion to the statement's parameters: a few hundred of them (16 rows) is
/// where fewer round trips stop paying.
const BASELINES_PER_INSERT: usize = 16;

impl SqlMetadata {
    /// `SQL` that is true when the bytes in `param` occur in the blob `column`.
    fn blob_contains(&self, column: &str, param: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("instr({column}, {param}) > 0"),
            Backend::Postgres => format!("position({param} in {column}) > 0"),
        }
    }
}

#[async_trait]
impl TrafficMetadata for SqlMetadata {
    async fn create_test_record(
        &self,
        project: &str,
        name: &str,
        at: OffsetDateTime,
    ) -> Result<TestRecord, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO test_records (project, name, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(project)
        .bind(name)
        .bind(micros(at))
        .fetch_one(&self.pool)
        .await?;
        Ok(TestRecord {
            id,
            project: project.to_owned(),
            name: name.to_owned(),
            created_at: at,
        })
    }

    async fn get_test_record(&self, id: i64) -> Result<Option<TestRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM test_records WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn list_test_records(
        &self,
        project: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Page<TestRecord>, StoreError> {
        // One extra row tells whether another page exists without a COUNT query.
        let rows = sqlx::query(
            "SELECT * FROM test_records WHERE project = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(project)
        .bind(i64::from(limit) + 1)
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        page(&rows, limit, record_from_row)
    }

    async fn list_test_runs(
        &self,
        project: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Page<TestRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.* FROM test_runs r JOIN test_records t ON t.id = r.test_record_id
             WHERE t.project = $1 ORDER BY r.id DESC LIMIT $2 OFFSET $3",
        )
        .bind(project)
        .bind(i64::from(limit) + 1)
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        page(&rows, limit, run_from_row)
    }

    async fn insert_test_run(&self, run: &TestRun) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO test_runs (test_record_id, spec, state, recording, passed_count,
                failed_count, waiting_count, failures, start_time, end_time, problem, owner_node,
                owner_incarnation, tech_failed_count, sent_requests_count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             RETURNING id",
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
        .bind(run.problem.as_deref())
        .bind(&self.owner.node)
        .bind(&self.owner.incarnation)
        .bind(run.tech_failed_count as i64)
        .bind(run.sent_requests_count as i64)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn update_test_run(&self, run: &TestRun) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE test_runs SET state = $1, recording = $2, passed_count = $3, failed_count = $4,
                waiting_count = $5, failures = $6, end_time = $7, problem = $8,
                tech_failed_count = $9, sent_requests_count = $10 WHERE id = $11",
        )
        .bind(run.state.as_str())
        .bind(run.recording)
        .bind(run.passed_count as i64)
        .bind(run.failed_count as i64)
        .bind(run.waiting_count as i64)
        .bind(json(&run.failures)?)
        .bind(run.end_time.map(micros))
        .bind(run.problem.as_deref())
        .bind(run.tech_failed_count as i64)
        .bind(run.sent_requests_count as i64)
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

    async fn running_test_runs(&self, project: Option<&str>) -> Result<Vec<TestRun>, StoreError> {
        let rows = sqlx::query(
            "SELECT run.* FROM test_runs run JOIN test_records record
                ON record.id = run.test_record_id
             WHERE run.state = 'running' AND ($1 IS NULL OR record.project = $1) ORDER BY run.id",
        )
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn insert_baselines(&self, baselines: &[Baseline]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Many rows per statement: each statement is a round trip to the database (SQLite's
        // runs on a worker thread), which one row per statement made the recording's cost.
        for chunk in baselines.chunks(BASELINES_PER_INSERT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|row| {
                    let params: Vec<String> = (1..=BASELINE_COLUMNS)
                        .map(|column| format!("${}", row * BASELINE_COLUMNS + column))
                        .collect();
                    format!("({})", params.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO baselines (test_record_id, started_at, duration_ms, method, url,
                    request_headers, request_body, request_truncated, status, response_headers,
                    response_body, response_truncated)
                 VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for b in chunk {
                query = query
                    .bind(b.test_record_id)
                    .bind(micros(b.started_at))
                    .bind(b.duration_ms as i64)
                    .bind(b.method.as_str())
                    .bind(b.url.as_str())
                    .bind(json(&b.request_headers)?)
                    .bind(b.request_body.as_slice())
                    .bind(b.request_truncated)
                    .bind(i64::from(b.status))
                    .bind(json(&b.response_headers)?)
                    .bind(b.response_body.as_slice())
                    .bind(b.response_truncated);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn baselines_after(
        &self,
        test_record_id: i64,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<Baseline>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM baselines WHERE test_record_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(test_record_id)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(baseline_from_row).collect()
    }

    async fn list_exchanges(
        &self,
        scope: ExchangeScope<'_>,
        filter: &ExchangeFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<ExchangeSummary>, StoreError> {
        // A host is what follows the scheme up to the path or the port; recorded URLs are
        // absolute http(s) URLs with a path.
        let host = |scheme: &str, end: &str| {
            format!("LOWER(url) LIKE '{scheme}://' || $6 || '{end}' ESCAPE '\\'")
        };
        let scoped = match scope {
            ExchangeScope::Record(_) => "test_record_id = $1",
            ExchangeScope::Project(_) => {
                "test_record_id IN (SELECT id FROM test_records WHERE project = $1)"
            }
        };
        let sql = format!(
            "SELECT id, test_record_id, started_at, duration_ms, method, url, status,
                CAST(LENGTH(request_body) AS BIGINT) AS request_bytes,
                CAST(LENGTH(response_body) AS BIGINT) AS response_bytes,
                request_truncated, response_truncated, response_headers
             FROM baselines
             WHERE {scoped} AND ($2 IS NULL OR UPPER(method) = $2)
               AND ($3 IS NULL OR status BETWEEN $3 AND $4)
               AND ($6 IS NULL OR {} OR {} OR {} OR {})
               AND ($7 IS NULL OR LOWER(url) LIKE $7 ESCAPE '\\' OR {} OR {})
               AND started_at >= $10 AND started_at < $11
             ORDER BY id LIMIT $5 OFFSET $9",
            host("http", "/%"),
            host("https", "/%"),
            host("http", ":%"),
            host("https", ":%"),
            self.blob_contains("request_body", "$8"),
            self.blob_contains("response_body", "$8"),
        );
        let query = match scope {
            ExchangeScope::Record(id) => sqlx::query(&sql).bind(id),
            ExchangeScope::Project(project) => sqlx::query(&sql).bind(project),
        };
        let status = filter.status.as_ref();
        let rows = query
            .bind(filter.method.as_deref().map(str::to_ascii_uppercase))
            .bind(status.map(|s| i64::from(*s.start())))
            .bind(status.map(|s| i64::from(*s.end())))
            .bind(i64::from(limit) + 1)
            .bind(filter.host.as_deref().map(like_literal))
            .bind(filter.text.as_deref().map(contains_pattern))
            .bind(filter.text.as_ref().map(|t| t.as_bytes().to_vec()))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .bind(filter.since.map_or(i64::MIN, micros))
            .bind(filter.until.map_or(i64::MAX, micros))
            .fetch_all(&self.pool)
            .await?;
        page(&rows, limit, exchange_from_row)
    }

    async fn get_baseline(
        &self,
        test_record_id: i64,
        id: i64,
    ) -> Result<Option<Baseline>, StoreError> {
        let row = sqlx::query("SELECT * FROM baselines WHERE test_record_id = $1 AND id = $2")
            .bind(test_record_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(baseline_from_row).transpose()
    }

    async fn count_baselines(&self, test_record_id: i64) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM baselines WHERE test_record_id = $1")
            .bind(test_record_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(count(row.try_get("n")?))
    }

    async fn earlier_test_runs(
        &self,
        test_record_id: i64,
        before_id: i64,
        limit: u32,
    ) -> Result<Vec<TestRun>, StoreError> {
        sqlx::query(
            "SELECT * FROM test_runs WHERE test_record_id = $1 AND id < $2
                AND state IN ('passed', 'failed') ORDER BY id DESC LIMIT $3",
        )
        .bind(test_record_id)
        .bind(before_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(run_from_row)
        .collect()
    }

    async fn delete_test_record(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM vulnerabilities WHERE test_run_id IN
                (SELECT id FROM test_runs WHERE test_record_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for table in ["baselines", "test_runs"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE test_record_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM test_records WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn test_records_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        let ids = sqlx::query_scalar(
            "SELECT id FROM test_records WHERE created_at < $1 ORDER BY created_at, id LIMIT $2",
        )
        .bind(micros(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use sqlx::migrate::Migrator;
    use sqlx::sqlite::SqlitePoolOptions;
    use tapedeck_core::TestRunSpec;

    use super::*;

    fn run(test_record_id: i64, recording: bool) -> TestRun {
        TestRun {
            id: 0,
            test_record_id,
            spec: TestRunSpec {
                name: "run".into(),
                ..TestRunSpec::default()
            },
            state: TestRunState::Running,
            recording,
            passed_count: 0,
            failed_count: 0,
            waiting_count: 0,
            tech_failed_count: 0,
            sent_requests_count: 0,
            failures: vec![(1, "body differs".into())],
            problem: None,
            start_time: OffsetDateTime::now_utc(),
            end_time: None,
        }
    }

    fn baseline(test_record_id: i64, truncated: bool) -> Baseline {
        Baseline {
            id: 0,
            test_record_id,
            // Whole seconds: the store keeps microseconds.
            started_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            duration_ms: 12,
            method: "POST".into(),
            url: "http://app/items".into(),
            request_headers: vec![("content-type".into(), "application/json".into())],
            request_body: b"{}".to_vec(),
            request_truncated: !truncated,
            status: 201,
            response_headers: vec![],
            response_body: vec![0, 255, 1],
            response_truncated: truncated,
        }
    }

    #[tokio::test]
    async fn runs_and_baselines_roundtrip_with_their_flags() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqlMetadata::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        let record = db
            .create_test_record("team-a", "rec", OffsetDateTime::now_utc())
            .await
            .unwrap();
        let back = db.get_test_record(record.id).await.unwrap().unwrap();
        assert_eq!(
            (back.project.as_str(), back.name.as_str()),
            ("team-a", "rec")
        );
        let mut stored = run(record.id, true);
        stored.id = db.insert_test_run(&stored).await.unwrap();
        assert!(db.get_test_run(stored.id).await.unwrap().unwrap().recording);
        stored.recording = false;
        db.update_test_run(&stored).await.unwrap();
        let back = db.get_test_run(stored.id).await.unwrap().unwrap();
        assert_eq!((back.recording, back.failures), (false, stored.failures));
        assert_eq!(db.running_test_runs(None).await.unwrap().len(), 1);
        assert_eq!(db.running_test_runs(Some("team-a")).await.unwrap().len(), 1);
        assert!(db
            .running_test_runs(Some("team-b"))
            .await
            .unwrap()
            .is_empty());

        let mut baselines = [baseline(record.id, true), baseline(record.id, false)];
        db.insert_baselines(&baselines).await.unwrap();
        // Ids are assigned in the order the baselines were given.
        let rows = db.baselines_after(record.id, 0, 10).await.unwrap();
        assert!(rows[0].id > 0 && rows[1].id > rows[0].id);
        for (baseline, row) in baselines.iter_mut().zip(&rows) {
            baseline.id = row.id;
        }
        assert_eq!(
            db.baselines_after(record.id, 0, 10).await.unwrap(),
            baselines
        );
        let second = db
            .baselines_after(record.id, baselines[0].id, 10)
            .await
            .unwrap();
        assert_eq!(second, baselines[1..]);
        assert_eq!(
            db.baselines_after(record.id, 0, 1).await.unwrap(),
            baselines[..1]
        );
        assert_eq!(db.count_baselines(record.id).await.unwrap(), 2);

        let later = record.created_at + time::Duration::seconds(1);
        assert!(db
            .test_records_before(record.created_at, 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            db.test_records_before(later, 10).await.unwrap(),
            vec![record.id]
        );
        db.delete_test_record(record.id).await.unwrap();
        assert!(db.get_test_record(record.id).await.unwrap().is_none());
        assert!(db.get_test_run(stored.id).await.unwrap().is_none());
        assert_eq!(db.count_baselines(record.id).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn exchanges_filter_by_method_status_host_and_text_a_page_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqlMetadata::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        let record = db
            .create_test_record("team-a", "rec", OffsetDateTime::now_utc())
            .await
            .unwrap();
        let exchange = |method: &str, url: &str, status: u16, body: &[u8]| Baseline {
            method: method.into(),
            url: url.into(),
            status,
            request_body: body.to_vec(),
            response_headers: vec![("Content-Type".into(), "text/plain".into())],
            ..baseline(record.id, false)
        };
        let baselines = [
            exchange("GET", "http://app.test:8000/items", 200, b""),
            exchange(
                "POST",
                "https://App.Test/items?q=1",
                201,
                b"{\"sku\":\"A-1\"}",
            ),
            exchange("GET", "http://app.test.evil/x", 404, b""),
            exchange("DELETE", "http://other/items/1", 500, b""),
        ];
        db.insert_baselines(&baselines).await.unwrap();
        let ids = |filter: ExchangeFilter, limit: u32, offset: u64| {
            let db = db.clone();
            async move {
                let page = db
                    .list_exchanges(ExchangeScope::Record(record.id), &filter, limit, offset)
                    .await
                    .unwrap();
                let ids: Vec<_> = page.items.iter().map(|e| e.id).collect();
                (ids, page.has_more)
            }
        };
        let stored = db.baselines_after(record.id, 0, 10).await.unwrap();
        assert_eq!(stored.len(), baselines.len());
        let id = |i: usize| stored[i].id;
        let all = ExchangeFilter::default();
        assert_eq!(ids(all.clone(), 2, 0).await, (vec![id(0), id(1)], true));
        assert_eq!(ids(all, 2, 2).await, (vec![id(2), id(3)], false));
        let filter = |f: fn(&mut ExchangeFilter)| {
            let mut filter = ExchangeFilter::default();
            f(&mut filter);
            filter
        };
        let only = |filter| async { ids(filter, 10, 0).await.0 };
        assert_eq!(
            only(filter(|f| f.method = Some("get".into()))).await,
            [id(0), id(2)]
        );
        assert_eq!(
            only(filter(|f| f.status = Some(400..=599))).await,
            [id(2), id(3)]
        );
        // A host matches with any port, in any case, and not as a prefix of another host.
        assert_eq!(
            only(filter(|f| f.host = Some("APP.test".into()))).await,
            [id(0), id(1)]
        );
        assert_eq!(
            only(filter(|f| f.host = Some("app.test:8000".into()))).await,
            [id(0)]
        );
        assert_eq!(
            only(filter(|f| f.text = Some("\"A-1\"".into()))).await,
            [id(1)]
        );
        assert_eq!(
            only(filter(|f| f.text = Some("ITEMS/1".into()))).await,
            [id(3)]
        );
        let summary = &db
            .list_exchanges(
                ExchangeScope::Record(record.id),
                &ExchangeFilter::default(),
                10,
                1,
            )
            .await
            .unwrap()
            .items[0];
        assert_eq!((summary.request_bytes, summary.response_bytes), (13, 3));
        assert_eq!(summary.response_content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            db.get_baseline(record.id, id(1)).await.unwrap().as_ref(),
            Some(&Baseline {
                id: id(1),
                ..baselines[1].clone()
            })
        );
        assert!(db
            .get_baseline(record.id + 1, id(1))
            .await
            .unwrap()
            .is_none());
    }

    /// A database written by a release with BOOLEAN flag columns keeps its rows and ids.
    #[tokio::test]
    async fn flag_columns_migrate_to_integers_with_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let old = SqlitePoolOptions::new().connect(&url).await.unwrap();
        let mut before_flags = Migrator::new(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite"
        )))
        .await
        .unwrap();
        before_flags.migrations = before_flags.migrations[..3].to_vec().into();
        before_flags.run(&old).await.unwrap();
        sqlx::query("INSERT INTO test_records (id, name, created_at) VALUES (7, 'old', 0)")
            .execute(&old)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO test_runs (id, test_record_id, spec, state, recording, passed_count,
                failed_count, waiting_count, failures, start_time)
             VALUES (5, 7, $1, 'passed', TRUE, 1, 0, 0, '[]', 0)",
        )
        .bind(serde_json::to_string(&TestRunSpec::default()).unwrap())
        .execute(&old)
        .await
        .unwrap();
        old.close().await;

        let db = SqlMetadata::open_sqlite(&path).await.unwrap();
        let migrated = db.get_test_run(5).await.unwrap().unwrap();
        assert_eq!((migrated.test_record_id, migrated.recording), (7, true));
        assert_eq!(migrated.state, TestRunState::Passed);
        // New rows continue after the old ids.
        assert!(db.insert_test_run(&run(7, false)).await.unwrap() > 5);
    }
}
