//! The fleet's side of the metadata: which nodes share the database, whether each is alive,
//! and the rows a lost node leaves for a survivor to take over.

use std::time::Duration;

use async_trait::async_trait;
use tapedeck_core::{Recording, TestRun};
use time::OffsetDateTime;

use crate::StoreError;

/// Who owns the rows a node writes: its stable id and the incarnation of this start of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOwner {
    /// The node's id (`--node-id`, the host name by default).
    pub node: String,
    /// New at every start of the node.
    pub incarnation: String,
}

impl NodeOwner {
    /// The owner `node` is in this start of it, with a fresh incarnation.
    pub fn starting(node: &str) -> Self {
        Self {
            node: node.to_owned(),
            incarnation: tapedeck_core::id::new_id(),
        }
    }
}

/// What a node says about itself when it joins the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRegistration {
    /// How other nodes reach it (`--internal-url`).
    pub internal_url: String,
    /// Most sessions it runs at once.
    pub capacity: u32,
}

/// One node as the fleet sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Its id and current incarnation.
    pub owner: NodeOwner,
    /// How other nodes reach it.
    pub internal_url: String,
    /// Most sessions it runs at once.
    pub capacity: u32,
    /// Sessions it ran at its last heartbeat.
    pub active_sessions: u32,
    /// True once it stopped taking new sessions (SIGTERM).
    pub draining: bool,
    /// True once another node found it lost and took over its rows.
    pub lost: bool,
    /// Time since its last heartbeat, on the database's clock.
    pub heartbeat_age: Duration,
}

/// Whose rows to take over: a lost node's, or this node's own earlier incarnations'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRows {
    /// The node that left them.
    pub node: String,
    /// Its incarnation that is still alive and keeps its rows (this node's own, at start).
    pub except_incarnation: Option<String>,
    /// Rows written before nodes owned rows (a single server upgraded to this version).
    pub with_unowned: bool,
}

/// The rows taken over from [`LostRows`]: now owned by the taking node.
#[derive(Debug, Default)]
pub struct TakenOver {
    /// Sessions that were running: now deleted, with their end reason.
    pub sessions: u64,
    /// Recordings left `recording` or `stopping`, for the taker to finalize.
    pub recordings: Vec<Recording>,
    /// Test runs left running, for the taker to interrupt.
    pub test_runs: Vec<TestRun>,
}

/// A moment on the database's clock, in microseconds since the Unix epoch: the one clock every
/// node of the fleet agrees on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DatabaseTime(pub i64);

/// A test run recording now, as the whole fleet sees it.
#[derive(Debug, Clone)]
pub struct RecordingRun {
    /// The project its test record belongs to.
    pub project: String,
    /// The run.
    pub run: TestRun,
    /// Since any node last saw traffic for it (or since it started, before any traffic).
    pub idle_for: Duration,
}

/// Membership and ownership in the metadata database.
#[async_trait]
pub trait FleetMetadata: Send + Sync {
    /// The owner this store writes rows as.
    fn owner(&self) -> &NodeOwner;
    /// Joins the fleet as [`Self::owner`] (replacing the node's earlier incarnation's entry),
    /// alive now on the database's clock.
    async fn register_node(&self, node: &NodeRegistration) -> Result<(), StoreError>;
    /// Records that this node is alive, with its load. `false` when the fleet found it lost
    /// meanwhile and took its rows over: it must stop, writing nothing more.
    async fn heartbeat(&self, active_sessions: u32, draining: bool) -> Result<bool, StoreError>;
    /// Every node of the fleet, lost ones included.
    async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError>;
    /// Marks `node` lost if it still is in that incarnation and silent for `silent_for`;
    /// `true` for the one caller that did, who then takes its rows over.
    async fn claim_lost_node(
        &self,
        node: &NodeOwner,
        silent_for: Duration,
    ) -> Result<bool, StoreError>;
    /// True when other nodes can share this database (PostgreSQL, not SQLite).
    fn is_shared(&self) -> bool;
    /// The database's clock now.
    async fn clock(&self) -> Result<DatabaseTime, StoreError>;
    /// Every test run recording now, in every project.
    async fn recording_runs(&self) -> Result<Vec<RecordingRun>, StoreError>;
    /// Notes that this node saw traffic for `runs` just now.
    async fn note_run_traffic(&self, runs: &[i64]) -> Result<(), StoreError>;
    /// Notes that this node applied the recording runs as read at `read_at`, and stored every
    /// exchange it admitted for runs that had stopped by then.
    async fn note_traffic_synced(&self, read_at: DatabaseTime) -> Result<(), StoreError>;
    /// The other live nodes (a heartbeat within `live_within`, not lost) that have not synced
    /// their traffic since `since`.
    async fn nodes_behind(
        &self,
        since: DatabaseTime,
        live_within: Duration,
    ) -> Result<Vec<String>, StoreError>;
    /// Ends run `id`'s recording phase (`recording` becomes false); `true` for the one caller
    /// that did, who then runs its testing phase.
    async fn end_recording_phase(&self, id: i64) -> Result<bool, StoreError>;
    /// Takes over `lost`'s rows: running sessions end (deleted at `at` with `end_reason`),
    /// and in-flight recordings and running test runs become this node's, returned for it to
    /// finish.
    async fn take_over(
        &self,
        lost: &LostRows,
        end_reason: &str,
        at: OffsetDateTime,
    ) -> Result<TakenOver, StoreError>;
}
