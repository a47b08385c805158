//! FAST's testing phase under a test policy: each baseline is profiled by identical replays,
//! then attacked at its insertion points, and what a detector confirms becomes a
//! [`Vulnerability`]. The logic of what to send and what an answer proves is
//! `tapedeck_attack`'s; this module sends the requests, paces them, and watches the canary.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tapedeck_attack::detect::{self, oob, Payload, Probe, Seen, Setup, Step};
use tapedeck_attack::insertion::{self, Point};
use tapedeck_attack::policy::Policy;
use tapedeck_attack::profile::Profile;
use tapedeck_attack::{AttackType, Finding, Request, Response};
use tapedeck_core::{TestRunState, Vulnerability};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::Engine;

/// Identical replays a baseline's profile is learnt from.
const PROFILE_REPLAYS: usize = 3;
/// Longest wait for one test request's answer: a time-based probe holds one for 5 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most steps one probe may take; every probe ends well before, this only bounds a bug.
const MOST_PROBE_STEPS: usize = 64;
/// How long after its request a canary hit still counts. Each missed request is checked once
/// more when it is this old: most targets fetch during the request, which the immediate check
/// already sees.
const LATE_CANARY_GRACE: Duration = Duration::from_secs(2);

/// What testing one baseline came to.
pub(super) enum Verdict {
    /// Identical replays answered differently (or not at all), so it was not attacked.
    Unstable(String),
    /// Attacked (or only profiled, for a method the policy leaves alone); these were found.
    Tested(Vec<Vulnerability>),
    /// The run stopped being `running` meanwhile.
    Interrupted,
}

/// A test request whose canary had not been requested when its probe moved on.
struct LateCanary {
    token: String,
    payload: Payload,
    attack: AttackType,
    baseline: Request,
    baseline_id: i64,
    point: Point,
    exchange: Exchange,
    sent_at: Instant,
}

/// The last exchange of a probe, which is what proves its finding.
#[derive(Clone)]
struct Exchange {
    sent: Request,
    answer: Response,
    started: String,
}

/// One run's security tests: its policy, its pace and what it has sent.
pub(super) struct SecurityTest {
    engine: Engine,
    run_id: i64,
    policy: Policy,
    setup: Setup,
    pace: Pace,
    /// Missed canary requests younger than [`LATE_CANARY_GRACE`], oldest first.
    late: Vec<LateCanary>,
    /// (baseline id, attack type, point) of every finding so far: one of each is reported.
    reported: HashSet<(i64, AttackType, String)>,
    /// Requests sent so far: profiling replays and attacks.
    pub(super) sent: u64,
}

impl SecurityTest {
    /// Tests for `run_id` under `policy`; out-of-band tests point at `canary_base` when set.
    pub(super) fn new(engine: Engine, run_id: i64, policy: Policy) -> Self {
        let setup = Setup {
            time_based: policy.time_based,
            canary_base: engine.inner.config.canary_base.clone(),
        };
        Self {
            pace: Pace::new(policy.rps),
            engine,
            run_id,
            policy,
            setup,
            late: Vec::new(),
            reported: HashSet::new(),
            sent: 0,
        }
    }

    /// Profiles `baseline` (id `baseline_id`) and, when the policy attacks its method, runs
    /// every probe of every attack type at every insertion point the policy allows.
    pub(super) async fn test(&mut self, baseline: &Request, baseline_id: i64) -> Verdict {
        let baseline = &unencoded(baseline);
        let mut answers = Vec::with_capacity(PROFILE_REPLAYS);
        for _ in 0..PROFILE_REPLAYS {
            match self.send(baseline).await {
                Ok(answer) => answers.push(answer),
                Err(e) => return Verdict::Unstable(e),
            }
        }
        let profile = match Profile::learn(&answers) {
            Ok(profile) => profile,
            Err(why) => return Verdict::Unstable(why.to_string()),
        };
        if !self.policy.attacks_method(&baseline.method) {
            return Verdict::Tested(Vec::new());
        }
        let mut found = Vec::new();
        for point in insertion::points(baseline) {
            if !self.policy.attacks_point(&point.name) {
                continue;
            }
            if !self.still_running().await {
                return Verdict::Interrupted;
            }
            for attack in self.policy.attack_types.clone() {
                for mut probe in detect::probes(attack, &point, &self.setup) {
                    let finding = self
                        .drive(probe.as_mut(), &profile, baseline, baseline_id, &point)
                        .await;
                    if let Some(finding) = finding {
                        if let Some(v) = self.report(finding) {
                            found.push(v);
                        }
                        // One finding per baseline, attack type and point.
                        break;
                    }
                }
            }
        }
        Verdict::Tested(found)
    }

    /// Findings proven by canary hits that came after their probe moved on. Each missed request
    /// is checked once, when it is [`LATE_CANARY_GRACE`] old, so only the last grace period's
    /// requests are held. With `settle` (the run's end), waits until the newest is that old and
    /// checks every one left.
    pub(super) async fn late_findings(&mut self, settle: bool) -> Vec<Vulnerability> {
        if settle {
            if let Some(newest) = self.late.last() {
                tokio::time::sleep(LATE_CANARY_GRACE.saturating_sub(newest.sent_at.elapsed()))
                    .await;
            }
        }
        let due = self
            .late
            .partition_point(|l| l.sent_at.elapsed() >= LATE_CANARY_GRACE);
        let mut found = Vec::new();
        for l in self.late.drain(..due).collect::<Vec<_>>() {
            if !self.engine.canary_seen(&l.token) {
                continue;
            }
            let evidence = oob::canary_evidence(l.attack, &l.token, &l.payload);
            let finding = Finding::new(
                evidence,
                &l.baseline,
                l.baseline_id,
                &l.point,
                &l.exchange.sent,
                &l.exchange.answer,
                &l.exchange.started,
            );
            found.extend(self.report(finding));
        }
        found
    }

    /// The finding to store, unless the policy's threshold drops it or its baseline, attack
    /// type and point already have one.
    fn report(&mut self, finding: Finding) -> Option<Vulnerability> {
        let key = (
            finding.baseline_id,
            finding.attack,
            finding.parameter.clone(),
        );
        (self.policy.reports(finding.threat) && self.reported.insert(key))
            .then(|| self.stored(finding))
    }

    /// Runs one probe to its end; `Some` when it confirmed a vulnerability.
    async fn drive(
        &mut self,
        probe: &mut dyn Probe,
        profile: &Profile,
        baseline: &Request,
        baseline_id: i64,
        point: &Point,
    ) -> Option<Finding> {
        let mut last: Option<(Payload, Exchange)> = None;
        let mut step = probe.next(profile, Seen::Nothing);
        for _ in 0..MOST_PROBE_STEPS {
            step = match step {
                Step::Send(payload) => {
                    let planned = match &payload {
                        Payload::Value(value) => insertion::inject(baseline, point, value),
                        Payload::XmlMarkup { prolog, markup } => {
                            insertion::inject_xml_markup(baseline, point, prolog, markup)
                        }
                    };
                    // The point cannot carry this payload: the probe has nothing to test here.
                    let sent = planned?;
                    let started = now_rfc3339();
                    let answer = self.send(&sent).await.ok()?;
                    let exchange = Exchange {
                        sent,
                        answer,
                        started,
                    };
                    let step = probe.next(profile, Seen::Answer(&exchange.answer));
                    last = Some((payload, exchange));
                    step
                }
                Step::AwaitCanary(token) => {
                    // A target that fetches during the request has done so by its answer.
                    let hit = self.engine.canary_seen(&token);
                    if !hit {
                        if let Some((payload, exchange)) = &last {
                            self.late.push(LateCanary {
                                token,
                                payload: payload.clone(),
                                attack: probe.attack(),
                                baseline: baseline.clone(),
                                baseline_id,
                                point: point.clone(),
                                exchange: exchange.clone(),
                                sent_at: Instant::now(),
                            });
                        }
                    }
                    probe.next(profile, Seen::Canary(hit))
                }
                Step::Found(evidence) => {
                    let (_, exchange) = last?;
                    return Some(Finding::new(
                        evidence,
                        baseline,
                        baseline_id,
                        point,
                        &exchange.sent,
                        &exchange.answer,
                        &exchange.started,
                    ));
                }
                Step::Done => return None,
            };
        }
        tracing::warn!(test_run = self.run_id, attack = probe.attack().as_str(), point = %point.name, "a probe took too many steps and was stopped");
        None
    }

    /// Sends `request` at the run's pace and reads the answer whole, decoded.
    async fn send(&mut self, request: &Request) -> Result<Response, String> {
        self.pace.wait().await;
        self.sent += 1;
        send(&self.engine, request).await
    }

    async fn still_running(&self) -> bool {
        matches!(self.engine.run_by_id(self.run_id).await, Ok(run) if run.state == TestRunState::Running)
    }

    /// The finding as the run stores it.
    fn stored(&self, f: Finding) -> Vulnerability {
        Vulnerability {
            id: 0,
            test_run_id: self.run_id,
            baseline_id: f.baseline_id,
            kind: f.attack.as_str().to_owned(),
            threat: f.threat,
            title: f.title,
            description: f.description,
            domain: f.domain,
            path: f.path,
            method: f.method,
            parameter: f.parameter,
            payload: f.payload,
            exchange: f.exchange,
            found_at: OffsetDateTime::now_utc(),
        }
    }
}

/// Sends `request` once, as written, with [`REQUEST_TIMEOUT`]; the answer's elapsed time
/// runs from sending to the end of its body.
pub(super) async fn send(engine: &Engine, request: &Request) -> Result<Response, String> {
    let started = Instant::now();
    let answer = tokio::time::timeout(
        REQUEST_TIMEOUT,
        engine.inner.upstream.send(
            &request.method,
            &request.url,
            &request.headers,
            request.body.clone(),
        ),
    )
    .await
    .map_err(|_| {
        format!(
            "{} {}: no answer within {REQUEST_TIMEOUT:?}",
            request.method, request.url
        )
    })?
    .map_err(|e| format!("{} {}: connection failed: {e}", request.method, request.url))?;
    Ok(Response {
        status: answer.status,
        headers: answer.headers,
        body: answer.body.to_vec(),
        elapsed: started.elapsed(),
    })
}

/// `request` asking for an answer without content coding: detectors read the body as text.
fn unencoded(request: &Request) -> Request {
    let mut out = request.clone();
    out.headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("accept-encoding"));
    out.headers
        .push(("Accept-Encoding".to_owned(), "identity".to_owned()));
    out
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Spaces requests evenly at most `rps` a second, for the whole run.
struct Pace {
    every: Duration,
    next: tokio::time::Instant,
}

impl Pace {
    fn new(rps: f64) -> Self {
        Self {
            every: Duration::from_secs_f64(1.0 / rps),
            next: tokio::time::Instant::now(),
        }
    }

    async fn wait(&mut self) {
        let at = self.reserve(tokio::time::Instant::now());
        tokio::time::sleep_until(at).await;
    }

    /// When the next request may go, asked at `now`; the slot after it is kept for the next.
    /// Idle time is not banked: after a pause, requests are spaced again from `now`.
    fn reserve(&mut self, now: tokio::time::Instant) -> tokio::time::Instant {
        let at = self.next.max(now);
        self.next = at + self.every;
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_spaces_requests_evenly_and_does_not_bank_idle_time() {
        let start = tokio::time::Instant::now();
        let mut pace = Pace::new(10.0);
        pace.next = start;
        let ms = |n| Duration::from_millis(n);
        let slots: Vec<_> = (0..3).map(|_| pace.reserve(start) - start).collect();
        assert_eq!(slots, [ms(0), ms(100), ms(200)]);
        // After 5 s idle, the next goes at once and the one after 100 ms later, not in a burst.
        let later = start + Duration::from_secs(5);
        assert_eq!(pace.reserve(later), later);
        assert_eq!(pace.reserve(later), later + ms(100));
    }
}
