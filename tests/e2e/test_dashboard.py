"""The dashboard at `/`, in a real headless Chromium: a person signs in with an API key, finds
the browser a test made among the sessions, its replay among the recordings, plays it and seeks,
opens a deep link at a moment, and reads the request the test sent through the FAST proxy in the
traffic table, body included. Under a GBOX box's recording, the timeline shows the test's taps
at their times with the request it sent meanwhile, and a tap's row seeks the video to it. A key
of another project sees none of it. Each page is saved as a screenshot under
target/dashboard-screenshots/.

The static side is checked over plain HTTP: the embedded assets' types and caching, the API
still answering beside them, and Range requests on the presigned video URL the player uses."""

import http.server
import json
import re
import subprocess
import threading
import time
import uuid
from datetime import datetime

import httpx
import pytest
from gbox_sdk import GboxSDK

from conftest import API_KEY, E2E, ROOT, QuietServer, wait_until

SHOTS = ROOT / "target" / "dashboard-screenshots"
# A page that changes every tenth of a second, so the replay has frames all along.
TICKING_PAGE = (
    "data:text/html,<title>ticking</title><body style='font:48px sans-serif'>"
    "<h1 id=t></h1><script>setInterval(()=>t.textContent=new Date().toISOString(),100)</script>"
)
RECORDING_SECS = 6


class OrdersApp:
    """A loopback app the test's requests go to through the proxy: `POST /orders` answers 201
    with the body it received, anything else 404; `GET /` answers 200."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status: int, payload: bytes):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self.answer(200 if self.path == "/" else 404, b'{"ok":true}')

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/orders":
                self.answer(201, json.dumps({"received": json.loads(body)}).encode())
            else:
                self.answer(404, b'{"error":"no such route"}')

    def __init__(self):
        self.httpd = QuietServer(("127.0.0.1", 0), OrdersApp.Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def drive(mode: str, **inputs) -> dict:
    """Runs dashboard.mjs in `mode` and returns what it saw."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", str(E2E / "dashboard.mjs"), mode, json.dumps({**inputs, "shots": str(SHOTS)})],
        capture_output=True, text=True, timeout=240, cwd=E2E,
    )
    assert done.returncode == 0, f"dashboard.mjs {mode} failed:\n{done.stderr}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen.pop("page_errors") == [], "the dashboard threw in the page"
    return seen


@pytest.fixture(scope="module")
def recorded(server):
    """A named browser session (left running) with a finished replay of a ticking page."""
    name = f"dash-{uuid.uuid4().hex[:12]}"
    created = server.native("POST", "/sessions", json={"name": name, "start_url": TICKING_PAGE,
                                                       "viewport": {"width": 800, "height": 600}})
    assert created.status_code == 201, created.text
    session = created.json()
    try:
        started = server.native("POST", f"/sessions/{session['id']}/recordings",
                                json={"framerate": 10, "max_duration_secs": RECORDING_SECS})
        assert started.status_code == 201, started.text
        recording_id = started.json()["id"]

        def finished():
            return server.native("GET", f"/recordings/{recording_id}").json()["state"] == "finished"

        # The recording stops itself at its maximum duration.
        wait_until(finished, RECORDING_SECS + 30, "the replay to finish at its maximum duration")
        yield {"session": session, "recording": server.native("GET", f"/recordings/{recording_id}").json()}
    finally:
        server.native("DELETE", f"/sessions/{session['id']}")


@pytest.fixture(scope="module")
def traffic(server):
    """A FAST test run that recorded a GET, the test's POST (its body carries a unique token)
    and a POST answered 404, all through the proxy; stopped."""
    app = OrdersApp()
    run = server.fast("POST", "/test_run", json={"name": "dashboard", "allowed_hosts": "127.0.0.1"})
    assert run.status_code == 200, run.text
    run = run.json()["body"]
    token = f"sku-{uuid.uuid4().hex[:10]}"
    with httpx.Client(proxy=server.proxy_url, timeout=30) as client:
        assert client.get(f"{app.url}/").status_code == 200
        assert client.post(f"{app.url}/orders", json={"sku": token, "qty": 2}).status_code == 201
        assert client.post(f"{app.url}/refunds", json={"sku": "other"}).status_code == 404
    stopped = server.fast("POST", f"/test_run/{run['id']}/action/stop")
    assert stopped.status_code == 200, stopped.text
    yield {"run": run, "record": run["test_record_id"], "token": token, "app": app}
    app.httpd.shutdown()


@pytest.fixture(scope="module")
def tapped(server, pages, echo_app):
    """A finished recording of a GBOX box showing a page that changes only when tapped: three
    clicks three seconds apart (so idle stretches lie between), each with its wall time, and
    between the first two a GET through the proxy in a FAST test run."""
    box = GboxSDK(api_key=API_KEY, base_url=f"{server.url}/gbox").create(type="linux", wait=True)
    try:
        box.browser.open_tab(f"{pages}/taps.html")
        box.action.recording.start()
        taps = []
        for i, (x, y) in enumerate([(300, 300), (700, 450), (500, 250)]):
            time.sleep(3)
            taps.append({"x": x, "y": y, "wall": time.time()})
            box.action.click(x=x, y=y)
            if i == 0:
                time.sleep(0.5)
                run = server.fast("POST", "/test_run", json={"name": "timeline", "allowed_hosts": "127.0.0.1"})
                assert run.status_code == 200, run.text
                run = run.json()["body"]
                path = f"/timeline/{uuid.uuid4().hex[:10]}"
                with httpx.Client(proxy=server.proxy_url, timeout=30) as client:
                    request_wall = time.time()
                    assert client.get(f"{echo_app.url}{path}").status_code == 200
                assert server.fast("POST", f"/test_run/{run['id']}/action/stop").status_code == 200
        time.sleep(1)
        box.action.recording.stop()
        [recording] = server.native("GET", f"/sessions/{box.data.id}/recordings").json()["items"]
        assert recording["state"] == "finished", recording
        yield {"recording": recording, "taps": taps, "record": run["test_record_id"],
               "request": {"url": f"{echo_app.url}{path}", "wall": request_wall}}
    finally:
        box.terminate()


@pytest.fixture(scope="module")
def other_key(server):
    """A key of another project, made by the admin key; revoked afterwards."""
    made = server.native("POST", "/keys", json={"name": "dashboard-other", "project": "dashboard-other"})
    assert made.status_code == 201, made.text
    key = made.json()
    yield key["secret"]
    server.native("DELETE", f"/keys/{key['id']}")


def test_dashboard_assets_are_embedded_typed_and_cached(server):
    index = httpx.get(f"{server.url}/")
    assert index.status_code == 200, index.text
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in index.headers["content-security-policy"]
    bundles = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index.text)
    assert {b.rsplit(".", 1)[1] for b in bundles} == {"js", "css"}, index.text
    for bundle in bundles:
        answer = httpx.get(f"{server.url}{bundle}")
        assert answer.status_code == 200, bundle
        expected = "text/javascript" if bundle.endswith(".js") else "text/css"
        assert answer.headers["content-type"] == f"{expected}; charset=utf-8"
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert httpx.get(f"{server.url}/assets/missing.js").status_code == 404
    # The APIs beside it are untouched: the native API still wants a key, the dialects answer.
    assert httpx.get(f"{server.url}/v1/sessions").status_code == 401
    assert server.native("GET", "/sessions").status_code == 200
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_the_players_video_url_answers_range_requests(server, recorded):
    recording = recorded["recording"]
    url = server.native("GET", f"/recordings/{recording['id']}/download-url").json()["url"]
    head = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert head.status_code == 206, head.status_code
    assert head.headers["content-range"] == f"bytes 0-99/{recording['size_bytes']}"
    assert len(head.content) == 100 and head.headers["content-type"] == "video/mp4"


def test_a_person_watches_a_session_live_then_reviews_its_replay_and_its_traffic(server, recorded, traffic):
    session, recording = recorded["session"], recorded["recording"]
    duration = recording["duration_ms"] / 1000
    deep_link_t = round(duration * 0.7, 1)
    seen = drive("story", url=server.url, key=API_KEY, session=session["id"],
                 session_name=session["name"], recording=recording["id"], record=traffic["record"],
                 token=traffic["token"], deep_link_t=deep_link_t)

    assert "not accepted" in seen["wrong_key_error"]
    assert seen["key_kept_after_wrong"] is None
    assert session["name"] in seen["session_row"] and "running" in seen["session_row"]
    assert seen["live_control"] is True
    assert session["name"] in seen["recording_row"] and "finished" in seen["recording_row"]

    played, seeked = seen["played"], seen["seeked"]
    assert played["currentTime"] > 0.5 and abs(played["duration"] - duration) < 0.5, played
    assert abs(seeked["currentTime"] - seeked["duration"] / 2) < 0.25, seeked
    assert "/files/" in seen["video_src"] and "sig=" in seen["video_src"]

    assert abs(seen["deep_link"]["currentTime"] - deep_link_t) < 0.2, seen["deep_link"]
    minutes, seconds = seen["deep_link_clock"].split(":")
    assert abs(int(minutes) * 60 + float(seconds) - deep_link_t) < 0.2, seen["deep_link_clock"]

    assert "dashboard" in seen["runs_text"]
    assert seen["unfiltered_rows"] == 3
    assert "POST" in seen["filtered_row"] and "201" in seen["filtered_row"], seen["filtered_row"]
    assert "/orders" in seen["filtered_row"]
    assert json.loads(seen["request_body"]) == {"sku": traffic["token"], "qty": 2}
    assert json.loads(seen["response_body"]) == {"received": {"sku": traffic["token"], "qty": 2}}
    assert seen["no_match"] == "No exchanges match."


def video_seconds(wall: float, recording: dict) -> float:
    """Seconds into the recording's video of the wall-clock instant `wall`."""
    started = datetime.fromisoformat(recording["started_at"].replace("Z", "+00:00"))
    return wall - started.timestamp()


def clock_seconds(clock: str) -> float:
    """The seconds of a `m:ss.s` clock."""
    minutes, seconds = clock.split(":")
    return int(minutes) * 60 + float(seconds)


def test_the_timeline_under_a_gbox_recording_shows_its_taps_and_traffic_and_seeks_to_them(server, tapped):
    recording = tapped["recording"]
    taps = [{"x": t["x"], "y": t["y"], "at": video_seconds(t["wall"], recording)} for t in tapped["taps"]]
    seen = drive("timeline", url=server.url, key=API_KEY, recording=recording["id"], taps=taps)

    assert seen["bands"] >= 1, "no activity band on the strip"
    actions = [r for r in seen["rows"] if r["kind"] == "action"]
    assert len(actions) == len(taps), seen["rows"]
    for tap, row, sought in zip(taps, actions, seen["sought"]):
        assert f"click_mouse ({tap['x']}, {tap['y']}) left" in row["detail"], row
        assert "action · API" in row["kind_text"], row
        assert abs(clock_seconds(row["clock"]) - tap["at"]) < 0.5, (row, tap)
        assert abs(sought["currentTime"] - tap["at"]) < 0.5, (sought, tap)
        assert sought["current"] == row["detail"], sought

    [request] = [r for r in seen["rows"] if r["kind"] == "request"]
    assert request["detail"] == f"GET 200 {tapped['request']['url']}", request
    assert abs(clock_seconds(request["clock"]) - video_seconds(tapped["request"]["wall"], recording)) < 0.5
    assert request["link"].startswith(f"#/traffic/{tapped['record']}?exchange="), request
    assert [r["kind"] for r in seen["rows"]] == ["action", "request", "action", "action"], seen["rows"]

    # Skip idle: played from a band, the video crosses the idle gap after it faster than the
    # wall clock; sought into a gap while playing, it stays there.
    skip = seen["skip"]
    assert skip["gap"][1] - skip["gap"][0] > 1.5, skip
    assert skip["video"] - skip["wall"] > 1, skip
    assert skip["held_video"] < skip["held_wall"] + 0.5, skip

    assert "/files/" in seen["share_url"] and "sig=" in seen["share_url"]
    assert httpx.get(seen["share_url"], headers={"Range": "bytes=0-9"}).status_code == 206
    assert seen["har_buttons"] == [f"test record {tapped['record']}"]


def test_a_wall_of_screens_shows_each_running_sessions_thumbnail(server, recorded, other_key, tmp_path):
    session = recorded["session"]
    answer = server.native("GET", f"/sessions/{session['id']}/thumbnail")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg" and answer.headers["cache-control"] == "no-store"
    jpeg = tmp_path / "thumbnail.jpg"
    jpeg.write_bytes(answer.content)
    # 800×600 shrunk by 3 to fit 320 wide; the ticking page is white with dark text.
    pixels = subprocess.run(["ffmpeg", "-v", "error", "-i", str(jpeg), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                            capture_output=True, check=True).stdout
    assert len(pixels) == 266 * 200, len(pixels)
    assert sum(pixels) / len(pixels) > 180 and min(pixels) < 100, "a white page with dark text"
    for width in (8, 2000):
        refused = server.native("GET", f"/sessions/{session['id']}/thumbnail", params={"width": width})
        assert refused.status_code == 400 and "out of range" in refused.json()["message"], refused.text
    other = httpx.get(f"{server.url}/v1/sessions/{session['id']}/thumbnail",
                      headers={"Authorization": f"Bearer {other_key}"})
    assert other.status_code == 404, other.text

    seen = drive("wall", url=server.url, key=API_KEY, session=session["id"])
    assert (seen["thumbnail"]["width"], seen["thumbnail"]["height"]) == (266, 200), seen
    assert seen["table_hidden"], seen


def test_another_projects_key_sees_none_of_it(server, recorded, traffic, other_key):
    seen = drive("isolation", url=server.url, key=other_key, prefix="other-project-",
                 recording=recorded["recording"]["id"], record=traffic["record"])
    assert (seen["sessions"], seen["recordings"], seen["exchanges"], seen["videos"]) == (0, 0, 0, 0)
    assert "No test runs yet." in seen["runs_text"] and "No test records yet." in seen["runs_text"]
    assert "not found" in seen["recording_error"], seen["recording_error"]
    assert "not found" in seen["traffic_error"], seen["traffic_error"]


def test_the_exchanges_endpoint_filters_and_pages_on_the_server(server, traffic):
    path = f"/test-records/{traffic['record']}/exchanges"

    def page(**params):
        answer = server.native("GET", path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    first = page(limit=2)
    assert len(first["items"]) == 2 and first["next_offset"] == 2
    rest = page(limit=2, offset=2)
    assert len(rest["items"]) == 1 and rest["next_offset"] is None
    assert [e["method"] for e in first["items"] + rest["items"]] == ["GET", "POST", "POST"]
    assert [e["status"] for e in page(method="post", status="4xx")["items"]] == [404]
    host = traffic["app"].url.removeprefix("http://")
    assert len(page(host=host)["items"]) == 3
    assert page(host="127.0.0.2")["items"] == []
    [found] = page(q=traffic["token"])["items"]
    whole = server.native("GET", f"{path}/{found['id']}").json()
    assert json.loads(whole["request"]["postData"]["text"]) == {"sku": traffic["token"], "qty": 2}
    assert server.native("GET", path, params={"status": "7xx"}).status_code == 400
    assert server.native("GET", path, params={"limit": 1000}).json()["next_offset"] is None
    spec = httpx.get(f"{server.url}/v1/openapi.json").json()
    assert {f"/v1{p}" for p in ("/test-records/{id}/exchanges", "/test-runs", "/recordings")} <= set(spec["paths"])
