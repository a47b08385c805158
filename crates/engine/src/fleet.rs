//! The fleet: nodes sharing one database and one bucket. Each node keeps a heartbeat on the
//! database's clock; a node silent for [`SILENT_AFTER`] whose health probe also fails is lost,
//! and one survivor (the one whose conditional claim wins) takes its rows over: its sessions
//! end with reason `node_lost`, its recordings are finalized from the bucket as `interrupted`,
//! and its running test runs are interrupted. Both signals are needed, so a node that only
//! paused (a long GC, a laptop's sleep) is not declared lost by the clock alone.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tapedeck_core::{EngineError, StopReason};
use tapedeck_store::{LostRows, NodeRecord, NodeRegistration};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::Engine;

/// How often a node writes its heartbeat and looks for lost nodes.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// How long a node may be silent before its health is probed, and it is lost if the probe fails.
pub const SILENT_AFTER: Duration = Duration::from_secs(10);
/// How long a silent node's health probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Engine {
    /// Joins the fleet as this node, then keeps its heartbeat and takes over the nodes found
    /// lost, in the background. The answer turns `true` if the fleet finds this node lost
    /// itself (it was frozen past [`SILENT_AFTER`] and another node took its rows): the node
    /// must then stop; its writes to rows it no longer owns are refused meanwhile.
    ///
    /// Errors: the database refused the registration.
    pub async fn join_fleet(
        &self,
        registration: NodeRegistration,
    ) -> Result<watch::Receiver<bool>, EngineError> {
        self.inner.meta.register_node(&registration).await?;
        let owner = self.inner.meta.owner();
        tracing::info!(node = %owner.node, incarnation = %owner.incarnation, internal_url = %registration.internal_url, "joined the fleet");
        let (lost_tx, lost_rx) = watch::channel(false);
        tokio::spawn(self.clone().keep_heartbeat(lost_tx));
        Ok(lost_rx)
    }

    /// Stops taking new sessions (creates answer `CapacityExhausted`, and the fleet sees this
    /// node draining), ends the warm pool, and waits up to `within` for the clients' sessions
    /// to end; returns how many are still running then.
    pub async fn drain(&self, within: Duration) -> usize {
        self.inner.draining.store(true, Ordering::Relaxed);
        self.close_warm_pool().await;
        let deadline = tokio::time::Instant::now() + within;
        let mut logged = usize::MAX;
        loop {
            let running = self.live_session_ids().len();
            if running == 0 || tokio::time::Instant::now() >= deadline {
                return running;
            }
            if running != logged {
                tracing::info!(
                    sessions = running,
                    secs_left = (deadline - tokio::time::Instant::now()).as_secs(),
                    "draining: waiting for sessions to end"
                );
                logged = running;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// True once [`Self::drain`] began.
    pub(crate) fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }

    /// Every node of the fleet, as the database sees it now.
    ///
    /// Errors: the database is not answering.
    pub async fn fleet_nodes(&self) -> Result<Vec<NodeRecord>, EngineError> {
        self.refresh_fleet_view().await
    }

    async fn keep_heartbeat(self, lost: watch::Sender<bool>) {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.write_heartbeat().await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::error!("the fleet found this node lost and took over its rows");
                    let _ = lost.send(true);
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat not written"),
            }
            if let Err(e) = self.take_over_lost_nodes().await {
                tracing::warn!(error = %e, "could not look for lost nodes");
            }
        }
    }

    /// Writes this node's heartbeat with its load now; `false` when the fleet found it lost.
    pub(crate) async fn write_heartbeat(&self) -> Result<bool, EngineError> {
        // Slots taken, pooled sessions aside: sessions still starting count, so a create placed
        // right after another does not pick a node whose last slot is already spoken for.
        let taken = self.inner.config.max_sessions
            - self
                .inner
                .session_slots
                .available_permits()
                .min(self.inner.config.max_sessions);
        let active =
            u32::try_from(taken.saturating_sub(self.pooled_sessions())).unwrap_or(u32::MAX);
        Ok(self
            .inner
            .meta
            .heartbeat(active, self.is_draining())
            .await?)
    }

    async fn take_over_lost_nodes(&self) -> Result<(), EngineError> {
        let me = self.node_id().to_owned();
        for node in self.refresh_fleet_view().await? {
            if node.lost || node.owner.node == me || node.heartbeat_age < SILENT_AFTER {
                continue;
            }
            if self.answers_health_probe(&node.internal_url).await {
                tracing::warn!(node = %node.owner.node, silent_secs = node.heartbeat_age.as_secs(), "a node writes no heartbeat but answers its health probe; not taken over");
                continue;
            }
            if !self
                .inner
                .meta
                .claim_lost_node(&node.owner, SILENT_AFTER)
                .await?
            {
                continue;
            }
            let lost = LostRows {
                node: node.owner.node.clone(),
                except_incarnation: None,
                with_unowned: false,
            };
            let taken = self
                .inner
                .meta
                .take_over(
                    &lost,
                    StopReason::NodeLost.as_str(),
                    OffsetDateTime::now_utc(),
                )
                .await?;
            tracing::warn!(
                node = %node.owner.node,
                sessions = taken.sessions,
                recordings = taken.recordings.len(),
                test_runs = taken.test_runs.len(),
                "node lost: its sessions ended, its recordings are finalized from the bucket"
            );
            for run in taken.test_runs {
                self.interrupt_run(run).await?;
            }
            let engine = self.clone();
            tokio::spawn(async move {
                for mut recording in taken.recordings {
                    recording.stop_reason.get_or_insert(StopReason::NodeLost);
                    engine.recover_or_give_up(recording).await;
                }
            });
        }
        Ok(())
    }

    /// Whether the node at `internal_url` answers `GET /healthz` at all (any status) within
    /// [`PROBE_TIMEOUT`].
    async fn answers_health_probe(&self, internal_url: &str) -> bool {
        let url = format!("{}/healthz", internal_url.trim_end_matches('/'));
        let probe = self.inner.upstream.send("GET", &url, &[], Vec::new());
        matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(_)))
    }
}
