"""Recording proxies under the same load: direct, through Tapedeck's proxy while a FAST test
run records every request, and through mitmproxy's `mitmdump -w` (which records every flow).

One local upstream (a threaded Python HTTP server answering 1 KiB of JSON) and one load generator
(C threads, each with a keep-alive httpx client) serve every mode in the same run."""

import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx

from common import ROOT, QuietServer

PAYLOAD = b'{"data":"' + b"x" * 1000 + b'"}'
MITMDUMP = ROOT / ".venv-mitmproxy" / "bin" / "mitmdump"


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)


def load(url: str, proxy, requests: int, clients: int):
    """Returns (requests/s, sorted latencies in ms)."""
    per_client = requests // clients

    def work(_):
        latencies = []
        with httpx.Client(proxy=proxy, timeout=30) as client:
            for i in range(per_client):
                start = time.perf_counter()
                response = client.get(f"{url}?i={i}")
                latencies.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200 and len(response.content) == len(PAYLOAD)
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = sorted(x for chunk in pool.map(work, range(clients)) for x in chunk)
    return len(latencies) / (time.perf_counter() - started), latencies


def pct(values, q):
    return values[min(len(values) - 1, int(q * len(values)))]


class Mitmdump:
    def __init__(self, work: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.flows = work / "mitm.flows"
        self.proc = subprocess.Popen([str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", str(self.port),
                                      "-w", str(self.flows), "-q"], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("mitmdump did not start")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def proxies(server, work: Path, requests: int, clients: int, runs: int):
    """{mode: [(req/s, latencies)]} over `runs` rounds of every mode."""
    httpd = QuietServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/item"
    mitm = Mitmdump(work)
    results = {"direct": [], "Tapedeck proxy, recording": [], "mitmproxy `mitmdump -w`": []}
    try:
        for _ in range(runs):
            results["direct"].append(load(url, None, requests, clients))
            run = server.fast("POST", "/test_run", json={"name": "bench"}).json()["body"]
            results["Tapedeck proxy, recording"].append(load(url, server.proxy_url, requests, clients))
            stopped = server.fast("POST", f"/test_run/{run['id']}/action/stop").json()["body"]
            assert stopped["baseline_count"] == requests // clients * clients, stopped
            results["mitmproxy `mitmdump -w`"].append(load(url, f"http://127.0.0.1:{mitm.port}", requests, clients))
    finally:
        mitm.close()
        httpd.shutdown()
    assert mitm.flows.stat().st_size > requests * len(PAYLOAD) // 2, "mitmdump recorded nothing"
    return results
