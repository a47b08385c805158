//! [`VulnerabilityMetadata`] in SQL (SQLite or PostgreSQL).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use tapedeck_core::Vulnerability;

use super::sql::{from_micros, micros, page};
use super::{Page, SqlMetadata, VulnerabilityMetadata};
use crate::StoreError;

fn vulnerability_from_row(row: &AnyRow) -> Result<Vulnerability, StoreError> {
    let threat: i64 = row.try_get("threat")?;
    let exchange: String = row.try_get("exchange")?;
    Ok(Vulnerability {
        id: row.try_get("id")?,
        test_run_id: row.try_get("test_run_id")?,
        baseline_id: row.try_get("baseline_id")?,
        kind: row.try_get("kind")?,
        threat: u8::try_from(threat)
            .map_err(|_| StoreError::Corrupt(format!("vulnerability threat {threat}")))?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        domain: row.try_get("domain")?,
        path: row.try_get("path")?,
        method: row.try_get("method")?,
        parameter: row.try_get("parameter")?,
        payload: row.try_get("payload")?,
        exchange: serde_json::from_str(&exchange)
            .map_err(|e| StoreError::Corrupt(format!("vulnerability exchange: {e}")))?,
        found_at: from_micros(row.try_get("found_at")?)?,
    })
}

/// `$first, $first+1, …` for `n` parameters: an `IN (…)` list.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl VulnerabilityMetadata for SqlMetadata {
    async fn insert_vulnerability(&self, v: &Vulnerability) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO vulnerabilities (test_run_id, baseline_id, kind, threat, title,
                description, domain, path, method, parameter, payload, exchange, found_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(v.test_run_id)
        .bind(v.baseline_id)
        .bind(&v.kind)
        .bind(i64::from(v.threat))
        .bind(&v.title)
        .bind(&v.description)
        .bind(&v.domain)
        .bind(&v.path)
        .bind(&v.method)
        .bind(&v.parameter)
        .bind(&v.payload)
        .bind(v.exchange.to_string())
        .bind(micros(v.found_at))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn list_vulnerabilities(
        &self,
        test_run_ids: &[i64],
        limit: u32,
        offset: u64,
    ) -> Result<Page<Vulnerability>, StoreError> {
        if test_run_ids.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                has_more: false,
            });
        }
        let n = test_run_ids.len();
        let sql = format!(
            "SELECT * FROM vulnerabilities WHERE test_run_id IN ({}) ORDER BY id
             LIMIT ${} OFFSET ${}",
            placeholders(1, n),
            n + 1,
            n + 2
        );
        let mut query = sqlx::query(&sql);
        for id in test_run_ids {
            query = query.bind(*id);
        }
        let rows = query
            .bind(i64::from(limit) + 1)
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        page(&rows, limit, vulnerability_from_row)
    }

    async fn count_vulnerabilities(
        &self,
        test_run_ids: &[i64],
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        if test_run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT test_run_id, COUNT(*) AS n FROM vulnerabilities
             WHERE test_run_id IN ({}) GROUP BY test_run_id",
            placeholders(1, test_run_ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in test_run_ids {
            query = query.bind(*id);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let n: i64 = row.try_get("n")?;
                Ok((
                    row.try_get("test_run_id")?,
                    u64::try_from(n).unwrap_or_default(),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use tapedeck_core::{TestRun, TestRunSpec, TestRunState};
    use time::OffsetDateTime;

    use super::*;
    use crate::meta::TrafficMetadata;

    fn finding(test_run_id: i64, parameter: &str) -> Vulnerability {
        Vulnerability {
            id: 0,
            test_run_id,
            baseline_id: 3,
            kind: "sqli".into(),
            threat: 80,
            title: "SQL injection".into(),
            description: "a quote broke the statement".into(),
            domain: "app:8080".into(),
            path: "/orders".into(),
            method: "GET".into(),
            parameter: parameter.into(),
            payload: "'".into(),
            exchange: serde_json::json!({"request": {"url": "http://app:8080/orders?name='"}}),
            found_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        }
    }

    #[tokio::test]
    async fn findings_page_by_run_and_go_with_their_record() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqlMetadata::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        let record = db
            .create_test_record("p", "rec", OffsetDateTime::now_utc())
            .await
            .unwrap();
        let mut run = TestRun {
            id: 0,
            test_record_id: record.id,
            spec: TestRunSpec::default(),
            state: TestRunState::Failed,
            recording: false,
            passed_count: 0,
            failed_count: 0,
            waiting_count: 0,
            tech_failed_count: 2,
            sent_requests_count: 140,
            failures: Vec::new(),
            problem: None,
            start_time: OffsetDateTime::now_utc(),
            end_time: None,
        };
        run.id = db.insert_test_run(&run).await.unwrap();
        let other = db.insert_test_run(&run).await.unwrap();
        let back = db.get_test_run(run.id).await.unwrap().unwrap();
        assert_eq!((back.tech_failed_count, back.sent_requests_count), (2, 140));

        let mut stored = Vec::new();
        for parameter in ["GET_a", "GET_b", "GET_c"] {
            let mut f = finding(run.id, parameter);
            f.id = db.insert_vulnerability(&f).await.unwrap();
            stored.push(f);
        }
        db.insert_vulnerability(&finding(other, "GET_z"))
            .await
            .unwrap();
        let first = db.list_vulnerabilities(&[run.id], 2, 0).await.unwrap();
        assert_eq!(
            (first.items.as_slice(), first.has_more),
            (&stored[..2], true)
        );
        let rest = db.list_vulnerabilities(&[run.id], 2, 2).await.unwrap();
        assert_eq!(
            (rest.items.as_slice(), rest.has_more),
            (&stored[2..], false)
        );
        let both = db
            .list_vulnerabilities(&[run.id, other], 10, 0)
            .await
            .unwrap();
        assert_eq!(both.items.len(), 4);
        let mut counts = db
            .count_vulnerabilities(&[run.id, other, 999])
            .await
            .unwrap();
        counts.sort();
        assert_eq!(counts, vec![(run.id, 3), (other, 1)]);

        db.delete_test_record(record.id).await.unwrap();
        assert!(db
            .list_vulnerabilities(&[run.id, other], 10, 0)
            .await
            .unwrap()
            .items
            .is_empty());
    }
}
