#!/usr/bin/env python3
"""Recorder benchmark: stop latency and the recorder's own CPU, against a real server.

    .venv/bin/python bench/recorder.py [--runs N] [--long-secs S] [--smoke]

Prints a Markdown table. Each figure is the median of --runs runs with min–max beside it.
- stop latency: wall time of `POST /v1/recordings/{id}/stop` (it returns once the MP4 is
  downloadable) after a 10 s and a long recording of a busy page;
- recorder CPU: ffmpeg's own user+system time (read from /proc, children included) over a
  20 s recording, as % of one core, on a static and a busy 1280x720 page at 10 fps.
"""

import argparse
import tempfile
import time
from pathlib import Path

from common import Server, TICKS, cpu_ticks, kiosk_session, summary


def record(server, sid: str, secs: float, fps: int = 10):
    """Records `secs`; returns (stop latency in s, ffmpeg CPU as % of a core, recording json)."""
    rec = server.native("POST", f"/sessions/{sid}/recordings", json={"framerate": fps})
    rec.raise_for_status()
    rid = rec.json()["id"]
    pid = int((server.data_dir / "data" / "spool" / rid / "ffmpeg.pid").read_text())
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    time.sleep(secs)
    c1, t1 = cpu_ticks(pid), time.monotonic()
    before = time.monotonic()
    stopped = server.native("POST", f"/recordings/{rid}/stop")
    latency = time.monotonic() - before
    stopped.raise_for_status()
    cpu = 100.0 * (c1 - c0) / TICKS / (t1 - t0)
    return latency, cpu, stopped.json()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--long-secs", type=float, default=60)
    parser.add_argument("--cpu-secs", type=float, default=20)
    parser.add_argument("--smoke", action="store_true", help="one short run of each, to keep the harness working")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.long_secs, args.cpu_secs = 1, 3, 3
    short_secs = 3 if args.smoke else 10

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), max_sessions=2, first_display=160).start()
        rows = []
        try:
            busy = kiosk_session(server, "busy.html")
            for secs in (short_secs, args.long_secs):
                lat = [record(server, busy, secs)[0] for _ in range(args.runs)]
                rows.append((f"stop → downloadable after {secs:g} s (busy page)", summary(lat, lambda v: f"{v * 1000:.0f} ms")))
            static = kiosk_session(server, "static.html")
            for name, sid in (("static", static), ("busy", busy)):
                runs = [record(server, sid, args.cpu_secs) for _ in range(args.runs)]
                rows.append((f"recorder CPU, {name} page, 10 fps", summary([r[1] for r in runs], lambda v: f"{v:.1f} %")))
                mib_per_min = [r[2]["size_bytes"] / 2**20 / (r[2]["duration_ms"] / 60000) for r in runs]
                rows.append((f"MiB per minute, {name} page, 10 fps", summary(mib_per_min, lambda v: f"{v:.2f}")))
        finally:
            server.stop()
    print(f"| figure ({args.runs} runs: median (min–max)) | Tapedeck |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
