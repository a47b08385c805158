"""Security tests on the deliberately vulnerable app (tests/e2e/vulnerable_app.py), side by
side: Tapedeck's testing phase (a FAST test run with a policy), sqlmap on the SQLi endpoints,
and dalfox on the XSS endpoints. For each: the planted vulnerabilities found and missed, false
positives on the safe twins, the requests the app received, and the wall time.

Tapedeck's run records both sides of the endpoints through its proxy, stops, and is timed from
the stop to its final state; its requests include the three profiling replays of each baseline.
The anchors are run per endpoint, the way a user points them at one URL, and their requests
are counted by the app's own log."""

import datetime
import json
import shutil
import tempfile
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from common import Server, machine, rewrite_section
from vulnerable_app import PLANTED, VulnerableApp, endpoints

SQLMAP = "sqlmap"
DALFOX = shutil.which("dalfox") or str(Path.home() / ".cargo" / "bin" / "dalfox")
# Long enough for a full run at the policy's rate; the run's final state is polled.
RUN_TIMEOUT_S = 600
ANCHOR_TIMEOUT_S = 300


@dataclass
class Outcome:
    """What one tool did over a set of endpoints."""

    found: set = field(default_factory=set)
    false_positives: set = field(default_factory=set)
    requests: int = 0
    secs: float = 0.0


def tapedeck(work: Path, app: VulnerableApp, kinds: list, paths: list) -> Outcome:
    """A FAST test run over both sides of `paths` with `kinds` attacks, as fast as allowed."""
    server = Server(work / "security-server", max_sessions=1, first_display=244).start()
    try:
        policy = {"attack_types": kinds, "unsafe_methods": True, "rps": 1000}
        run = server.fast("POST", "/test_run", json={"name": "bench", "allowed_hosts": r"^127\.0\.0\.1$",
                                                      "policy": policy}).json()["body"]
        with httpx.Client(proxy=server.proxy_url, timeout=30) as client:
            for side in ("vuln", "safe"):
                for method, path, arguments in endpoints(app):
                    if path.format(side="vuln") in paths:
                        client.request(method, app.url + path.format(side=side), **arguments)
        before = len(app.requests)
        began = time.monotonic()
        server.fast("POST", f"/test_run/{run['id']}/action/stop")
        deadline = began + RUN_TIMEOUT_S
        while (body := server.fast("GET", f"/test_run/{run['id']}").json()["body"])["state"] == "running":
            if time.monotonic() > deadline:
                raise RuntimeError(f"test run still running after {RUN_TIMEOUT_S} s: {body}")
            time.sleep(0.2)
        outcome = Outcome(requests=len(app.requests) - before, secs=time.monotonic() - began)
        for vuln in body["vulns"]:
            planted = PLANTED.get(vuln["path"])
            if planted and planted == (vuln["type"], vuln["parameter"]):
                outcome.found.add(vuln["path"])
            else:
                outcome.false_positives.add((vuln["path"], vuln["type"], vuln["parameter"]))
        return outcome
    finally:
        server.stop()


def anchor(app: VulnerableApp, paths: list, command_for, proves) -> Outcome:
    """Runs `command_for(url, arguments)` on both sides of each of `paths`; `proves(stdout)`
    says whether the tool reported the endpoint vulnerable."""
    outcome = Outcome()
    for side in ("vuln", "safe"):
        for method, path, arguments in endpoints(app):
            path = path.format(side=side)
            if path.replace("/safe/", "/vuln/") not in paths:
                continue
            before = len(app.requests)
            began = time.monotonic()
            done = subprocess.run(command_for(app.url + path, method, arguments), capture_output=True,
                                  text=True, timeout=ANCHOR_TIMEOUT_S)
            outcome.secs += time.monotonic() - began
            outcome.requests += len(app.requests) - before
            if proves(done.stdout):
                (outcome.found if side == "vuln" else outcome.false_positives).add(path)
    return outcome


def sqlmap_command(work: Path):
    def command(url: str, method: str, arguments: dict) -> list:
        args = [SQLMAP, "--batch", "--level", "1", "--risk", "1", "--flush-session", "--disable-coloring",
                "--output-dir", str(work / "sqlmap")]
        if "params" in arguments:
            query = "&".join(f"{k}={v}" for k, v in arguments["params"].items())
            return args + ["-u", f"{url}?{query}"]
        if "data" in arguments:
            body = "&".join(f"{k}={v}" for k, v in arguments["data"].items())
            return args + ["-u", url, "--data", body]
        return args + ["-u", url, "--data", json.dumps(arguments["json"]), "--headers",
                       "Content-Type: application/json"]
    return command


def sqlmap_proves(stdout: str) -> bool:
    return "sqlmap identified the following injection point" in stdout


def dalfox_command(url: str, method: str, arguments: dict) -> list:
    query = "&".join(f"{k}={v}" for k, v in arguments["params"].items())
    return [DALFOX, "url", f"{url}?{query}", "--format", "json"]


def dalfox_proves(stdout: str) -> bool:
    # "V" is a verified finding (the payload parsed into an executable position); "R", a mere
    # reflection, is not proof.
    return any(f.get("type") == "V" for f in json.loads(stdout or "{}").get("findings", []))


def measure(work: Path, smoke: bool) -> dict:
    """{scenario: {tool: Outcome}}; in smoke mode, one endpoint per anchor and a small run."""
    sqli = ["/vuln/sqli/query"] if smoke else ["/vuln/sqli/query", "/vuln/sqli/form", "/vuln/sqli/json"]
    xss = ["/vuln/xss/text"] if smoke else ["/vuln/xss/text", "/vuln/xss/attr", "/vuln/xss/js"]
    results = {}
    with VulnerableApp() as app:
        results["SQLi endpoints"] = {
            "Tapedeck (sqli)": tapedeck(work, app, ["sqli"], sqli),
            "sqlmap --level 1 --risk 1": anchor(app, sqli, sqlmap_command(work), sqlmap_proves),
        }
        xss_tools = {"Tapedeck (xss)": tapedeck(work, app, ["xss"], xss)}
        if Path(DALFOX).exists():
            xss_tools["dalfox"] = anchor(app, xss, dalfox_command, dalfox_proves)
        results["XSS endpoints"] = xss_tools
        if not smoke:
            every_kind = sorted({kind for kind, _ in PLANTED.values()})
            results["every endpoint, every type"] = {
                "Tapedeck (all nine types)": tapedeck(work, app, every_kind, list(PLANTED))}
    return results


def planted_in(scenario: str) -> int:
    return {"SQLi endpoints": 3, "XSS endpoints": 3}.get(scenario, len(PLANTED))


def table(results: dict, smoke: bool) -> list:
    rows = ["Each endpoint has a safe twin of the same shape; a finding there is a false positive. "
            "Requests are what the app received (Tapedeck's include three profiling replays per "
            "baseline).", "",
            "| endpoints | tool | found | missed | false positives | requests | wall s |",
            "|---|---|---|---|---|---|---|"]
    for scenario, tools in results.items():
        planted = 1 if smoke and scenario != "every endpoint, every type" else planted_in(scenario)
        for tool, o in tools.items():
            rows.append(f"| {scenario} | {tool} | {len(o.found)} / {planted} | {planted - len(o.found)} | "
                        f"{len(o.false_positives)} | {o.requests} | {o.secs:.1f} |")
    return rows + [""]


def run(smoke: bool, write: bool) -> list:
    """Measures, prints the table and, when `write`, puts it in BENCHMARKS.md."""
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        rows = table(measure(Path(tmp), smoke), smoke)
    print("\n".join(rows))
    if write:
        sqlmap = subprocess.run([SQLMAP, "--version"], capture_output=True, text=True).stdout.strip()
        dalfox = subprocess.run([DALFOX, "--version"], capture_output=True, text=True).stdout.strip()
        header = (f"Command: `.venv/bin/python bench/run.py --security` (took {(time.monotonic() - began) / 60:.1f} min). "
                  f"Date: {datetime.date.today().isoformat()}.  \nMachine: {machine()}. sqlmap {sqlmap}, {dalfox}.\n")
        rewrite_section("security", header, "\n".join(rows))
    return rows
