//! [`FleetMetadata`] in SQL. Liveness is measured on the database's clock, so nodes whose
//! clocks disagree still agree on who is silent.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::fleet::{
    DatabaseTime, FleetMetadata, LostRows, NodeOwner, NodeRecord, NodeRegistration, RecordingRun,
    TakenOver,
};
use super::sql::{micros, recording_from_row, Backend, SqlMetadata};
use super::sql_traffic::{flag, run_from_row};
use crate::StoreError;

/// The rows `LostRows` names, with its fields bound as `$1` (node), `$2` (incarnation kept, or
/// NULL) and `$3` (whether rows without an owner count).
const LOST_SCOPE: &str = "((owner_node = $1 AND ($2 IS NULL OR owner_incarnation <> $2))
    OR ($3 AND owner_node IS NULL))";

fn node_from_row(row: &AnyRow) -> Result<NodeRecord, StoreError> {
    let count = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    let age: i64 = row.try_get("age")?;
    Ok(NodeRecord {
        owner: NodeOwner {
            node: row.try_get("id")?,
            incarnation: row.try_get("incarnation")?,
        },
        internal_url: row.try_get("internal_url")?,
        capacity: count(row.try_get("capacity")?),
        active_sessions: count(row.try_get("active_sessions")?),
        draining: flag(row, "draining")?,
        lost: flag(row, "lost")?,
        heartbeat_age: Duration::from_micros(u64::try_from(age).unwrap_or(0)),
    })
}

impl SqlMetadata {
    /// Makes the rows of `table` whose state is in `live` (an SQL list) and that `lost` names
    /// this node's, and returns them.
    async fn adopt(
        &self,
        conn: &mut AnyConnection,
        table: &str,
        live: &str,
        lost: &LostRows,
    ) -> Result<Vec<AnyRow>, StoreError> {
        Ok(sqlx::query(&format!(
            "UPDATE {table} SET owner_node = $4, owner_incarnation = $5
             WHERE state IN {live} AND {LOST_SCOPE} RETURNING *"
        ))
        .bind(&lost.node)
        .bind(&lost.except_incarnation)
        .bind(lost.with_unowned)
        .bind(&self.owner.node)
        .bind(&self.owner.incarnation)
        .fetch_all(conn)
        .await?)
    }
}

#[async_trait]
impl FleetMetadata for SqlMetadata {
    fn owner(&self) -> &NodeOwner {
        &self.owner
    }

    async fn register_node(&self, node: &NodeRegistration) -> Result<(), StoreError> {
        let now = self.database_now();
        sqlx::query(&format!(
            "INSERT INTO nodes (id, incarnation, internal_url, capacity, active_sessions, draining,
                lost, started_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, 0, FALSE, FALSE, {now}, {now})
             ON CONFLICT (id) DO UPDATE SET incarnation = excluded.incarnation,
                internal_url = excluded.internal_url, capacity = excluded.capacity,
                active_sessions = 0, draining = FALSE, lost = FALSE,
                started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at"
        ))
        .bind(&self.owner.node)
        .bind(&self.owner.incarnation)
        .bind(&node.internal_url)
        .bind(i64::from(node.capacity))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn heartbeat(&self, active_sessions: u32, draining: bool) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE nodes SET heartbeat_at = {}, active_sessions = $3, draining = $4
             WHERE id = $1 AND incarnation = $2 AND NOT lost",
            self.database_now()
        ))
        .bind(&self.owner.node)
        .bind(&self.owner.incarnation)
        .bind(i64::from(active_sessions))
        .bind(draining)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT *, {} - heartbeat_at AS age FROM nodes ORDER BY id",
            self.database_now()
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(node_from_row).collect()
    }

    async fn claim_lost_node(
        &self,
        node: &NodeOwner,
        silent_for: Duration,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "UPDATE nodes SET lost = TRUE
             WHERE id = $1 AND incarnation = $2 AND NOT lost AND heartbeat_at < {} - $3",
            self.database_now()
        ))
        .bind(&node.node)
        .bind(&node.incarnation)
        .bind(i64::try_from(silent_for.as_micros()).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    fn is_shared(&self) -> bool {
        self.backend == Backend::Postgres
    }

    async fn clock(&self) -> Result<DatabaseTime, StoreError> {
        let now = sqlx::query_scalar(&format!("SELECT {}", self.database_now()))
            .fetch_one(&self.pool)
            .await?;
        Ok(DatabaseTime(now))
    }

    async fn recording_runs(&self) -> Result<Vec<RecordingRun>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT run.*, record.project AS project,
                {} - COALESCE(run.last_traffic_at, run.start_time) AS idle
             FROM test_runs run JOIN test_records record ON record.id = run.test_record_id
             WHERE run.state = 'running' AND run.recording ORDER BY run.id",
            self.database_now()
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let idle: i64 = row.try_get("idle")?;
                Ok(RecordingRun {
                    project: row.try_get("project")?,
                    run: run_from_row(row)?,
                    idle_for: Duration::from_micros(u64::try_from(idle).unwrap_or(0)),
                })
            })
            .collect()
    }

    async fn note_run_traffic(&self, runs: &[i64]) -> Result<(), StoreError> {
        for id in runs {
            sqlx::query(&format!(
                "UPDATE test_runs SET last_traffic_at = {} WHERE id = $1",
                self.database_now()
            ))
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    async fn note_traffic_synced(&self, read_at: DatabaseTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE nodes SET traffic_synced_at = $3 WHERE id = $1 AND incarnation = $2")
            .bind(&self.owner.node)
            .bind(&self.owner.incarnation)
            .bind(read_at.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn nodes_behind(
        &self,
        since: DatabaseTime,
        live_within: Duration,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT id FROM nodes
             WHERE id <> $1 AND NOT lost AND heartbeat_at >= {} - $2
               AND COALESCE(traffic_synced_at, 0) < $3 ORDER BY id",
            self.database_now()
        ))
        .bind(&self.owner.node)
        .bind(i64::try_from(live_within.as_micros()).unwrap_or(i64::MAX))
        .bind(since.0)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn end_recording_phase(&self, id: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE test_runs SET recording = FALSE WHERE id = $1 AND recording")
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_over(
        &self,
        lost: &LostRows,
        end_reason: &str,
        at: OffsetDateTime,
    ) -> Result<TakenOver, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sessions = sqlx::query(&format!(
            "UPDATE sessions SET state = 'deleted', deleted_at = $4, end_reason = $5,
                owner_node = $6, owner_incarnation = $7
             WHERE state = 'running' AND {LOST_SCOPE}"
        ))
        .bind(&lost.node)
        .bind(&lost.except_incarnation)
        .bind(lost.with_unowned)
        .bind(micros(at))
        .bind(end_reason)
        .bind(&self.owner.node)
        .bind(&self.owner.incarnation)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let recordings = self
            .adopt(&mut tx, "recordings", "('recording', 'stopping')", lost)
            .await?;
        let test_runs = self
            .adopt(&mut tx, "test_runs", "('running')", lost)
            .await?;
        tx.commit().await?;
        let mut recordings: Vec<_> = recordings
            .iter()
            .map(recording_from_row)
            .collect::<Result<_, _>>()?;
        recordings.sort_by_key(|r| r.started_at);
        Ok(TakenOver {
            sessions,
            recordings,
            test_runs: test_runs
                .iter()
                .map(run_from_row)
                .collect::<Result<_, _>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use tapedeck_core::{RecordingState, SessionState};

    use super::*;
    use crate::meta::sql::tests::{recording, session};
    use crate::meta::Metadata;

    async fn node(dir: &std::path::Path, id: &str) -> SqlMetadata {
        let db = SqlMetadata::open_sqlite(&dir.join("fleet.db"))
            .await
            .unwrap()
            .with_owner(NodeOwner::starting(id));
        let registration = NodeRegistration {
            internal_url: format!("http://{id}.internal"),
            capacity: 4,
        };
        db.register_node(&registration).await.unwrap();
        db
    }

    #[tokio::test]
    async fn a_restart_takes_over_only_its_own_earlier_rows() {
        let dir = tempfile::tempdir().unwrap();
        let a = node(dir.path(), "a").await;
        let b = node(dir.path(), "b").await;
        a.insert_session(&session("sa", None)).await.unwrap();
        a.insert_recording(&recording("ra", "sa")).await.unwrap();
        b.insert_session(&session("sb", None)).await.unwrap();
        b.insert_recording(&recording("rb", "sb")).await.unwrap();

        let b_again = node(dir.path(), "b").await;
        let lost = LostRows {
            node: "b".into(),
            except_incarnation: Some(b_again.owner().incarnation.clone()),
            with_unowned: true,
        };
        let taken = b_again
            .take_over(&lost, "node_restarted", OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert_eq!(taken.sessions, 1);
        assert_eq!(taken.recordings.len(), 1);
        assert_eq!(taken.recordings[0].id, "rb");
        // A's rows are A's, untouched.
        let sa = a.get_session("sa").await.unwrap().unwrap();
        assert_eq!(sa.state, SessionState::Running);
        let sb = b_again.get_session("sb").await.unwrap().unwrap();
        assert_eq!(sb.state, SessionState::Deleted);
        assert_eq!(sb.end_reason.as_deref(), Some("node_restarted"));
        // The old incarnation's late writes change nothing the new one took over.
        let mut late = recording("rb", "sb");
        late.state = RecordingState::Finished;
        assert!(matches!(
            b.update_recording(&late).await,
            Err(StoreError::NotOwner(_))
        ));
        assert_eq!(
            b_again.get_recording("rb").await.unwrap().unwrap().state,
            RecordingState::Recording
        );
        let mut finished = taken.recordings[0].clone();
        finished.state = RecordingState::Interrupted;
        b_again.update_recording(&finished).await.unwrap();
    }

    #[tokio::test]
    async fn a_silent_node_is_claimed_once_and_fenced() {
        let dir = tempfile::tempdir().unwrap();
        let a = node(dir.path(), "a").await;
        let b = node(dir.path(), "b").await;
        let c = node(dir.path(), "c").await;
        let b_owner = b.owner().clone();
        // Silent for a minute: not yet.
        assert!(!a
            .claim_lost_node(&b_owner, Duration::from_secs(60))
            .await
            .unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
        let claims = [
            a.claim_lost_node(&b_owner, Duration::from_millis(10))
                .await
                .unwrap(),
            c.claim_lost_node(&b_owner, Duration::from_millis(10))
                .await
                .unwrap(),
        ];
        assert_eq!(claims, [true, false]);
        assert!(
            !b.heartbeat(0, false).await.unwrap(),
            "a lost node is told so"
        );
        assert!(a.heartbeat(1, false).await.unwrap());
        let nodes = a.nodes().await.unwrap();
        let lost: Vec<_> = nodes
            .iter()
            .filter(|n| n.lost)
            .map(|n| n.owner.node.as_str())
            .collect();
        assert_eq!(lost, ["b"]);
        assert_eq!(nodes[0].active_sessions, 1);
    }
}
