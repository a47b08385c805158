"""Kernel's browsers and replays, driven by the unmodified official `kernel` SDK."""

import threading
import time

import httpx
import pytest
from kernel import NotFoundError

from conftest import ffprobe, frame_rgb, frame_times, mean_abs_diff, mean_rgb, node

VIEWPORT = {"width": 1280, "height": 720}


def test_kernel_sdk_replay_roundtrip(kernel, server, pages, scratch):
    browser = kernel.browsers.create(viewport=VIEWPORT, timeout_seconds=120)
    assert browser.session_id and browser.cdp_ws_url.startswith("ws://")
    assert "?jwt=" in browser.cdp_ws_url
    assert kernel.browsers.retrieve(browser.session_id).session_id == browser.session_id

    replay = kernel.browsers.replays.start(browser.session_id, framerate=10)
    started = time.monotonic()
    assert replay.replay_id and replay.finished_at is None

    seen = node("playwright", browser.cdp_ws_url, f"{pages}/motion.html")
    assert seen == {"clicked": True, "title": "motion"}

    stop_called = time.monotonic()
    assert kernel.browsers.replays.stop(replay.replay_id, id_or_name=browser.session_id) is None
    wall = stop_called - started

    listed = kernel.browsers.replays.list(browser.session_id)
    assert [r.replay_id for r in listed] == [replay.replay_id]
    assert listed[0].finished_at is not None

    download = kernel.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id)
    assert download.http_response.status_code == 200
    assert download.http_response.headers["content-type"] == "video/mp4"
    video = scratch / "replay.mp4"
    download.write_to_file(video)

    probe = ffprobe(video)
    assert probe["codec"] == "h264"
    assert (probe["width"], probe["height"]) == (1280, 720)
    assert abs(probe["duration"] - wall) <= 1.0, (probe, wall)
    # Frames are captured when the screen changes (variable frame rate): while the page
    # animates, the last 2 s before the stop, nearly every tick of the 10 fps must be a frame.
    times = frame_times(video)
    assert len(times) == probe["frames"], (len(times), probe)
    moving = [t for t in times if probe["duration"] - 2.5 <= t < probe["duration"] - 0.5]
    assert len(moving) >= 0.8 * 10 * 2, (moving, probe)

    first = frame_rgb(video, 0.2)
    last = frame_rgb(video, 0.3, from_end=True)
    assert mean_abs_diff(first, last) > 5, "the video did not change while the page did"
    red, green, blue = mean_rgb(last)
    assert green > 100 and red < 80, f"the click's green background is not in the last frame: {(red, green, blue)}"

    # The replay plays and seeks in Chromium itself, from its presigned URL.
    played = node("play", browser.cdp_ws_url, listed[0].replay_view_url)
    assert abs(played["duration"] - probe["duration"]) < 0.5, played
    assert played["width"] == 1280 and played["seekedTo"] > 0

    kernel.browsers.delete_by_id(browser.session_id)
    with pytest.raises(NotFoundError):
        kernel.browsers.retrieve(browser.session_id)


def test_kernel_cdp_relay_works_with_puppeteer(kernel):
    browser = kernel.browsers.create(viewport=VIEWPORT)
    seen = node("puppeteer", browser.cdp_ws_url)
    assert seen["sum"] == 42 and "Chrome" in seen["version"]


def test_kernel_cdp_relay_refuses_a_bad_token(kernel, server):
    browser = kernel.browsers.create(viewport=VIEWPORT)
    bad = browser.cdp_ws_url.rsplit(".", 1)[0] + ".AAAA"
    http_url = bad.replace("ws://", "http://")
    response = httpx.get(http_url, headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                            "Sec-WebSocket-Version": "13"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_kernel_concurrent_stops_finalize_once(kernel, server, scratch):
    browser = kernel.browsers.create(viewport=VIEWPORT)
    replay = kernel.browsers.replays.start(browser.session_id)
    time.sleep(3)  # three seconds of video to stop
    finalized_before = server.metric("tapedeck_recordings_finalized_total")
    results, errors = [], []

    def stop():
        try:
            results.append(kernel.browsers.replays.stop(replay.replay_id, id_or_name=browser.session_id))
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=stop) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == [None] * 4

    # A fifth, later stop is still a 200.
    assert kernel.browsers.replays.stop(replay.replay_id, id_or_name=browser.session_id) is None
    assert server.metric("tapedeck_recordings_finalized_total") == finalized_before + 1

    video = scratch / "r.mp4"
    kernel.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id).write_to_file(video)
    assert 2 <= ffprobe(video)["duration"] <= 4.5


def test_kernel_replay_stops_at_max_duration(kernel, server, scratch):
    browser = kernel.browsers.create(viewport=VIEWPORT)
    replay = kernel.browsers.replays.start(browser.session_id, max_duration_in_seconds=3)
    deadline = time.monotonic() + 30
    finished = None
    while time.monotonic() < deadline and finished is None:
        time.sleep(0.5)
        finished = kernel.browsers.replays.list(browser.session_id)[0].finished_at
    assert finished is not None, "the replay did not stop by itself"

    native = server.native("GET", f"/recordings/{replay.replay_id}").json()
    assert native["state"] == "finished" and native["stop_reason"] == "max_duration"
    video = scratch / "r.mp4"
    kernel.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id).write_to_file(video)
    assert abs(ffprobe(video)["duration"] - 3) <= 1.0


def test_kernel_download_while_recording_is_202_with_retry_after(kernel, server):
    browser = kernel.browsers.create(viewport=VIEWPORT)
    replay = kernel.browsers.replays.start(browser.session_id)
    response = kernel.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id)
    assert response.http_response.status_code == 202
    assert int(response.http_response.headers["retry-after"]) > 0
    kernel.browsers.replays.stop(replay.replay_id, id_or_name=browser.session_id)
    again = kernel.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id)
    assert again.http_response.status_code == 200 and len(again.read()) > 1000


def test_kernel_several_replays_run_at_once(kernel, scratch):
    browser = kernel.browsers.create(viewport=VIEWPORT)
    first = kernel.browsers.replays.start(browser.session_id)
    time.sleep(1)
    second = kernel.browsers.replays.start(browser.session_id)
    time.sleep(2.5)
    for replay in (first, second):
        kernel.browsers.replays.stop(replay.replay_id, id_or_name=browser.session_id)
    durations = []
    for replay in (first, second):
        path = scratch / f"{replay.replay_id}.mp4"
        kernel.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id).write_to_file(path)
        durations.append(ffprobe(path)["duration"])
    assert durations[0] > durations[1] > 1.5, durations


def test_kernel_browser_lookup_by_name_and_pagination(kernel, server):
    a = kernel.browsers.create(viewport=VIEWPORT, name="alpha")
    b = kernel.browsers.create(viewport=VIEWPORT)
    assert kernel.browsers.retrieve("alpha").session_id == a.session_id
    listed = [x.session_id for x in kernel.browsers.list(limit=1)]
    assert listed == [a.session_id, b.session_id]
    raw = httpx.get(f"{server.kernel_url}/browsers?limit=1",
                    headers={"Authorization": f"Bearer {kernel.api_key}"})
    assert raw.headers["x-has-more"] == "true" and raw.headers["x-next-offset"] == "1"
    last = httpx.get(f"{server.kernel_url}/browsers?limit=1&offset=1",
                     headers={"Authorization": f"Bearer {kernel.api_key}"})
    assert last.headers["x-has-more"] == "false" and "x-next-offset" not in last.headers


def test_kernel_browser_ends_after_its_inactivity_timeout(kernel):
    browser = kernel.browsers.create(viewport=VIEWPORT, timeout_seconds=10)
    time.sleep(5)
    assert kernel.browsers.retrieve(browser.session_id).session_id == browser.session_id
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            kernel.browsers.retrieve(browser.session_id)
        except NotFoundError:
            break
        time.sleep(0.5)
    with pytest.raises(NotFoundError):
        kernel.browsers.retrieve(browser.session_id)
    assert kernel.browsers.retrieve(browser.session_id, include_deleted=True).deleted_at is not None
