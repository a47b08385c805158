//! API keys: who may call Tapedeck. The secret itself is never stored, only its hash; a key is
//! known by its id, name and project.

use time::OffsetDateTime;

/// The project every key belongs to until projects are named at creation.
pub const DEFAULT_PROJECT: &str = "default";

/// A stored API key, without its secret. Serialized only between the nodes of a fleet, to say
/// whose request a node forwards.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiKeyRecord {
    /// Its id, used to list and revoke it.
    pub id: String,
    /// A name people give it (`ci-pipeline`, `alice`).
    pub name: String,
    /// The project whose work it creates and sees.
    pub project: String,
    /// True for keys that may manage keys.
    pub admin: bool,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was revoked; a revoked key is refused.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKeyRecord {
    /// True while the key is accepted.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}
