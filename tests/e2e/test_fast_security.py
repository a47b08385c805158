"""FAST's testing phase for real (issue #17): a run with a test policy attacks the baselines it
recorded and reports what it confirmed, through FAST's API, the native API and SARIF.

The target is `vulnerable_app.py`: every vulnerability once under /vuln/..., each with a safe
twin under /safe/... of the same shape. One recording of every endpoint (curl-like traffic
through the proxy) serves the CI run and its copy after a fix; the out-of-band canary is
Tapedeck's own, on loopback."""

import re
import time
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import Server
from vulnerable_app import PLANTED, VulnerableApp, endpoints

# A run ends well within this: the CI run's ~10,000 requests at 1000 a second, or the default
# policy's few hundred at its 10 a second.
TESTING_TIMEOUT_S = 120
FINAL_STATES = ("passed", "failed", "interrupted")
# Every attack type, POST bodies too, as fast as the policy allows.
CI_POLICY = {
    "attack_types": ["sqli", "xss", "ptrav", "rce", "xxe", "ssrf", "redir", "crlf", "ssti"],
    "unsafe_methods": True,
    "rps": 1000,
}
# Only the app's own address is recorded, so only it is attacked.
APP_HOSTS = r"^127\.0\.0\.1$"
# The endpoint a copy finds fixed.
FIXED = "/vuln/xss/text"
# Endpoints a browsing session visits (both sides) instead of the curl-like client.
BROWSED = "/{side}/xss/attr"


PASSWD = re.compile(r"root:[^:\n]*:0:0:")


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    """A server of its own whose browsers go through its recording proxy."""
    server = Server(tmp_path_factory.mktemp("fast-security"), first_display=252,
                    extra_args=["--browsers-through-proxy"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app():
    with VulnerableApp() as app:
        yield app


@pytest.fixture(scope="module")
def elsewhere():
    """A second app, reached by another name during the recording: a host the run does not
    record, so the tests must never reach it."""
    with VulnerableApp() as other:
        yield other


def create_run(fast, **fields):
    response = fast.fast("POST", "/test_run", json=fields)
    assert response.status_code == 200, response.text
    body = response.json()["body"]
    assert body["state"] == "running", body
    return body


def stop_run(fast, run_id):
    response = fast.fast("POST", f"/test_run/{run_id}/action/stop")
    assert response.status_code == 200, response.text
    return response.json()["body"]


def wait_final(fast, run_id):
    """Polls the run until it reaches a final state; fails with its last counters if not."""
    deadline = time.monotonic() + TESTING_TIMEOUT_S
    while True:
        run = fast.fast("GET", f"/test_run/{run_id}").json()["body"]
        if run["state"] in FINAL_STATES:
            return run
        assert time.monotonic() < deadline, f"test run {run_id} still {run['state']} after {TESTING_TIMEOUT_S} s: {run}"
        time.sleep(0.3)


def proxied(fast):
    return httpx.Client(proxy=fast.proxy_url, timeout=30)


def key(finding) -> tuple:
    """How findings of two runs are matched."""
    return (finding["type"], finding["method"], finding["domain"], finding["path"], finding["parameter"])


def vulnerabilities(fast, run_id) -> dict:
    response = fast.native("GET", f"/test-runs/{run_id}/vulnerabilities")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def ci_run(fast, app, elsewhere):
    """The CI run: every endpoint of both sides recorded through the proxy, then stopped and
    tested under `CI_POLICY`. Yields the finished run."""
    run = create_run(fast, name="ci", allowed_hosts=APP_HOSTS, policy=CI_POLICY)
    with proxied(fast) as client:
        for side in ("vuln", "safe"):
            for method, path, arguments in endpoints(app):
                if path.startswith(BROWSED):
                    continue
                answer = client.request(method, app.url + path.format(side=side), **arguments)
                assert answer.status_code == (302 if path.endswith("/redirect") else 200), (path, answer.text)
        assert client.get(f"http://localhost:{elsewhere.port}/safe/xss/text", params={"q": "tea"}).status_code == 200
    # A browsing session brings the rest: Chromium's own requests, with its headers. A create
    # answers once the page is painted, so the page's request has been answered by then.
    for side in ("vuln", "safe"):
        created = fast.native("POST", "/sessions", json={"start_url": f"{app.url}/{side}/xss/attr?q=tea"})
        assert created.status_code == 201, created.text
        assert fast.native("DELETE", f"/sessions/{created.json()['id']}").status_code == 204
    # Chromium may add a request for /favicon.ico (a 404 the tests must find nothing in).
    assert stop_run(fast, run["id"])["baseline_count"] >= 2 * len(endpoints(app))
    return wait_final(fast, run["id"])


def test_a_ci_run_finds_every_planted_vulnerability_and_none_on_the_safe_twins(fast, app, elsewhere, ci_run):
    run = ci_run
    vulns = run["vulns"]
    assert not [v for v in vulns if v["path"].startswith("/safe/")], vulns
    assert run["baseline_check_tech_fail_count"] == 0, run
    found = sorted((v["path"], v["type"], v["parameter"]) for v in vulns)
    assert found == sorted((path, *planted) for path, planted in PLANTED.items()), found
    assert run["state"] == "failed", run
    # Three profiling replays of each baseline, then the attacks.
    assert run["sended_requests_count"] > 3 * 2 * len(PLANTED), run
    netloc = f"127.0.0.1:{app.port}"
    for v in vulns:
        assert isinstance(v["id"], int) and v["domain"] == netloc and v["threat"] >= 50, v
        assert v["method"] == ("POST" if v["parameter"].startswith(("POST_", "JSON_", "XML_")) else "GET"), v
        assert v["title"] and v["description"] and isinstance(v["baseline_id"], int) and "code" in v, v
    ids = sorted(v["id"] for v in vulns)

    listed = fast.fast("POST", "/objects/vuln", json={"filter": {"testrun_id": [run["id"]]}, "limit": 1000, "offset": 0})
    assert listed.status_code == 200 and listed.json()["status"] == 200, listed.text
    assert sorted(v["id"] for v in listed.json()["body"]) == ids
    assert {v["testrun_id"] for v in listed.json()["body"]} == {run["id"]}

    native = vulnerabilities(fast, run["id"])
    assert native["compared_with"] is None and native["fixed"] == [], native
    assert sorted(i["id"] for i in native["items"]) == ids
    assert sorted(key(i) for i in native["items"]) == sorted(key(v) for v in vulns)
    assert {i["change"] for i in native["items"]} == {"new"}
    assert all(i["payload"] and i["found_at"] for i in native["items"]), native["items"]

    sarif = fast.native("GET", f"/test-runs/{run['id']}/sarif")
    assert sarif.status_code == 200, sarif.text
    assert sarif.json()["version"] == "2.1.0"
    [sarif_run] = sarif.json()["runs"]
    assert sarif_run["tool"]["driver"]["name"] == "Tapedeck"
    results = sarif_run["results"]
    uris = [urlsplit(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in results]
    assert {u.netloc for u in uris} == {netloc}, uris
    assert sorted((u.path, r["ruleId"], r["properties"]["parameter"]) for u, r in zip(uris, results)) == found
    assert all(r["level"] in ("error", "warning", "note") and r["message"]["text"] for r in results), results

    # The path traversal's evidence: the exact request, payload and all, and /etc/passwd in
    # its answer. The app received exactly that request.
    [ptrav] = [i for i in native["items"] if i["type"] == "ptrav"]
    har = fast.native("GET", f"/test-runs/{run['id']}/vulnerabilities/{ptrav['id']}/har")
    assert har.status_code == 200, har.text
    [entry] = har.json()["log"]["entries"]
    assert {"name": "name", "value": ptrav["payload"]} in entry["request"]["queryString"], entry["request"]
    assert PASSWD.search(entry["response"]["content"]["text"]), entry["response"]
    sent = urlsplit(entry["request"]["url"])
    assert (sent.netloc, sent.path) == (netloc, "/vuln/file")
    assert ("GET", f"{sent.path}?{sent.query}") in {(r.method, r.path) for r in app.requests}

    # The attribute XSS was found in what Chromium sent, not in a hand-made request.
    [attr] = [i for i in native["items"] if i["path"] == "/vuln/xss/attr"]
    browsed = fast.native("GET", f"/test-records/{run['test_record_id']}/exchanges/{attr['baseline_id']}").json()
    agents = [h["value"] for h in browsed["request"]["headers"] if h["name"].lower() == "user-agent"]
    assert agents and "Chrome/" in agents[0], browsed["request"]["headers"]

    # Nothing but the recorded host was attacked: every request the app got names it, and the
    # host the run did not record got only the one recorded request.
    assert {r.host for r in app.requests} == {netloc}
    assert [(r.method, r.path) for r in elsewhere.requests] == [("GET", "/safe/xss/text?q=tea")]
    # What the app itself was made to fetch went to Tapedeck's canary or back to the app. The
    # open redirect payload names the canary's host, and /vuln/fetch fetches whatever it gets.
    canary = f"{fast.url}/canary/"
    tapedeck_host = urlsplit(fast.url).hostname
    web = [(how, url) for how, url in app.outbound if url.startswith(("http://", "https://"))]
    strays = [(how, url) for how, url in web
              if not (urlsplit(url).netloc == netloc or url.startswith(canary)
                      or (urlsplit(url).hostname == tapedeck_host and urlsplit(url).port is None))]
    assert not strays, strays
    [ssrf] = [i for i in native["items"] if i["type"] == "ssrf"]
    assert ssrf["payload"].startswith(canary) and ("fetch", ssrf["payload"]) in web, (ssrf, web)


def test_a_post_baseline_is_not_attacked_without_unsafe_methods(fast, app):
    mark = len(app.requests)
    run = create_run(fast, name="default policy", allowed_hosts=APP_HOSTS, policy_id=1)
    with proxied(fast) as client:
        assert client.post(f"{app.url}/vuln/sqli/form", data={"name": "bob"}).status_code == 200
        assert client.get(f"{app.url}/vuln/file", params={"name": "report.txt"}).status_code == 200
    stop_run(fast, run["id"])
    final = wait_final(fast, run["id"])
    assert final["state"] == "failed", final
    assert {(v["method"], v["path"]) for v in final["vulns"]} == {("GET", "/vuln/file")}, final["vulns"]
    assert ("ptrav", "GET_name") in {(v["type"], v["parameter"]) for v in final["vulns"]}, final["vulns"]
    assert (final["baseline_check_passed_count"], final["baseline_check_fail_count"]) == (1, 1), final

    since = app.requests[mark:]
    posts = [r for r in since if r.method == "POST"]
    # Recorded once, then replayed unchanged; never with a payload.
    assert len(posts) >= 2 and {(r.path, r.body) for r in posts} == {("/vuln/sqli/form", b"name=bob")}, posts
    attacked = [r for r in since if r.method == "GET" and r.path != "/vuln/file?name=report.txt"]
    assert attacked, since


def test_a_copy_after_a_fix_shows_that_finding_as_fixed(fast, app, ci_run):
    app.fix(FIXED)
    copy = create_run(fast, name="ci after the fix", test_record_id=ci_run["test_record_id"], policy=CI_POLICY)
    final = wait_final(fast, copy["id"])
    assert final["state"] == "failed", final
    assert FIXED not in {v["path"] for v in final["vulns"]}, final["vulns"]

    report = vulnerabilities(fast, copy["id"])
    assert report["compared_with"] == ci_run["id"], report
    [fixed] = report["fixed"]
    assert (fixed["type"], fixed["path"], fixed["parameter"]) == ("xss", FIXED, "GET_q"), fixed
    assert fixed["id"] in {v["id"] for v in ci_run["vulns"]}
    before = sorted(key(v) for v in ci_run["vulns"] if v["path"] != FIXED)
    assert sorted(key(i) for i in report["items"]) == before, report["items"]
    assert {i["change"] for i in report["items"]} == {"unchanged"}, report["items"]


def test_a_bad_policy_is_a_400_in_fasts_format(fast):
    def newest():
        return [r["id"] for r in fast.fast("GET", "/test_run", params={"limit": 1}).json()["body"]]

    before = newest()
    for policy, said in [
        ({"attack_types": ["sqli", "sqlx"]}, "sqlx"),
        ({"insertion_points": {"include": ["GET_("]}}, "GET_("),
        ({"rps": 0}, "0.1"),
        ({"rps": 1001}, "1000"),
    ]:
        refused = fast.fast("POST", "/test_run", json={"name": "bad policy", "policy": policy})
        assert refused.status_code == 400, refused.text
        body = refused.json()
        assert body["status"] == 400 and list(body["body"]) == ["policy"], body
        detail = body["body"]["policy"]
        assert detail["error"] == "invalid" and detail["value"] == policy, detail
        assert said in detail["message"], detail
    # A refused policy makes no run.
    assert newest() == before
