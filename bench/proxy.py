"""Recording proxies under the same load, side by side in one run: direct to the upstream,
through Tapedeck's proxy while a FAST test run records every request, and through mitmproxy's
`mitmdump -w` (which records every flow).

The upstream is nginx (one worker) serving 1 KiB and 64 KiB bodies; the load generator is wrk
(C, two threads, 32 keep-alive connections), speaking to a proxy in absolute form. Each mode
reports throughput, the proxy's own CPU per 1,000 requests, and, for Tapedeck, the baselines
recorded against the requests nginx served while it ran."""

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import wrk
from common import ROOT, cpu_ticks, TICKS
from nginx import Nginx

MITMDUMP = ROOT / ".venv-mitmproxy" / "bin" / "mitmdump"
CONNECTIONS = 32
TAPEDECK = "Tapedeck proxy, recording"
MITM = "mitmproxy `mitmdump -w`"


@dataclass
class Sample:
    """One timed load: requests/s, the proxy's CPU ms per 1,000 requests (none direct), and
    what nginx served and the recorder kept (Tapedeck only)."""

    rps: float
    cpu_per_1000: float | None
    served: int
    recorded: int | None = None


class Mitmdump:
    def __init__(self, work: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.flows = work / "mitm.flows"
        self.proc = subprocess.Popen([str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", str(self.port),
                                      "-w", str(self.flows), "-q"], stdout=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
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


def timed(target: str, urls: list[str], secs: float, nginx: Nginx, pid: int | None) -> Sample:
    """wrk against `target` for `secs`; CPU of process `pid` (all its threads) meanwhile."""
    served = nginx.served()
    ticks = cpu_ticks(pid) if pid else 0
    result = wrk.through(target, urls, CONNECTIONS, secs)
    cpu_ms = (cpu_ticks(pid) - ticks) * 1000 / TICKS if pid else None
    served = nginx.served() - served
    assert result["non_2xx"] == 0 and result["errors"] == 0, result
    per_1000 = cpu_ms * 1000 / result["requests"] if cpu_ms is not None else None
    return Sample(result["rps"], per_1000, served)


def proxies(server, work: Path, secs: float, runs: int) -> dict:
    """{(mode, body): [Sample]} over `runs` rounds of every mode, 1 KiB and 64 KiB bodies."""
    nginx = Nginx(work)
    mitm = Mitmdump(work)
    results = {}
    try:
        for _ in range(runs):
            for body in ("1k", "64k"):
                # Distinct URLs, so nothing along the way can answer from a cache.
                urls = [f"{nginx.url(body)}?n={i}" for i in range(16)]
                direct = [u.removeprefix(f"http://127.0.0.1:{nginx.http_port}") for u in urls]
                results.setdefault(("direct", body), []).append(
                    timed(f"http://127.0.0.1:{nginx.http_port}", direct, secs, nginx, None))
                run = server.fast("POST", "/test_run", json={"name": "bench", "allowed_hosts": "127.0.0.1"})
                run = run.json()["body"]
                sample = timed(server.proxy_url, urls, secs, nginx, server.proc.pid)
                stopped = server.fast("POST", f"/test_run/{run['id']}/action/stop").json()["body"]
                sample.recorded = stopped["baseline_count"]
                # Its testing phase replays the baselines against nginx: let it end first.
                while server.fast("GET", f"/test_run/{run['id']}").json()["body"]["state"] == "running":
                    time.sleep(0.2)
                results.setdefault((TAPEDECK, body), []).append(sample)
                results.setdefault((MITM, body), []).append(timed(mitm.url, urls, secs, nginx, mitm.proc.pid))
    finally:
        mitm.close()
        nginx.close()
    assert mitm.flows.stat().st_size > 0, "mitmdump recorded nothing"
    return results
