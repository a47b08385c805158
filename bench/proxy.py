"""Recording proxies under the same load, side by side in one run: direct to the upstream,
through Tapedeck's proxy while a FAST test run records every request, and through mitmproxy's
`mitmdump -w` (which records every flow).

The upstream is nginx (one worker) serving 1 KiB and 64 KiB bodies over HTTP and HTTPS (its
certificate from a test CA that both proxies are told to trust). The load generators are
native: wrk for plain HTTP keep-alive (32 connections), oha for HTTPS through `CONNECT` and for
open-loop latency at a fixed rate. Tapedeck runs its own server here, started with
`--upstream-ca-file`, and each of its loads is checked against what nginx served."""

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import loadgen
from common import ROOT, TICKS, Server, cpu_ticks
from nginx import HTTPS_HOSTS, Nginx

MITMDUMP = ROOT / ".venv-mitmproxy" / "bin" / "mitmdump"
CONNECTIONS = 32
DIRECT, TAPEDECK, MITM = "direct", "Tapedeck proxy, recording", "mitmproxy `mitmdump -w`"
MODES = (DIRECT, TAPEDECK, MITM)


@dataclass
class Sample:
    """One timed load: requests/s, latency percentiles (open loop only), the proxy's CPU ms per
    1,000 requests (none direct), and what nginx served and the recorder kept (Tapedeck only;
    `served` is 0 for the other modes)."""

    rps: float
    cpu_per_1000: float | None
    served: int
    recorded: int | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None


class Mitmdump:
    def __init__(self, work: Path, upstream_ca: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.flows = work / "mitm.flows"
        confdir = work / "mitmproxy"
        self.proc = subprocess.Popen([str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", str(self.port),
                                      "--set", f"confdir={confdir}", "--set", f"ssl_verify_upstream_trusted_ca={upstream_ca}",
                                      "-w", str(self.flows), "-q"], stdout=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        self.ca = confdir / "mitmproxy-ca-cert.pem"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                if self.ca.exists():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("mitmdump did not start")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Modes:
    """Where each mode's requests go, which CA its client trusts, and whose CPU it costs."""

    def __init__(self, work: Path, nginx: Nginx):
        self.nginx = nginx
        self.server = Server(work / "proxy-server", max_sessions=1, first_display=243,
                             extra_args=["--upstream-ca-file", str(nginx.ca)]).start()
        tapedeck_ca = work / "tapedeck-ca.pem"
        der = self.server.native("GET", "/proxy/ca.der").content
        subprocess.run(["openssl", "x509", "-inform", "DER", "-out", str(tapedeck_ca)], input=der, check=True)
        self.mitm = Mitmdump(work, nginx.ca)
        self.proxy = {DIRECT: None, TAPEDECK: self.server.proxy_url, MITM: self.mitm.url}
        self.ca = {DIRECT: nginx.ca, TAPEDECK: tapedeck_ca, MITM: self.mitm.ca}
        self.pid = {DIRECT: None, TAPEDECK: self.server.proc.pid, MITM: self.mitm.proc.pid}

    def measure(self, mode: str, load) -> Sample:
        """Runs `load()` (a loadgen result) in `mode`, recording into a test run for Tapedeck."""
        run = None
        if mode == TAPEDECK:
            run = self.server.fast("POST", "/test_run", json={"name": "bench", "allowed_hosts": "*"}).json()["body"]
        pid = self.pid[mode]
        # nginx's log is flushed once a second, so it is read only where a count is checked.
        counted = self.nginx.served if run else (lambda: 0)
        served, ticks = counted(), cpu_ticks(pid) if pid else 0
        result = load()
        cpu_ms = (cpu_ticks(pid) - ticks) * 1000 / TICKS if pid else None
        sample = Sample(result["rps"], None, counted() - served,
                        p50_ms=result.get("p50_ms"), p99_ms=result.get("p99_ms"), p999_ms=result.get("p999_ms"))
        done = result.get("requests", result.get("ok", 0))
        if cpu_ms is not None and done:
            sample.cpu_per_1000 = cpu_ms * 1000 / done
        if run:
            stopped = self.server.fast("POST", f"/test_run/{run['id']}/action/stop").json()["body"]
            sample.recorded = stopped["baseline_count"]
            # Its testing phase replays the baselines against nginx: let it end first.
            while self.server.fast("GET", f"/test_run/{run['id']}").json()["body"]["state"] == "running":
                time.sleep(0.2)
        return sample

    def close(self):
        self.mitm.close()
        self.server.stop()


def proxies(work: Path, secs: float, latency_secs: float, rate: int, runs: int) -> dict:
    """{(scenario, mode): [Sample]} over `runs` rounds: plain HTTP keep-alive (1 KiB, 64 KiB),
    HTTPS keep-alive (1 KiB), new HTTPS connections (one request each, across every host), and
    open-loop latency at `rate` requests/s over HTTP and HTTPS."""
    nginx = Nginx(work)
    modes = Modes(work, nginx)
    results = {}

    def record(scenario, mode, load):
        results.setdefault((scenario, mode), []).append(modes.measure(mode, load))

    try:
        for _ in range(runs):
            for body in ("1k", "64k"):
                # Distinct URLs, so nothing along the way can answer from a cache.
                urls = [f"{nginx.url(body)}?n={i}" for i in range(16)]
                origin = f"http://127.0.0.1:{nginx.http_port}"
                for mode in MODES:
                    target, asked = (origin, [u.removeprefix(origin) for u in urls]) if mode == DIRECT \
                        else (modes.proxy[mode], urls)
                    record(f"HTTP keep-alive, {body.replace('k', ' KiB')}", mode,
                           lambda: loadgen.wrk(target, asked, CONNECTIONS, secs))
            for mode in MODES:
                oha = dict(proxy=modes.proxy[mode], cacert=modes.ca[mode])
                record("HTTPS keep-alive, 1 KiB", mode,
                       lambda: loadgen.oha([nginx.https_url("1k")], secs=secs, **oha))
                every_host = [nginx.https_url("1k", host) for host in HTTPS_HOSTS]
                record(f"HTTPS new connections ({len(HTTPS_HOSTS)} hosts)", mode,
                       lambda: loadgen.oha(every_host, secs=secs, keepalive=False, **oha))
                record(f"HTTP at {rate} req/s", mode,
                       lambda: loadgen.oha([nginx.url("1k")], secs=latency_secs, rate=rate, **oha))
                record(f"HTTPS at {rate} req/s", mode,
                       lambda: loadgen.oha([nginx.https_url("1k")], secs=latency_secs, rate=rate, **oha))
    finally:
        modes.close()
        nginx.close()
    return results
