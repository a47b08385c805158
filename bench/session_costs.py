"""What a session costs per call, for one server binary: cold create → CDP answers, a GBOX
click (xdotool), a GBOX screenshot (ffmpeg x11grab), and the recorder's CPU on the busy page at
25 fps (its ffmpeg and grabber thread). Several binaries are measured in alternating rounds, so
machine load drifts over all of them alike (BENCHMARKS.md, "Session sandbox").

    .venv/bin/python bench/session_costs.py --binary A --binary B [--rounds 3 --runs 10]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from common import ROOT, Server, kiosk_session
from conftest import API_KEY
from latency import p95, time_create
from recorders import Tapedeck


def gbox(server, method: str, path: str, **kwargs):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    response = httpx.request(method, f"{server.url}/gbox{path}", headers=headers, timeout=60, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def timed(call) -> float:
    before = time.monotonic()
    call()
    return time.monotonic() - before


def measure(server, runs: int) -> dict:
    """`runs` cold creates, then `runs` clicks and screenshots on one box, in seconds."""
    viewport = {"width": 1280, "height": 720}
    creates = [time_create(server, {"viewport": viewport, "start_url": "about:blank"}) for _ in range(runs)]
    box = gbox(server, "POST", "/boxes/linux", json={})
    time.sleep(1)
    # A different point each time: `xdotool mousemove --sync` to where the pointer already is
    # waits for a motion that never comes.
    clicks = [timed(lambda: gbox(server, "POST", f"/boxes/{box['id']}/actions/click",
                                 json={"x": 600 + 10 * i, "y": 400}))
              for i in range(runs)]
    shots = [timed(lambda: gbox(server, "POST", f"/boxes/{box['id']}/actions/screenshot", json={}))
             for _ in range(runs)]
    gbox(server, "POST", f"/boxes/{box['id']}/terminate", json={})
    busy = kiosk_session(server, "busy.html")
    recorder = Tapedeck(server).record(busy, 25, 6)
    server.native("DELETE", f"/sessions/{busy.id}")
    return {"create": creates, "click": clicks, "screenshot": shots, "recorder": [recorder.cpu]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", action="append", required=True, help="a tapedeck binary (repeatable)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds over the binaries")
    parser.add_argument("--runs", type=int, default=10, help="calls of each kind per round")
    args = parser.parse_args()
    results = {b: {"create": [], "click": [], "screenshot": [], "recorder": []} for b in args.binary}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for i, binary in enumerate(args.binary):
                server = Server(Path(tmp) / f"{round_}-{i}", max_sessions=4, first_display=240)
                server.args[0] = str(Path(binary).resolve())
                server.start()
                try:
                    time.sleep(1)
                    for kind, values in measure(server, args.runs).items():
                        results[binary][kind] += values
                finally:
                    server.stop()
    for binary, kinds in results.items():
        shown = binary.replace(str(ROOT) + "/", "")
        cpu = kinds.pop("recorder")
        line = ", ".join(f"{kind} p50 {statistics.median(v) * 1000:.0f} ms / p95 {p95(v) * 1000:.0f} ms"
                         for kind, v in kinds.items())
        print(f"{shown} ({len(kinds['create'])} of each call): {line}; recorder, busy page 25 fps: "
              f"{statistics.median(cpu):.1f} % of a core ({min(cpu):.1f}–{max(cpu):.1f}, {len(cpu)} runs)")


if __name__ == "__main__":
    main()
