#!/usr/bin/env python3
"""Live view beside x11vnc + noVNC, watching the same display in the same run.

    .venv/bin/python bench/live_view.py [--samples 40] [--secs 10]

1. latency: a square in the session's page flips colour over CDP; the time until the viewer's
   canvas shows it, p50 and p95, for Tapedeck's viewer and for noVNC (x11vnc + websockify), each
   in its own headless Chromium on loopback;
2. CPU per viewer: over `secs`, every process of both sides (the Tapedeck server with the
   session's Xvfb and Chromium below it, x11vnc and websockify) with one viewer of either kind,
   minus the same with none, on the static and the busy page.
Needs the Debian packages x11vnc, novnc and websockify (scripts/install-deps --test).
"""

import argparse
import json
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, TICKS, Server, cpu_ticks, descendants, kiosk_session, machine

PROBE = ROOT / "bench" / "live_view_probe.mjs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(mode: str, **inputs):
    """Starts the probe; for `latency` waits and returns its figures, for `watch` returns the
    process once its viewer shows frames."""
    proc = subprocess.Popen(["node", str(PROBE), mode, json.dumps(inputs)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the {mode} probe ended: {proc.wait()}")
    if mode == "latency":
        proc.wait(timeout=60)
        return json.loads(line)["latency_ms"]
    assert json.loads(line) == {"ready": True}
    return proc


def cpu_percent(pids, secs: float) -> float:
    """CPU of `pids` and their children over `secs`, in % of one core."""
    targets = [p for pid in pids for p in descendants(pid)]
    before = {p: cpu_ticks(p) for p in targets}
    started = time.monotonic()
    time.sleep(secs)
    spent = sum(cpu_ticks(p) - before[p] for p in targets)
    return 100 * spent / TICKS / (time.monotonic() - started)


class NoVnc:
    """x11vnc on a session's display, served to the browser by websockify with noVNC's page."""

    def __init__(self, display: str):
        self.vnc_port, self.web_port = free_port(), free_port()
        self.x11vnc = subprocess.Popen(
            # As the session user, as the session's sandboxed Xvfb runs: Xvfb attaches x11vnc's
            # System V shared memory only when they are the same user.
            ["setpriv", "--reuid", "tapedeck-session", "--regid", "tapedeck-session", "--clear-groups",
             "x11vnc", "-display", display, "-rfbport", str(self.vnc_port), "-localhost", "-shared",
             "-forever", "-nopw", "-quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"HOME": "/tmp", "PATH": "/usr/bin:/bin"})
        self.websockify = subprocess.Popen(
            ["websockify", "--web", "/usr/share/novnc", f"127.0.0.1:{self.web_port}", f"127.0.0.1:{self.vnc_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.web_port), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.vnc_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.viewer = (f"http://127.0.0.1:{self.web_port}/vnc.html?autoconnect=true&host=127.0.0.1"
                       f"&port={self.web_port}&path=websockify&resize=off")
        self.canvas = "#noVNC_container canvas"

    def pids(self):
        return [self.x11vnc.pid, self.websockify.pid]

    def stop(self):
        for proc in (self.websockify, self.x11vnc):
            proc.terminate()
            proc.wait(timeout=10)


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=40, help="flips timed per viewer")
    parser.add_argument("--secs", type=float, default=10, help="CPU window per figure")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as work:
        server = Server(Path(work)).start()
        try:
            rows = []
            for page in ("static.html", "busy.html"):
                session = kiosk_session(server, page)
                cdp = server.native("GET", f"/sessions/{session.id}").json()["cdp_ws_url"]
                made = server.native("POST", f"/sessions/{session.id}/live-view", json={"access": "read"})
                tapedeck = {"viewer": made.json()["raw_url"], "canvas": "#screen"}
                vnc = NoVnc(session.display)
                try:
                    anchor = {"viewer": vnc.viewer, "canvas": vnc.canvas}
                    if page == "static.html":
                        for name, viewer in (("Tapedeck", tapedeck), ("x11vnc + noVNC", anchor)):
                            times = probe("latency", cdp=cdp, samples=args.samples, **viewer)
                            rows.append(("latency", name, statistics.median(times), percentile(times, 0.95)))
                    # Every process on either side, so a viewer is charged for the work it
                    # causes anywhere: Xvfb's copies, Tapedeck's encoder, x11vnc and websockify.
                    everything = [server.proc.pid, *vnc.pids()]
                    idle = cpu_percent(everything, args.secs)
                    for name, viewer in (("Tapedeck", tapedeck), ("x11vnc + noVNC", anchor)):
                        watching = probe("watch", **viewer)
                        cpu = cpu_percent(everything, args.secs)
                        watching.stdin.write("done\n")
                        watching.stdin.flush()
                        watching.wait(timeout=30)
                        rows.append(("cpu", f"{name}, {page.removesuffix('.html')}", cpu - idle, idle))
                finally:
                    vnc.stop()
                server.native("DELETE", f"/sessions/{session.id}")
        finally:
            server.stop()
    print("\n| viewer | p50 ms | p95 ms |\n|---|---|---|")
    for kind, name, p50, p95 in rows:
        if kind == "latency":
            print(f"| {name} | {p50:.0f} | {p95:.0f} |")
    print("\n| viewer, page | CPU % of a core one viewer adds | with no viewer |\n|---|---|---|")
    for kind, name, extra, idle in rows:
        if kind == "cpu":
            print(f"| {name} | {extra:.1f} | {idle:.1f} |")


if __name__ == "__main__":
    main()
