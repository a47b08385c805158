//! Metadata of what test runs found: vulnerabilities with their proving exchange.

use async_trait::async_trait;
use tapedeck_core::Vulnerability;

use super::Page;
use crate::StoreError;

/// Where the testing phase's findings are kept. They are deleted with their test record
/// ([`super::TrafficMetadata::delete_test_record`]).
#[async_trait]
pub trait VulnerabilityMetadata: Send + Sync {
    /// Stores a finding and returns its id.
    async fn insert_vulnerability(&self, vulnerability: &Vulnerability) -> Result<i64, StoreError>;
    /// Up to `limit` of the findings of the runs in `test_run_ids`, oldest first, after
    /// skipping `offset`.
    async fn list_vulnerabilities(
        &self,
        test_run_ids: &[i64],
        limit: u32,
        offset: u64,
    ) -> Result<Page<Vulnerability>, StoreError>;
    /// How many findings each run in `test_run_ids` has, as `(run id, count)` for runs with
    /// at least one.
    async fn count_vulnerabilities(
        &self,
        test_run_ids: &[i64],
    ) -> Result<Vec<(i64, u64)>, StoreError>;
}
