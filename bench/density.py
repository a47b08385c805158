"""Sessions per machine: the most sessions recorded at once that this machine holds, with
Tapedeck's recorder and with kernel-images' recorder arguments, and what one session costs in
memory.

Density search. For each recorder and page, the number of sessions N steps up (8, 12, 16, 24,
32, 48 for the static page; 1, 2, 3, 4, 6, 8 for the busy one) until a criterion fails. At each step the sessions already open start recording first,
then the new ones are created (each create timed while the others record) and start recording
too; after `secs` every recording stops, and each video is checked:
- static page at 10 fps: every clock change is kept in every video, and every create took at
  most 2 s;
- busy page at 25 fps: at least 95 % of the page's changes are kept in every video.
What a video kept is counted as in the capacity table (capacity.kept: ffmpeg's mpdecimate).

Memory. PSS from /proc/<pid>/smaps_rollup, so pages shared between sessions (Chromium's code,
fonts) are split among them instead of counted once per session: every process below the
server (Xvfb, bubblewrap, Chromium's processes, the recorder's ffmpeg), divided by the number of
sessions, plus the server's own growth per session (the grabber threads and their buffers).
Measured idle and while recording, with Tapedeck's default Chromium flags and with each set of
extra flags (`--browser-arg`) under test.

    .venv/bin/python bench/run.py --density [--no-write]   # written into BENCHMARKS.md
"""

import datetime
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from capacity import kept
from common import KioskSession, Server, descendants, kiosk_session, machine, pages_url, rewrite_section
from recorders import FfmpegAnchor, Tapedeck, kernel_args

STEPS = (8, 12, 16, 24, 32, 48)
# A busy page animates at every frame, in Chromium as much as in the recorder: on 2 cores the
# search starts lower.
BUSY_STEPS = (1, 2, 3, 4, 6, 8)
# A step stops short when the machine has less than this left, rather than meet the OOM killer.
MIN_AVAILABLE_MIB = 2048
CREATE_LIMIT_S = 2.0
BUSY_KEPT = 0.95
MEMORY_SESSIONS = 8
# Extra Chromium flags tried for memory, on top of Tapedeck's defaults. They change what a page
# sees or how sites are isolated, so they are opt-in (`--browser-arg`), never defaults.
FLAG_SETS = {
    "defaults": [],
    "+ `--in-process-gpu` (a GPU crash takes the browser down)": ["--in-process-gpu"],
    "+ `--enable-low-end-device-mode` (page-visible)": ["--enable-low-end-device-mode"],
    "+ `--renderer-process-limit=1` (sites share a renderer)": ["--renderer-process-limit=1"],
}


@dataclass
class Step:
    """One step of a density search."""

    sessions: int
    creates: list
    kept: list
    passed: bool
    out_of_memory: bool = False


def available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def passes(page: str, creates: list, kept_each: list) -> bool:
    if page == "static":
        # A video spans its clock changes whole or it lost one; 0.999 absorbs float rounding.
        return max(creates, default=0) <= CREATE_LIMIT_S and min(kept_each) >= 0.999
    return min(kept_each) >= BUSY_KEPT


def search(server, recorder, page: str, fps: int, secs: float, steps) -> list:
    """The steps of one search, up to and including the first that failed."""
    sessions, done = [], []
    try:
        for n in steps:
            handles = [recorder.start(s, fps) for s in sessions]
            creates = []
            short = False
            while len(sessions) < n and not (short := available_mib() < MIN_AVAILABLE_MIB):
                session = kiosk_session(server, f"{page}.html")
                creates.append(session.create_secs)
                sessions.append(session)
                handles.append(recorder.start(session, fps))
            time.sleep(secs)
            with ThreadPoolExecutor(max_workers=len(handles)) as pool:
                videos = list(pool.map(recorder.stop, handles))
            kept_each = [kept(v, page, fps) for v in videos]
            if isinstance(recorder, FfmpegAnchor):
                for v in videos:
                    v.unlink(missing_ok=True)
            step = Step(n, creates, kept_each, not short and passes(page, creates, kept_each), short)
            done.append(step)
            print(f"  {recorder.name}, {page} {fps} fps, {n} sessions: kept min {100 * min(kept_each):.1f} %, "
                  f"create max {max(creates, default=0):.2f} s → {'pass' if step.passed else 'FAIL'}", flush=True)
            if not step.passed:
                break
    finally:
        for s in sessions:
            server.native("DELETE", f"/sessions/{s.id}")
    return done


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def session_pss_mib(server) -> tuple:
    """(PSS of every process below the server, the server's own PSS), in MiB."""
    below = sum(pss_kib(p) for p in descendants(server.proc.pid) if p != server.proc.pid)
    return below / 1024, pss_kib(server.proc.pid) / 1024


def memory(work: Path, flags: list, secs: float, count: int, binary: str | None = None) -> dict:
    """MiB per session, idle and recording at 10 fps, for `count` static-page sessions on a
    server started with `flags` as extra Chromium flags (and `binary`, when given, instead of
    this build's)."""
    args = [f"--browser-arg={f}" for f in flags]
    server = Server(work / f"memory-{len(list(work.iterdir()))}", max_sessions=count,
                    first_display=250, extra_args=args)
    if binary:
        server.args[0] = binary
    server.start()
    try:
        _, empty_server = session_pss_mib(server)
        # Plain sessions (a window with its tab strip), as a client's create gets by default.
        sessions = []
        for _ in range(count):
            created = server.native("POST", "/sessions", json={"start_url": f"{pages_url()}/static.html",
                                                               "timeout_seconds": 3600})
            created.raise_for_status()
            sessions.append(KioskSession(created.json()["id"], ""))
        time.sleep(secs)
        idle_below, idle_server = session_pss_mib(server)
        processes = len(descendants(server.proc.pid)) - 1
        tapedeck = Tapedeck(server)
        handles = [tapedeck.start(s, 10) for s in sessions]
        time.sleep(secs)
        rec_below, rec_server = session_pss_mib(server)
        for h in handles:
            tapedeck.stop(h)
        return {"idle": (idle_below + idle_server - empty_server) / count,
                "recording": (rec_below + rec_server - empty_server) / count,
                "processes": processes / count}
    finally:
        server.stop()


def density(work: Path, secs: float, steps: dict, flag_sets, memory_sessions: int, before: str | None) -> tuple:
    """`steps` maps each page to its session counts."""
    most = max(n for page_steps in steps.values() for n in page_steps)
    server = Server(work / "density-server", max_sessions=most, first_display=300).start()
    searches = {}
    try:
        recorders = [Tapedeck(server), FfmpegAnchor("kernel-images args", kernel_args, work)]
        for page, fps in (("static", 10), ("busy", 25)):
            for recorder in recorders:
                searches[(page, fps, recorder.name)] = search(server, recorder, page, fps, secs, steps[page])
    finally:
        server.stop()
    memories = {name: memory(work, flags, secs / 2, memory_sessions) for name, flags in flag_sets.items()}
    if before:
        memories[f"defaults of the earlier build (`{Path(before).name}`)"] = memory(
            work, [], secs / 2, memory_sessions, before)
    return searches, memories


def held(steps: list) -> int:
    """The most sessions of the last step that passed (0 when the first failed)."""
    return max((s.sessions for s in steps if s.passed), default=0)


def table(searches: dict, memories: dict, secs: float, steps: dict, memory_sessions: int) -> list:
    counts = "; ".join(f"{page}: {', '.join(map(str, n))}" for page, n in steps.items())
    rows = [f"Density search over {counts} sessions, {secs:g} s of recording at each step; "
            "a step passes when every video kept every clock change and every create took ≤ 2 s "
            "(static page, 10 fps), or every video kept ≥ 95 % of the page's changes (busy page, 25 fps).", "",
            "| page | recorder | sessions held | first failing step: kept min / create max | Tapedeck ÷ this |",
            "|---|---|---|---|---|"]
    for (page, fps, name), done in searches.items():
        ours = held(searches[(page, fps, "Tapedeck")])
        failed = next((s for s in done if not s.passed), None)
        failing = (f"{failed.sessions}: memory below {MIN_AVAILABLE_MIB} MiB" if failed and failed.out_of_memory
                   else f"{failed.sessions}: {100 * min(failed.kept):.1f} % / {max(failed.creates, default=0):.2f} s"
                   if failed else f"none up to {max(steps[page])}")
        # While Tapedeck passed every step, its count is a floor, and so is the ratio.
        floor = "≥ " if all(s.passed for s in searches[(page, fps, "Tapedeck")]) else ""
        ratio = "" if name == "Tapedeck" else (f"{floor}{ours / held(done):.2f}×" if held(done) else "∞")
        rows.append(f"| {page} {fps} fps | {name} | {held(done)} | {failing} | {ratio} |")
    rows += ["", f"Memory per session (PSS, MiB; {memory_sessions} static-page sessions; server growth included):", "",
             "| Chromium flags | idle | recording 10 fps | processes per session | idle vs defaults |",
             "|---|---|---|---|---|"]
    base = memories.get("defaults", {}).get("idle")
    for name, m in memories.items():
        change = f"{100 * (m['idle'] / base - 1):+.0f} %" if base else ""
        rows.append(f"| {name} | {m['idle']:.0f} | {m['recording']:.0f} | {m['processes']:.0f} | {change} |")
    return rows + [""]


def run(secs: float, smoke: bool, write: bool, before: str | None = None) -> list:
    """The density search and memory table; in smoke mode one step of one session and one
    memory pass, to keep the harness working. `before`, a tapedeck binary of an earlier build,
    adds a memory row for its defaults."""
    flag_sets = {"defaults": []} if smoke else FLAG_SETS
    steps = {"static": (1,), "busy": (1,)} if smoke else {"static": STEPS, "busy": BUSY_STEPS}
    memory_sessions = 1 if smoke else MEMORY_SESSIONS
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        searches, memories = density(Path(tmp), secs, steps, flag_sets, memory_sessions, before)
    rows = table(searches, memories, secs, steps, memory_sessions)
    print("\n".join(rows))
    if write:
        command = "bench/run.py --density" + (f" --before {before}" if before else "")
        header = (f"Command: `.venv/bin/python {command}` "
                  f"(took {(time.monotonic() - began) / 60:.1f} min). Date: {datetime.date.today().isoformat()}.  \n"
                  f"Machine: {machine()}.\n")
        rewrite_section("density", header, "\n".join(rows))
    return rows
