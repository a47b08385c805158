"""Latencies: stop → downloadable (Tapedeck against kernel-images' stop method), and
create → CDP-connectable (cold, and from the warm pool)."""

import json
import os
import statistics
import subprocess
import time

from websockets.sync.client import connect

from recorders import FfmpegAnchor, Tapedeck, kernel_args


class StopBatch:
    """`runs` Tapedeck recordings and `anchor_runs` kernel-images recorders of one session,
    started together; `finish` stops each in turn, timing its stop."""

    def __init__(self, server, session, work, secs: float, runs: int, anchor_runs: int):
        self.tapedeck = Tapedeck(server)
        self.kernel = FfmpegAnchor(f"kernel-stop-{int(secs)}s", kernel_args, work)
        self.secs = secs
        self.started = time.monotonic()
        self.ours = [self.tapedeck.start(session, 10) for _ in range(runs)]
        self.theirs = [self.kernel.start(session, 10) for _ in range(anchor_runs)]

    def finish(self):
        """(Tapedeck stop seconds, kernel-images stop + remux seconds), once `secs` have passed."""
        time.sleep(max(0.0, self.started + self.secs - time.monotonic()))
        ours, theirs = [], []
        for handle in self.ours:
            before = time.monotonic()
            self.tapedeck.stop(handle)
            ours.append(time.monotonic() - before)
        for handle in self.theirs:
            before = time.monotonic()
            out = self.kernel.stop(handle)
            # kernel-images' finalize: a `-c copy +faststart` remux, renamed over the original.
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(out), "-c", "copy",
                            "-movflags", "+faststart", "-f", "mp4", "-y", f"{out}.tmp"], check=True)
            os.replace(f"{out}.tmp", out)
            theirs.append(time.monotonic() - before)
            out.unlink()
        return ours, theirs


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def time_create(server, spec) -> float:
    """Seconds from POST /v1/sessions with `spec` to a CDP answer; the session is deleted after."""
    before = time.monotonic()
    created = server.native("POST", "/sessions", json=spec)
    created.raise_for_status()
    session = created.json()
    with connect(session["cdp_ws_url"], open_timeout=30) as ws:
        ws.send(json.dumps({"id": 1, "method": "Browser.getVersion"}))
        while json.loads(ws.recv(timeout=30)).get("id") != 1:
            pass
    elapsed = time.monotonic() - before
    server.native("DELETE", f"/sessions/{session['id']}").raise_for_status()
    return elapsed


def create_latency(server, runs: int):
    """Seconds from POST /v1/sessions to a CDP answer, cold and from the warm pool.

    The server runs with --warm-pool; a spec with a start page does not fit the pool, so it
    starts cold. Each warm create is followed by a pause for the pool to refill."""
    viewport = {"width": 1280, "height": 720}
    time.sleep(4)  # the pool fills after start-up
    cold, warm = [], []
    for _ in range(runs):
        cold.append(time_create(server, {"viewport": viewport, "start_url": "about:blank"}))
        time.sleep(1)
        warm.append(time_create(server, {"viewport": viewport}))
        time.sleep(3)
    return cold, warm


def describe(values):
    return f"{statistics.median(values) * 1000:.0f} ms / {p95(values) * 1000:.0f} ms"
