"""Soak: sessions created, recorded, stopped and deleted in rotation, with proxy traffic
recorded into FAST runs meanwhile, for a fixed time. Resource use is sampled when the server is
quiet (no session running) after the first rotation and again at the end; each should be flat.

    .venv/bin/python bench/soak.py [--minutes 30] [--sessions 4]

Prints a Markdown table for BENCHMARKS.md."""

import argparse
import itertools
import os
import tempfile
import threading
import time
from pathlib import Path

import httpx

from common import QuietServer, Server, machine, pages_url
from conftest import SANDBOX_ROOT, processes
from proxy import Upstream

FIRST_DISPLAY = 180


def status_value(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key}")


def sample(server, sandbox: Path, sessions: int) -> dict:
    pid = server.proc.pid
    mine = [p for p in processes(str(sandbox))]
    return {
        "server RSS, MiB": status_value(pid, "VmRSS") / 1024,
        "open file descriptors": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": status_value(pid, "Threads"),
        "Xvfb processes": sum(p.exe.endswith("/Xvfb") for p in mine),
        "Chromium processes": sum(p.exe.endswith("/chromium") for p in mine),
        "free displays": sum(not Path(f"/tmp/.X{n}-lock").exists()
                             for n in range(FIRST_DISPLAY, FIRST_DISPLAY + sessions)),
    }


def rotate(server, page: str, stop: threading.Event, counts: dict, lock: threading.Lock):
    """One worker: create, record 20 s, stop, check the video, delete it and the session."""
    while not stop.is_set():
        session = server.native("POST", "/sessions", json={
            "viewport": {"width": 1280, "height": 720}, "timeout_seconds": 600,
            "start_url": f"{pages_url()}/{page}"}).json()
        recording = server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()
        stop.wait(20)
        stopped = server.native("POST", f"/recordings/{recording['id']}/stop").json()
        url = server.native("GET", f"/recordings/{recording['id']}/download-url").json()["url"]
        ok = stopped["state"] == "finished" and httpx.get(url).status_code == 200
        server.native("DELETE", f"/recordings/{recording['id']}")
        server.native("DELETE", f"/sessions/{session['id']}")
        with lock:
            counts["cycles"] += 1
            counts["bad videos"] += not ok


def traffic(server, app: str, stop: threading.Event, counts: dict, lock: threading.Lock):
    """Proxy traffic into a FAST run that is replaced every minute."""
    with httpx.Client(proxy=server.proxy_url, timeout=30) as client:
        while not stop.is_set():
            run = server.fast("POST", "/test_run", json={"name": "soak"}).json()["body"]
            until = time.monotonic() + 60
            sent = 0
            while time.monotonic() < until and not stop.is_set():
                client.get(app)
                sent += 1
                time.sleep(0.05)
            stopped = server.fast("POST", f"/test_run/{run['id']}/action/stop").json()["body"]
            server.native("DELETE", f"/test-records/{run['test_record_id']}")
            with lock:
                counts["requests"] += sent
                counts["lost baselines"] += sent - stopped["baseline_count"]


def run_workers(server, app, sessions, seconds, counts, lock):
    stop = threading.Event()
    pages = itertools.cycle(["static.html", "busy.html"])
    workers = [threading.Thread(target=rotate, args=(server, next(pages), stop, counts, lock))
               for _ in range(sessions)]
    workers.append(threading.Thread(target=traffic, args=(server, app, stop, counts, lock)))
    for w in workers:
        w.start()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--sessions", type=int, default=4)
    args = parser.parse_args()
    httpd = QuietServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    app = f"http://127.0.0.1:{httpd.server_address[1]}/item"
    SANDBOX_ROOT.mkdir(parents=True, exist_ok=True)
    sandbox = Path(tempfile.mkdtemp(prefix="bench-soak-", dir=SANDBOX_ROOT))
    sandbox.chmod(0o755)
    counts = {"cycles": 0, "bad videos": 0, "requests": 0, "lost baselines": 0}
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as work:
        server = Server(Path(work), max_sessions=args.sessions, first_display=FIRST_DISPLAY,
                        extra_args=["--sandbox-dir", str(sandbox)]).start()
        try:
            # One short rotation first, so allocator pools and caches are warm at the start.
            run_workers(server, app, args.sessions, 30, counts, lock)
            start = sample(server, sandbox, args.sessions)
            begun = time.monotonic()
            run_workers(server, app, args.sessions, args.minutes * 60, counts, lock)
            minutes = (time.monotonic() - begun) / 60
            end = sample(server, sandbox, args.sessions)
        finally:
            server.stop()
    print(f"Machine: {machine()}\n")
    print(f"{minutes:.0f} minutes, {args.sessions} sessions in rotation: {counts['cycles']} create → "
          f"record 20 s → stop → download → delete cycles ({counts['bad videos']} without a playable "
          f"video); {counts['requests']} proxied requests into FAST runs replaced every minute "
          f"({counts['lost baselines']} not recorded).\n")
    print("| quiet server | at the start | at the end | change |")
    print("|---|---|---|---|")
    for key in start:
        a, b = start[key], end[key]
        change = f"{(b - a) / a * 100:+.1f} %" if a else ("none" if b == a else f"{b - a:+}")
        print(f"| {key} | {a:.1f} | {b:.1f} | {change} |" if isinstance(a, float)
              else f"| {key} | {a} | {b} | {change} |")


if __name__ == "__main__":
    main()
