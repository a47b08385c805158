#!/usr/bin/env python3
"""The fleet: three nodes on loopback, one private PostgreSQL and one s3s-fs bucket.

    .venv/bin/python bench/fleet.py [--runs 3] [--requests 500] [--losses 3] [--no-write]
    .venv/bin/python bench/fleet.py --smoke      # one short pass of everything

Every figure is set against an anchor measured in the same run:
1. a forwarded call: `GET /v1/sessions/{id}` sent to another node, against the owner directly;
2. the CDP relay across nodes (the `cdp_ws_url` sent to another node, spliced through the
   owner's relay) against the owner's own relay, with Chromium's DevTools port (no relay)
   beside them: small commands, and `Runtime.evaluate` answering 64 KiB one at a time and 16
   in flight;
3. node loss: kill -9 the node running a recording; seconds until a survivor answers
   `interrupted` for it (the heartbeat and loss thresholds are the anchor: 10 s of silence);
4. creates: 6 sent to one node of three with `--max-sessions 2` each (sequential, and 3 clients
   at once), against 2 creates on a node alone on its own database.
Unless --smoke or --no-write, it rewrites the fleet section of BENCHMARKS.md (between its
`bench:fleet` markers). About 5 minutes on 2 cores.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from websockets.sync.client import connect

from common import ROOT, Server, descendants, machine, pages_url, rewrite_section, summary
from conftest import API_KEY, free_port, wait_until
from test_scale_backends import BUCKET, CLUSTER_SECRET, S3, as_postgres_user, postgres_bin

BEARER = {"Authorization": f"Bearer {API_KEY}"}
BIG = 64 * 1024


class Postgres:
    """A throwaway cluster on a free port, as tests/e2e/test_scale_backends.py's fixture starts
    it: `database()` creates a fresh database and returns its URL."""

    def __init__(self):
        # Not under a root-private dir: the cluster runs as `postgres`.
        self.root = Path(tempfile.mkdtemp(prefix="tapedeck-bench-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = free_port()
        self.data = self.root / "data"
        self.names = iter(range(1000))
        subprocess.run(as_postgres_user([postgres_bin("initdb"), "-D", str(self.data), "-U", "tapedeck",
                                         "--auth=trust", "--no-sync"]), check=True, capture_output=True)
        subprocess.run(as_postgres_user([
            postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start", "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
        ]), check=True, capture_output=True)

    def database(self) -> str:
        name = f"tapedeck_{next(self.names)}"
        subprocess.run([postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "tapedeck", name],
                       check=True, capture_output=True)
        return f"postgres://tapedeck@127.0.0.1:{self.port}/{name}"

    def stop(self):
        subprocess.run(as_postgres_user([postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


class Fleet:
    """Nodes on one database and bucket, all from one copy of the release binary (so a rebuild
    during the run cannot mix builds)."""

    def __init__(self, work: Path, binary: Path, database_url: str, s3_env: dict):
        self.work, self.binary, self.database_url, self.s3_env = work, binary, database_url, s3_env
        self.nodes = []

    def start(self, name: str, first_display: int, max_sessions: int) -> Server:
        server = Server(self.work / name, first_display=first_display, env=self.s3_env, max_sessions=max_sessions,
                        extra_args=["--database-url", self.database_url, "--blob-url", f"s3://{BUCKET}",
                                    "--node-id", name, "--cluster-secret", CLUSTER_SECRET])
        server.args[0] = str(self.binary)
        self.nodes.append(server)
        return server.start()

    def health(self, via: Server) -> dict:
        return {n["id"]: n for n in via.native("GET", "/nodes").json()["items"]}

    def wait_live(self, via: Server, names, timeout: float = 30):
        wait_until(lambda: all(self.health(via).get(n, {}).get("health") == "live" for n in names),
                   timeout, f"{', '.join(names)} to be live")

    def stop(self):
        for server in self.nodes:
            server.stop()


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(v):
    return f"{v * 1000:.2f}"


# 1. A forwarded call.

def forwarded_latency(owner: Server, other: Server, session_id: str, requests: int):
    """Seconds per `GET /v1/sessions/{id}` to the owner and through `other`, interleaved one by
    one on two keep-alive clients, after 20 of each to warm up."""
    direct, across = [], []
    with httpx.Client(headers=BEARER, timeout=30) as c1, httpx.Client(headers=BEARER, timeout=30) as c2:
        for n in range(requests + 20):
            for client, server, out in ((c1, owner, direct), (c2, other, across)):
                began = time.perf_counter()
                answer = client.get(f"{server.url}/v1/sessions/{session_id}")
                took = time.perf_counter() - began
                if answer.status_code != 200:
                    raise RuntimeError(f"GET through {server.url}: {answer.status_code} {answer.text}")
                if n >= 20:
                    out.append(took)
    return direct, across


# 2. The CDP relay.

def through(url: str, server: Server) -> str:
    """A `cdp_ws_url` with its host:port replaced by `server`'s."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{server.url.split('://', 1)[1]}/{rest.split('/', 1)[1]}"


def cdp_rate(url: str, commands: int, expression: str, window: int):
    """(commands/s, MB/s of answers) for `commands` `Runtime.evaluate` calls on the page,
    `window` in flight at once, over one WebSocket to `url`."""
    with connect(url, open_timeout=30, max_size=2**24, compression=None) as ws:
        calls = iter(range(1, 10**9))

        def call(method, params=None, session=None):
            cid = next(calls)
            ws.send(json.dumps({"id": cid, "method": method, "params": params or {},
                                **({"sessionId": session} if session else {})}))
            while True:
                msg = json.loads(ws.recv(timeout=30))
                if msg.get("id") == cid:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return msg["result"]

        page = next(t for t in call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        session = call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
        params = {"expression": expression, "returnByValue": True}
        for _ in range(5):
            call("Runtime.evaluate", params, session)
        pending, sent, done, received = set(), 0, 0, 0
        began = time.perf_counter()
        while done < commands:
            while sent < commands and len(pending) < window:
                cid = next(calls)
                ws.send(json.dumps({"id": cid, "method": "Runtime.evaluate", "params": params, "sessionId": session}))
                pending.add(cid)
                sent += 1
            raw = ws.recv(timeout=30)
            msg = json.loads(raw)
            if msg.get("id") in pending:
                if "error" in msg:
                    raise RuntimeError(f"Runtime.evaluate: {msg['error']}")
                pending.discard(msg["id"])
                done += 1
                received += len(raw)
        took = time.perf_counter() - began
    return commands / took, received / took / 1e6


CDP_CASES = [  # (label, expression, window, commands at full size)
    ("`1+1`, one at a time", "1+1", 1, 1000),
    ("64 KiB answer, one at a time", f"'x'.repeat({BIG})", 1, 200),
    ("64 KiB answer, 16 in flight", f"'x'.repeat({BIG})", 16, 600),
]


def devtools_url(owner: Server) -> str:
    """The browser endpoint of Chromium's own DevTools port for the one session `owner` runs
    (its port is in the `chromium ready` log line), for the no-relay reference."""
    port = re.findall(r"chromium ready .*port=(\d+)", owner.log())[-1]
    return httpx.get(f"http://127.0.0.1:{port}/json/version", timeout=10).json()["webSocketDebuggerUrl"]


def cdp_relay(url: str, owner: Server, other: Server, runs: int, scale: float):
    """{label: {"direct": [(cmd/s, MB/s)], "across": [...], "chromium": [...]}}, the three
    paths alternating."""
    chromium = devtools_url(owner)
    paths = (("direct", through(url, owner)), ("across", through(url, other)), ("chromium", chromium))
    results = {label: {mode: [] for mode, _ in paths} for label, *_ in CDP_CASES}
    for _ in range(runs):
        for label, expression, window, commands in CDP_CASES:
            for mode, target in paths:
                results[label][mode].append(cdp_rate(target, max(20, int(commands * scale)), expression, window))
    return results


# 3. Node loss.

def node_loss(fleet: Fleet, survivor: Server, rep: int, record_secs: float):
    """Kill -9 a fresh node mid-recording; seconds until `survivor` answers `interrupted`, what
    it answered meanwhile, and the killed node's session processes still alive at the end."""
    name = f"node-x{rep}"
    victim = fleet.start(name, 450 + 5 * rep, 1)
    fleet.wait_live(survivor, [name])
    created = victim.native("POST", "/sessions", json={"start_url": f"{pages_url()}/busy.html",
                                                       "viewport": {"width": 1280, "height": 720}})
    created.raise_for_status()
    session = created.json()
    assert session["node"] == name, session
    recording = victim.native("POST", f"/sessions/{session['id']}/recordings", json={"framerate": 10})
    recording.raise_for_status()
    rid = recording.json()["id"]
    time.sleep(record_secs)
    below = [p for p in descendants(victim.proc.pid) if p != victim.proc.pid]
    killed = time.monotonic()
    victim.kill9()
    answers, final, phases = {}, None, []
    with httpx.Client(headers=BEARER, timeout=30) as client:
        while time.monotonic() - killed < 60:
            answer = client.get(f"{survivor.url}/v1/recordings/{rid}")
            answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
            said = (answer.json().get("state") if answer.status_code == 200
                    else answer.json().get("message", answer.text) if "json" in answer.headers.get("content-type", "")
                    else answer.text)
            # What the survivor said, each time it changed: (seconds after the kill, status, what).
            what = re.sub(r"\d+(\.\d+)? ?s\b", "N s", str(said))
            if not phases or phases[-1][1:] != (answer.status_code, what):
                phases.append((time.monotonic() - killed, answer.status_code, what))
            if answer.status_code == 200 and answer.json()["state"] == "interrupted":
                final = answer.json()
                break
            time.sleep(0.05)
    took = time.monotonic() - killed
    if final is None:
        raise RuntimeError(f"{name}'s recording {rid} not interrupted 60 s after the kill: answers {answers}\n"
                           f"survivor log tail:\n{survivor.log()[-4000:]}")
    time.sleep(1)
    alive = [p for p in below if Path(f"/proc/{p}").exists()]
    names = sorted({Path(f"/proc/{p}/comm").read_text().strip() for p in alive if Path(f"/proc/{p}/comm").exists()})
    for p in alive:  # the killed node's own children, by pid, so the next round starts clean
        try:
            os.kill(p, 9)
        except ProcessLookupError:
            pass
    return {"secs": took, "answers": answers, "phases": phases, "stop_reason": final["stop_reason"],
            "duration_ms": final.get("duration_ms"), "orphans": names, "recorded": record_secs}


# 4. Creates.

def create(server: Server):
    """(seconds, node it landed on, or the status and message of a refusal)."""
    began = time.perf_counter()
    answer = httpx.post(f"{server.url}/v1/sessions", json={}, headers=BEARER, timeout=90)
    took = time.perf_counter() - began
    if answer.status_code != 201:
        return took, None, f"{answer.status_code} {answer.text}"
    body = answer.json()
    return took, body["node"], body["id"]


def creates(server: Server, count: int, clients: int):
    """`count` creates sent to `server` by `clients` clients at once: (wall seconds, [(secs,
    node, id or refusal)])."""
    per = count // clients
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        batches = list(pool.map(lambda _: [create(server) for _ in range(per)], range(clients)))
    wall = time.perf_counter() - began
    return wall, [c for batch in batches for c in batch]


def clear(server: Server, made, fleet: Fleet, names):
    for _, node, sid in made:
        if node:
            answer = server.native("DELETE", f"/sessions/{sid}")
            assert answer.status_code == 204, answer.text
    # Placement reads the heartbeats' session counts: wait for every node to report none.
    wait_until(lambda: all(fleet.health(server)[n]["active_sessions"] == 0 for n in names), 30,
               "every node to report no session")


def create_rounds(fleet: Fleet, entry: Server, names, single: Server, runs: int):
    results = {"fleet, sequential": [], "fleet, 3 clients": [], "single, sequential": [], "single, 2 clients": []}
    for _ in range(runs):
        for label, server, count, clients, nodes in (
                ("single, sequential", single, 2, 1, ["single"]),
                ("fleet, sequential", entry, 6, 1, names),
                ("single, 2 clients", single, 2, 2, ["single"]),
                ("fleet, 3 clients", entry, 6, 3, names)):
            wall, made = creates(server, count, clients)
            results[label].append((wall, made))
            clear(server, made, fleet, nodes)
    return results


# Tables.

def table_forwarded(runs_data, requests):
    rows = [f"### F1. A forwarded call: `GET /v1/sessions/{{id}}` ({requests} sequential requests each, "
            f"interleaved, keep-alive, {len(runs_data)} runs)", "",
            "| sent to | p50 ms | p99 ms | added p50 ms | added p99 ms | ÷ owner (p50) |", "|---|---|---|---|---|---|"]
    d50 = [pct(d, 0.5) for d, _ in runs_data]
    d99 = [pct(d, 0.99) for d, _ in runs_data]
    a50 = [pct(a, 0.5) for _, a in runs_data]
    a99 = [pct(a, 0.99) for _, a in runs_data]
    rows.append(f"| the owner (node-a), direct | {summary(d50, ms)} | {summary(d99, ms)} | 0 | 0 | 1.00× |")
    rows.append(f"| node-b, forwarded to node-a | {summary(a50, ms)} | {summary(a99, ms)} "
                f"| {summary([a - d for a, d in zip(a50, d50)], ms)} | {summary([a - d for a, d in zip(a99, d99)], ms)} "
                f"| {statistics.median(a / d for a, d in zip(a50, d50)):.2f}× |")
    return rows + [""]


def table_cdp(results, runs):
    rows = [f"### F2. CDP through the relay: the owner's `cdp_ws_url` direct, and sent to another node "
            f"({runs} runs, alternating)", "",
            "| commands (`Runtime.evaluate` on the page) | path | commands/s | MB/s of answers | ÷ anchor (commands/s) |",
            "|---|---|---|---|---|"]
    for label, modes in results.items():
        direct = statistics.median(c for c, _ in modes["direct"])
        for mode, what in (("direct", "node-a's relay (anchor)"), ("across", "node-b → node-a's relay"),
                           ("chromium", "Chromium's DevTools port, no relay")):
            samples = modes[mode]
            rate = statistics.median(c for c, _ in samples)
            rows.append(f"| {label} | {what} | {summary([c for c, _ in samples], lambda v: f'{v:.0f}')} "
                        f"| {summary([m for _, m in samples], lambda v: f'{v:.1f}')} | {rate / direct:.2f}× |")
    return rows + [""]


def short(what: str) -> str:
    """A survivor's answer in a few words."""
    if "did not answer" in what:
        return "(owner did not answer)"
    if "no heartbeat" in what:
        return "(no heartbeat)"
    return f"`{what}`" if len(what) < 20 else f"({what[:60]}…)"


def table_loss(losses):
    secs = [l["secs"] for l in losses]
    rows = [f"### F3. Node loss: kill -9 mid-recording → a survivor answers `interrupted` ({len(losses)} runs)", "",
            "| run | seconds after the kill | the survivor's answers as they changed (polled every 50 ms) | stop_reason | video kept, s (of recorded) "
            "| ÷ 10 s silence threshold |", "|---|---|---|---|---|---|"]
    for n, l in enumerate(losses, 1):
        said = "; ".join(f"{t:.1f} s: {code} {short(what)}" for t, code, what in l["phases"])
        kept = f"{l['duration_ms'] / 1000:.1f} ({l['recorded']:g})" if l["duration_ms"] is not None else "—"
        rows.append(f"| {n} | {l['secs']:.1f} | {said} | {l['stop_reason']} | {kept} | {l['secs'] / 10:.2f}× |")
    rows.append(f"| min / median | {min(secs):.1f} / {statistics.median(secs):.1f} | | | | |")
    orphans = sorted({o for l in losses for o in l["orphans"]})
    return rows + ["", f"Processes of the killed node still running 1 s after takeover: "
                       f"{', '.join(orphans) if orphans else 'none'}.", ""]


def table_creates(results, runs):
    rows = [f"### F4. Creates (`POST /v1/sessions`, `--max-sessions 2` per node, {runs} runs)", "",
            "| sent | creates per run | wall s | creates/s (answered 201) | per create p50 / max, s | landed on, all runs | ÷ single node (creates/s) |",
            "|---|---|---|---|---|---|---|"]
    def ok(batch):
        return sum(1 for c in batch if c[1])
    anchor = {"sequential": statistics.median(ok(b) / w for w, b in results["single, sequential"]),
              "clients": statistics.median(ok(b) / w for w, b in results["single, 2 clients"])}
    for label, samples in results.items():
        made = [c for _, batch in samples for c in batch]
        refused = [c[2] for c in made if c[1] is None]
        landed = {}
        for c in made:
            landed[c[1] or "refused"] = landed.get(c[1] or "refused", 0) + 1
        rate = statistics.median(ok(batch) / w for w, batch in samples)
        base = anchor["sequential" if "sequential" in label else "clients"]
        where = ", ".join(f"{node} {count}" for node, count in sorted(landed.items())) + f" (of {len(made)})"
        what = ("node-a of three" if label.startswith("fleet") else "a node alone") + "," + label.split(",", 1)[1]
        rows.append(f"| {what} | {len(samples[0][1])} | {summary([w for w, _ in samples], lambda v: f'{v:.2f}')} "
                    f"| {summary([ok(b) / w for w, b in samples], lambda v: f'{v:.2f}')} "
                    f"| {statistics.median(c[0] for c in made):.2f} / {max(c[0] for c in made):.2f} "
                    f"| {where} | {rate / base:.2f}× |")
        if refused:
            rows.append(f"| ↳ refused (all runs) | {len(refused)} | | | | {refused[0][:120]} | |")
    # The per-create latency by where it landed, fleet sequential.
    local, placed = [], []
    for _, batch in results["fleet, sequential"]:
        for took, node, _ in batch:
            if node:
                (local if node == "node-a" else placed).append(took)
    if local and placed:
        rows += ["", f"Fleet, sequential, per create by where it landed: on node-a (the node asked) p50 "
                     f"{statistics.median(local):.2f} s, placed on another node p50 {statistics.median(placed):.2f} s "
                     f"({statistics.median(placed) / statistics.median(local):.2f}×)."]
    return rows + [""]


def write_section(text: str, args, minutes: float, build: str, loads: str):
    header = (f"Command: `.venv/bin/python bench/fleet.py --runs {args.runs} --requests {args.requests} "
              f"--losses {args.losses}` (took {minutes:.1f} min). Date: {datetime.date.today().isoformat()}. "
              f"Build: {build}.  \nMachine: {machine()}.  \n"
              f"1-minute load average after each part: {loads}.  \n"
              f"Ranges are median (min–max) over runs unless the row says otherwise.\n")
    rewrite_section("fleet", header, text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of F1, F2 and F4")
    parser.add_argument("--requests", type=int, default=500, help="GETs per path and run in F1")
    parser.add_argument("--losses", type=int, default=3, help="kills in F3")
    parser.add_argument("--smoke", action="store_true", help="one short pass")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (node logs) afterwards")
    args = parser.parse_args()
    scale = 1.0
    if args.smoke:
        args.runs, args.requests, args.losses, scale = 1, 50, 1, 0.1
    begun = time.monotonic()

    loads = []

    def say(what):
        # The 1-minute load average after each part: other work on the machine shows there.
        loads.append(f"{what.split()[0]} {Path('/proc/loadavg').read_text().split()[0]}")
        print(f"[{time.monotonic() - begun:4.0f} s] {what} (load {loads[-1].split()[-1]})", flush=True)

    work = Path(tempfile.mkdtemp(prefix="tapedeck-bench-fleet-"))
    binary = work / "tapedeck"
    shutil.copy2(ROOT / "target" / "release" / "tapedeck", binary)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    built = datetime.datetime.fromtimestamp(binary.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    build = f"target/release/tapedeck built {built} UTC (HEAD {head})"
    (work / "s3").mkdir()
    s3 = S3(work / "s3")
    pg = fleet = single_fleet = None
    out = []
    try:
        pg = Postgres()
        s3.start()
        fleet = Fleet(work, binary, pg.database(), s3.env)
        names = ["node-a", "node-b", "node-c"]
        a, b, c = (fleet.start(n, d, 2) for n, d in zip(names, (410, 420, 430)))
        fleet.wait_live(a, names)
        say("three nodes live")

        session = a.native("POST", "/sessions", json={"viewport": {"width": 1280, "height": 720}}).json()
        assert session["node"] == "node-a", session
        forwarded_before = b.metric("tapedeck_forwarded_requests_total")
        latency = [forwarded_latency(a, b, session["id"], args.requests) for _ in range(args.runs)]
        forwarded = b.metric("tapedeck_forwarded_requests_total") - forwarded_before
        say(f"F1 forwarded calls ({forwarded:.0f} counted by node-b)")
        cdp = cdp_relay(session["cdp_ws_url"], a, b, args.runs, scale)
        say("F2 CDP relay")
        a.native("DELETE", f"/sessions/{session['id']}").raise_for_status()

        single_fleet = Fleet(work, binary, pg.database(), s3.env)
        single = single_fleet.start("single", 440, 2)
        made = create_rounds(fleet, a, names, single, args.runs)
        say("F4 creates")
        single_fleet.stop()

        losses = []
        for rep in range(args.losses):
            losses.append(node_loss(fleet, a, rep, 2 if args.smoke else 4))
            say(f"F3 node loss {rep + 1}: {losses[-1]['secs']:.1f} s")
            for t, code, what in losses[-1]["phases"]:
                print(f"       from {t:5.2f} s: {code} {what}", flush=True)
    finally:
        for f in (fleet, single_fleet):
            if f:
                f.stop()
        if s3.proc and s3.proc.poll() is None:
            s3.stop()
        if pg:
            pg.stop()
        if args.keep or args.smoke:
            print(f"node logs kept under {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    minutes = (time.monotonic() - begun) / 60
    out += table_forwarded(latency, args.requests)
    out += table_cdp(cdp, args.runs)
    out += table_loss(losses)
    out += table_creates(made, args.runs)
    text = "\n".join(out)
    print(text)
    if not (args.smoke or args.no_write):
        write_section(text, args, minutes, build, ", ".join(loads[1:]))


if __name__ == "__main__":
    main()
