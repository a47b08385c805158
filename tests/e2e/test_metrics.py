"""An operator's Prometheus scrapes `GET /metrics` with an API key: the text parses as
Prometheus' format, and a session, a recording and proxied traffic move the numbers by exactly
what happened."""

import re
import threading
from http.server import BaseHTTPRequestHandler

import httpx

from conftest import API_KEY, QuietServer, wait_until

# `name{label="value",...} value`, label values with \\, \" and \n escaped.
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse(text: str) -> dict:
    """Prometheus text format 0.0.4 as {(name, ((label, value), ...)): value}; fails on any line
    that is not a comment or a well-formed sample of a family its `# TYPE` announced."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.removeprefix("# TYPE ").split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            assert name not in types, f"{name} announced twice"
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample: {line!r}"
        name, labels_text, value = match.groups()
        labels = ()
        if labels_text:
            pairs = LABEL.findall(labels_text)
            assert "".join(f'{k}="{v}",' for k, v in pairs).rstrip(",") == labels_text, line
            labels = tuple(sorted((k, v.replace(r'\"', '"').replace(r"\n", "\n").replace("\\\\", "\\"))
                                  for k, v in pairs))
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no # TYPE"
        if types[family] == "counter":
            assert name.endswith("_total"), f"counter {name} without _total"
        assert (name, labels) not in samples, f"{line} twice"
        samples[(name, labels)] = float(value)
    return samples


def scrape(server) -> dict:
    response = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4"), response.headers
    return parse(response.text)


def value(samples: dict, name: str, **labels) -> float:
    """One sample's value; 0 for a labelled counter not seen yet (errors appear at their first)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def histogram(samples: dict, name: str) -> dict:
    """`le` -> cumulative count, checked to be non-decreasing and to end at `_count`."""
    buckets = {dict(labels)["le"]: n for (metric, labels), n in samples.items() if metric == f"{name}_bucket"}
    ordered = sorted(buckets.items(), key=lambda b: float(b[0]))
    counts = [n for _, n in ordered]
    assert counts == sorted(counts) and ordered[-1][0] == "+Inf", ordered
    assert buckets["+Inf"] == value(samples, f"{name}_count")
    return buckets


class App(BaseHTTPRequestHandler):
    """A target application whose every page is "ok"."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_an_operators_prometheus_sees_a_session_a_recording_and_proxied_traffic_counted(server):
    # The scrape needs the API key, as Bearer, like /v1; /v1/metrics serves the same families.
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    refused = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    legacy = server.native("GET", "/metrics")
    assert legacy.status_code == 200
    assert {name for name, _ in parse(legacy.text)} == {name for name, _ in scrape(server)}

    before = scrape(server)
    stops_before = histogram(before, "tapedeck_recording_stop_duration_seconds")
    # This node's heartbeat, written every 2 s on the database's clock.
    ages = [n for (name, labels), n in before.items() if name == "tapedeck_node_heartbeat_age_seconds"]
    assert len(ages) == 1 and 0 <= ages[0] < 10, ages
    assert histogram(before, "tapedeck_forwarded_request_duration_seconds")["+Inf"] == \
        value(before, "tapedeck_forwarded_requests_total")

    session = server.native("POST", "/sessions", json={}).json()
    recording = server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()
    during = scrape(server)
    assert value(during, "tapedeck_sessions", state="running") == value(before, "tapedeck_sessions", state="running") + 1
    assert value(during, "tapedeck_sessions_created_total") == value(before, "tapedeck_sessions_created_total") + 1
    assert value(during, "tapedeck_recordings_in_flight") == value(before, "tapedeck_recordings_in_flight") + 1
    assert value(during, "tapedeck_recordings_started_total") == value(before, "tapedeck_recordings_started_total") + 1

    stopped = server.native("POST", f"/recordings/{recording['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["state"] == "finished", stopped.text
    assert server.native("GET", "/sessions/no-such-session").status_code == 404
    assert server.native("DELETE", f"/sessions/{session['id']}").status_code == 204

    # A proxied test run: three exchanges recorded, then one more after the stop, not recorded.
    app = QuietServer(("127.0.0.1", 0), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{app.server_address[1]}"
    run = server.fast("POST", "/test_run", json={"name": "metrics"}).json()["body"]
    with httpx.Client(proxy=server.proxy_url, timeout=30) as client:
        for path in ("/a", "/b", "/c"):
            assert client.get(f"{target}{path}").text == "ok"
        stopped_run = server.fast("POST", f"/test_run/{run['id']}/action/stop").json()["body"]
        assert stopped_run["baseline_count"] == 3
        assert client.get(f"{target}/after-the-stop").text == "ok"
    app.shutdown()

    # The recording leaves the in-flight gauge just after its stop answers.
    wait_until(lambda: value(scrape(server), "tapedeck_recordings_in_flight")
               == value(before, "tapedeck_recordings_in_flight"), 10, "the recording to leave the gauge")
    after = scrape(server)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("tapedeck_sessions", state="running") == 0
    assert moved("tapedeck_sessions_deleted_total") == 1
    assert moved("tapedeck_recordings_finalized_total") == 1
    stops = histogram(after, "tapedeck_recording_stop_duration_seconds")
    assert stops["+Inf"] == stops_before["+Inf"] + 1
    assert 0 < moved("tapedeck_recording_stop_duration_seconds_sum") < 30
    # Its segments, then the video made of them (which also holds an index).
    size = stopped.json()["size_bytes"]
    assert size < moved("tapedeck_blob_store_written_bytes_total") <= 2 * size
    assert moved("tapedeck_errors_total", kind="not_found") == 1
    assert moved("tapedeck_errors_total", kind="unauthorized") == 0, "the refused scrapes were before"
    assert moved("tapedeck_proxy_requests_total") == 4
    assert moved("tapedeck_proxy_baselines_recorded_total") == 3
    assert moved("tapedeck_proxy_baselines_dropped_total", reason="run_stopped") == 0
    assert moved("tapedeck_proxy_baselines_dropped_total", reason="not_stored") == 0

    # Each refused scrape is an answered error of its kind.
    httpx.get(f"{server.url}/metrics")
    assert value(scrape(server), "tapedeck_errors_total", kind="unauthorized") == \
        value(after, "tapedeck_errors_total", kind="unauthorized") + 1
