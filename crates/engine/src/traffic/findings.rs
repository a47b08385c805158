//! Reading what test runs found, and what changed since an earlier run of the same record.

use std::collections::HashSet;

use tapedeck_core::{EngineError, TestRun, Vulnerability};
use tapedeck_store::meta::Page;

use crate::Engine;

/// Most findings one run's comparison reads; a run finds at most one per baseline, attack
/// type and insertion point, so real runs stay far below.
const MOST_COMPARED: u32 = 10_000;
/// Earlier runs looked through for one that ran security tests.
const EARLIER_RUNS_SEARCHED: u32 = 50;

/// Whether a finding is new since the run it is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The earlier run did not have it, or there is no earlier run.
    New,
    /// The earlier run had it too.
    Unchanged,
}

/// A run's findings against those of the newest earlier run of its record that ran security
/// tests and ended: what a CI shows as new and as fixed.
#[derive(Debug, Clone, PartialEq)]
pub struct VulnerabilityChanges {
    /// The run's findings, oldest first, each marked new or unchanged.
    pub items: Vec<(Vulnerability, Change)>,
    /// The earlier run's findings this run no longer has.
    pub fixed: Vec<Vulnerability>,
    /// The earlier run compared with, if any.
    pub compared_with: Option<i64>,
}

impl Engine {
    /// Up to `limit` findings of `project`'s runs `run_ids`, oldest first, after `offset`.
    ///
    /// Errors: `NotFound` when one of the runs is not `project`'s.
    pub async fn list_vulnerabilities(
        &self,
        project: &str,
        run_ids: &[i64],
        limit: u32,
        offset: u64,
    ) -> Result<Page<Vulnerability>, EngineError> {
        for id in run_ids {
            self.get_test_run(project, *id).await?;
        }
        Ok(self
            .inner
            .meta
            .list_vulnerabilities(run_ids, limit, offset)
            .await?)
    }

    /// One finding of `project`'s run `run_id`.
    ///
    /// Errors: `NotFound` when the run is not `project`'s or has no such finding.
    pub async fn get_vulnerability(
        &self,
        project: &str,
        run_id: i64,
        id: i64,
    ) -> Result<Vulnerability, EngineError> {
        self.all_findings(project, run_id)
            .await?
            .into_iter()
            .find(|v| v.id == id)
            .ok_or_else(|| EngineError::not_found("vulnerability", id.to_string()))
    }

    /// `project`'s run `run_id`'s findings compared with the newest earlier run of the same
    /// record that ran security tests and ended. Findings match by
    /// [`Vulnerability::key`].
    ///
    /// Errors: `NotFound` when the run is not `project`'s.
    pub async fn vulnerability_changes(
        &self,
        project: &str,
        run_id: i64,
    ) -> Result<VulnerabilityChanges, EngineError> {
        let run = self.get_test_run(project, run_id).await?;
        let found = self.all_findings(project, run_id).await?;
        let earlier = self
            .inner
            .meta
            .earlier_test_runs(run.test_record_id, run.id, EARLIER_RUNS_SEARCHED)
            .await?
            .into_iter()
            .find(|r: &TestRun| r.spec.policy.is_some());
        let Some(earlier) = earlier else {
            return Ok(VulnerabilityChanges {
                items: found.into_iter().map(|v| (v, Change::New)).collect(),
                fixed: Vec::new(),
                compared_with: None,
            });
        };
        let before = self.all_findings(project, earlier.id).await?;
        Ok(compare(found, before, earlier.id))
    }

    async fn all_findings(
        &self,
        project: &str,
        run_id: i64,
    ) -> Result<Vec<Vulnerability>, EngineError> {
        Ok(self
            .list_vulnerabilities(project, &[run_id], MOST_COMPARED, 0)
            .await?
            .items)
    }
}

/// `now` marked against `before` (the findings of run `before_id`).
fn compare(
    now: Vec<Vulnerability>,
    before: Vec<Vulnerability>,
    before_id: i64,
) -> VulnerabilityChanges {
    let had: HashSet<_> = before.iter().map(Vulnerability::key).collect();
    let has: HashSet<_> = now.iter().map(Vulnerability::key).collect();
    VulnerabilityChanges {
        items: now
            .into_iter()
            .map(|v| {
                let change = if had.contains(&v.key()) {
                    Change::Unchanged
                } else {
                    Change::New
                };
                (v, change)
            })
            .collect(),
        fixed: before
            .into_iter()
            .filter(|v| !has.contains(&v.key()))
            .collect(),
        compared_with: Some(before_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(run: i64, baseline: i64, kind: &str, parameter: &str) -> Vulnerability {
        Vulnerability {
            id: baseline,
            test_run_id: run,
            baseline_id: baseline,
            kind: kind.into(),
            threat: 80,
            title: kind.into(),
            description: String::new(),
            domain: "app".into(),
            path: "/x".into(),
            method: "GET".into(),
            parameter: parameter.into(),
            payload: String::new(),
            exchange: serde_json::Value::Null,
            found_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn findings_match_across_runs_by_type_point_and_endpoint_not_baseline() {
        let before = vec![
            finding(1, 10, "xss", "GET_q"),
            finding(1, 11, "sqli", "GET_q"),
        ];
        let now = vec![
            finding(2, 10, "sqli", "GET_q"),
            finding(2, 12, "sqli", "GET_id"),
        ];
        let changes = compare(now, before, 1);
        let marks: Vec<_> = changes
            .items
            .iter()
            .map(|(v, c)| (v.parameter.as_str(), *c))
            .collect();
        assert_eq!(
            marks,
            [("GET_q", Change::Unchanged), ("GET_id", Change::New)]
        );
        assert_eq!(changes.fixed.len(), 1);
        assert_eq!(changes.fixed[0].kind, "xss");
        assert_eq!(changes.compared_with, Some(1));
    }
}
