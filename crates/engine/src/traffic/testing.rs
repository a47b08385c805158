//! The testing phase. With a test policy, each baseline of the record is profiled and attacked
//! ([`super::security`]), and the run fails when a vulnerability is confirmed. Without one, each
//! baseline is replayed against its target (or the run's `target` override) and passes when the
//! answer matches the recording: a regression check.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use tapedeck_attack::policy::Policy;
use tapedeck_attack::Request;
use tapedeck_core::{Baseline, TestRun, TestRunState, Vulnerability};
use time::OffsetDateTime;

use super::security::{self, SecurityTest, Verdict};
use super::BaselinePages;
use crate::Engine;

/// Headers that describe one hop, not the request; the client sets its own.
const HOP_HEADERS: &[&str] = &[
    "host",
    "connection",
    "proxy-connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "proxy-authorization",
];

/// Methods whose response body must match too: repeating them must give the same answer.
const IDEMPOTENT: &[&str] = &["GET", "HEAD", "OPTIONS", "PUT", "DELETE"];

impl Engine {
    /// Replays the run's record and ends it `passed` or `failed`; stops early if it is
    /// interrupted meanwhile.
    pub(super) async fn replay_test_run(self, mut run: TestRun) {
        // Waiting counts what is left to look at; excluded and duplicate baselines leave it
        // without being replayed.
        let recorded = match self.count_baselines(run.test_record_id).await {
            Ok(count) => count,
            Err(e) => {
                tracing::error!(test_run = run.id, error = %e, "could not count baselines");
                return;
            }
        };
        run.waiting_count = recorded;
        let mut tests = match run.spec.policy.as_deref().map(Policy::from_json) {
            None => None,
            Some(Ok(policy)) => Some(SecurityTest::new(self.clone(), run.id, policy)),
            Some(Err(e)) => {
                // The API checks policies before storing them; this is a stored one gone bad.
                tracing::error!(test_run = run.id, error = %e, "the run's test policy is invalid");
                return;
            }
        };
        let mut vulnerable = HashSet::new();
        let mut pages = BaselinePages::new(self.clone(), run.test_record_id);
        let mut seen = HashSet::new();
        // Baselines whose request body was cut at the body cap: replaying the cut bytes would
        // test the cut, not the app, so they are skipped and said so.
        let mut cut_requests = 0;
        loop {
            let page = match pages.next_page().await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(test_run = run.id, error = %e, "could not load baselines");
                    return;
                }
            };
            for baseline in page {
                run.waiting_count = run.waiting_count.saturating_sub(1);
                if baseline.request_truncated {
                    cut_requests += 1;
                    continue;
                }
                if !is_replayed(&run, &baseline, &mut seen) {
                    continue;
                }
                match self.run_by_id(run.id).await {
                    Ok(current) if current.state == TestRunState::Running => {}
                    _ => return,
                }
                let request = test_request(&baseline, run.spec.target.as_deref());
                match &mut tests {
                    None => {
                        run.sent_requests_count += 1;
                        match self.replay_one(&request, &baseline).await {
                            Ok(()) => run.passed_count += 1,
                            Err(reason) => {
                                tracing::info!(test_run = run.id, baseline = baseline.id, %reason, "baseline failed");
                                run.failed_count += 1;
                                run.failures.push((baseline.id, reason));
                            }
                        }
                    }
                    Some(tests) => {
                        let verdict = tests.test(&request, baseline.id).await;
                        run.sent_requests_count = tests.sent;
                        match verdict {
                            Verdict::Interrupted => return,
                            Verdict::Unstable(reason) => {
                                tracing::info!(test_run = run.id, baseline = baseline.id, %reason, "baseline not attacked: unstable");
                                run.tech_failed_count += 1;
                            }
                            Verdict::Tested(found) if found.is_empty() => run.passed_count += 1,
                            Verdict::Tested(found) => {
                                run.failed_count += 1;
                                vulnerable.insert(baseline.id);
                                self.keep_findings(&mut run, found).await;
                            }
                        }
                        let late = tests.late_findings(false).await;
                        self.keep_late_findings(&mut run, &mut vulnerable, late)
                            .await;
                    }
                }
                if let Err(e) = self.inner.meta.update_test_run(&run).await {
                    tracing::warn!(test_run = run.id, error = %e, "could not save progress");
                }
            }
        }
        run.waiting_count = 0;
        if let Some(tests) = &mut tests {
            let late = tests.late_findings(true).await;
            self.keep_late_findings(&mut run, &mut vulnerable, late)
                .await;
        }
        // Only a run that is still running ends here; an interrupted one keeps its state.
        if let Ok(current) = self.run_by_id(run.id).await {
            if current.state == TestRunState::Running {
                (run.state, run.problem) = outcome(&run, recorded, cut_requests);
                run.end_time = Some(OffsetDateTime::now_utc());
                if let Err(e) = self.inner.meta.update_test_run(&run).await {
                    tracing::error!(test_run = run.id, error = %e, "could not save the result");
                }
                tracing::info!(
                    test_run = run.id,
                    state = run.state.as_str(),
                    passed = run.passed_count,
                    failed = run.failed_count,
                    unstable = run.tech_failed_count,
                    requests = run.sent_requests_count,
                    "test run finished"
                );
            }
        }
    }

    /// Keeps findings proven late, for baselines already counted: one counted clean turns
    /// out vulnerable. `vulnerable` holds the ids of the baselines counted so.
    async fn keep_late_findings(
        &self,
        run: &mut TestRun,
        vulnerable: &mut HashSet<i64>,
        late: Vec<Vulnerability>,
    ) {
        for baseline_id in late.iter().map(|v| v.baseline_id) {
            if vulnerable.insert(baseline_id) {
                run.passed_count = run.passed_count.saturating_sub(1);
                run.failed_count += 1;
            }
        }
        self.keep_findings(run, late).await;
    }

    /// Stores a baseline's findings and names each among the run's failures, as FAST lists a
    /// vulnerable baseline.
    async fn keep_findings(&self, run: &mut TestRun, found: Vec<Vulnerability>) {
        for mut finding in found {
            tracing::info!(
                test_run = run.id,
                baseline = finding.baseline_id,
                kind = %finding.kind,
                parameter = %finding.parameter,
                "vulnerability found"
            );
            match self.inner.meta.insert_vulnerability(&finding).await {
                Ok(id) => finding.id = id,
                Err(e) => {
                    tracing::error!(test_run = run.id, error = %e, "could not store a finding");
                }
            }
            run.failures.push((
                finding.baseline_id,
                format!(
                    "{} in {} {} ({})",
                    finding.title, finding.method, finding.path, finding.parameter
                ),
            ));
        }
    }

    /// Replays `request` once and compares the answer with the recording: the same status,
    /// and for an idempotent method the same body.
    async fn replay_one(&self, request: &Request, baseline: &Baseline) -> Result<(), String> {
        let url = &request.url;
        let response = security::send(self, request).await?;
        if response.status != baseline.status {
            return Err(format!(
                "{} {url}: status {} instead of {}",
                baseline.method, response.status, baseline.status
            ));
        }
        let compare_body =
            IDEMPOTENT.contains(&baseline.method.as_str()) && !baseline.response_truncated;
        if compare_body && response.body != baseline.response_body {
            return Err(format!(
                "{} {url}: response body differs from the recording",
                baseline.method
            ));
        }
        Ok(())
    }
}

/// The request a test sends for `baseline`: retargeted at `target` when set, without hop
/// headers.
fn test_request(baseline: &Baseline, target: Option<&str>) -> Request {
    let headers = baseline
        .request_headers
        .iter()
        .filter(|(name, _)| !HOP_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        .cloned()
        .collect();
    Request {
        method: baseline.method.clone(),
        url: retarget(&baseline.url, target),
        headers,
        body: baseline.request_body.clone(),
    }
}

/// How a run that tested `run.passed_count + run.failed_count` of its record's `recorded`
/// baselines, `cut_requests` of them skipped for a request body cut at the body cap, ends: a
/// run that tested nothing has not passed, and either says why.
fn outcome(run: &TestRun, recorded: u64, cut_requests: u64) -> (TestRunState, Option<String>) {
    let cut = (cut_requests > 0).then(|| {
        format!(
            "{cut_requests} baseline(s) were not replayed: their request bodies were cut at \
             --body-cap-kib when recorded, and replaying a cut request would test the cut"
        )
    });
    if run.passed_count + run.failed_count > 0 {
        let state = if run.failed_count == 0 {
            TestRunState::Passed
        } else {
            TestRunState::Failed
        };
        return (state, cut);
    }
    if run.tech_failed_count > 0 {
        let why = format!(
            "nothing was tested: all {} tested baseline(s) answered identical replays \
             differently (status or body), so no answer could be told apart from an attack's",
            run.tech_failed_count
        );
        return (TestRunState::Interrupted, Some(why));
    }
    if let Some(cut) = cut {
        return (
            TestRunState::Interrupted,
            Some(format!("nothing was tested: {cut}")),
        );
    }
    let why = if recorded == 0 {
        let hosts = match run.spec.allowed_hosts.trim() {
            "" => "*",
            hosts => hosts,
        };
        format!(
            "no baselines were recorded, so nothing was tested: no request reached the proxy for \
             a host matching allowed_hosts {hosts:?} while the run was recording"
        )
    } else {
        format!(
            "all {recorded} baselines were skipped (an excluded file extension or a duplicate), \
             so nothing was tested"
        )
    };
    (TestRunState::Interrupted, Some(why))
}

/// Whether a run replays `baseline`: not with an excluded extension, and only the first of
/// identical ones when `skip_duplicated_baselines` is set (docs/fast.md, "Testing phase").
/// `seen` holds a hash of each replayed (method, URL, body), so a record of any size costs
/// eight bytes a baseline here.
fn is_replayed(run: &TestRun, baseline: &Baseline, seen: &mut HashSet<u64>) -> bool {
    let path = baseline.url.split(['?', '#']).next().unwrap_or_default();
    let extension = path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    let excluded = extension.is_some_and(|ext| {
        !ext.contains('/')
            && run
                .spec
                .file_extensions_to_exclude
                .split('|')
                .map(|e| e.trim().trim_start_matches('.'))
                .any(|e| !e.is_empty() && e.eq_ignore_ascii_case(&ext))
    });
    if excluded {
        return false;
    }
    if !run.spec.skip_duplicated_baselines {
        return true;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&baseline.method, &baseline.url, &baseline.request_body).hash(&mut hasher);
    seen.insert(hasher.finish())
}

/// `url` with its scheme, host and port replaced by `target`'s (FAST's TEST_RUN_URI).
fn retarget(url: &str, target: Option<&str>) -> String {
    let Some(target) = target else {
        return url.to_owned();
    };
    let path_start = url
        .find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j));
    let path = path_start.map_or("/", |i| &url[i..]);
    format!("{}{path}", target.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(method: &str, url: &str, body: &[u8]) -> Baseline {
        Baseline {
            id: 0,
            test_record_id: 1,
            started_at: OffsetDateTime::UNIX_EPOCH,
            duration_ms: 1,
            method: method.into(),
            url: url.into(),
            request_headers: Vec::new(),
            request_body: body.to_vec(),
            request_truncated: false,
            status: 200,
            response_headers: Vec::new(),
            response_body: Vec::new(),
            response_truncated: false,
        }
    }

    #[test]
    fn excluded_extensions_and_repeats_are_not_replayed() {
        let mut run = TestRun {
            id: 1,
            test_record_id: 1,
            spec: tapedeck_core::TestRunSpec {
                file_extensions_to_exclude: "jpg| .PNG".into(),
                skip_duplicated_baselines: true,
                ..Default::default()
            },
            state: TestRunState::Running,
            recording: false,
            passed_count: 0,
            failed_count: 0,
            waiting_count: 0,
            tech_failed_count: 0,
            sent_requests_count: 0,
            failures: Vec::new(),
            problem: None,
            start_time: OffsetDateTime::UNIX_EPOCH,
            end_time: None,
        };
        let mut seen = HashSet::new();
        let mut replayed = |run: &TestRun, b: Baseline| is_replayed(run, &b, &mut seen);
        assert!(!replayed(&run, baseline("GET", "http://a/x.jpg?v=1", b"")));
        assert!(!replayed(&run, baseline("GET", "http://a/logo.png", b"")));
        assert!(replayed(&run, baseline("GET", "http://a/v1.2/items", b"")));
        assert!(replayed(&run, baseline("POST", "http://a/items", b"{}")));
        assert!(!replayed(&run, baseline("POST", "http://a/items", b"{}")));
        assert!(replayed(&run, baseline("POST", "http://a/items", b"{ }")));
        run.spec.skip_duplicated_baselines = false;
        assert!(replayed(&run, baseline("POST", "http://a/items", b"{}")));
    }

    #[test]
    fn retargets_scheme_host_and_port_only() {
        assert_eq!(
            retarget("http://a:1/x?y=1", Some("https://b:2")),
            "https://b:2/x?y=1"
        );
        assert_eq!(retarget("http://a/x", Some("http://c/")), "http://c/x");
        assert_eq!(retarget("http://a", Some("http://c")), "http://c/");
        assert_eq!(retarget("http://a/x", None), "http://a/x");
    }
}
