#!/usr/bin/env python3
"""Recording-proxy benchmark: throughput and added latency, direct against proxied.

    .venv/bin/python bench/proxy.py [--requests N] [--clients C] [--runs R] [--smoke]

One local upstream (a threaded Python HTTP server answering 1 KiB of JSON) and one load
generator (C threads, each with a keep-alive httpx client) are used for every mode in the same
run: direct to the upstream, through Tapedeck's proxy with no run recording, and through the
proxy while a FAST test run records every request. Prints a Markdown table: requests per second
and p50/p99 latency (median of --runs runs, min–max beside it), and p50/p99 added over direct.
"""

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx

from common import QuietServer, Server, summary

PAYLOAD = b'{"data":"' + b"x" * 1000 + b'"}'


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.runs = 400, 1

    httpd = QuietServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/item"

    results = {"direct": [], "proxy, not recording": [], "proxy, recording": []}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp)).start()
        try:
            for _ in range(args.runs):
                results["direct"].append(load(url, None, args.requests, args.clients))
                results["proxy, not recording"].append(load(url, server.proxy_url, args.requests, args.clients))
                run = server.fast("POST", "/test_run", json={"name": "bench"}).json()["body"]
                results["proxy, recording"].append(load(url, server.proxy_url, args.requests, args.clients))
                stopped = server.fast("POST", f"/test_run/{run['id']}/action/stop").json()["body"]
                assert stopped["baseline_count"] == args.requests // args.clients * args.clients, stopped
        finally:
            server.stop()
            httpd.shutdown()

    direct_p50 = statistics.median(pct(l, 0.5) for _, l in results["direct"])
    direct_p99 = statistics.median(pct(l, 0.99) for _, l in results["direct"])
    print(f"| mode ({args.requests} GETs, {args.clients} clients, {args.runs} runs: median (min–max)) "
          "| req/s | p50 ms | p99 ms | added p50 ms | added p99 ms |")
    print("|---|---|---|---|---|---|")
    for mode, runs in results.items():
        p50 = [pct(l, 0.5) for _, l in runs]
        p99 = [pct(l, 0.99) for _, l in runs]
        print(f"| {mode} | {summary([r for r, _ in runs], lambda v: f'{v:.0f}')} | {summary(p50, lambda v: f'{v:.1f}')} | {summary(p99, lambda v: f'{v:.1f}')} "
              f"| {statistics.median(p50) - direct_p50:.1f} | {statistics.median(p99) - direct_p99:.1f} |")


if __name__ == "__main__":
    main()
