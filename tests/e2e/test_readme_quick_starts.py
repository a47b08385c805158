"""The README's quick starts, run as written: its demo page, the Kernel, GBOX and FAST flows,
one after another against a fresh server. A README that drifts from the product fails here.

The shell blocks run in one bash script, and each Python block runs in it with this suite's
virtualenv, so the exports carry over as they would in a reader's terminal. Only what differs
on a test machine is changed: the server's ports, the demo page's port, and the `python3 -m
venv` / `pip install` lines (the suite's virtualenv already has the packages, and the versions
the README pins are checked against it instead)."""

import json
import re
import subprocess
from pathlib import Path

import httpx

from conftest import API_KEY, ROOT, Server, ffprobe, free_port, wait_until

README = ROOT / "README.md"
SECTIONS = ["A page to record", "Quick start with the Kernel SDK", "Quick start with the GBOX SDK",
            "Quick start with FAST-style traffic recording"]
BLOCK = re.compile(r"```(sh|python)\n(.*?)```", re.S)


def section_blocks(text: str, title: str) -> list:
    """The (language, code) blocks under the `## title` heading, in order."""
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return BLOCK.findall(text[start:end if end > 0 else len(text)])


def pinned_installs(blocks) -> list:
    """The `name==version` pins of every `pip install` line."""
    return [pin for lang, code in blocks if lang == "sh" for line in code.splitlines()
            if line.strip().startswith("pip install") for pin in line.split() if "==" in pin]


def as_script(blocks, python: str) -> str:
    lines = []
    for lang, code in blocks:
        if lang == "python":
            lines += [f"{python} - <<'PYTHON'", code.rstrip(), "PYTHON"]
            continue
        lines += [line for line in code.splitlines()
                  if not line.startswith(("python3 -m venv", "pip install"))]
    return "\n".join(lines)


def test_the_readme_quick_starts_run_as_written_and_record_a_replay_a_box_and_a_har(tmp_path):
    text = README.read_text()
    blocks = [b for title in SECTIONS for b in section_blocks(text, title)]
    assert any(lang == "python" for lang, _ in blocks) and any("curl" in code for _, code in blocks)
    requirements = (ROOT / "tests/e2e/requirements.txt").read_text().split()
    pins = pinned_installs(blocks)
    assert pins and all(pin in requirements for pin in pins), (pins, "not what the suite installs")

    server = Server(tmp_path / "readme", first_display=186).start()
    work = tmp_path / "reader"
    (work / "tapedeck-data").mkdir(parents=True)
    (work / "tapedeck-data" / "api-key").write_text(API_KEY)
    demo_port = free_port()
    script = as_script(blocks, str(ROOT / ".venv/bin/python"))
    script = (script.replace("127.0.0.1:7600", server.url.removeprefix("http://"))
              .replace("127.0.0.1:7601", server.proxy_url.removeprefix("http://")))
    script = re.sub(r"\b8000\b", str(demo_port), script)
    (work / "quick-starts.sh").write_text("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n"
                                          + script + "\n")
    try:
        done = subprocess.run(["bash", "quick-starts.sh"], cwd=work, capture_output=True, text=True,
                              timeout=240)
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-5000:])

        # A recorded replay, a recorded box, and a HAR with the demo page in it.
        for video in ("replay.mp4", "box.mp4"):
            probe = ffprobe(work / video)
            assert probe["codec"] == "h264" and probe["duration"] >= 0.5, (video, probe)
        har = json.loads((work / "record.har").read_text())
        entries = har["log"]["entries"]
        assert [e["request"]["url"] for e in entries] == [f"http://127.0.0.1:{demo_port}/"], entries
        assert "<button>Login</button>" in entries[0]["response"]["content"]["text"]
        # The copy tested the recorded baseline against the demo page and passed; the first
        # run was testing too, unless the copy (a new run of the project) interrupted it first.
        token = {"X-WallarmAPI-Token": API_KEY}

        def run(run_id):
            return httpx.get(f"{server.url}/fast/v1/test_run/{run_id}", headers=token).json()["body"]
        for run_id, ends in ((1, ("passed", "interrupted")), (2, ("passed",))):
            wait_until(lambda: run(run_id)["state"] != "running", 30, f"run {run_id} to finish testing")
            assert run(run_id)["state"] in ends and run(run_id)["problem"] is None, run(run_id)
        assert run(2)["baseline_check_passed_count"] == 1, run(2)
        # Nothing is left running: every flow cleaned up after itself.
        assert server.native("GET", "/sessions").json()["items"] == []
    finally:
        server.stop()
