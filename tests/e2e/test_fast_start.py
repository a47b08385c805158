"""A long replay starts playing after its player has read the head of the file, not the whole
of it: the MP4 carries a segment index (`sidx`) right after its `moov`, written in place at stop
(so stop stays flat) and by crash recovery alike.

One module fixture records a page as busy as one playing a video (`pages/noise.html`) for a
little over two minutes in two sessions at once; one recording is stopped, the other is
recovered after the server is killed. Each video is then probed by ffprobe and opened in a
headless Chromium's `<video preload=metadata>`, served by a local Range server that counts the
bytes it sends. That server sends at a broadband rate: over unthrottled loopback, Chromium's
media cache and the socket buffers take megabytes ahead of what the demuxer asked for before
the metadata event fires, whatever the file's layout, and the count would measure those
buffers rather than what the player needed."""

import http.server
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import QuietServer, Server, node

# Long enough that reading the whole file is far from reading its head.
RECORD_SECS = 122
# What a player may read before it knows the duration and can start. With the index both
# readers take 1-3 % of this replay; without it, ffprobe about 60 % and Chromium all of it.
HEAD_SHARE = 0.05
# The served video's pace, in bytes per second: a 32 Mbit/s link.
LINK_RATE = 4_000_000


class CountingFile:
    """Serves one MP4 with Range support at [`LINK_RATE`], and a page playing it with
    `<video preload=metadata>` that calls `/loaded` once the metadata is in: `sent_at_metadata`
    is how many bytes of the video had been sent by then."""

    PAGE = (b'<video preload="metadata" src="/video.mp4"></video><script>'
            b'const v = document.querySelector("video");'
            b'v.addEventListener("loadedmetadata", () => fetch("/loaded").then(() => { window.metadata = v.duration; }));'
            b'v.addEventListener("error", () => { window.metadata = "error " + v.error.code; });</script>')

    def __init__(self, path: Path):
        self.path, self.size = path, path.stat().st_size
        self.sent, self.sent_at_metadata = 0, None
        self.first_sent_at = None
        self.lock = threading.Lock()
        counter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def setup(self):
                # A small send buffer, so bytes counted as sent are bytes the player took, not
                # bytes parked in the kernel's socket buffer.
                self.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
                super().setup()

            def do_GET(self):
                if self.path == "/loaded":
                    counter.sent_at_metadata = counter.sent
                    self.send_response(204)
                    self.end_headers()
                elif self.path == "/":
                    self.reply(200, {"Content-Type": "text/html"}, CountingFile.PAGE)
                else:
                    self.send_video()

            def reply(self, status, headers, body=b""):
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def send_video(self):
                start, end = 0, counter.size - 1
                asked = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
                if asked:
                    start = int(asked[1])
                    end = min(int(asked[2]), end) if asked[2] else end
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end}/{counter.size}")
                else:
                    self.send_response(200)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(end - start + 1))
                self.end_headers()
                with open(counter.path, "rb") as video:
                    video.seek(start)
                    left = end - start + 1
                    while left:
                        chunk = video.read(min(16384, left))
                        try:
                            self.wfile.write(chunk)
                        except (BrokenPipeError, ConnectionResetError):
                            return
                        left -= len(chunk)
                        counter.pace(len(chunk))

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def pace(self, sent: int):
        """Counts `sent` more bytes, and waits until the link would have carried them."""
        with self.lock:
            now = time.monotonic()
            self.first_sent_at = self.first_sent_at or now
            self.sent += sent
            due = self.first_sent_at + self.sent / LINK_RATE
        time.sleep(max(0.0, due - now))

    def close(self):
        self.httpd.shutdown()


def ffprobe_reads(path: Path) -> tuple:
    """(duration, bytes read) of ffprobe finding `path`'s duration, from its own statistics."""
    done = subprocess.run(["ffprobe", "-v", "verbose", "-show_entries", "format=duration", "-of", "csv=p=0",
                           str(path)], capture_output=True, text=True, check=True)
    read = sum(int(n) for n in re.findall(r"Statistics: (\d+) bytes read", done.stderr))
    return float(done.stdout.strip()), read


@pytest.fixture(scope="module")
def long_replays(tmp_path_factory, pages):
    """Two replays of a busy page, each over two minutes: {"stopped": …, "recovered": …}, each
    (video path, duration_ms)."""
    tmp = tmp_path_factory.mktemp("fast-start")
    server = Server(tmp / "server", first_display=210).start()
    try:
        ids = {}
        for kind in ("stopped", "recovered"):
            session = server.native("POST", "/sessions", json={
                "start_url": f"{pages}/noise.html", "viewport": {"width": 1280, "height": 720}}).json()
            ids[kind] = server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()["id"]
        time.sleep(RECORD_SECS)
        assert server.native("POST", f"/recordings/{ids['stopped']}/stop").status_code == 200
        # The other is finalized from its stored parts by the next start.
        server.kill9()
        server.start()
        replays = {}
        for kind, recording_id in ids.items():
            recording = server.native("GET", f"/recordings/{recording_id}").json()
            assert recording["state"] == ("finished" if kind == "stopped" else "interrupted"), recording
            url = server.native("GET", f"/recordings/{recording_id}/download-url").json()["url"]
            video = tmp / f"{kind}.mp4"
            video.write_bytes(httpx.get(url, timeout=60).content)
            replays[kind] = (video, recording["duration_ms"])
        yield replays
    finally:
        server.stop()


@pytest.mark.parametrize("finalized", ["stopped", "recovered"])
def test_a_long_replay_starts_playing_after_reading_its_head(long_replays, finalized):
    video, duration_ms = long_replays[finalized]
    size = video.stat().st_size
    assert duration_ms >= 120_000, duration_ms

    duration, read = ffprobe_reads(video)
    assert abs(duration - duration_ms / 1000) <= 0.5, (duration, duration_ms)
    assert read <= HEAD_SHARE * size, f"ffprobe read {read} of {size} bytes ({100 * read / size:.1f} %)"

    served = CountingFile(video)
    try:
        seen = node("metadata", served.url)
        assert isinstance(seen["duration"], (int, float)), seen
        assert abs(seen["duration"] - duration_ms / 1000) <= 0.5, (seen, duration_ms)
        sent = served.sent_at_metadata
        assert sent <= HEAD_SHARE * size, f"Chromium took {sent} of {size} bytes ({100 * sent / size:.1f} %)"
    finally:
        served.close()
