"""Several nodes on one PostgreSQL and one bucket (s3s-fs), started by the test itself: a node
recovers only its own rows, a lost node's recordings are finalized by a survivor from the
bucket, and a node that was only frozen cannot overwrite what was recovered."""

import signal
import time

import httpx
import pytest

from conftest import Server, ffprobe, frame_times, wait_until
from test_scale_backends import BUCKET, postgres, s3  # noqa: F401 (fixtures)

# Kill to takeover: 10 s of silence, a failed health probe, and one heartbeat tick.
TAKEOVER_SECS = 30


def node(tmp_path, name, first_display, database_url, s3_env):
    return Server(tmp_path / name, first_display=first_display, env=s3_env, max_sessions=1,
                  extra_args=["--database-url", database_url, "--blob-url", f"s3://{BUCKET}",
                              "--node-id", name])


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
            return b.native("GET", f"/recordings/{recording_id}").json()["state"] == "interrupted"
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

        def recovered():
            return b.native("GET", f"/recordings/{recording_id}").json()["stop_reason"] == "node_lost"
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
                           "--node-id", "node-drain", "--drain-secs", "120"]).start()
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
