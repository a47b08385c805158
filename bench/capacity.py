"""Capacity: many sessions recorded at once on 2 cores, and how many frames each video kept.

Busy pages change every frame, so a video should hold fps × duration frames; static pages show
a clock that changes once a second, so a video should show one visible change per second (a
recorder that captures on change writes few frames there by design, so frames are not the
measure). Each recorder records all sessions together, one recorder after the other."""

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
    if page == "busy":
        return min(1.0, video["frames"] / (fps * video["duration"]))
    # The first frame is not a change of the clock; a D-second video spans ⌊D⌋ changes.
    return min(1.0, (visible_changes(path) - 1) / max(1, int(video["duration"])))


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
