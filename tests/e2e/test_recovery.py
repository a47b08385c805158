"""A server, an encoder, a browser or a display killed mid-recording: the video is kept up to
the fault. The segmenter writes each frame's fragment as ffmpeg hands it over, so at most the
last keepalive interval (1 s) of an unchanged screen is missing."""

import os
import shutil
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from conftest import SANDBOX_ROOT, Server, chromium_of, encoder_of, ffprobe, processes, spool_of, wait_until


def test_kernel_replay_survives_server_kill9(tmp_path):
    server = Server(tmp_path / "crash", first_display=140).start()
    try:
        kernel = server.kernel_client()
        browser = kernel.browsers.create(viewport={"width": 1280, "height": 720})
        replay = kernel.browsers.replays.start(browser.session_id)
        time.sleep(8)
        server.kill9()
        assert (SANDBOX_ROOT / "sessions" / browser.session_id).is_dir(), "a crash leaves the session's folder"
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
        # Its home and profile, left in the sandbox dir that every root server shares, are swept.
        wait_until(lambda: not (SANDBOX_ROOT / "sessions" / browser.session_id).exists(), 20,
                   "the crashed session's folder to be swept")
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
        # The segment goes first, then its emptied folders: wait for the folder.
        wait_until(lambda: not (recordings / stopped["id"]).exists(), 10,
                   "the finished recording's leftover segment and folder to be swept")
        assert (recordings / f"{stopped['id']}.mp4").stat().st_size == stopped["size_bytes"]
        assert stranger.read_bytes() == b"segment bytes"
    finally:
        server.stop()


def test_sigterm_exits_by_its_deadline_though_the_encoder_is_stalled_and_leaves_no_process(tmp_path):
    """A stalled encoder would hold a graceful stop forever: the shutdown deadline ends the
    server anyway, no session process outlives it, and the next start finalizes the replay."""
    server = Server(tmp_path / "deadline", first_display=147, extra_args=["--shutdown-secs", "5"]).start()
    try:
        kernel = server.kernel_client()
        browser = kernel.browsers.create(viewport={"width": 1280, "height": 720})
        replay = kernel.browsers.replays.start(browser.session_id)
        encoder = encoder_of(replay.replay_id)
        time.sleep(3)
        os.kill(encoder.pid, signal.SIGSTOP)
        asked = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=30)
        took = time.monotonic() - asked
        assert 5 <= took < 9, (took, server.log()[-2000:])
        assert "shutdown deadline passed" in server.log()
        # The browser, the display and the encoder died with the server.
        wait_until(lambda: not processes(browser.session_id) and not Path(f"/proc/{encoder.pid}").exists(),
                   10, "the session's processes to end with the server")

        # The next start finalizes what the stop could not: the video up to the stall, which
        # the segmenter had written frame by frame.
        server.start()
        wait_until(lambda: server.native("GET", f"/recordings/{replay.replay_id}").json()["state"]
                   not in ("recording", "stopping"), 20, "recovery to finalize the replay")
        native = server.native("GET", f"/recordings/{replay.replay_id}").json()
        assert native["state"] == "interrupted" and native["finished_at"], native
        assert native["duration_ms"] >= 2000, native
        assert kernel.browsers.retrieve(browser.session_id, include_deleted=True).deleted_at is not None
    finally:
        server.stop()


def test_a_start_after_a_crash_recovers_each_recording_on_its_own_and_names_each_problem(tmp_path):
    """One recording's spool holds a corrupt segment, another's video is gone altogether: the
    server starts all the same, /healthz says how recovery went, and each recording says what
    happened to it. The first keeps the video it has."""
    server = Server(tmp_path / "damaged", first_display=148).start()
    try:
        sessions = [server.native("POST", "/sessions", json={}).json() for _ in range(2)]
        damaged, gone = [server.native("POST", f"/sessions/{s['id']}/recordings", json={}).json()
                         for s in sessions]
        encoders = {r["id"]: encoder_of(r["id"]) for r in (damaged, gone)}
        spools = {id: spool_of(encoder) for id, encoder in encoders.items()}
        time.sleep(3)
        server.kill9()
        # The encoders die with the server.
        wait_until(lambda: not any(Path(f"/proc/{e.pid}").exists() for e in encoders.values()), 20,
                   "the encoders to end with the server")

        spool = spools[damaged["id"]]
        (spool / "seg_09999.m4s").write_bytes(b"not a fragmented MP4 segment" * 100)
        shutil.rmtree(spools[gone["id"]])
        shutil.rmtree(server.data_dir / "data" / "blobs" / "recordings" / gone["id"], ignore_errors=True)

        server.start()
        health = httpx.get(f"{server.url}/healthz").json()
        assert health == {"status": "ready", "recovery": {"recordings": 2, "recovered": 2, "failed": 1}}, health

        kept = server.native("GET", f"/recordings/{damaged['id']}").json()
        assert kept["state"] == "interrupted" and "unreadable segment" in kept["problem"], kept
        url = server.native("GET", f"/recordings/{damaged['id']}/download-url").json()["url"]
        video = tmp_path / "kept.mp4"
        video.write_bytes(httpx.get(url).content)
        assert ffprobe(video)["duration"] >= 1.5

        lost = server.native("GET", f"/recordings/{gone['id']}").json()
        assert lost["state"] == "failed" and lost["problem"] == "no video was captured", lost
    finally:
        server.stop()


@pytest.mark.parametrize("victim", ["chromium", "Xvfb"])
def test_a_killed_browser_or_display_ends_its_session_and_its_recording_still_plays(server, tmp_path, victim):
    session = server.native("POST", "/sessions", json={}).json()
    recording = server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()
    time.sleep(3)
    browser, _ = chromium_of(session["id"])
    display = browser.environ()["DISPLAY"]
    [xvfb] = [p for p in processes(display) if p.exe.endswith("/Xvfb") and display in p.args]
    os.kill((browser if victim == "chromium" else xvfb).pid, signal.SIGKILL)
    wait_until(lambda: server.native("GET", f"/sessions/{session['id']}").json()["state"] == "deleted", 15,
               f"the session to end after its {victim} died")
    ended = server.native("GET", f"/recordings/{recording['id']}").json()
    # Without its X server the recorder's grab fails too, and whichever notices first stops it;
    # a recorder that ended by itself marks the recording interrupted.
    reasons = ("session_ended",) if victim == "chromium" else ("session_ended", "recorder_exited")
    assert ended["stop_reason"] in reasons, ended
    assert ended["state"] == ("interrupted" if ended["stop_reason"] == "recorder_exited" else "finished"), ended
    video = tmp_path / f"after-{victim}.mp4"
    video.write_bytes(httpx.get(server.native("GET", f"/recordings/{recording['id']}/download-url")
                                .json()["url"]).content)
    assert ffprobe(video)["duration"] >= 2
    wait_until(lambda: not processes(f"/{session['id']}/profile"), 10, "the session's processes to be gone")
