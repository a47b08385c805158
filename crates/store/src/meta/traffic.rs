//! Metadata of traffic recording: test records, test runs and baselines.

use async_trait::async_trait;
use std::ops::RangeInclusive;

use tapedeck_core::{Baseline, ExchangeSummary, TestRecord, TestRun};
use time::OffsetDateTime;

use crate::meta::Page;
use crate::StoreError;

/// Which of a record's exchanges a listing holds; `None` filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExchangeFilter {
    /// Only requests of this method, ignoring ASCII case.
    pub method: Option<String>,
    /// Only responses with a status in this range.
    pub status: Option<RangeInclusive<u16>>,
    /// Only requests to this host (with any port), or to this `host:port`, ignoring ASCII case.
    pub host: Option<String>,
    /// Only exchanges with this text in the URL (ignoring ASCII case) or these bytes in a
    /// body as stored (a compressed response is not searched inside).
    pub text: Option<String>,
    /// Only requests that started at or after this.
    pub since: Option<OffsetDateTime>,
    /// Only requests that started before this.
    pub until: Option<OffsetDateTime>,
}

/// Whose exchanges a listing holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeScope<'a> {
    /// One test record's.
    Record(i64),
    /// Every test record's of a project, oldest first: the traffic beside a session's
    /// recording, filtered by time.
    Project(&'a str),
}

/// Where test records, test runs and baselines are kept.
#[async_trait]
pub trait TrafficMetadata: Send + Sync {
    /// Creates an empty test record in `project`.
    async fn create_test_record(
        &self,
        project: &str,
        name: &str,
        at: OffsetDateTime,
    ) -> Result<TestRecord, StoreError>;
    /// A test record by id.
    async fn get_test_record(&self, id: i64) -> Result<Option<TestRecord>, StoreError>;
    /// Stores a new test run and returns its id.
    async fn insert_test_run(&self, run: &TestRun) -> Result<i64, StoreError>;
    /// Saves a test run's state, flags, counters and end.
    async fn update_test_run(&self, run: &TestRun) -> Result<(), StoreError>;
    /// A test run by id.
    async fn get_test_run(&self, id: i64) -> Result<Option<TestRun>, StoreError>;
    /// `project`'s test records, newest first, a page at a time.
    async fn list_test_records(
        &self,
        project: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Page<TestRecord>, StoreError>;
    /// The test runs of `project`'s records, newest first, a page at a time.
    async fn list_test_runs(
        &self,
        project: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Page<TestRun>, StoreError>;
    /// Test runs still `running`, those of `project`'s records only when given: what a restart
    /// interrupts (every project), and what a project's new run replaces.
    async fn running_test_runs(&self, project: Option<&str>) -> Result<Vec<TestRun>, StoreError>;
    /// Appends baselines in one transaction; the store assigns their ids, increasing in the
    /// order given.
    async fn insert_baselines(&self, baselines: &[Baseline]) -> Result<(), StoreError>;
    /// Up to `limit` of a record's baselines with ids above `after_id`, in the order they were
    /// recorded: one page of a record, which may be far larger than memory.
    async fn baselines_after(
        &self,
        test_record_id: i64,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<Baseline>, StoreError>;
    /// The exchanges in `scope` matching `filter`, in the order they were recorded, a page at
    /// a time, without their bodies.
    async fn list_exchanges(
        &self,
        scope: ExchangeScope<'_>,
        filter: &ExchangeFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<ExchangeSummary>, StoreError>;
    /// One of a record's baselines, whole.
    async fn get_baseline(
        &self,
        test_record_id: i64,
        id: i64,
    ) -> Result<Option<Baseline>, StoreError>;
    /// How many baselines a record holds.
    async fn count_baselines(&self, test_record_id: i64) -> Result<u64, StoreError>;
    /// Up to `limit` of a record's runs created before the run `before_id` that have ended
    /// `passed` or `failed`, newest first: what a run's findings are compared with.
    async fn earlier_test_runs(
        &self,
        test_record_id: i64,
        before_id: i64,
        limit: u32,
    ) -> Result<Vec<TestRun>, StoreError>;
    /// Deletes a test record with its baselines, test runs and their findings, in one
    /// transaction.
    async fn delete_test_record(&self, id: i64) -> Result<(), StoreError>;
    /// Ids of up to `limit` test records created before `before`, oldest first: what
    /// retention deletes (the caller skips one still recording).
    async fn test_records_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError>;
}
