#!/usr/bin/env python3
"""The dashboard's traffic table over a 50,000-exchange test record.

    .venv/bin/python bench/traffic_table.py [--exchanges 50000] [--runs 10]

Records at least `exchanges` GETs through Tapedeck's proxy into one FAST test run (wrk against
nginx, 1 in 10 answered 404), then times, `runs` times each:
1. the API: `GET /v1/test-records/{id}/exchanges` first page, last page, and filtered by
   status class, method and host, and text (in URLs, and a body search that finds nothing);
2. the dashboard: from setting the traffic table's route to its first page of rows on screen,
   in a headless Chromium, unfiltered and filtered.
Goal (issue 15): the first page in under 300 ms.
"""

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

import loadgen
from common import ROOT, Server, machine
from conftest import API_KEY
from nginx import Nginx

PROBE = ROOT / "bench" / "traffic_probe.mjs"


def fill(server, nginx: Nginx, wanted: int) -> tuple[int, int]:
    """Records at least `wanted` exchanges into a new run; returns (its test record, count)."""
    run = server.fast("POST", "/test_run", json={"name": "traffic table", "allowed_hosts": "127.0.0.1"})
    run = run.json()["body"]
    urls = [f"{nginx.url('1k')}?item={i}" for i in range(9)] + [nginx.url("missing")]
    before = nginx.served()
    while nginx.served() - before < wanted:
        loadgen.wrk(server.proxy_url, urls, connections=32, secs=3)
    served = nginx.served() - before
    stopped = server.fast("POST", f"/test_run/{run['id']}/action/stop").json()["body"]
    # wrk drops the requests in flight at its deadline; those that nginx had already served
    # may be missing from the record (their client was gone before the answer).
    assert served - 32 <= stopped["baseline_count"] <= served, (stopped["baseline_count"], served)
    return run["test_record_id"], stopped["baseline_count"]


def api_timings(server, record: int, count: int, host: str, runs: int) -> dict:
    views = {
        "first page": {},
        "last page": {"offset": count - 50},
        "status 4xx": {"status": "4xx"},
        "GET to the host": {"method": "GET", "host": host},
        "text in URLs (`item=7`)": {"q": "item=7"},
        "text found nowhere (every body searched)": {"q": "no-such-text"},
    }
    timings = {name: [] for name in views}
    with httpx.Client(base_url=f"{server.url}/v1", headers={"Authorization": f"Bearer {API_KEY}"}) as api:
        for _ in range(runs):
            for name, params in views.items():
                started = time.perf_counter()
                answer = api.get(f"/test-records/{record}/exchanges", params={"limit": 50, **params})
                timings[name].append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.text
    return timings


def dashboard_timings(server, record: int, runs: int) -> dict:
    views = {"first page": "", "status 4xx": "?status=4xx", "text in URLs (`item=7`)": "?q=item%3D7"}
    done = subprocess.run(["node", str(PROBE), json.dumps({"url": server.url, "key": API_KEY, "record": record,
                                                           "views": views, "runs": runs})],
                          capture_output=True, text=True, timeout=600, cwd=ROOT / "tests" / "e2e")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def describe(values) -> str:
    values = sorted(values)
    return f"{statistics.median(values):.0f} / {values[-1]:.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exchanges", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nginx = Nginx(work)
        server = Server(work / "server", max_sessions=1, first_display=240).start()
        try:
            filled = time.monotonic()
            record, count = fill(server, nginx, args.exchanges)
            filled = time.monotonic() - filled
            api = api_timings(server, record, count, f"127.0.0.1:{nginx.http_port}", args.runs)
            page = dashboard_timings(server, record, args.runs)
        finally:
            server.stop()
            nginx.close()
    rows = [f"{count} exchanges recorded in {filled:.0f} s through the proxy; {args.runs} runs each, ms p50 / max.", "",
            "| view | API `GET …/exchanges?limit=50` | dashboard: route → rows on screen |", "|---|---|---|"]
    for name, values in api.items():
        shown = describe(page[name]) if name in page else "–"
        rows.append(f"| {name} | {describe(values)} | {shown} |")
    print(f"Command: .venv/bin/python bench/traffic_table.py --exchanges {args.exchanges} --runs {args.runs}")
    print(f"Machine: {machine()}; {time.strftime('%Y-%m-%d')}\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
