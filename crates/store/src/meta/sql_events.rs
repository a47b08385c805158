//! [`EventMetadata`] in SQL (SQLite or PostgreSQL).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use tapedeck_core::{EventKind, SessionEvent};
use time::OffsetDateTime;

use super::sql::{from_micros, micros, page};
use super::{EventFilter, EventMetadata, Page, SqlMetadata};
use crate::StoreError;

fn event_from_row(row: &AnyRow) -> Result<SessionEvent, StoreError> {
    let kind: String = row.try_get("kind")?;
    let payload: String = row.try_get("payload")?;
    let elapsed_ms: i64 = row.try_get("elapsed_ms")?;
    Ok(SessionEvent {
        id: row.try_get("id")?,
        session_id: row.try_get("session_id")?,
        at: from_micros(row.try_get("at")?)?,
        elapsed_ms: u64::try_from(elapsed_ms)
            .map_err(|_| StoreError::Corrupt(format!("event elapsed_ms {elapsed_ms}")))?,
        kind: EventKind::parse(&kind)
            .map_err(|_| StoreError::Corrupt(format!("event kind {kind:?}")))?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?,
    })
}

#[async_trait]
impl EventMetadata for SqlMetadata {
    async fn insert_events(&self, events: &mut [SessionEvent]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for event in events.iter_mut() {
            event.id = sqlx::query_scalar(
                "INSERT INTO session_events (session_id, at, elapsed_ms, kind, payload)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(&event.session_id)
            .bind(micros(event.at))
            .bind(i64::try_from(event.elapsed_ms).unwrap_or(i64::MAX))
            .bind(event.kind.as_str())
            .bind(event.payload.to_string())
            .fetch_one(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_events(
        &self,
        session_id: &str,
        filter: &EventFilter,
        limit: u32,
    ) -> Result<Page<SessionEvent>, StoreError> {
        // Absent filters bind values that hold for every row, so the query text stays fixed.
        let rows = sqlx::query(
            "SELECT * FROM session_events
             WHERE session_id = $1 AND id > $2 AND ($3 = '' OR kind = $3)
               AND at >= $4 AND at < $5
             ORDER BY id LIMIT $6",
        )
        .bind(session_id)
        .bind(filter.after_id.unwrap_or(0))
        .bind(filter.kind.map_or("", EventKind::as_str))
        .bind(filter.since.map_or(i64::MIN, micros))
        .bind(filter.until.map_or(i64::MAX, micros))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        page(&rows, limit, event_from_row)
    }

    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM session_events WHERE at < $1")
            .bind(micros(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::Duration;

    use super::*;

    fn event(session_id: &str, at: OffsetDateTime, kind: EventKind, n: u64) -> SessionEvent {
        SessionEvent {
            id: 0,
            session_id: session_id.into(),
            at,
            elapsed_ms: n * 100,
            kind,
            payload: json!({"n": n}),
        }
    }

    #[tokio::test]
    async fn events_page_in_write_order_filter_by_kind_and_time_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqlMetadata::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut events: Vec<_> = (0..5)
            .map(|n| {
                let kind = if n % 2 == 0 {
                    EventKind::Action
                } else {
                    EventKind::Activity
                };
                event("s1", t0 + Duration::seconds(n as i64), kind, n)
            })
            .collect();
        events.push(event("s2", t0, EventKind::Action, 9));
        db.insert_events(&mut events).await.unwrap();
        assert!(events.windows(2).all(|w| w[0].id < w[1].id));

        let first = db
            .list_events("s1", &EventFilter::default(), 2)
            .await
            .unwrap();
        assert!(first.has_more);
        assert_eq!(first.items, events[..2]);
        let after = EventFilter {
            after_id: Some(first.items[1].id),
            ..EventFilter::default()
        };
        let rest = db.list_events("s1", &after, 10).await.unwrap();
        assert!(!rest.has_more);
        assert_eq!(rest.items, events[2..5]);

        let actions = EventFilter {
            kind: Some(EventKind::Action),
            since: Some(t0 + Duration::seconds(1)),
            until: Some(t0 + Duration::seconds(4)),
            ..EventFilter::default()
        };
        let found = db.list_events("s1", &actions, 10).await.unwrap();
        assert_eq!(found.items, [events[2].clone()]);

        let gone = db
            .delete_events_before(t0 + Duration::seconds(2))
            .await
            .unwrap();
        assert_eq!(gone, 3, "s1's first two and s2's one");
        let left = db
            .list_events("s1", &EventFilter::default(), 10)
            .await
            .unwrap();
        assert_eq!(left.items, events[2..5]);
    }
}
