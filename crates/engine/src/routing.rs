//! Which node serves a request: a running session is served by the node that runs it, and a
//! create by this node while it has room, else by the fleet's node with the most room. The
//! engine only says where; the API forwards.
//!
//! The answers come from the fleet's view each node keeps in memory (refreshed with every
//! heartbeat), read again from the database only when it does not know the node asked about.

use std::time::{Duration, Instant};

use tapedeck_core::EngineError;
use tapedeck_store::NodeRecord;

use crate::fleet::{HEARTBEAT_EVERY, SILENT_AFTER};
use crate::{lock, Engine};

/// Another node of the fleet, where a request must be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRoute {
    /// The node's id (`--node-id`).
    pub node: String,
    /// How this node reaches it (`--internal-url`), without a trailing slash.
    pub internal_url: String,
}

impl NodeRoute {
    fn of(record: &NodeRecord) -> Self {
        Self {
            node: record.owner.node.clone(),
            internal_url: record.internal_url.trim_end_matches('/').to_owned(),
        }
    }
}

/// A node whose heartbeat is this old is not sent requests: it is frozen or cut off (and soon
/// found lost if it stays so), and a forwarded request would wait on it in vain.
const UNRESPONSIVE_AFTER: Duration = Duration::from_secs(3 * HEARTBEAT_EVERY.as_secs());

/// The fleet as this node last read it, and when.
#[derive(Default)]
pub(crate) struct FleetView {
    nodes: std::sync::Mutex<(Vec<NodeRecord>, Option<Instant>)>,
}

impl FleetView {
    pub(crate) fn replace(&self, nodes: Vec<NodeRecord>) {
        *lock(&self.nodes) = (nodes, Some(Instant::now()));
    }

    /// `node` as last read, its heartbeat age brought up to now.
    fn find(&self, node: &str) -> Option<NodeRecord> {
        let view = lock(&self.nodes);
        let mut record = view.0.iter().find(|n| n.owner.node == node).cloned()?;
        record.heartbeat_age += view.1.map_or(Duration::ZERO, |read| read.elapsed());
        Some(record)
    }
}

impl Engine {
    /// This node's id in the fleet.
    pub fn node_id(&self) -> &str {
        &self.inner.meta.owner().node
    }

    /// Where requests on `node`'s sessions go: `None` for this node, and for a node the fleet
    /// found lost (its sessions ended; what is left of them is served from the database).
    ///
    /// Errors: `NotFound` for a node the fleet does not know; `Unavailable` for a node that
    /// has written no heartbeat for [`UNRESPONSIVE_AFTER`], or when the database is needed
    /// and does not answer.
    pub async fn route_to_node(&self, node: &str) -> Result<Option<NodeRoute>, EngineError> {
        if node == self.node_id() {
            return Ok(None);
        }
        let record = match self.inner.fleet.find(node) {
            Some(record) => record,
            None => {
                // A node that joined after this one's last heartbeat.
                self.refresh_fleet_view().await?;
                self.inner
                    .fleet
                    .find(node)
                    .ok_or_else(|| EngineError::not_found("node", node))?
            }
        };
        if record.lost {
            return Ok(None);
        }
        if record.heartbeat_age >= UNRESPONSIVE_AFTER {
            return Err(EngineError::Unavailable(format!(
                "node {node}, which serves this, has written no heartbeat for {} s; if it stays \
                 silent, the fleet takes its sessions over after {} s",
                record.heartbeat_age.as_secs(),
                SILENT_AFTER.as_secs()
            )));
        }
        Ok(Some(NodeRoute::of(&record)))
    }

    /// Where requests on one of `project`'s sessions go: `None` when it runs here, or is not
    /// running anywhere (then this node answers from the database, e.g. a 404 or a download).
    ///
    /// Errors: `Unavailable` when the database does not answer.
    pub async fn route_session(
        &self,
        project: &str,
        id_or_name: &str,
    ) -> Result<Option<NodeRoute>, EngineError> {
        if self.running_here(project, id_or_name).is_some() {
            return Ok(None);
        }
        let Some(session) = self
            .inner
            .meta
            .find_session(project, id_or_name, false)
            .await?
        else {
            return Ok(None);
        };
        match session.node {
            Some(node) => match self.route_to_node(&node).await {
                Err(EngineError::NotFound { .. }) => Ok(None),
                routed => routed,
            },
            None => Ok(None),
        }
    }

    /// Where requests on one of `project`'s recordings go: to the node running its session.
    ///
    /// Errors: `Unavailable` when the database does not answer.
    pub async fn route_recording(
        &self,
        project: &str,
        recording_id: &str,
    ) -> Result<Option<NodeRoute>, EngineError> {
        if lock(&self.inner.recordings).contains_key(recording_id) {
            return Ok(None);
        }
        match self.inner.meta.get_recording(recording_id).await? {
            Some(recording) => self.route_session(project, &recording.session_id).await,
            None => Ok(None),
        }
    }

    /// Where a new session goes: `None` (here) while this node has room or no node has more;
    /// otherwise the live, non-draining node with the most free slots.
    ///
    /// Errors: `Unavailable` when this node is full and the database does not answer.
    pub async fn place_session(&self) -> Result<Option<NodeRoute>, EngineError> {
        if self.has_room() {
            return Ok(None);
        }
        self.refresh_fleet_view().await?;
        let nodes = lock(&self.inner.fleet.nodes);
        let me = self.node_id();
        let roomiest = nodes
            .0
            .iter()
            .filter(|n| {
                n.owner.node != me && !n.lost && !n.draining && n.heartbeat_age < SILENT_AFTER
            })
            .map(|n| (n.capacity.saturating_sub(n.active_sessions), n))
            .filter(|(free, _)| *free > 0)
            .max_by_key(|(free, _)| *free);
        Ok(roomiest.map(|(_, n)| NodeRoute::of(n)))
    }

    /// True while a create would get a session here: not draining, and a slot is free or a
    /// pooled session can be handed out or evicted.
    fn has_room(&self) -> bool {
        !self.is_draining()
            && (self.inner.session_slots.available_permits() > 0 || self.pooled_sessions() > 0)
    }

    /// Reads the fleet from the database into this node's view, and returns it.
    pub(crate) async fn refresh_fleet_view(&self) -> Result<Vec<NodeRecord>, EngineError> {
        let nodes = self.inner.meta.nodes().await?;
        self.inner.fleet.replace(nodes.clone());
        Ok(nodes)
    }

    /// Tells the fleet this node's load now, not at the next heartbeat, so that a create
    /// placed right after this one sees it. A failure waits for the next heartbeat.
    pub(crate) async fn announce_load(&self) {
        if let Err(e) = self.write_heartbeat().await {
            tracing::debug!(error = %e, "load not announced; the next heartbeat tells it");
        }
    }
}

#[cfg(test)]
mod tests {
    use tapedeck_store::{FleetMetadata, NodeOwner, NodeRegistration, SqlMetadata};

    use super::*;
    use crate::EngineConfig;

    #[tokio::test]
    async fn a_full_node_places_a_create_on_the_live_node_with_most_room() {
        let dir = tempfile::tempdir().unwrap();
        let engine = crate::test_support::engine_with(EngineConfig {
            max_sessions: 0,
            ..EngineConfig::new(dir.path().to_path_buf())
        })
        .await;
        // Three other nodes on the same database: "roomy" has 3 free slots, "tight" 1, and
        // "draining" 4 but takes no sessions.
        for (node, capacity, active, draining) in [
            ("roomy", 4, 1, false),
            ("tight", 2, 1, false),
            ("draining", 4, 0, true),
        ] {
            let other = SqlMetadata::open_sqlite(&dir.path().join("tapedeck.db"))
                .await
                .unwrap()
                .with_owner(NodeOwner::starting(node));
            let registration = NodeRegistration {
                internal_url: format!("http://{node}:7600/"),
                capacity,
            };
            other.register_node(&registration).await.unwrap();
            assert!(other.heartbeat(active, draining).await.unwrap());
        }
        let placed = engine
            .place_session()
            .await
            .unwrap()
            .expect("placed elsewhere");
        assert_eq!(
            placed,
            NodeRoute {
                node: "roomy".into(),
                internal_url: "http://roomy:7600".into()
            }
        );
        assert_eq!(engine.route_to_node(engine.node_id()).await.unwrap(), None);
        let tight = engine.route_to_node("tight").await.unwrap();
        assert_eq!(tight.map(|r| r.node).as_deref(), Some("tight"));
        assert!(matches!(
            engine.route_to_node("nobody").await,
            Err(EngineError::NotFound { .. })
        ));
    }
}
