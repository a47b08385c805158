//! FAST's test-run shapes (docs/fast.md, "Wire shapes").

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tapedeck_core::{TestRun, TestRunState, Vulnerability};

/// `POST /v1/test_run` body; with `test_record_id` it is a copy.
#[derive(Debug, Default, Deserialize)]
pub struct CreateTestRun {
    pub name: Option<String>,
    pub desc: Option<String>,
    pub test_record_name: Option<String>,
    pub test_record_id: Option<i64>,
    pub file_extensions_to_exclude: Option<String>,
    pub skip_duplicated_baselines: Option<bool>,
    pub rps_per_baseline: Option<u32>,
    pub rps: Option<u32>,
    pub inactivity_timeout: Option<u64>,
    /// Tapedeck: hosts to record (FAST's node-level ALLOWED_HOSTS, per run here).
    pub allowed_hosts: Option<String>,
    /// Tapedeck: replay against this base URI (FAST's TEST_RUN_URI).
    pub target: Option<String>,
    /// Tapedeck: KiB of each body a baseline keeps (the server's `--body-cap-kib` otherwise).
    pub body_cap_kib: Option<u64>,
    /// FAST's test policy id. Tapedeck has one built-in policy, FAST's Default Policy, so any
    /// id names it.
    pub policy_id: Option<i64>,
    /// Tapedeck: the test policy inline (crates/attack's `Policy`); it wins over `policy_id`.
    pub policy: Option<Value>,
}

/// `POST /v1/objects/vuln` body.
#[derive(Debug, Default, Deserialize)]
pub struct VulnQuery {
    pub filter: Option<VulnFilter>,
    pub limit: Option<u32>,
    pub offset: Option<u64>,
    pub order_desc: Option<bool>,
}

/// Which runs' findings `objects/vuln` lists.
#[derive(Debug, Default, Deserialize)]
pub struct VulnFilter {
    pub testrun_id: Option<Vec<i64>>,
}

/// A finding as FAST lists it, in a run's `vulns` and in `objects/vuln`.
#[derive(Debug, Serialize)]
pub struct VulnJson {
    pub id: i64,
    /// The CWE of its type, e.g. `CWE-89`.
    pub code: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub threat: u8,
    pub title: String,
    pub description: String,
    pub domain: String,
    pub path: String,
    pub method: String,
    pub parameter: String,
    pub baseline_id: i64,
    pub testrun_id: i64,
}

impl From<Vulnerability> for VulnJson {
    fn from(v: Vulnerability) -> Self {
        Self {
            id: v.id,
            code: v.cwe().map(|cwe| format!("CWE-{cwe}")),
            kind: v.kind,
            threat: v.threat,
            title: v.title,
            description: v.description,
            domain: v.domain,
            path: v.path,
            method: v.method,
            parameter: v.parameter,
            baseline_id: v.baseline_id,
            testrun_id: v.test_run_id,
        }
    }
}

/// A test run as FAST reports it.
#[derive(Debug, Serialize)]
pub struct TestRunJson {
    pub id: i64,
    pub name: String,
    pub desc: String,
    pub state: &'static str,
    pub simple_state: &'static str,
    pub test_record_id: i64,
    pub recording: bool,
    pub ready_for_recording: bool,
    pub node_active: bool,
    pub baseline_count: u64,
    pub baseline_check_all_terminated_count: u64,
    pub baseline_check_fail_count: u64,
    pub baseline_check_tech_fail_count: u64,
    pub baseline_check_passed_count: u64,
    pub baseline_check_running_count: u64,
    pub baseline_check_interrupted_count: u64,
    pub baseline_check_waiting_count: u64,
    pub sended_requests_count: u64,
    pub planing_requests_count: u64,
    pub current_rps: Option<f64>,
    pub avg_rps: Option<f64>,
    pub estimated_time_to_completion: Option<f64>,
    pub vulns: Vec<VulnJson>,
    pub domains: Vec<String>,
    pub allowed_actions: Vec<&'static str>,
    pub file_extensions_to_exclude: String,
    pub skip_duplicated_baselines: bool,
    pub inactivity_timeout: u64,
    pub allowed_hosts: String,
    pub target: Option<String>,
    /// Tapedeck: the run's own body cap, when it set one.
    pub body_cap_kib: Option<u64>,
    pub start_time: i64,
    pub end_time: Option<i64>,
    /// Tapedeck: the baselines that failed replay, and why.
    pub failed_baselines: Vec<FailedBaseline>,
    /// Tapedeck: why the run ended as it did when its state alone does not say (a run that
    /// tested nothing is `interrupted`, and this says why); null otherwise.
    pub problem: Option<String>,
}

/// One failed baseline.
#[derive(Debug, Serialize)]
pub struct FailedBaseline {
    pub id: i64,
    pub reason: String,
}

impl TestRunJson {
    /// The FAST view of a run whose record holds `baseline_count` baselines and whose tests
    /// found `vulns`.
    pub fn new(run: TestRun, baseline_count: u64, vulns: Vec<Vulnerability>) -> Self {
        let running = run.state == TestRunState::Running;
        let interrupted = run.state == TestRunState::Interrupted;
        let checked = run.passed_count + run.failed_count + run.tech_failed_count;
        Self {
            id: run.id,
            state: run.state.as_str(),
            simple_state: if running {
                "running"
            } else {
                run.state.as_str()
            },
            test_record_id: run.test_record_id,
            recording: run.recording,
            ready_for_recording: run.recording,
            node_active: running,
            baseline_count,
            baseline_check_all_terminated_count: checked,
            baseline_check_fail_count: run.failed_count,
            baseline_check_tech_fail_count: run.tech_failed_count,
            baseline_check_passed_count: run.passed_count,
            baseline_check_running_count: 0,
            baseline_check_interrupted_count: if interrupted { run.waiting_count } else { 0 },
            baseline_check_waiting_count: if interrupted { 0 } else { run.waiting_count },
            sended_requests_count: run.sent_requests_count,
            planing_requests_count: run.waiting_count,
            current_rps: None,
            avg_rps: None,
            estimated_time_to_completion: None,
            vulns: vulns.into_iter().map(VulnJson::from).collect(),
            domains: Vec::new(),
            allowed_actions: if running {
                vec!["interrupt"]
            } else {
                Vec::new()
            },
            file_extensions_to_exclude: run.spec.file_extensions_to_exclude,
            skip_duplicated_baselines: run.spec.skip_duplicated_baselines,
            inactivity_timeout: run.spec.inactivity_timeout_secs,
            allowed_hosts: run.spec.allowed_hosts,
            target: run.spec.target,
            body_cap_kib: run.spec.body_cap_kib,
            start_time: run.start_time.unix_timestamp(),
            end_time: run.end_time.map(|t| t.unix_timestamp()),
            failed_baselines: run
                .failures
                .into_iter()
                .map(|(id, reason)| FailedBaseline { id, reason })
                .collect(),
            problem: run.problem,
            name: run.spec.name,
            desc: run.spec.desc,
        }
    }
}

/// The success envelope.
#[derive(Debug, Serialize)]
pub struct Envelope<T> {
    pub status: u16,
    pub body: T,
}
