"""What an operator reads: an access line for every answered request (refusals included), no
colour escapes in a log file, JSON lines on request, and a ready banner with the base URLs."""

import json
import os
import subprocess
import time

import httpx

from conftest import API_KEY, BINARY, free_port, wait_until


def test_refused_requests_leave_an_access_line_and_the_log_file_has_no_colour(server):
    answer = httpx.get(f"{server.url}/v1/sessions?page=1", headers={"Authorization": "Bearer not-a-key"})
    assert answer.status_code == 401
    request_id = answer.headers["x-request-id"]

    def access_line():
        return [line for line in server.log().splitlines() if request_id in line and "status=401" in line]
    wait_until(access_line, 5, "the 401's access line")
    [line] = access_line()
    assert "method=GET" in line and "path=/v1/sessions" in line and "latency=" in line, line
    # The query string stays out of the log: it may carry a CDP token or a URL signature.
    assert "page=1" not in line
    assert "\x1b[" not in server.log()


def test_json_logs_are_one_object_per_line_and_the_ready_banner_names_the_base_urls(tmp_path):
    port, proxy_port = free_port(), free_port()
    env = {**os.environ, "TAPEDECK_API_KEY": API_KEY}
    proc = subprocess.Popen(
        [str(BINARY), "serve", "--log-format", "json", "--listen", f"127.0.0.1:{port}",
         "--proxy-listen", f"127.0.0.1:{proxy_port}", "--data-dir", str(tmp_path / "data"),
         "--first-display", "188", "--max-sessions", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        banner = []
        deadline = time.monotonic() + 60
        while not any("recording proxy" in line for line in banner):
            assert time.monotonic() < deadline and proc.poll() is None, banner
            banner.append(proc.stdout.readline())
        text = "".join(banner)
        assert f"KERNEL_BASE_URL=http://127.0.0.1:{port}/kernel" in text, text
        assert f"GBOX_CLIENT_BASE_URL=http://127.0.0.1:{port}/gbox" in text, text
        assert f"http://127.0.0.1:{proxy_port}" in text, text
        assert httpx.get(f"http://127.0.0.1:{port}/v1/nowhere",
                         headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 404
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=60)
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert any(line.get("fields", {}).get("status") == 404 for line in lines), stderr[-2000:]
