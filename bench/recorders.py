"""The recorders under test, each measured the same way on the same page: CPU over a window,
then the video's size, frames and duration.

- Tapedeck: the real server's recorder (grabber thread + its ffmpeg), through the native API;
- kernel-images: its exact ffmpeg arguments (docs/kernel.md, "The kernel-images recorder") on the session's display;
- x264 ultrafast: x11grab + libx264 `-preset ultrafast`, fragmented MP4, on the same display;
- Playwright `recordVideo`: playwright-core with Debian's Chromium (headful, own Xvfb) and
  Debian's ffmpeg where Playwright looks for its own; its CPU is node + Chromium + ffmpeg while
  recording, minus the same without recording (the screencast's cost lands in Chromium).
"""

import json
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from common import PAGES, ROOT, CpuMeter, descendants, ffprobe_video, grabber_threads, recorder_pid

WARMUP = 1.0


def cpu_over(targets, secs: float) -> float:
    """CPU of `targets()` (taken after a warm-up) over the next `secs`, in % of one core."""
    time.sleep(WARMUP)
    meter = CpuMeter(targets())
    time.sleep(secs)
    return meter.percent()


@dataclass
class Sample:
    cpu: float  # % of one core over the window
    video: dict  # ffprobe_video(): frames, duration, bytes

    @property
    def mib_per_min(self) -> float:
        return self.video["bytes"] / 2**20 / (self.video["duration"] / 60)


def kernel_args(display: str, fps: int, out: Path) -> list:
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "x11grab", "-framerate", str(fps),
            "-i", display, "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-profile:v", "high",
            "-pix_fmt", "yuv420p", "-use_wallclock_as_timestamps", "1", "-reset_timestamps", "1",
            "-avoid_negative_ts", "make_zero", "-movflags", "+frag_keyframe+empty_moov",
            "-frag_duration", "2000000", "-fs", "500M", "-y", str(out)]


def ultrafast_args(display: str, fps: int, out: Path) -> list:
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-f", "x11grab", "-framerate", str(fps),
            "-video_size", "1280x720", "-i", display, "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-movflags", "+frag_keyframe+empty_moov", "-frag_duration", "2000000",
            "-y", str(out)]


class Tapedeck:
    name = "Tapedeck"

    def __init__(self, server):
        self.server = server

    def start(self, session, fps: int) -> dict:
        before = set(grabber_threads(self.server))
        started = self.server.native("POST", f"/sessions/{session.id}/recordings", json={"framerate": fps})
        assert started.status_code == 201, started.text
        rid = started.json()["id"]
        ffmpeg = recorder_pid(rid)
        grabber = (set(grabber_threads(self.server)) - before).pop()
        return {"id": rid, "targets": [(ffmpeg, None), (self.server.proc.pid, grabber)]}

    def stop(self, handle) -> Path:
        rec = self.server.native("POST", f"/recordings/{handle['id']}/stop").json()
        assert rec["state"] == "finished", rec
        return self.server.data_dir / "data" / "blobs" / rec["storage_key"].removeprefix("storage://tapedeck/")

    def record(self, session, fps: int, secs: float) -> Sample:
        handle = self.start(session, fps)
        cpu = cpu_over(lambda: handle["targets"], secs)
        return Sample(cpu, ffprobe_video(self.stop(handle)))


class FfmpegAnchor:
    def __init__(self, name: str, args_for, work: Path):
        self.name, self.args_for, self.work = name, args_for, work
        self.runs = 0

    def start(self, session, fps: int) -> dict:
        self.runs += 1
        out = self.work / f"{self.name.split()[0]}-{self.runs}.mp4"
        proc = subprocess.Popen(self.args_for(session.display, fps, out))
        return {"proc": proc, "out": out}

    def stop(self, handle) -> Path:
        handle["proc"].send_signal(signal.SIGINT)
        handle["proc"].wait(timeout=60)
        return handle["out"]

    def record(self, session, fps: int, secs: float) -> Sample:
        handle = self.start(session, fps)
        cpu = cpu_over(lambda: [(handle["proc"].pid, None)], secs)
        video = ffprobe_video(self.stop(handle))
        handle["out"].unlink()
        return Sample(cpu, video)


class Playwright:
    """Playwright's `recordVideo` on its own Xvfb display."""

    name = "Playwright recordVideo"

    def __init__(self, work: Path, display_number: int):
        self.work = work
        self.display = f":{display_number}"
        self.xvfb = subprocess.Popen(["Xvfb", self.display, "-screen", "0", "1280x720x24", "-nolisten", "tcp",
                                      "-nocursor"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Playwright runs "its" ffmpeg from the registry directory; Debian's stands in for it.
        browsers = json.loads((ROOT / "tests/e2e/node_modules/playwright-core/browsers.json").read_text())
        revision = next(b["revision"] for b in browsers["browsers"] if b["name"] == "ffmpeg")
        self.registry = work / "ms-playwright"
        ffmpeg_dir = self.registry / f"ffmpeg-{revision}"
        ffmpeg_dir.mkdir(parents=True, exist_ok=True)
        (ffmpeg_dir / "ffmpeg-linux").symlink_to("/usr/bin/ffmpeg")
        self.baselines = {}
        time.sleep(1)

    def close(self):
        self.xvfb.terminate()
        self.xvfb.wait()

    def start(self, page: str, fps) -> dict:
        """Shows bench/pages/`page`, recording at `fps` (or not, with "none")."""
        out = self.work / "playwright"
        env = {"DISPLAY": self.display, "PLAYWRIGHT_BROWSERS_PATH": str(self.registry), "PATH": "/usr/bin:/bin"}
        proc = subprocess.Popen(["node", str(ROOT / "bench/playwright_record.mjs"), f"file://{PAGES / page}",
                                 str(fps), str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=env)
        assert json.loads(proc.stdout.readline()) == {"ready": True}
        return {"proc": proc}

    def stop(self, handle) -> Path | None:
        """Closes the browser, which finalizes the video; its path, or None without recording."""
        proc = handle["proc"]
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        video = json.loads(proc.stdout.readline())["video"]
        proc.wait(timeout=60)
        return Path(video) if video else None

    def _run(self, page: str, fps, secs: float):
        """CPU of the whole Playwright tree over the window, and the video (or None)."""
        handle = self.start(page, fps)
        cpu = cpu_over(lambda: [(pid, None) for pid in descendants(handle["proc"].pid)], secs)
        return cpu, self.stop(handle)

    def record(self, page: str, fps: int, secs: float) -> Sample:
        if page not in self.baselines:
            self.baselines[page] = self._run(page, "none", secs)[0]
        cpu, path = self._run(page, fps, secs)
        video = ffprobe_video(path)
        path.unlink()
        return Sample(cpu - self.baselines[page], video)
