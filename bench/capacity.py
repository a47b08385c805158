"""Capacity: many sessions recorded at once on 2 cores, and how many frames each video kept.

Frames are not the measure: a constant-frame-rate MP4 (kernel-images' arguments) repeats the last
frame when its capture falls behind, and a change-driven recorder writes few frames on a static
page by design. What counts is what the video shows changing, found by decoding it through
ffmpeg's `mpdecimate` (which drops frames that do not differ visibly from the one before). A
busy page changes at every tick, so a video should show fps × duration changes; the static page
shows a clock that changes once a second. Each recorder records all sessions together, one
recorder after the other."""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from common import ffprobe_video, kiosk_session, visible_changes


def record_all(recorder, sessions, fps: int, secs: float):
    handles = [recorder.start(s, fps) for s in sessions]
    time.sleep(secs)
    with ThreadPoolExecutor(max_workers=len(handles)) as pool:
        return list(pool.map(recorder.stop, handles))


def kept(path, page: str, fps: int) -> float:
    """Share of what the page showed that the video kept, as a fraction (at most 1: the extra
    frame a stop stamps, or a clock change either side of a window, is not a gain)."""
    video = ffprobe_video(path)
    # The first frame is not a change; a D-second video spans at least ⌊D⌋ clock changes.
    changes = visible_changes(path) - 1
    expected = fps * video["duration"] if page == "busy" else int(video["duration"])
    return min(1.0, changes / max(1, expected))


def capacity(server, recorders, page: str, count: int, fps: int, secs: float):
    """{recorder name: [kept fraction per session]} for `count` sessions of `page`."""
    sessions = [kiosk_session(server, f"{page}.html") for _ in range(count)]
    results = {}
    try:
        for recorder in recorders:
            paths = record_all(recorder, sessions, fps, secs)
            results[recorder.name] = [kept(p, page, fps) for p in paths]
    finally:
        for s in sessions:
            server.native("DELETE", f"/sessions/{s.id}")
    return results


def describe(fractions) -> str:
    return f"{100 * min(fractions):.0f} % min, {100 * statistics.median(fractions):.0f} % median"
