"""Peak memory of exporting a large test record: 50,000 baselines recorded through the proxy
(wrk at full speed against a local app), then the HAR export and the record view downloaded
while the server's resident memory is sampled every 20 ms.

    .venv/bin/python bench/export_memory.py [--baselines 50000] [--anchor OTHER_TAPEDECK]

Prints a Markdown table for BENCHMARKS.md: the server's RSS before the export, its peak while
exporting, and the export's size. The target (issue 11) is a peak under 200 MiB. `--anchor`
runs the same with another build (the one before exports streamed, which built each export
whole in memory) on the same record."""

import argparse
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from common import QuietServer, Server, machine
from conftest import API_KEY
from proxy import Upstream


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def download_while_sampling(server, url: str) -> tuple:
    """(peak RSS in MiB while `url` downloads, bytes downloaded)."""
    peak, done = [0.0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(server.proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    size = 0
    with httpx.stream("GET", url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            size += len(chunk)
    done.set()
    sampler.join()
    return peak[0], size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--baselines", type=int, default=50_000)
    parser.add_argument("--anchor", help="another tapedeck binary to export the same record with")
    args = parser.parse_args()
    httpd = QuietServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    app = f"http://127.0.0.1:{httpd.server_address[1]}/item"
    with tempfile.TemporaryDirectory() as work:
        server = Server(Path(work)).start()
        try:
            run = server.fast("POST", "/test_run", json={"name": "export"}).json()["body"]
            script = Path(work) / "abs.lua"
            script.write_text(f'wrk.path = "{app}"\n')
            recorded = 0
            while recorded < args.baselines:
                subprocess.run(["wrk", "-t2", "-c32", "-d5s", "-s", str(script), server.proxy_url],
                               check=True, capture_output=True)
                recorded = server.fast("GET", f"/test_run/{run['id']}").json()["body"]["baseline_count"]
            stopped = server.fast("POST", f"/test_run/{run['id']}/action/stop").json()["body"]
            # Interrupt the replay of tens of thousands of baselines; only the export is measured.
            server.fast("POST", "/test_run", json={"name": "idle"})
        finally:
            server.stop()
        rows = []
        builds = [("Tapedeck", None)] + ([("anchor: " + Path(args.anchor).name, args.anchor)] if args.anchor else [])
        for build, binary in builds:
            server = Server(Path(work))
            if binary:
                server.args[0] = binary
            server.start()
            try:
                record = stopped["test_record_id"]
                time.sleep(2)
                before = rss_mib(server.proc.pid)
                for what, path in [("HAR export", f"/test-records/{record}/har"),
                                   ("record view", f"/test-records/{record}")]:
                    peak, size = download_while_sampling(server, f"{server.url}/v1{path}")
                    rows.append(f"| {build} | {what} | {stopped['baseline_count']} | {size / 2**20:.1f} | "
                                f"{before:.0f} | {peak:.0f} | {'yes' if peak < 200 else 'no'} |")
            finally:
                server.stop()
    print(f"Machine: {machine()}\n")
    print("| build | export | baselines | MiB exported | server RSS before, MiB | peak RSS exporting, MiB | under 200 MiB |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
