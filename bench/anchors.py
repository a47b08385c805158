#!/usr/bin/env python3
"""Tapedeck's recorder beside the anchors, in one run, on one machine.

    .venv/bin/python bench/anchors.py [--runs N] [--secs S] [--smoke]

Every scenario records the same 1280x720 kiosk Chromium on the same Xvfb display, one recorder
at a time, so conditions are identical:
- Tapedeck: the real server's recorder (started and stopped through the native API);
- kernel-images: its exact ffmpeg arguments (contracts/kernel.md §4.1);
- x264 ultrafast: x11grab + libx264 `-preset ultrafast`, fragmented MP4.
It prints Markdown tables (median of --runs, min–max beside it) of recorder CPU (% of one core,
user+system of the recording process from /proc) and MiB per minute on a static and a busy page
at 10 and 25 fps, with Tapedeck's ratio to each anchor; then stop → downloadable latency after
10 s and --long-secs recordings, for Tapedeck's stop and kernel-images' stop method (SIGINT,
wait, `-c copy -movflags +faststart` remux), both recording the same span side by side.
"""

import argparse
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import Server, TICKS, cpu_ticks, kiosk_session, summary


def kernel_args(display: str, fps: int, out: Path):
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "x11grab", "-framerate", str(fps),
            "-i", display, "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-profile:v", "high",
            "-pix_fmt", "yuv420p", "-use_wallclock_as_timestamps", "1", "-reset_timestamps", "1",
            "-avoid_negative_ts", "make_zero", "-movflags", "+frag_keyframe+empty_moov",
            "-frag_duration", "2000000", "-fs", "500M", "-y", str(out)]


def ultrafast_args(display: str, fps: int, out: Path):
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "x11grab", "-framerate", str(fps),
            "-video_size", "1280x720", "-i", display, "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-movflags", "+frag_keyframe+empty_moov", "-frag_duration", "2000000",
            "-y", str(out)]


class Bench:
    def __init__(self, server: Server, work: Path):
        self.server = server
        self.work = work

    def pid_file(self, rid: str) -> Path:
        return self.server.data_dir / "data" / "spool" / rid / "ffmpeg.pid"

    def display_of(self, sid: str) -> str:
        """The session's X display, read from the command line of a short Tapedeck recording."""
        rid = self.server.native("POST", f"/sessions/{sid}/recordings", json={}).json()["id"]
        args = Path(f"/proc/{int(self.pid_file(rid).read_text())}/cmdline").read_bytes().split(b"\0")
        self.server.native("POST", f"/recordings/{rid}/stop")
        return args[args.index(b"-i") + 1].decode()

    def tapedeck(self, sid: str, fps: int, secs: float):
        started = self.server.native("POST", f"/sessions/{sid}/recordings", json={"framerate": fps})
        assert started.status_code == 201, started.text
        rid = started.json()["id"]
        pid = int(self.pid_file(rid).read_text())
        time.sleep(1)
        c0, t0 = cpu_ticks(pid), time.monotonic()
        time.sleep(secs)
        cpu = 100 * (cpu_ticks(pid) - c0) / TICKS / (time.monotonic() - t0)
        rec = self.server.native("POST", f"/recordings/{rid}/stop").json()
        return cpu, rec["size_bytes"] / 2**20 / (rec["duration_ms"] / 60000)

    def anchor(self, args_for, display: str, fps: int, secs: float):
        out = self.work / "anchor.mp4"
        proc = subprocess.Popen(args_for(display, fps, out))
        started = time.monotonic()
        time.sleep(1)
        c0, t0 = cpu_ticks(proc.pid), time.monotonic()
        time.sleep(secs)
        cpu = 100 * (cpu_ticks(proc.pid) - c0) / TICKS / (time.monotonic() - t0)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        wall = time.monotonic() - started
        return cpu, out.stat().st_size / 2**20 / (wall / 60)

    def stop_latencies(self, sid: str, display: str, secs: float):
        """Tapedeck and kernel-images record the same span; each is then stopped its own way."""
        rid = self.server.native("POST", f"/sessions/{sid}/recordings", json={"framerate": 10}).json()["id"]
        out = self.work / "kernel.mp4"
        proc = subprocess.Popen(kernel_args(display, 10, out))
        time.sleep(secs)
        before = time.monotonic()
        self.server.native("POST", f"/recordings/{rid}/stop").raise_for_status()
        ours = time.monotonic() - before
        before = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(out), "-c", "copy",
                        "-movflags", "+faststart", "-f", "mp4", "-y", str(out) + ".tmp"], check=True)
        os.replace(str(out) + ".tmp", out)
        theirs = time.monotonic() - before
        return ours, theirs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--secs", type=float, default=12)
    parser.add_argument("--long-secs", type=float, default=60)
    parser.add_argument("--smoke", action="store_true", help="one short run, to keep the harness working")
    args = parser.parse_args()
    scenarios = [(page, fps) for page in ("static", "busy") for fps in (10, 25)]
    if args.smoke:
        args.runs, args.secs, args.long_secs = 1, 3, 3
        scenarios = [("static", 10)]

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "server", max_sessions=2, first_display=170).start()
        bench = Bench(server, Path(tmp))
        cpu_rows, stop_rows = [], []
        try:
            sessions = {page: kiosk_session(server, f"{page}.html") for page in {p for p, _ in scenarios}}
            displays = {page: bench.display_of(sid) for page, sid in sessions.items()}
            for page, fps in scenarios:
                sid, display = sessions[page], displays[page]
                results = {"Tapedeck": [], "kernel-images args": [], "x264 ultrafast": []}
                for _ in range(args.runs):
                    results["Tapedeck"].append(bench.tapedeck(sid, fps, args.secs))
                    results["kernel-images args"].append(bench.anchor(kernel_args, display, fps, args.secs))
                    results["x264 ultrafast"].append(bench.anchor(ultrafast_args, display, fps, args.secs))
                ours = statistics.median(c for c, _ in results["Tapedeck"])
                for name, runs in results.items():
                    cpu = [c for c, _ in runs]
                    ratio = ours / statistics.median(cpu) if statistics.median(cpu) else float("nan")
                    cpu_rows.append(f"| {page} | {fps} | {name} | {summary(cpu, lambda v: f'{v:.1f} %')} "
                                    f"| {summary([m for _, m in runs], lambda v: f'{v:.2f}')} | {ratio:.2f}× |")
            busy = sessions.get("busy") or sessions["static"]
            busy_display = displays.get("busy") or displays["static"]
            for secs in (10 if not args.smoke else 3, args.long_secs):
                pairs = [bench.stop_latencies(busy, busy_display, secs) for _ in range(args.runs)]
                stop_rows.append(f"| {secs:g} s | {summary([o for o, _ in pairs], lambda v: f'{v * 1000:.0f} ms')} "
                                 f"| {summary([t for _, t in pairs], lambda v: f'{v * 1000:.0f} ms')} |")
        finally:
            server.stop()

    print(f"| page | fps | recorder | CPU, % of a core ({args.runs} runs) | MiB/min | Tapedeck ÷ this |")
    print("|---|---|---|---|---|---|")
    print("\n".join(cpu_rows))
    print()
    print("| recording length | Tapedeck stop → downloadable | kernel-images stop (SIGINT + remux) |")
    print("|---|---|---|")
    print("\n".join(stop_rows))


if __name__ == "__main__":
    main()
