"""What the benchmark scripts share: the server harness, CPU accounting, sessions, summaries."""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import QuietServer, Server  # noqa: E402,F401  (the same harness the tests use)

PAGES = ROOT / "bench" / "pages"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    """User + system time of `pid` and its reaped children, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15])


def kiosk_session(server, page: str) -> str:
    """A 1280x720 kiosk session showing bench/pages/<page>, settled for 2 s."""
    created = server.native("POST", "/sessions", json={
        "viewport": {"width": 1280, "height": 720}, "kiosk": True, "timeout_seconds": 3600,
        "start_url": f"file://{PAGES / page}"})
    created.raise_for_status()
    time.sleep(2)
    return created.json()["id"]


def summary(values, fmt) -> str:
    """`median (min–max)`."""
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"
