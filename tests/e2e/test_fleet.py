"""Several nodes on one PostgreSQL and one bucket (s3s-fs), started by the test itself: any
node answers for any session, creates go where there is room, a node recovers only its own
rows, a lost node's recordings are finalized by a survivor from the bucket, and a node that was
only frozen cannot overwrite what was recovered."""

import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from gbox_sdk import GboxSDK
from kernel import AuthenticationError, Kernel

from conftest import API_KEY, Server, ffprobe, frame_rgb, frame_times, mean_abs_diff, node as drive, wait_until
from test_misconfigured_storage import assert_one_paragraph_and_no_secrets, start
from test_scale_backends import BUCKET, CLUSTER_SECRET, postgres, s3  # noqa: F401 (fixtures)

VIEWPORT = {"width": 1280, "height": 720}

# Kill to takeover: 10 s of silence, a failed health probe, and one heartbeat tick.
TAKEOVER_SECS = 30


def node(tmp_path, name, first_display, database_url, s3_env):
    return Server(tmp_path / name, first_display=first_display, env=s3_env, max_sessions=1,
                  extra_args=["--database-url", database_url, "--blob-url", f"s3://{BUCKET}",
                              "--node-id", name, "--cluster-secret", CLUSTER_SECRET])


@pytest.fixture
def three_nodes(tmp_path, postgres, s3):  # noqa: F811
    """Nodes A, B and C on one database and bucket, one session each, stopped afterwards."""
    database_url = postgres()
    nodes = [node(tmp_path, f"node-{n}", d, database_url, s3.env) for n, d in (("a", 230), ("b", 235), ("c", 240))]
    try:
        yield [n.start() for n in nodes]
    finally:
        for n in nodes:
            n.stop()


def through(url, server):
    """`url` (signed by whichever node answered) sent to `server` instead, as a load balancer in
    front of the fleet would: every node's public URL is the same there, and here each node has
    its own port."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{server.url.split('://', 1)[1]}/{rest.split('/', 1)[1]}"


def test_any_node_answers_for_a_kernel_browser_its_replay_and_its_cdp_url(three_nodes, pages, tmp_path):
    a, b, c = three_nodes
    on_a, on_b, on_c = (n.kernel_client() for n in (a, b, c))
    browser = on_a.browsers.create(viewport=VIEWPORT, timeout_seconds=120)
    assert a.native("GET", f"/sessions/{browser.session_id}").json()["node"] == "node-a"

    replay = on_b.browsers.replays.start(browser.session_id, framerate=10)
    started = time.monotonic()
    cdp_ws_url = on_c.browsers.retrieve(browser.session_id).cdp_ws_url
    seen = drive("playwright", through(cdp_ws_url, c), f"{pages}/motion.html")
    assert seen == {"clicked": True, "title": "motion"}
    stop_called = time.monotonic()
    assert on_c.browsers.replays.stop(replay.replay_id, id_or_name=browser.session_id) is None
    wall = stop_called - started

    listed = on_b.browsers.replays.list(browser.session_id)
    assert [r.replay_id for r in listed] == [replay.replay_id] and listed[0].finished_at is not None
    video = tmp_path / "replay.mp4"
    on_a.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id).write_to_file(video)
    # Streamed through another node, the download is the same file.
    forwarded = on_c.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id)
    assert forwarded.read() == video.read_bytes()
    probe = ffprobe(video)
    assert abs(probe["duration"] - wall) <= 1.0, (probe, wall)
    assert mean_abs_diff(frame_rgb(video, 0.2), frame_rgb(video, 0.3, from_end=True)) > 5, "the frames did not move"

    # A node checks the caller's key itself: a wrong one gets no further than the node it reached.
    with pytest.raises(AuthenticationError):
        Kernel(api_key="wrong", base_url=b.kernel_url, max_retries=0).browsers.retrieve(browser.session_id)
    assert b.metric("tapedeck_forwarded_requests_total") >= 2  # the replay's start and list
    on_b.browsers.delete_by_id(browser.session_id)
    assert a.native("GET", f"/sessions/{browser.session_id}").json()["state"] == "deleted"


def test_any_node_answers_for_a_gbox_box_its_recording_and_its_storage_key(three_nodes, pages, tmp_path):
    a, b, c = three_nodes
    box = GboxSDK(api_key=API_KEY, base_url=f"{a.url}/gbox").create(type="linux", wait=True)
    on_b = GboxSDK(api_key=API_KEY, base_url=f"{b.url}/gbox").get(box.data.id)
    on_b.action.recording.start()
    time.sleep(1)
    on_b.action.tap(x=640, y=360)
    time.sleep(1)
    stop = on_b.action.recording.stop()
    on_c = GboxSDK(api_key=API_KEY, base_url=f"{c.url}/gbox").get(box.data.id)
    url = on_c.storage.create_presigned_url(stop.storage_key, expires_in="5m")
    video = tmp_path / "box.mp4"
    video.write_bytes(httpx.get(url, timeout=30).content)
    assert ffprobe(video)["duration"] >= 1.5, ffprobe(video)
    on_c.terminate()
    assert a.native("GET", f"/sessions/{box.data.id}").json()["state"] == "deleted"


def test_creates_through_one_node_fill_the_fleet_then_answer_529(three_nodes):
    a, b, c = three_nodes
    on_a = a.kernel_client()
    created = [on_a.browsers.create(viewport={"width": 800, "height": 600}).session_id for _ in range(3)]
    placed = {a.native("GET", f"/sessions/{s}").json()["node"] for s in created}
    assert placed == {"node-a", "node-b", "node-c"}
    full = httpx.post(f"{a.kernel_url}/browsers", json={}, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    assert full.status_code == 529, full.text
    # Lists read the shared database: every node sees the whole fleet's sessions.
    assert sorted(br.session_id for br in c.kernel_client().browsers.list()) == sorted(created)


class CountingApp:
    """A target application that counts the requests each path gets."""

    def __init__(self):
        hits = self.hits = Counter()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                hits[self.path] += 1
                body = self.path.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_a_fast_run_records_traffic_through_every_nodes_proxy_and_is_tested_once(three_nodes):
    a, b, c = three_nodes
    app = CountingApp()
    try:
        created = a.fast("POST", "/test_run", json={"name": "fleet run"}).json()["body"]
        # Once create answers, every node's proxy records into the run.
        sent = []
        for n, proxy in enumerate([b, c, b, c, a, c]):
            with httpx.Client(proxy=proxy.proxy_url, timeout=30) as client:
                path = f"/item/{n}"
                assert client.get(f"{app.url}{path}").text == path
                sent.append(path)
        stopped = c.fast("POST", f"/test_run/{created['id']}/action/stop").json()["body"]
        assert stopped["recording"] is False and stopped["baseline_count"] == len(sent), stopped
        with httpx.Client(proxy=b.proxy_url, timeout=30) as client:
            client.get(f"{app.url}/after-stop")

        def finished():
            return a.fast("GET", f"/test_run/{created['id']}").json()["body"]["state"] in ("passed", "failed")
        wait_until(finished, 60, "the run's testing phase to finish")
        run = b.fast("GET", f"/test_run/{created['id']}").json()["body"]
        assert run["state"] == "passed" and run["baseline_check_passed_count"] == len(sent), run
        entries = b.native("GET", f"/test-records/{created['test_record_id']}/har").json()["log"]["entries"]
        assert sorted(e["request"]["url"] for e in entries) == sorted(f"{app.url}{p}" for p in sent)
        # Each path: recorded once, replayed once by one node's testing phase.
        assert all(app.hits[p] == 2 for p in sent) and app.hits["/after-stop"] == 1, app.hits
    finally:
        app.httpd.shutdown()


def test_a_node_on_a_shared_database_refuses_to_start_without_a_cluster_secret(tmp_path, postgres):  # noqa: F811
    done, _, data_dir = start(tmp_path, "--database-url", postgres())
    assert_one_paragraph_and_no_secrets(done, data_dir, "--cluster-secret", "PostgreSQL")


def two_nodes(tmp_path, database_url, s3_env):
    """Nodes A and B on one database and bucket, started."""
    return (node(tmp_path, "node-a", 240, database_url, s3_env).start(),
            node(tmp_path, "node-b", 245, database_url, s3_env).start())


def start_busy_recording(server, pages):
    session = server.native("POST", "/sessions", json={"start_url": f"{pages}/motion.html"})
    assert session.status_code == 201, session.text
    recording = server.native("POST", f"/sessions/{session.json()['id']}/recordings", json={"framerate": 10})
    assert recording.status_code in (200, 201), recording.text
    return session.json()["id"], recording.json()["id"], time.monotonic()


def recording_state(server, recording_id):
    """The recording as `server` answers for it, or {} while it cannot."""
    response = server.native("GET", f"/recordings/{recording_id}")
    return response.json() if response.status_code == 200 else {}


def download(server, recording_id, path):
    url = server.native("GET", f"/recordings/{recording_id}/download-url").json()["url"]
    path.write_bytes(httpx.get(url, timeout=60).content)
    return path


def test_restarting_a_node_leaves_another_nodes_sessions_and_recordings_alone(tmp_path, postgres, s3, pages):  # noqa: F811
    database_url = postgres()
    a = node(tmp_path, "node-a", 230, database_url, s3.env).start()
    b = node(tmp_path, "node-b", 235, database_url, s3.env).start()
    try:
        session_a, recording_a, _ = start_busy_recording(a, pages)
        session_b = b.native("POST", "/sessions", json={}).json()["id"]
        time.sleep(2)
        b.stop()
        b.start()
        # B ended its own session as it stopped; A's session and recording go on.
        assert b.native("GET", f"/sessions/{session_b}").json()["state"] == "deleted"
        assert a.native("GET", f"/sessions/{session_a}").json()["state"] == "running"
        assert a.native("GET", f"/recordings/{recording_a}").json()["state"] == "recording"
        time.sleep(2)
        stopped = a.native("POST", f"/recordings/{recording_a}/stop").json()
        assert stopped["state"] == "finished" and stopped["stop_reason"] == "requested", stopped
        video = download(a, recording_a, tmp_path / "a.mp4")
        times = frame_times(video)
        assert ffprobe(video)["duration"] >= 5, ffprobe(video)
        assert max(b - a for a, b in zip(times, times[1:])) < 1.0, "the video has a gap"
    finally:
        a.stop()
        b.stop()


def test_a_lost_nodes_recording_is_finalized_by_another_node_from_the_bucket(tmp_path, postgres, s3, pages):  # noqa: F811
    a, b = two_nodes(tmp_path, postgres(), s3.env)
    try:
        session_id, recording_id, started = start_busy_recording(a, pages)
        time.sleep(6)
        a.kill9()
        recorded_secs = time.monotonic() - started

        def finalized():
            # Until the takeover, calls on A's recording answer 503: A serves it, and is down.
            return recording_state(b, recording_id).get("state") == "interrupted"
        wait_until(finalized, TAKEOVER_SECS, "another node to finalize the lost node's recording")
        recording = b.native("GET", f"/recordings/{recording_id}").json()
        assert recording["stop_reason"] == "node_lost", recording
        session = b.native("GET", f"/sessions/{session_id}").json()
        assert session["state"] == "deleted" and session["end_reason"] == "node_lost", session
        # A call on the lost session says it is gone.
        assert b.native("POST", f"/sessions/{session_id}/recordings", json={}).status_code in (404, 409, 410)
        video = download(b, recording_id, tmp_path / "lost.mp4")
        duration = ffprobe(video)["duration"]
        assert recorded_secs - 2.5 <= duration <= recorded_secs + 0.5, (duration, recorded_secs)
        assert "node lost" in b.log()
        fleet = {n["id"]: n for n in b.native("GET", "/nodes").json()["items"]}
        assert fleet["node-a"]["health"] == "lost" and fleet["node-b"]["health"] == "live", fleet
        assert fleet["node-b"]["heartbeat_age_secs"] < 5 and fleet["node-b"]["capacity"] == 1, fleet
    finally:
        a.stop()
        b.stop()


def test_a_frozen_node_cannot_overwrite_what_another_node_recovered(tmp_path, postgres, s3, pages):  # noqa: F811
    a, b = two_nodes(tmp_path, postgres(), s3.env)
    try:
        session_id, recording_id, _ = start_busy_recording(a, pages)
        time.sleep(3)
        a.proc.send_signal(signal.SIGSTOP)

        def silent():
            return {n["id"]: n for n in b.native("GET", "/nodes").json()["items"]}["node-a"]["heartbeat_age_secs"] >= 7
        # A frozen node still accepts connections; once its heartbeat is 6 s old, the others
        # answer 503 for it at once rather than wait on it.
        wait_until(silent, TAKEOVER_SECS, "node A's heartbeat to age")
        frozen = b.native("GET", f"/recordings/{recording_id}")
        assert frozen.status_code == 503 and "no heartbeat" in frozen.json()["message"], frozen.text

        def recovered():
            return recording_state(b, recording_id).get("stop_reason") == "node_lost"
        wait_until(recovered, TAKEOVER_SECS, "another node to take the frozen node's recording over")
        wait_until(lambda: b.native("GET", f"/recordings/{recording_id}").json()["state"] == "interrupted",
                   TAKEOVER_SECS, "the recording to be finalized")
        before = b.native("GET", f"/recordings/{recording_id}").json()

        a.proc.send_signal(signal.SIGCONT)
        # It learns at its next heartbeat that it was found lost, and leaves the fleet.
        assert a.proc.wait(timeout=30) == 1, a.log()
        assert "found this node lost" in a.log()
        assert b.native("GET", f"/recordings/{recording_id}").json() == before
        session = b.native("GET", f"/sessions/{session_id}").json()
        assert session["end_reason"] == "node_lost", session
    finally:
        if a.proc.poll() is None:
            a.proc.send_signal(signal.SIGCONT)
        a.stop()
        b.stop()


def test_a_draining_node_takes_no_new_session_and_exits_once_its_sessions_end(tmp_path, postgres, s3):  # noqa: F811
    """SIGTERM with `--drain-secs` (Kubernetes' preStop): the node keeps serving its sessions,
    refuses new ones with the capacity error, shows as draining in the fleet, and exits as soon
    as its last session ends."""
    a = Server(tmp_path / "drain", first_display=230, env=s3.env, max_sessions=2,
               extra_args=["--database-url", postgres(), "--blob-url", f"s3://{BUCKET}",
                           "--node-id", "node-drain", "--drain-secs", "120",
                           "--cluster-secret", CLUSTER_SECRET]).start()
    try:
        session = a.native("POST", "/sessions", json={}).json()["id"]
        a.proc.send_signal(signal.SIGTERM)

        def draining():
            [me] = a.native("GET", "/nodes").json()["items"]
            return me["draining"]
        wait_until(draining, 10, "the node to show as draining")
        refused = a.native("POST", "/sessions", json={})
        assert refused.status_code == 503 and "draining" in refused.json()["message"], refused.text
        assert a.native("GET", f"/sessions/{session}").json()["state"] == "running"
        assert a.proc.poll() is None

        assert a.native("DELETE", f"/sessions/{session}").status_code == 204
        assert a.proc.wait(timeout=30) == 0, a.log()
        assert "drain over" in a.log()
    finally:
        a.stop()
