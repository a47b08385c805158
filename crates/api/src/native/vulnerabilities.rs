//! `/v1/test-runs/{id}/vulnerabilities`: what a run's security tests found, what changed since
//! the record's previous tested run, each finding's proving exchange as HAR, and SARIF 2.1.0 for
//! CI code-scanning views.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::{json, Value};
use tapedeck_core::Vulnerability;
use tapedeck_engine::{Change, EngineError};
use utoipa::ToSchema;

use super::har::{self, Secrets};
use super::records::secrets;
use super::wire::ExportQuery;
use super::NativeError;
use crate::common::auth::Caller;
use crate::common::timestamp::rfc3339;
use crate::ApiState;

/// A confirmed vulnerability.
#[derive(Debug, Serialize, ToSchema)]
pub struct VulnerabilityJson {
    /// Integer id (FAST's vuln id).
    pub id: i64,
    /// `sqli`, `xss`, `ptrav`, `rce`, `xxe`, `ssrf`, `redir`, `crlf` or `ssti`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The CWE of its type, e.g. `CWE-89`.
    pub cwe: Option<String>,
    /// How bad it is, 0 to 100.
    pub threat: u8,
    /// One line for a list.
    pub title: String,
    /// What was sent, what came back, and why that proves it.
    pub description: String,
    /// The attacked host (and port).
    pub domain: String,
    /// The path, as recorded.
    pub path: String,
    /// The request method.
    pub method: String,
    /// The insertion point, in FAST's point syntax (`GET_q`, `JSON_user.name`, …).
    pub parameter: String,
    /// The baseline the test was made from.
    pub baseline_id: i64,
    /// The payload that proved it.
    pub payload: String,
    /// When it was found (RFC 3339).
    pub found_at: String,
    /// `new` or `unchanged` against `compared_with`; `fixed` in the `fixed` list.
    pub change: &'static str,
}

/// A run's findings and what changed since the record's previous tested run.
#[derive(Debug, Serialize, ToSchema)]
pub struct VulnerabilityList {
    /// The run's findings, oldest first.
    pub items: Vec<VulnerabilityJson>,
    /// Findings of `compared_with` this run no longer has.
    pub fixed: Vec<VulnerabilityJson>,
    /// The newest earlier run of the same record that ran security tests and ended, if any.
    /// Findings match by type, method, domain, path and parameter.
    pub compared_with: Option<i64>,
}

/// A path id; one that is not a number names nothing, so it is a 404 like a missing one.
fn id_in_path(what: &'static str, id: &str) -> Result<i64, NativeError> {
    id.parse()
        .map_err(|_| EngineError::not_found(what, id).into())
}

fn json_of(v: Vulnerability, change: &'static str) -> VulnerabilityJson {
    VulnerabilityJson {
        id: v.id,
        cwe: v.cwe().map(|c| format!("CWE-{c}")),
        kind: v.kind,
        threat: v.threat,
        title: v.title,
        description: v.description,
        domain: v.domain,
        path: v.path,
        method: v.method,
        parameter: v.parameter,
        baseline_id: v.baseline_id,
        payload: v.payload,
        found_at: rfc3339(v.found_at),
        change,
    }
}

/// The run's findings, each marked new or unchanged against the record's previous tested
/// run, and that run's findings this one no longer has.
#[utoipa::path(get, path = "/v1/test-runs/{id}/vulnerabilities",
    params(("id" = i64, Path)),
    responses((status = 200, body = VulnerabilityList)))]
pub async fn list(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<VulnerabilityList>, NativeError> {
    let id = id_in_path("test run", &id)?;
    let changes = state
        .engine
        .vulnerability_changes(caller.project(), id)
        .await?;
    Ok(Json(VulnerabilityList {
        items: changes
            .items
            .into_iter()
            .map(|(v, change)| {
                let change = match change {
                    Change::New => "new",
                    Change::Unchanged => "unchanged",
                };
                json_of(v, change)
            })
            .collect(),
        fixed: changes
            .fixed
            .into_iter()
            .map(|v| json_of(v, "fixed"))
            .collect(),
        compared_with: changes.compared_with,
    }))
}

/// The exact test request and its answer that prove one finding, as a HAR 1.2 document with
/// one entry. Credentials are redacted unless `redact=false`.
#[utoipa::path(get, path = "/v1/test-runs/{id}/vulnerabilities/{vulnerability_id}/har",
    params(("id" = i64, Path), ("vulnerability_id" = i64, Path),
           ("redact" = Option<bool>, Query, description = "false keeps credentials (default true)")),
    responses((status = 200, description = "a HAR 1.2 document", content_type = "application/json")))]
pub async fn har(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, vulnerability_id)): Path<(String, String)>,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Json<Value>, NativeError> {
    let id = id_in_path("test run", &id)?;
    let vulnerability_id = id_in_path("vulnerability", &vulnerability_id)?;
    let secrets = secrets(q)?;
    let v = state
        .engine
        .get_vulnerability(caller.project(), id, vulnerability_id)
        .await?;
    let mut entry = v.exchange;
    if secrets == Secrets::Redacted {
        har::redact_entry(&mut entry);
    }
    Ok(Json(json!({"log": {
        "version": "1.2",
        "creator": {"name": "Tapedeck", "version": env!("CARGO_PKG_VERSION")},
        "pages": [],
        "comment": format!("test run {id}, vulnerability {vulnerability_id}: {}", v.title),
        "entries": [entry],
    }})))
}

/// The run's findings as a SARIF 2.1.0 log, for CI code-scanning views: one rule per
/// vulnerability type, one result per finding, located at the endpoint's URL.
#[utoipa::path(get, path = "/v1/test-runs/{id}/sarif",
    params(("id" = i64, Path)),
    responses((status = 200, description = "a SARIF 2.1.0 log", content_type = "application/sarif+json")))]
pub async fn sarif(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], Json<Value>), NativeError> {
    let id = id_in_path("test run", &id)?;
    let changes = state
        .engine
        .vulnerability_changes(caller.project(), id)
        .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/sarif+json")],
        Json(sarif_log(id, &changes.items)),
    ))
}

/// SARIF's level for a threat: `error` from 70, `warning` from 40, `note` below.
fn level(threat: u8) -> &'static str {
    match threat {
        70.. => "error",
        40.. => "warning",
        _ => "note",
    }
}

fn sarif_log(run_id: i64, found: &[(Vulnerability, Change)]) -> Value {
    let mut kinds: Vec<&Vulnerability> = Vec::new();
    for (v, _) in found {
        if !kinds.iter().any(|k| k.kind == v.kind) {
            kinds.push(v);
        }
    }
    let rules: Vec<Value> = kinds
        .iter()
        .map(|v| {
            let mut rule = json!({
                "id": v.kind,
                "name": v.kind,
                "shortDescription": {"text": v.title},
                "properties": {"tags": ["security"]},
            });
            if let Some(cwe) = v.cwe() {
                rule["helpUri"] =
                    json!(format!("https://cwe.mitre.org/data/definitions/{cwe}.html"));
                rule["properties"]["tags"] = json!(["security", format!("external/cwe/cwe-{cwe}")]);
            }
            rule
        })
        .collect();
    let results: Vec<Value> = found
        .iter()
        .map(|(v, change)| {
            let scheme = v.exchange["request"]["url"]
                .as_str()
                .and_then(|u| u.split_once("://"))
                .map_or("http", |(s, _)| s);
            json!({
                "ruleId": v.kind,
                "ruleIndex": kinds.iter().position(|k| k.kind == v.kind),
                "level": level(v.threat),
                "message": {"text": format!("{} at {} {} ({}): {}", v.title, v.method, v.path, v.parameter, v.description)},
                "locations": [{"physicalLocation": {"artifactLocation": {
                    "uri": format!("{scheme}://{}{}", v.domain, v.path)
                }}}],
                "partialFingerprints": {"tapedeck/v1": format!("{}|{}|{}|{}|{}", v.kind, v.method, v.domain, v.path, v.parameter)},
                "baselineState": match change { Change::New => "new", Change::Unchanged => "unchanged" },
                "properties": {
                    "parameter": v.parameter,
                    "method": v.method,
                    "threat": v.threat,
                    "payload": v.payload,
                    "baseline_id": v.baseline_id,
                    "vulnerability_id": v.id,
                    "security-severity": format!("{:.1}", f64::from(v.threat) / 10.0),
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "Tapedeck",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/tapedeck",
                "rules": rules,
            }},
            "automationDetails": {"id": format!("tapedeck/test-run/{run_id}")},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sarif_has_one_rule_per_type_and_one_located_result_per_finding() {
        let v = |kind: &str, parameter: &str, threat| Vulnerability {
            id: 1,
            test_run_id: 9,
            baseline_id: 4,
            kind: kind.into(),
            threat,
            title: format!("{kind} title"),
            description: "why".into(),
            domain: "app:8080".into(),
            path: "/q".into(),
            method: "GET".into(),
            parameter: parameter.into(),
            payload: "'".into(),
            exchange: json!({"request": {"url": "https://app:8080/q?x=1"}}),
            found_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let log = sarif_log(
            9,
            &[
                (v("sqli", "GET_x", 90), Change::New),
                (v("sqli", "GET_y", 90), Change::Unchanged),
                (v("redir", "GET_next", 40), Change::New),
            ],
        );
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 2);
        assert_eq!(
            run["tool"]["driver"]["rules"][0]["helpUri"],
            "https://cwe.mitre.org/data/definitions/89.html"
        );
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[1]["ruleIndex"], 0);
        assert_eq!(results[2]["ruleIndex"], 1);
        assert_eq!(
            (results[0]["level"].as_str(), results[2]["level"].as_str()),
            (Some("error"), Some("warning"))
        );
        assert_eq!(results[1]["baselineState"], "unchanged");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "https://app:8080/q"
        );
        assert_eq!(results[0]["properties"]["parameter"], "GET_x");
    }
}
