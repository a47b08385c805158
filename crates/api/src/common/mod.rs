//! What every dialect shares.

pub mod auth;
pub mod body;
pub mod canary;
pub mod cdp_relay;
pub mod cluster;
pub mod error;
pub mod files;
pub mod forward;
pub mod health;
pub mod live_view;
pub mod metrics;
pub mod request_id;
pub mod timestamp;
pub mod token;
