"""A server killed mid-recording keeps its video: ffmpeg's input closes with the server, and
ffmpeg closes the segment in flight, so at most the last keepalive interval (1 s) of an unchanged
screen is missing."""

import time
from datetime import datetime, timezone

from conftest import Server, ffprobe


def test_kernel_replay_survives_server_kill9(tmp_path):
    server = Server(tmp_path / "crash", first_display=140).start()
    try:
        kernel = server.kernel_client()
        browser = kernel.browsers.create(viewport={"width": 1280, "height": 720})
        replay = kernel.browsers.replays.start(browser.session_id)
        time.sleep(8)
        server.kill9()
        # From the server's own start stamp (taken once ffmpeg runs) to the kill.
        recorded_for = (datetime.now(timezone.utc) - replay.started_at).total_seconds()

        server.start()
        replays = kernel.browsers.replays.list(browser.session_id)
        assert [r.replay_id for r in replays] == [replay.replay_id]
        assert replays[0].finished_at is not None

        native = server.native("GET", f"/recordings/{replay.replay_id}").json()
        assert native["state"] == "interrupted" and native["stop_reason"] == "recovered", native

        download = kernel.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id)
        assert download.http_response.status_code == 200
        video = tmp_path / "recovered.mp4"
        download.write_to_file(video)
        probe = ffprobe(video)
        assert probe["codec"] == "h264"
        assert probe["duration"] >= recorded_for - 1.5, (probe, recorded_for)
        assert probe["duration"] <= recorded_for + 1.0, (probe, recorded_for)
        # The recorded length comes from the segments' own timeline, not ffmpeg's playlist
        # (which lists a variable-rate last segment as one frame long).
        assert abs(native["duration_ms"] / 1000 - probe["duration"]) <= 0.5, (native, probe)

        # The killed session's browser is gone, and the session reads as deleted.
        assert kernel.browsers.retrieve(browser.session_id, include_deleted=True).deleted_at is not None
    finally:
        server.stop()


def test_restart_deletes_segments_a_crash_left_beside_a_finished_video(tmp_path):
    """A stop answers before the recording's stored segments are deleted; a crash in between
    leaves them behind. The next start deletes them, and nothing no recording claims."""
    server = Server(tmp_path / "sweep", first_display=145).start()
    try:
        session = server.native("POST", "/sessions", json={}).json()
        started = server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()
        time.sleep(2)
        stopped = server.native("POST", f"/recordings/{started['id']}/stop").json()
        assert stopped["state"] == "finished"
        recordings = server.data_dir / "data" / "blobs" / "recordings"
        leftover = recordings / stopped["id"] / "parts" / "seg_00007.m4s"
        stranger = recordings / "not-a-recording" / "parts" / "seg_00000.m4s"
        for path in (leftover, stranger):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"segment bytes")

        server.stop()
        server.start()
        deadline = time.monotonic() + 10
        while leftover.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not (recordings / stopped["id"]).exists()
        assert (recordings / f"{stopped['id']}.mp4").stat().st_size == stopped["size_bytes"]
        assert stranger.read_bytes() == b"segment bytes"
    finally:
        server.stop()
