//! `/v1/nodes`: the fleet as the database sees it, for admin keys.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use tapedeck_engine::{HEARTBEAT_EVERY, SILENT_AFTER};
use tapedeck_store::NodeRecord;
use utoipa::ToSchema;

use super::keys::require_admin;
use super::NativeError;
use crate::common::auth::Caller;
use crate::ApiState;

/// One node of the fleet.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeJson {
    /// Its `--node-id`.
    pub id: String,
    /// The incarnation of its current (or last) start.
    pub incarnation: String,
    /// How other nodes reach it.
    pub internal_url: String,
    /// Most sessions it runs at once.
    pub capacity: u32,
    /// Sessions it ran at its last heartbeat.
    pub active_sessions: u32,
    /// `live` (heartbeat within the silence threshold), `silent` (past it, not yet taken
    /// over), or `lost` (another node took its work over).
    pub health: &'static str,
    /// Seconds since its last heartbeat, on the database's clock.
    pub heartbeat_age_secs: f64,
    /// True once it stopped taking sessions.
    pub draining: bool,
}

impl From<NodeRecord> for NodeJson {
    fn from(node: NodeRecord) -> Self {
        let health = if node.lost {
            "lost"
        } else if node.heartbeat_age >= SILENT_AFTER {
            "silent"
        } else {
            "live"
        };
        Self {
            id: node.owner.node,
            incarnation: node.owner.incarnation,
            internal_url: node.internal_url,
            capacity: node.capacity,
            active_sessions: node.active_sessions,
            health,
            heartbeat_age_secs: node.heartbeat_age.as_secs_f64(),
            draining: node.draining,
        }
    }
}

/// The fleet's nodes, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeList {
    /// Every node that joined, lost ones included.
    pub items: Vec<NodeJson>,
    /// How often each node writes its heartbeat, in seconds.
    pub heartbeat_every_secs: u64,
}

/// List the fleet's nodes and their health (admin keys only).
#[utoipa::path(get, path = "/v1/nodes", tag = "fleet",
    responses((status = 200, body = NodeList),
              (status = 403, description = "not an admin key", body = crate::common::error::ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<NodeList>, NativeError> {
    require_admin(&caller)?;
    let nodes = state.engine.fleet_nodes().await?;
    Ok(Json(NodeList {
        items: nodes.into_iter().map(NodeJson::from).collect(),
        heartbeat_every_secs: HEARTBEAT_EVERY.as_secs(),
    }))
}
