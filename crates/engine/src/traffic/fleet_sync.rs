//! FAST across the fleet: any node's proxy records into its project's recording run, wherever
//! the run was created. Each node reads which runs record every [`SYNC_EVERY`] and brings its
//! own list in line; a create or a stop then waits until every live node has read the change
//! (and, for a stop, stored what it admitted before), so that once it answers, the whole
//! fleet records into the new run, or holds every exchange that finished before the stop.
//!
//! Activity counts fleet-wide: a node notes in the database when it saw traffic for a run,
//! so a run busy on one node does not hit its inactivity timeout on another.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tapedeck_core::EngineError;
use tapedeck_store::RecordingRun;

use super::{ActiveRecording, HostPattern};
use crate::fleet::SILENT_AFTER;
use crate::{lock, Engine};

/// How often a node reads the fleet's recording runs: a run's start or stop reaches every node
/// within this.
const SYNC_EVERY: Duration = Duration::from_millis(500);
/// Longest a create or stop waits for the other nodes to read it. A node that has not by then
/// is stuck (it is not silent long enough to be found lost yet); it is named in the log.
const FLEET_WAIT: Duration = Duration::from_secs(5);
/// How often a waiting create or stop looks again.
const FLEET_POLL: Duration = Duration::from_millis(50);

impl Engine {
    /// Runs forever on a node whose database other nodes share: keeps this node's recording
    /// runs in line with the fleet's, every [`SYNC_EVERY`].
    pub async fn sync_traffic_with_fleet(self) {
        if !self.inner.meta.is_shared() {
            return;
        }
        let mut tick = tokio::time::interval(SYNC_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.sync_traffic_once().await {
                tracing::warn!(error = %e, "could not read the fleet's recording runs");
            }
        }
    }

    async fn sync_traffic_once(&self) -> Result<(), EngineError> {
        // Under the transition lock, so a run this node creates meanwhile is not dropped for
        // missing from a read made just before it.
        let _transition = self.inner.traffic.transitions.lock().await;
        let meta = &self.inner.meta;
        let read_at = meta.clock().await?;
        let runs = meta.recording_runs().await?;
        let Applied { stopped, busy } = self.apply_fleet_runs(&runs);
        if stopped {
            self.flush_traffic().await;
        }
        if !busy.is_empty() {
            meta.note_run_traffic(&busy).await?;
        }
        meta.note_traffic_synced(read_at).await?;
        Ok(())
    }

    /// Makes this node record exactly into `runs`; says whether any run stopped here, and which
    /// runs saw traffic here since the last sync.
    fn apply_fleet_runs(&self, runs: &[RecordingRun]) -> Applied {
        let now = Instant::now();
        let mut active = lock(&self.inner.traffic.active);
        let recording: HashSet<i64> = runs.iter().map(|r| r.run.id).collect();
        let before = active.len();
        active.retain(|_, a| recording.contains(&a.ticket.test_run_id));
        let stopped = active.len() < before;
        let mut busy = Vec::new();
        for fleet_run in runs {
            let fleet_activity = now.checked_sub(fleet_run.idle_for).unwrap_or(now);
            match active.get_mut(&fleet_run.project) {
                Some(local) if local.ticket.test_run_id == fleet_run.run.id => {
                    if local.last_activity > local.synced_at {
                        busy.push(fleet_run.run.id);
                    }
                    local.last_activity = local.last_activity.max(fleet_activity);
                    local.synced_at = now;
                }
                _ => match HostPattern::parse(&fleet_run.run.spec.allowed_hosts) {
                    Ok(hosts) => {
                        let mut recording = ActiveRecording::new(&fleet_run.run, hosts);
                        recording.last_activity = fleet_activity;
                        recording.synced_at = now;
                        active.insert(fleet_run.project.clone(), recording);
                        tracing::info!(test_run = fleet_run.run.id, project = %fleet_run.project, "recording baselines for a run started on another node");
                    }
                    // Its creator parsed the same pattern; a newer version's may not parse here.
                    Err(e) => {
                        tracing::warn!(test_run = fleet_run.run.id, error = %e, "not recording a run whose hosts this node cannot read")
                    }
                },
            }
        }
        Applied { stopped, busy }
    }

    /// Waits until every other live node has synced its traffic after now: they record into a
    /// run created, or have stored what they admitted for a run stopped, before this call.
    /// Gives up after [`FLEET_WAIT`], or at once if the database does not answer, saying so.
    pub(crate) async fn wait_for_fleet_traffic(&self) {
        let meta = &self.inner.meta;
        if !meta.is_shared() {
            return;
        }
        let deadline = tokio::time::Instant::now() + FLEET_WAIT;
        let waited = async {
            let since = meta.clock().await?;
            loop {
                let behind = meta.nodes_behind(since, SILENT_AFTER).await?;
                if behind.is_empty() || tokio::time::Instant::now() >= deadline {
                    return Ok::<_, tapedeck_store::StoreError>(behind);
                }
                tokio::time::sleep(FLEET_POLL).await;
            }
        };
        match waited.await {
            Ok(behind) if behind.is_empty() => {}
            Ok(behind) => {
                tracing::warn!(nodes = ?behind, "nodes did not read a run's start or stop in time; their proxies follow at their next sync")
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not wait for the fleet to read a run's start or stop")
            }
        }
    }
}

/// What a sync changed on this node.
struct Applied {
    /// A run recording here stopped elsewhere: its admitted exchanges must be flushed.
    stopped: bool,
    /// Runs that saw traffic here since the last sync.
    busy: Vec<i64>,
}
