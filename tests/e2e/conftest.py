"""Fixtures for Tapedeck's end-to-end tests: a real server, real pages, real tools.

Every test talks to `target/release/tapedeck` over HTTP, with the official SDKs and with real
CDP clients (Playwright and Puppeteer from npm, driving Debian's Chromium through the relay).
"""

import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
# The server under test: the release build, or another build named by TAPEDECK_BINARY.
BINARY = Path(os.environ.get("TAPEDECK_BINARY", ROOT / "target" / "release" / "tapedeck"))
# Where a root server keeps what its sessions write (`--sandbox-dir`'s default's parent); a test
# server's own sandbox dir must lie below it, where the session user can reach it.
SANDBOX_ROOT = Path("/var/lib/tapedeck-sessions")
# Debian's Chromium, which sessions run.
CHROMIUM = "/usr/lib/chromium/chromium"
E2E = Path(__file__).resolve().parent
API_KEY = "e2e-test-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str):
    """Polls `condition` every 0.1 s until it is true; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def expires(url: str, timeout: float = 10):
    """Waits until a presigned URL is refused (403), as it must once its lifetime is over."""
    wait_until(lambda: httpx.get(url).status_code == 403, timeout, f"{url} to expire")


class Server:
    """One `tapedeck serve` process on a data dir that survives restarts."""

    def __init__(self, data_dir: Path, max_sessions: int = 2, first_display: int = 100, extra_args=(),
                 env=None):
        self.data_dir = data_dir
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proxy_port = free_port()
        self.proxy_url = f"http://127.0.0.1:{self.proxy_port}"
        self.log_path = data_dir / "server.log"
        self.args = [
            str(BINARY), "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--proxy-listen", f"127.0.0.1:{self.proxy_port}",
            "--data-dir", str(data_dir / "data"),
            "--max-sessions", str(max_sessions),
            "--first-display", str(first_display),
            *extra_args,
        ]
        self.proc = None

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        env = {**os.environ, "TAPEDECK_API_KEY": API_KEY, "RUST_LOG": "info,tower_http=debug", **self.env}
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready: {self.log()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def kernel_url(self) -> str:
        return f"{self.url}/kernel"

    def kernel_client(self):
        from kernel import Kernel

        return Kernel(api_key=API_KEY, base_url=self.kernel_url)

    def fast(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"X-WallarmAPI-Token": API_KEY, **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}/fast/v1{path}", headers=headers, timeout=60, **kwargs)

    def native(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}/v1{path}", headers=headers, timeout=90, **kwargs)

    def metric(self, name: str) -> float:
        """One counter from `GET /v1/metrics` (Prometheus text format)."""
        response = self.native("GET", "/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain"), response.headers
        for line in response.text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        raise AssertionError(f"no metric {name} in:\n{response.text}")

    def wait_for_metric(self, name: str, at_least: float, timeout: float = 30) -> float:
        """Waits until counter `name` reaches `at_least`, and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.metric(name)
            if value >= at_least or time.monotonic() > deadline:
                assert value >= at_least, f"{name} is {value}, expected at least {at_least}"
                return value
            time.sleep(0.1)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("tapedeck")).start()
    yield srv
    srv.stop()


@pytest.fixture
def kernel(server):
    """The official Kernel SDK pointed at Tapedeck; deletes what each test leaves running."""
    client = server.kernel_client()
    yield client
    for browser in client.browsers.list():
        client.browsers.delete_by_id(browser.session_id)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    """A threaded HTTP server that does not print clients hanging up (browsers and proxies
    close idle keep-alive connections)."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class Proc:
    """One process as /proc shows it to root."""

    def __init__(self, pid: int):
        self.pid = pid
        root = Path(f"/proc/{pid}")
        self.cmdline = (root / "cmdline").read_bytes().split(b"\0")[:-1]
        self.args = [a.decode(errors="replace") for a in self.cmdline]
        # Chromium's helpers rewrite their argv into one string, so flags are looked up in this.
        self.text = " ".join(self.args)
        self.exe = os.readlink(root / "exe")
        status = dict(line.split(":", 1) for line in (root / "status").read_text().splitlines())
        self.uid = int(status["Uid"].split()[0])
        self.seccomp = int(status["Seccomp"].strip())
        self.pid_ns = os.readlink(root / "ns/pid")

    def environ(self) -> dict:
        raw = Path(f"/proc/{self.pid}/environ").read_bytes().split(b"\0")
        return dict(e.decode(errors="replace").split("=", 1) for e in raw if b"=" in e)

    @property
    def root(self) -> Path:
        """The process's own view of the filesystem (its mount namespace)."""
        return Path(f"/proc/{self.pid}/root")


def processes(containing: str) -> list:
    """Every live process whose command line mentions `containing`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if containing.encode() in (entry / "cmdline").read_bytes():
                found.append(Proc(int(entry.name)))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def encoder_of(recording_id: str) -> Proc:
    """The recording's ffmpeg. It has no spool on its command line (it writes to a pipe), but
    its stderr is the spool's `ffmpeg.log`."""
    needle = f"/spool/{recording_id}/ffmpeg.log"
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "fd/2").endswith(needle):
                proc = Proc(int(entry.name))
                if proc.exe.endswith("/ffmpeg"):
                    found.append(proc)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    assert len(found) == 1, (recording_id, [p.pid for p in found])
    return found[0]


def spool_of(encoder: Proc) -> Path:
    """The spool directory the encoder's recording is written to."""
    return Path(os.readlink(f"/proc/{encoder.pid}/fd/2")).parent


def chromium_of(session_id: str) -> tuple:
    """The session's main Chromium process and all its Chromium processes, found by the
    session's profile (`--user-data-dir=…/<id>/profile`) on their command lines."""
    procs = [p for p in processes(f"/{session_id}/profile") if p.exe == CHROMIUM]
    main = [p for p in procs if "--type=" not in p.text]
    assert len(main) == 1, [p.args[:3] for p in procs]
    return main[0], procs


class EchoApp:
    """A loopback app that answers every GET with the path it was asked for, and with the
    headers it received when `with_headers` (which a replay does not send alike, so a test run
    replaying such exchanges fails)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_GET(self):
            answer = {"path": self.path}
            if self.server.with_headers:
                answer["headers"] = {k.lower(): v for k, v in self.headers.items()}
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    def __init__(self, with_headers: bool = False):
        self.httpd = QuietServer(("127.0.0.1", 0), EchoApp.Handler)
        self.httpd.with_headers = with_headers
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def echo_app():
    """An [`EchoApp`] for one test module."""
    app = EchoApp()
    yield app
    app.httpd.shutdown()


@pytest.fixture(scope="session")
def pages():
    """Serves tests/e2e/pages on loopback; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(E2E / "pages"))
    httpd = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def node(*args, timeout=120) -> dict:
    """Runs drive.mjs with a real CDP client and returns the JSON it printed."""
    done = subprocess.run(
        ["node", str(E2E / "drive.mjs"), *args],
        capture_output=True, text=True, timeout=timeout, cwd=E2E,
    )
    assert done.returncode == 0, f"drive.mjs {args[0]} failed:\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def ffprobe(path: Path) -> dict:
    """Codec, size, duration and decoded frame count of a video, from ffprobe."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )
    info = json.loads(done.stdout)
    stream = info["streams"][0]
    return {
        "codec": stream["codec_name"],
        "width": int(stream["width"]),
        "height": int(stream["height"]),
        "frames": int(stream["nb_read_frames"]),
        "duration": float(info["format"]["duration"]),
    }


def frame_times(path: Path) -> list:
    """Presentation times of every video frame, in seconds."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )
    return sorted(float(line) for line in done.stdout.split() if line.strip())


def frame_rgb(path: Path, at_secs: float, from_end: bool = False) -> bytes:
    """One decoded frame as raw RGB24 bytes, `at_secs` from the start (or from the end)."""
    seek = ["-sseof", f"-{at_secs}"] if from_end else ["-ss", str(at_secs)]
    done = subprocess.run(
        ["ffmpeg", "-v", "error", *seek, "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )
    assert done.stdout, f"no frame at {at_secs}s (from_end={from_end})"
    return done.stdout


def mean_rgb(frame: bytes) -> tuple:
    """Average colour of a frame, sampling every 97th pixel."""
    pixels = range(0, len(frame) - 2, 3 * 97)
    n = len(pixels)
    return tuple(sum(frame[i + c] for i in pixels) / n for c in range(3))


def mean_abs_diff(a: bytes, b: bytes) -> float:
    """Mean absolute per-byte difference of two same-size frames, sampled."""
    idx = range(0, min(len(a), len(b)), 101)
    return sum(abs(a[i] - b[i]) for i in idx) / len(idx)


@pytest.fixture
def scratch():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)
