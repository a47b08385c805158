"""What the benchmark modules share: the server harness, CPU accounting, sessions, summaries."""

import functools
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import QuietServer, Server, _QuietHandler  # noqa: E402,F401  (the same harness the tests use)

PAGES = ROOT / "bench" / "pages"
TICKS = os.sysconf("SC_CLK_TCK")
_pages_url = None


def pages_url() -> str:
    """bench/pages over HTTP on loopback, started on first use: sessions may not open file: URLs."""
    global _pages_url
    if _pages_url is None:
        httpd = QuietServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(PAGES)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        _pages_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    return _pages_url


def cpu_ticks(pid: int, tid: int | None = None) -> int:
    """User + system time of a process (with its reaped children) or of one of its threads."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return sum(int(v) for v in fields[11:15])


def descendants(pid: int) -> list:
    """`pid` and every live process below it."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def recorder_pid(recording_id: str, timeout: float = 10) -> int:
    """The pid of the ffmpeg recording `recording_id` (it runs sandboxed, below bubblewrap, and
    writes its log, on stderr, into the recording's spool directory)."""
    needle = f"/spool/{recording_id}/ffmpeg.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                if (entry.name.isdigit() and os.readlink(entry / "fd/2").endswith(needle)
                        and os.readlink(entry / "exe").endswith("/ffmpeg")):
                    return int(entry.name)
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        time.sleep(0.05)
    raise RuntimeError(f"no ffmpeg for recording {recording_id}")


class CpuMeter:
    """CPU of a set of (pid, tid) pairs over a window, in % of one core."""

    def __init__(self, targets):
        self.targets = list(targets)
        self.before = {t: cpu_ticks(*t) for t in self.targets}
        self.started = time.monotonic()

    def percent(self) -> float:
        spent = sum(cpu_ticks(*t) - self.before[t] for t in self.targets)
        return 100 * spent / TICKS / (time.monotonic() - self.started)


@dataclass
class KioskSession:
    """A bench session: its id, its X display (`:N`), and how long its create took (seconds
    from POST /v1/sessions to the answer, which comes once the page is painted)."""
    id: str
    display: str
    create_secs: float = 0.0


def kiosk_session(server, page: str) -> KioskSession:
    """A 1280x720 kiosk session showing bench/pages/<page>, settled for 2 s."""
    before = grabber_threads(server)
    began = time.monotonic()
    created = server.native("POST", "/sessions", json={
        "viewport": {"width": 1280, "height": 720}, "kiosk": True, "timeout_seconds": 3600,
        "start_url": f"{pages_url()}/{page}"})
    create_secs = time.monotonic() - began
    created.raise_for_status()
    sid = created.json()["id"]
    # The display number is the grabber thread's name (`grab:N`) of a short recording.
    rid = server.native("POST", f"/sessions/{sid}/recordings", json={}).json()["id"]
    # On a loaded machine the grabber thread may take a moment to appear.
    deadline = time.monotonic() + 10
    while not (new := set(grabber_threads(server).values()) - set(before.values())) and time.monotonic() < deadline:
        time.sleep(0.05)
    server.native("POST", f"/recordings/{rid}/stop").raise_for_status()
    time.sleep(1.5)
    return KioskSession(sid, new.pop().removeprefix("grab"), create_secs)


def grabber_threads(server) -> dict:
    """The server's recorder threads: tid → name (`grab:N` for display `:N`)."""
    threads = {}
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        name = (task / "comm").read_text().strip()
        if name.startswith("grab:"):
            threads[int(task.name)] = name
    return threads


def summary(values, fmt) -> str:
    """`median (min–max)`, or the one value."""
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


def ffprobe_video(path: Path) -> dict:
    """Frames (decoded), duration and size of a video."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames:format=duration", "-of", "default=nw=1", str(path)],
        capture_output=True, text=True, check=True).stdout
    fields = dict(line.split("=", 1) for line in out.split())
    return {"frames": int(fields["nb_read_frames"]), "duration": float(fields["duration"]),
            "bytes": path.stat().st_size}


def visible_changes(path: Path) -> int:
    """Frames that differ visibly from the one before (ffmpeg's mpdecimate keeps those)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-f", "lavfi", "-i", f"movie={path},mpdecimate", "-count_frames",
         "-show_entries", "stream=nb_read_frames", "-of", "default=nw=1:nk=1"],
        capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def machine() -> str:
    """Cores, CPU model, memory and the tool versions, in one line."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split()[2]
    chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    distro = next((line.split("=", 1)[1].strip('"') for line in Path("/etc/os-release").read_text().splitlines()
                   if line.startswith("PRETTY_NAME=")), "Linux")
    return (f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, {distro}, ffmpeg {ffmpeg}, {chromium}")


def rewrite_section(name: str, header: str, text: str):
    """Replaces what lies between BENCHMARKS.md's `<!-- bench:<name>:start -->` and `…:end -->`
    markers with `header` and `text`."""
    doc_path = ROOT / "BENCHMARKS.md"
    doc = doc_path.read_text()
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    assert pattern.search(doc), f"BENCHMARKS.md lacks the {start} … {end} markers"
    doc_path.write_text(pattern.sub(lambda _: f"{start}\n{header}\n{text}\n{end}", doc))
    print(f"rewrote the {name} section of {doc_path}")
