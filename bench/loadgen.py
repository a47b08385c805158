"""The load generators of the proxy benchmarks, both native: wrk (C) for plain HTTP, which it
sends to a proxy in absolute form (`GET http://host/path`) on keep-alive connections, and oha
(Rust, `cargo install oha`) for HTTPS through `CONNECT` and for open-loop latency at a fixed
rate."""

import json
import re
import subprocess
import tempfile
from pathlib import Path


def wrk(target: str, urls: list[str], connections: int, secs: float, threads: int = 2) -> dict:
    """Loads `target` (the proxy, or the upstream itself for direct) with GETs of `urls` in
    turn; returns {requests, rps, non_2xx, errors}. With a proxy, each request line carries
    the absolute URL; direct, only its path."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        paths = ", ".join(f'"{u}"' for u in urls)
        script.write(f"""
local urls = {{{paths}}}
local i = 0
request = function()
  i = i % #urls + 1
  return wrk.format("GET", urls[i])
end
""")
    try:
        out = subprocess.run(["wrk", f"-c{connections}", f"-t{threads}", f"-d{max(1, round(secs))}s", "-s", script.name, target],
                             capture_output=True, text=True, check=True, timeout=secs + 60).stdout
    finally:
        Path(script.name).unlink()
    count = lambda pattern: int(m.group(1)) if (m := re.search(pattern, out)) else 0  # noqa: E731
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"requests": count(r"(\d+) requests in"), "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "non_2xx": count(r"Non-2xx or 3xx responses: (\d+)"), "errors": errors}


def oha(urls: list[str], *, proxy: str | None, cacert: Path, secs: float, connections: int = 32,
        rate: int | None = None, keepalive: bool = True) -> dict:
    """oha (Rust; it speaks `CONNECT` to a proxy) over `urls` for `secs`: at `rate` requests/s
    open loop (latency corrected for coordinated omission), or as fast as `connections` go.
    Returns {rps, p50_ms, p99_ms, p999_ms, ok, failed}."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(urls) + "\n")
    args = ["oha", "--no-tui", "--output-format", "json", "-z", f"{max(1, round(secs))}s", "-c", str(connections),
            "--cacert", str(cacert), "--urls-from-file", listing.name]
    if proxy:
        args += ["-x", proxy]
    if rate:
        args += ["-q", str(rate), "--latency-correction"]
    if not keepalive:
        args.append("--disable-keepalive")
    try:
        out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=secs + 120).stdout
    finally:
        Path(listing.name).unlink()
    result = json.loads(out)
    ok = result["statusCodeDistribution"].get("200", 0)
    # Requests cut off by the deadline are not failures of the proxy.
    failed = sum(n for why, n in result["errorDistribution"].items() if "deadline" not in why)
    failed += sum(n for code, n in result["statusCodeDistribution"].items() if code != "200")
    pct = result["latencyPercentiles"]
    ms = lambda key: (pct.get(key) or 0) * 1000  # noqa: E731
    return {"rps": ok / result["summary"]["total"], "p50_ms": ms("p50"), "p99_ms": ms("p99"),
            "p999_ms": ms("p99.9"), "ok": ok, "failed": failed}
