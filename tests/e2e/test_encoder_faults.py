"""An encoder killed mid-recording costs at most the last second of video, on a busy page and on
a still one, at any moment, the first recording of a fresh session included.

Design: the recording ends `interrupted` (stop reason `recorder_exited`) rather than continuing
with a restarted encoder. The segmenter writes each frame's fragment as ffmpeg hands it over, so
what was encoded before the kill is on disk however far apart the keyframes are."""

import os
import signal
import threading
import time

import httpx

from conftest import encoder_of, ffprobe, wait_until

# Seconds after the start answered, 0.5 s to 10 s: ten moments per page, twenty runs.
KILL_AFTER = [0.5, 1.0, 1.5, 2.2, 3.0, 4.1, 5.0, 6.3, 8.0, 10.0]
# The video may stop short of the kill by this much: ffmpeg holds a frame until the next one
# (at most the 1 s keepalive later), plus what was still in the pipe.
TOLERANCE_SECS = 2.0


def kill_runs(server, scratch, label: str, start_url: str | None) -> list:
    """Records on one fresh session, killing the encoder at each moment; returns each run's
    (moment, the kill's time after the start answered and after it was asked, recording,
    probe)."""
    body = {"start_url": start_url} if start_url else {}
    session = server.native("POST", "/sessions", json=body).json()
    runs = []
    try:
        for after in KILL_AFTER:
            asked = time.monotonic()
            recording = server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()
            answered = time.monotonic()
            encoder = encoder_of(recording["id"])
            time.sleep(max(0.0, answered + after - time.monotonic()))
            os.kill(encoder.pid, signal.SIGKILL)
            killed = time.monotonic()
            wait_until(lambda: server.native("GET", f"/recordings/{recording['id']}").json()["state"]
                       not in ("recording", "stopping"), 20, "the recording to end after its encoder died")
            ended = server.native("GET", f"/recordings/{recording['id']}").json()
            probe = None
            if ended["state"] != "failed":
                url = server.native("GET", f"/recordings/{recording['id']}/download-url").json()["url"]
                video = scratch / f"{label}-{after}.mp4"
                video.write_bytes(httpx.get(url).content)
                probe = ffprobe(video)
            runs.append((after, killed - answered, killed - asked, ended, probe))
    finally:
        server.native("DELETE", f"/sessions/{session['id']}")
    return runs


def test_a_killed_encoder_keeps_the_video_up_to_the_kill_on_busy_and_still_pages(server, pages, scratch):
    results = {}

    def run(label, url):
        results[label] = kill_runs(server, scratch, label, url)

    # The two pages record at once, in two sessions: twenty runs in the time of ten.
    threads = [threading.Thread(target=run, args=("busy", f"{pages}/motion.html")),
               threading.Thread(target=run, args=("still", None))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) == {"busy", "still"}, "a run raised; see above"
    for label, runs in results.items():
        for after, since_answer, since_asked, ended, probe in runs:
            print(label, after, round(since_answer, 2), round(since_asked, 2), ended["state"],
                  ended.get("duration_ms"), probe and (probe["duration"], probe["frames"]))
    for label, runs in results.items():
        for after, since_answer, since_asked, ended, probe in runs:
            context = (label, after, round(since_answer, 2), ended, probe)
            assert ended["state"] == "interrupted" and ended["stop_reason"] == "recorder_exited", context
            assert probe and probe["codec"] == "h264" and probe["frames"] >= 1, context
            # The video starts while the start is being answered, and ends by the kill.
            assert since_answer - TOLERANCE_SECS <= probe["duration"] <= since_asked + 0.2, context
            assert abs(ended["duration_ms"] / 1000 - probe["duration"]) <= 0.5, context
