"""4. MiB per minute of video on the static page, from a minute of video per recorder.

A few seconds of a static page are one keyframe and little else, so a short window measures
keyframe size, not what a minute costs. Here every recorder records the same static page at
once for `secs`: Tapedeck and the x11grab anchors on one display (a static page leaves the
cores idle, so they do not slow each other), Playwright on its own.
"""

import time

from common import ffprobe_video


def minute_sizes(session, recorders, playwright, fps: int, secs: float) -> dict:
    """Recorder name → (MiB per minute, frames per second) of a `secs`-long static-page video."""
    handles = [(recorder, recorder.start(session, fps)) for recorder in recorders]
    handles.append((playwright, playwright.start("static.html", fps)))
    time.sleep(secs)
    sizes = {}
    for recorder, handle in handles:
        # The videos stay in the harness's temporary directory, which goes at the end.
        video = ffprobe_video(recorder.stop(handle))
        sizes[recorder.name] = (video["bytes"] / 2**20 / (video["duration"] / 60),
                                video["frames"] / video["duration"])
    return sizes
