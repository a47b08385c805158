"""A disk that runs out: the recording in flight stops with `disk_full` and plays, what was
stored before is untouched, new recordings are refused with a clear error, and the server
goes on answering."""

import hashlib
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from conftest import SANDBOX_ROOT, Server, ffprobe, wait_until

FLOOR_MIB = 24


@pytest.fixture
def small_disk():
    """A 64 MiB tmpfs for the data dir and the sandbox dir alike, where the session user can
    reach it (pytest's own tmp dirs are private to root)."""
    SANDBOX_ROOT.mkdir(parents=True, exist_ok=True)
    mount = Path(tempfile.mkdtemp(prefix="e2e-small-disk-", dir=SANDBOX_ROOT))
    mount.chmod(0o755)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)
    mount.rmdir()


def free_mib(path) -> int:
    done = subprocess.run(["df", "--output=avail", "-m", str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_a_full_disk_stops_the_recording_in_flight_and_damages_nothing_stored(small_disk, pages, tmp_path):
    server = Server(small_disk, first_display=149, extra_args=[
        "--sandbox-dir", str(small_disk / "sandbox"), "--min-free-disk-mib", str(FLOOR_MIB)]).start()
    try:
        session = server.native("POST", "/sessions", json={"start_url": f"{pages}/motion.html"}).json()
        earlier = server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()
        time.sleep(2.5)  # some video to keep
        server.native("POST", f"/recordings/{earlier['id']}/stop")
        earlier_url = server.native("GET", f"/recordings/{earlier['id']}/download-url").json()["url"]
        earlier_sha = hashlib.sha256(httpx.get(earlier_url).content).hexdigest()

        busy = server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()
        wait_until(lambda: server.native("GET", f"/recordings/{busy['id']}").json()["state"] == "recording",
                   10, "the second recording")
        # The disk fills up: leave less than the floor free.
        filler = small_disk / "filler"
        subprocess.run(["fallocate", "-l", f"{free_mib(small_disk) - FLOOR_MIB // 2}M", str(filler)], check=True)
        wait_until(lambda: server.native("GET", f"/recordings/{busy['id']}").json()["state"] != "recording",
                   15, "the recording to stop on a full disk")
        stopped = server.native("POST", f"/recordings/{busy['id']}/stop").json()
        assert stopped["state"] == "finished" and stopped["stop_reason"] == "disk_full", stopped
        video = tmp_path / "busy.mp4"
        video.write_bytes(httpx.get(server.native("GET", f"/recordings/{busy['id']}/download-url")
                                    .json()["url"]).content)
        assert ffprobe(video)["duration"] > 0.5

        refused = server.native("POST", f"/sessions/{session['id']}/recordings", json={})
        assert refused.status_code == 503 and "MiB free" in refused.json()["message"], refused.text
        assert hashlib.sha256(httpx.get(earlier_url).content).hexdigest() == earlier_sha
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()
