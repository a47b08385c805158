"""FAST's recording flow: a test run records proxied HTTP(S) traffic as baselines, stops,
copies, replays against the target, and exports HAR."""

import gzip
import json
import ssl
import subprocess
import threading
import time
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from conftest import QuietServer, Server, free_port, node, wait_until


class App:
    """A local target application over HTTP and HTTPS whose answers can be changed."""

    version = "v1"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle plus delayed ACKs add 40 ms.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def answer(self, body: bytes = b""):
            payload = json.dumps({"method": self.command, "path": self.path,
                                  "body": body.decode(errors="replace"), "version": App.version,
                                  "authorization": self.headers.get("Authorization")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if self.path.startswith("/login"):
                self.send_header("Set-Cookie", "session=s3ss10n; HttpOnly")
            if self.path.startswith("/cookies"):
                self.send_header("Set-Cookie", "theme=dark; Path=/app; Domain=shop.test; Max-Age=3600; Secure")
                self.send_header("Set-Cookie", "token=t0k3n; Expires=Wed, 21 Oct 2037 07:28:00 GMT; HttpOnly")
            if self.path.startswith("/gzip"):
                payload = gzip.compress(payload * 20)
                self.send_header("Content-Encoding", "gzip")
            if self.path.startswith("/zstd"):
                payload = subprocess.run(["zstd", "-c", "-q"], input=payload * 20, capture_output=True,
                                         check=True).stdout
                self.send_header("Content-Encoding", "zstd")
            if self.path.startswith("/squeezed"):
                payload = b"\x00\x01 compressed with a coding nobody decodes"
                self.send_header("Content-Encoding", "x-squeeze")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self.answer()

        def do_POST(self):
            self.answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def __init__(self, tls_dir=None):
        self.httpd = QuietServer(("127.0.0.1", 0), App.Handler)
        if tls_dir:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls_dir / "app.pem", tls_dir / "app.key")
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory):
    """A private CA (trusted by the proxy via --upstream-ca-file) and a localhost leaf it signs."""
    d = tmp_path_factory.mktemp("tls")

    def openssl(*args, stdin=None):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d, input=stdin)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=e2e test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "app.key", "-out", "app.csr")
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "app.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "app.pem")
    return d


@pytest.fixture(scope="module")
def fast(tmp_path_factory, tls_dir):
    """A server whose proxy trusts the local HTTPS app, and whose browsers use the proxy."""
    server = Server(tmp_path_factory.mktemp("fast"), first_display=150,
                    extra_args=["--upstream-ca-file", str(tls_dir / "ca.pem"), "--browsers-through-proxy"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def apps(tls_dir):
    plain, secure = App(), App(tls_dir)
    yield plain, secure
    plain.stop()
    secure.stop()


@pytest.fixture(autouse=True)
def app_version():
    App.version = "v1"


def create_run(fast, **fields):
    response = fast.fast("POST", "/test_run", json={"name": "run", **fields})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == 200 and body["body"]["state"] == "running"
    return body["body"]


def stop_run(fast, run_id):
    response = fast.fast("POST", f"/test_run/{run_id}/action/stop")
    assert response.status_code == 200, response.text
    return response.json()["body"]


def wait_final(fast, run_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = fast.fast("GET", f"/test_run/{run_id}").json()["body"]
        if run["state"] in ("passed", "failed", "interrupted"):
            return run
        time.sleep(0.3)
    raise AssertionError(f"test run {run_id} did not finish: {run}")


def har(fast, record_id, **params):
    response = fast.native("GET", f"/test-records/{record_id}/har", params=params)
    assert response.status_code == 200
    return response.json()["log"]


def proxied(fast, **kwargs):
    return httpx.Client(proxy=fast.proxy_url, timeout=30, **kwargs)


def test_fast_records_http_and_https_and_stops_recording(fast, apps):
    plain, secure = apps
    ca_der = httpx.get("http://wallarm.get/cert.der", proxy=fast.proxy_url).content
    assert ca_der == fast.native("GET", "/proxy/ca.der").content and ca_der[:1] == b"\x30"
    context = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(ca_der))

    run = create_run(fast)
    with proxied(fast, verify=context) as client:
        got = client.get(f"http://127.0.0.1:{plain.port}/items?page=2")
        posted = client.post(f"http://127.0.0.1:{plain.port}/items", content=b'{"name":"tape"}',
                             headers={"Content-Type": "application/json"})
        secure_got = client.get(f"https://localhost:{secure.port}/secure")
    assert got.json()["path"] == "/items?page=2" and posted.json()["body"] == '{"name":"tape"}'
    assert secure_got.json()["path"] == "/secure"

    stopped = stop_run(fast, run["id"])
    assert stopped["recording"] is False and stopped["test_record_id"] == run["test_record_id"]
    assert stopped["baseline_count"] == 3
    with proxied(fast) as client:
        assert client.get(f"http://127.0.0.1:{plain.port}/after-stop").status_code == 200

    log = har(fast, run["test_record_id"])
    assert log["version"] == "1.2"
    entries = log["entries"]
    assert [(e["request"]["method"], e["request"]["url"]) for e in entries] == [
        ("GET", f"http://127.0.0.1:{plain.port}/items?page=2"),
        ("POST", f"http://127.0.0.1:{plain.port}/items"),
        ("GET", f"https://localhost:{secure.port}/secure"),
    ]
    assert entries[0]["request"]["queryString"] == [{"name": "page", "value": "2"}]
    assert entries[1]["request"]["postData"] == {"mimeType": "application/json", "text": '{"name":"tape"}'}
    assert json.loads(entries[1]["response"]["content"]["text"])["body"] == '{"name":"tape"}'
    assert json.loads(entries[2]["response"]["content"]["text"])["path"] == "/secure"
    assert all(e["response"]["status"] == 200 and e["time"] >= 0 for e in entries)
    assert wait_final(fast, run["id"])["state"] == "passed"


def test_fast_records_a_browsers_page_and_subresources(fast, pages):
    run = create_run(fast)
    session = fast.native("POST", "/sessions", json={"start_url": f"{pages}/subresources.html",
                                                     "viewport": {"width": 800, "height": 600}})
    assert session.status_code == 201, session.text
    wanted = {f"{pages}{path}" for path in ("/subresources.html", "/style.css", "/app.js", "/pixel.png")}

    def recorded_urls():
        return {e["request"]["url"] for e in har(fast, run["test_record_id"])["entries"]}

    wait_until(lambda: wanted <= recorded_urls(), 30, "the page and its subresources as baselines")
    stop_run(fast, run["id"])
    fast.native("DELETE", f"/sessions/{session.json()['id']}")
    assert wanted <= recorded_urls()


def test_fast_a_browser_through_the_proxy_brings_only_its_pages_traffic(fast, pages):
    """Chromium's own calls home (account listing, component updates, network time) never
    reach the proxy: a run that records every host holds only what the page asked for."""
    log_start = len(fast.log())
    run = create_run(fast, allowed_hosts="*")
    session = fast.native("POST", "/sessions", json={"start_url": f"{pages}/subresources.html"})
    assert session.status_code == 201, session.text
    wait_until(lambda: len(har(fast, run["test_record_id"])["entries"]) >= 4, 30, "the page as baselines")
    # The browser makes those calls in its first seconds, and retries at about 1, 4 and 11 s.
    time.sleep(12)
    stop_run(fast, run["id"])
    fast.native("DELETE", f"/sessions/{session.json()['id']}")
    hosts = {e["request"]["url"].split("/")[2] for e in har(fast, run["test_record_id"])["entries"]}
    assert hosts == {pages.split("/")[2]}, hosts
    proxy_lines = [line for line in fast.log()[log_start:].splitlines() if "proxy{" in line]
    assert not [line for line in proxy_lines if "google" in line], proxy_lines[:3]


def test_fast_har_holds_decoded_bodies_of_compressed_responses(fast, apps):
    plain, _ = apps
    run = create_run(fast)
    with proxied(fast) as client:
        # httpx decodes gzip itself; the proxy passes the compressed bytes through unchanged.
        answer = client.get(f"http://127.0.0.1:{plain.port}/gzip-me")
    assert answer.headers["content-encoding"] == "gzip" and answer.text.count('"/gzip-me"') == 20
    stop_run(fast, run["id"])
    [entry] = har(fast, run["test_record_id"])["entries"]
    content = entry["response"]["content"]
    assert "encoding" not in content and content["text"] == answer.text
    assert content["size"] == len(answer.content) > entry["response"]["bodySize"]
    assert content["compression"] == content["size"] - entry["response"]["bodySize"]


def test_fast_har_decodes_zstd_and_marks_a_body_it_cannot_decode(fast, apps):
    """Chromium asks for zstd; a page served that way is exported as the page, and a coding
    Tapedeck does not know is named on the entry instead of passing for the page."""
    plain, _ = apps
    run = create_run(fast)
    with proxied(fast) as client:
        zstd = client.get(f"http://127.0.0.1:{plain.port}/zstd-me", headers={"Accept-Encoding": "zstd"})
        squeezed = client.get(f"http://127.0.0.1:{plain.port}/squeezed", headers={"Accept-Encoding": "x-squeeze"})
    assert zstd.headers["content-encoding"] == "zstd" and squeezed.status_code == 200
    stop_run(fast, run["id"])
    entries = {e["request"]["url"].rsplit("/", 1)[1]: e for e in har(fast, run["test_record_id"])["entries"]}
    content = entries["zstd-me"]["response"]["content"]
    assert content["text"].count('"/zstd-me"') == 20 and "encoding" not in content, content
    assert content["size"] > entries["zstd-me"]["response"]["bodySize"]
    assert "_undecodedContentEncoding" not in content
    unknown = entries["squeezed"]["response"]["content"]
    assert unknown["_undecodedContentEncoding"] == "x-squeeze", unknown
    assert "compression" not in unknown and unknown["size"] == entries["squeezed"]["response"]["bodySize"]


def test_fast_exports_redact_credentials_which_replays_still_send(fast, apps):
    plain, _ = apps
    run = create_run(fast)
    with proxied(fast) as client:
        answer = client.get(f"http://127.0.0.1:{plain.port}/login",
                            headers={"Authorization": "Bearer t0ken", "Cookie": "sid=c00kie"})
    assert answer.json()["authorization"] == "Bearer t0ken" and answer.cookies["session"] == "s3ss10n"
    stop_run(fast, run["id"])

    def headers(entry, side):
        return {h["name"].lower(): h["value"] for h in entry[side]["headers"]}

    shared = har(fast, run["test_record_id"])
    [entry] = shared["entries"]
    assert headers(entry, "request")["authorization"] == "[redacted]"
    assert headers(entry, "request")["cookie"] == "[redacted]"
    assert headers(entry, "response")["set-cookie"] == "[redacted]"
    # Headers only: this app echoes the Authorization header in its body, and bodies are kept.
    all_headers = json.dumps([entry["request"]["headers"], entry["response"]["headers"]])
    assert not any(secret in all_headers for secret in ("t0ken", "c00kie", "s3ss10n"))
    record = fast.native("GET", f"/test-records/{run['test_record_id']}").json()
    assert headers(record["baselines"][0], "request")["authorization"] == "[redacted]"

    [entry] = har(fast, run["test_record_id"], redact="false")["entries"]
    assert headers(entry, "request")["authorization"] == "Bearer t0ken"
    assert headers(entry, "response")["set-cookie"] == "session=s3ss10n; HttpOnly"
    refused = fast.native("GET", f"/test-records/{run['test_record_id']}/har", params={"redact": "perhaps"})
    assert refused.status_code == 400 and "redact" in refused.json()["message"]

    # The stored baseline kept the header: the replay sends it, and the echoed body matches.
    copy = fast.fast("POST", "/test_run", json={"name": "replay", "test_record_id": run["test_record_id"]})
    assert wait_final(fast, copy.json()["body"]["id"])["state"] == "passed"


def test_fast_har_lists_typed_cookies_with_their_values_redacted(fast, apps):
    """HAR `cookies`: each pair of the request's `Cookie` header, and each `Set-Cookie` with its
    attributes; values are redacted like the headers they came from unless asked otherwise."""
    plain, _ = apps
    run = create_run(fast)
    with proxied(fast) as client:
        client.get(f"http://127.0.0.1:{plain.port}/cookies", headers={"Cookie": "sid=c00kie; lang=en"})
    stop_run(fast, run["id"])

    [entry] = har(fast, run["test_record_id"], redact="false")["entries"]
    assert entry["request"]["cookies"] == [{"name": "sid", "value": "c00kie"}, {"name": "lang", "value": "en"}]
    theme, token = entry["response"]["cookies"]
    assert theme["name"] == "theme" and theme["value"] == "dark" and theme["path"] == "/app"
    assert theme["domain"] == "shop.test" and theme["secure"] is True and "httpOnly" not in theme
    # Max-Age counts from the request: an hour after it started.
    started = entry["startedDateTime"][:13]
    assert theme["expires"][:4] == started[:4] and theme["expires"] > entry["startedDateTime"]
    assert token == {"name": "token", "value": "t0k3n", "expires": "2037-10-21T07:28:00Z", "httpOnly": True}

    [shared] = har(fast, run["test_record_id"])["entries"]
    assert {c["value"] for c in shared["request"]["cookies"] + shared["response"]["cookies"]} == {"[redacted]"}
    assert "c00kie" not in json.dumps(shared) and "t0k3n" not in json.dumps(shared)


def test_fast_allowed_hosts_pass_other_hosts_through_unrecorded(fast, apps):
    plain, _ = apps
    run = create_run(fast, allowed_hosts="localhost")
    with proxied(fast) as client:
        assert client.get(f"http://127.0.0.1:{plain.port}/not-recorded").json()["path"] == "/not-recorded"
        assert client.get(f"http://localhost:{plain.port}/recorded").status_code == 200
    stop_run(fast, run["id"])
    urls = [e["request"]["url"] for e in har(fast, run["test_record_id"])["entries"]]
    assert urls == [f"http://localhost:{plain.port}/recorded"]


def test_fast_copy_rules(fast, apps):
    plain, _ = apps
    recording = create_run(fast)
    with proxied(fast) as client:
        client.get(f"http://127.0.0.1:{plain.port}/copy-me")
    refused = fast.fast("POST", "/test_run", json={"name": "copy", "test_record_id": recording["test_record_id"]})
    assert refused.status_code == 400
    record = recording["test_record_id"]
    assert refused.json() == {"status": 400, "body": {"test_record_id": {
        "error": "not_ready_for_cloning", "value": record,
        "message": f"test record {record} is still recording; only a stopped, non-empty one can be copied"}}}
    stop_run(fast, recording["id"])

    empty = create_run(fast)
    stop_run(fast, empty["id"])
    refused = fast.fast("POST", "/test_run", json={"name": "copy", "test_record_id": empty["test_record_id"]})
    assert refused.json()["body"]["test_record_id"]["error"] == "not_ready_for_cloning"

    copy = fast.fast("POST", "/test_run", json={"name": "copy", "test_record_id": recording["test_record_id"]})
    assert copy.status_code == 200, copy.text
    body = copy.json()["body"]
    assert body["test_record_id"] == recording["test_record_id"] and body["recording"] is False
    assert wait_final(fast, body["id"])["state"] == "passed"
    assert fast.fast("GET", f"/test_run/{recording['id']}").json()["body"]["state"] in ("passed", "interrupted")


def test_fast_replay_passes_unchanged_and_fails_changed_targets(fast, apps):
    plain, _ = apps
    run = create_run(fast)
    with proxied(fast) as client:
        client.get(f"http://127.0.0.1:{plain.port}/stable")
        client.post(f"http://127.0.0.1:{plain.port}/submit", content=b"x=1")
    stop_run(fast, run["id"])
    assert wait_final(fast, run["id"])["state"] == "passed"

    App.version = "v2"  # the target now answers GETs differently
    changed = fast.fast("POST", "/test_run", json={"name": "regressed", "test_record_id": run["test_record_id"]})
    result = wait_final(fast, changed.json()["body"]["id"])
    assert result["state"] == "failed"
    # The GET's body changed; the POST is not idempotent, so only its status is compared.
    assert result["baseline_check_fail_count"] == 1 and result["baseline_check_passed_count"] == 1
    [failure] = result["failed_baselines"]
    assert "/stable" in failure["reason"] and "body differs" in failure["reason"]

    other = App()
    try:
        App.version = "v1"
        moved = fast.fast("POST", "/test_run", json={"name": "moved", "test_record_id": run["test_record_id"],
                                                      "target": f"http://127.0.0.1:{other.port}"})
        assert wait_final(fast, moved.json()["body"]["id"])["state"] == "passed"
    finally:
        other.stop()


def test_fast_testing_skips_excluded_extensions_and_duplicates(fast, apps):
    plain, _ = apps
    run = create_run(fast)
    with proxied(fast) as client:
        for path in ("/logo.png", "/page", "/page", "/other"):
            client.get(f"http://127.0.0.1:{plain.port}{path}")
    stop_run(fast, run["id"])
    record = fast.native("GET", f"/test-records/{run['test_record_id']}").json()
    assert record["baseline_count"] == 4 and record["recording"] is False
    assert [b["request"]["url"].rsplit("/", 1)[1] for b in record["baselines"]] == ["logo.png", "page", "page", "other"]
    copy = fast.fast("POST", "/test_run", json={"name": "filtered", "test_record_id": run["test_record_id"],
                                                 "file_extensions_to_exclude": "png|jpg",
                                                 "skip_duplicated_baselines": True})
    result = wait_final(fast, copy.json()["body"]["id"])
    assert result["state"] == "passed" and result["baseline_check_passed_count"] == 2
    everything = fast.fast("POST", "/test_run", json={"name": "all", "test_record_id": run["test_record_id"],
                                                       "skip_duplicated_baselines": False})
    assert wait_final(fast, everything.json()["body"]["id"])["baseline_check_passed_count"] == 4


def test_fast_records_2000_requests_from_8_clients(fast, apps):
    plain, _ = apps
    run = create_run(fast)

    def client_work(worker):
        wrong = 0
        with proxied(fast) as client:
            for i in range(250):
                path = f"/load?worker={worker}&i={i}"
                if client.get(f"http://127.0.0.1:{plain.port}{path}").json()["path"] != path:
                    wrong += 1
        return wrong

    with ThreadPoolExecutor(max_workers=8) as pool:
        wrong = sum(pool.map(client_work, range(8)))
    assert wrong == 0
    stopped = stop_run(fast, run["id"])
    assert stopped["baseline_count"] == 2000
    urls = {e["request"]["url"] for e in har(fast, run["test_record_id"])["entries"]}
    assert len(urls) == 2000


def test_fast_keeps_every_baseline_of_a_full_speed_load_stopped_the_moment_it_ends(fast, apps, tmp_path):
    """wrk (C, 32 keep-alive connections for 10 s, absolute-URI requests, so the proxy is its
    target) as fast as the proxy goes, then a stop the moment it ends: every completed request
    is a baseline, but for at most one per connection cut off by wrk's own deadline."""
    plain, _ = apps
    connections = 32
    run = create_run(fast)
    script = tmp_path / "through-proxy.lua"
    script.write_text(f'wrk.path = "http://127.0.0.1:{plain.port}/wrk"\n')
    load = subprocess.run(["wrk", "-t2", f"-c{connections}", "-d10s", "--timeout", "10s", "-s", str(script),
                           f"http://127.0.0.1:{fast.proxy_port}"], capture_output=True, text=True, timeout=60)
    stopped = stop_run(fast, run["id"])
    assert load.returncode == 0, load.stderr
    completed = int(next(line for line in load.stdout.splitlines() if " requests in " in line).split()[0])
    assert "Non-2xx" not in load.stdout and "Socket errors" not in load.stdout, load.stdout
    assert completed > 1000, load.stdout
    assert completed <= stopped["baseline_count"] <= completed + connections, (completed, stopped)
    # Nothing trickles in later, and nothing recorded goes missing.
    time.sleep(60)
    again = fast.fast("GET", f"/test_run/{run['id']}").json()["body"]
    assert again["baseline_count"] == stopped["baseline_count"]


def test_fast_a_deleted_test_record_takes_its_baselines_and_runs_with_it(fast, apps):
    plain, _ = apps
    run = create_run(fast)
    with proxied(fast) as client:
        assert client.get(f"http://127.0.0.1:{plain.port}/to-delete").status_code == 200
    record = run["test_record_id"]
    refused = fast.native("DELETE", f"/test-records/{record}")
    assert refused.status_code == 409 and "still recording" in refused.json()["message"]
    assert stop_run(fast, run["id"])["baseline_count"] == 1

    assert fast.native("DELETE", f"/test-records/{record}").status_code == 204
    assert fast.native("GET", f"/test-records/{record}").status_code == 404
    assert fast.native("GET", f"/test-records/{record}/har").status_code == 404
    gone = fast.fast("GET", f"/test_run/{run['id']}")
    assert gone.status_code == 404 and gone.json()["body"]["id"]["error"] == "not_found"
    copy = fast.fast("POST", "/test_run", json={"name": "copy", "test_record_id": record})
    assert copy.status_code == 404


def test_fast_bad_input_uses_the_envelope(fast):
    missing = fast.fast("GET", "/test_run/999999")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    assert missing.json()["body"]["id"]["error"] == "not_found"
    wrong = httpx.get(f"{fast.url}/fast/v1/test_run/1", headers={"X-WallarmAPI-Token": "nope"})
    assert wrong.status_code == 401 and wrong.json()["body"]["token"]["error"] == "invalid"
    nameless = fast.fast("POST", "/test_run", json={})
    assert nameless.json() == {"status": 400, "body": {"name": {"error": "required", "value": None}}}
    short = fast.fast("POST", "/test_run", json={"name": "x", "inactivity_timeout": 5})
    assert short.json()["body"]["inactivity_timeout"] == {
        "error": "out_of_range", "value": 5, "message": "inactivity_timeout must be in 300..=86400, got 5"}
    garbage = fast.fast("POST", "/test_run", content=b"{nope")
    assert garbage.status_code == 400 and garbage.json()["status"] == 400


def test_fast_proxy_says_why_an_upstream_cannot_be_reached(fast, tmp_path):
    """A typo'd host, a closed port and an untrusted certificate each answer with their cause
    in words and in `Proxy-Status` (RFC 9209), never a bare 502."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", "app.key", "-out", "app.pem"], check=True, capture_output=True, cwd=tmp_path)
    untrusted = App(tmp_path)
    ca_der = fast.native("GET", "/proxy/ca.der").content
    context = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(ca_der))
    try:
        with proxied(fast, verify=context) as client:
            answers = {
                "dns_error": client.get("http://www.shop.invalid/cart"),
                "connection_refused": client.get(f"http://127.0.0.1:{free_port()}/"),
                "tls_certificate_error": client.get(f"https://localhost:{untrusted.port}/"),
            }
    finally:
        untrusted.stop()
    said = {"dns_error": "does not resolve", "connection_refused": "refused",
            "tls_certificate_error": "--upstream-ca-file"}
    for error_type, answer in answers.items():
        assert answer.status_code == 502, (error_type, answer.status_code, answer.text)
        assert answer.headers["proxy-status"].startswith(f"tapedeck; error={error_type}; details="), answer.headers
        assert answer.text.startswith("Tapedeck's proxy: ") and said[error_type] in answer.text, answer.text


def test_fast_a_run_that_recorded_nothing_is_interrupted_and_says_why(fast, apps):
    """The quick start's old failure: traffic to a host the run does not record. The run does
    not pass with nothing tested, and a copy of its empty record says why it cannot be made."""
    plain, _ = apps
    run = create_run(fast, allowed_hosts="only-this.example")
    with proxied(fast) as client:
        # Passed through to the app, not recorded.
        assert client.get(f"http://127.0.0.1:{plain.port}/elsewhere").status_code == 200
    stop_run(fast, run["id"])
    final = wait_final(fast, run["id"])
    assert final["state"] == "interrupted", final
    assert "no baselines were recorded" in final["problem"] and "only-this.example" in final["problem"], final
    copy = fast.fast("POST", "/test_run", json={"name": "copy", "test_record_id": run["test_record_id"]})
    detail = copy.json()["body"]["test_record_id"]
    assert copy.status_code == 400 and detail["error"] == "not_ready_for_cloning", copy.text
    assert "has no baselines" in detail["message"], detail


def test_fast_lists_test_runs_and_records_newest_first_a_page_at_a_time(fast, apps):
    plain, _ = apps
    first = create_run(fast, name="listed-1")
    with proxied(fast) as client:
        client.get(f"http://127.0.0.1:{plain.port}/listed")
    stop_run(fast, first["id"])
    second = create_run(fast, name="listed-2")
    stop_run(fast, second["id"])

    page = fast.fast("GET", "/test_run", params={"limit": 2}).json()
    assert page["status"] == 200 and [r["id"] for r in page["body"]] == [second["id"], first["id"]], page
    assert page["body"][1]["name"] == "listed-1" and page["body"][1]["baseline_count"] == 1
    later = fast.fast("GET", "/test_run", params={"limit": 1, "offset": 1}).json()["body"]
    assert [r["id"] for r in later] == [first["id"]]
    refused = fast.fast("GET", "/test_run", params={"limit": 0})
    assert refused.status_code == 400 and refused.json()["body"]["limit"]["error"] == "out_of_range"

    records = fast.native("GET", "/test-records", params={"limit": 2}).json()
    assert [r["id"] for r in records["items"]] == [second["test_record_id"], first["test_record_id"]], records
    assert [r["baseline_count"] for r in records["items"]] == [0, 1]
    next_page = fast.native("GET", "/test-records", params={"limit": 1, "offset": 1}).json()
    total = len(fast.native("GET", "/test-records", params={"limit": 100}).json()["items"])
    assert [r["id"] for r in next_page["items"]] == [first["test_record_id"]]
    assert next_page["next_offset"] == (2 if total > 2 else None), (next_page, total)


def test_fast_intercepts_https_to_an_ip_literal_host(fast, apps):
    """The leaf minted for `https://127.0.0.1` names the address as an IP (iPAddress SAN), which
    Python's and curl's checks require; a name still gets a DNS name."""
    _, secure = apps
    ca_der = fast.native("GET", "/proxy/ca.der").content
    context = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(ca_der))
    run = create_run(fast)
    with proxied(fast, verify=context) as client:
        by_ip = client.get(f"https://127.0.0.1:{secure.port}/by-ip")
        by_name = client.get(f"https://localhost:{secure.port}/by-name")
    assert by_ip.status_code == 200 and by_ip.json()["path"] == "/by-ip"
    assert by_name.status_code == 200
    ca_file = Path(fast.data_dir) / "proxy-ca.pem"
    ca_file.write_text(ssl.DER_cert_to_PEM_cert(ca_der))
    curl = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(ca_file),
                           "-x", fast.proxy_url, f"https://127.0.0.1:{secure.port}/by-curl"],
                          capture_output=True, text=True)
    assert curl.returncode == 0 and curl.stdout == "200", (curl.returncode, curl.stderr)
    stop_run(fast, run["id"])
    urls = {e["request"]["url"] for e in har(fast, run["test_record_id"])["entries"]}
    assert f"https://127.0.0.1:{secure.port}/by-ip" in urls and f"https://127.0.0.1:{secure.port}/by-curl" in urls


class WebSocketEcho:
    """A ws:// and a wss:// echo server (on their own event loop thread) that speak the `chat.v1`
    subprotocol and would compress if asked; each remembers the extensions it was offered."""

    def __init__(self, tls_dir):
        import asyncio

        from websockets.asyncio.server import serve

        self.offers = []
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(tls_dir / "app.pem", tls_dir / "app.key")

        async def echo(websocket):
            self.offers.append(websocket.request.headers.get("Sec-WebSocket-Extensions"))
            async for message in websocket:
                await websocket.send(f"echo: {message}")

        async def run(started):
            async with serve(echo, "127.0.0.1", 0, subprotocols=["chat.v1"]) as plain, \
                    serve(echo, "127.0.0.1", 0, subprotocols=["chat.v1"], ssl=server_tls) as secure:
                self.ws = f"ws://127.0.0.1:{plain.sockets[0].getsockname()[1]}/echo"
                self.wss = f"wss://localhost:{secure.sockets[0].getsockname()[1]}/echo"
                self.stop = asyncio.get_running_loop().create_future()
                started.set()
                await self.stop

        started = threading.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_until_complete, args=(run(started),), daemon=True).start()
        assert started.wait(10)

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set_result, None)


@pytest.fixture(scope="module")
def websocket_echo(tls_dir):
    echo = WebSocketEcho(tls_dir)
    yield echo
    echo.close()


def test_fast_relays_websockets_with_their_subprotocol_and_no_compression(fast, websocket_echo):
    """ws:// and wss:// through the recording proxy, from a client that offers permessage-deflate
    and two subprotocols: the 101 names the subprotocol the app chose, no extension is
    negotiated (the offer never reaches the app), and a 64 KiB message echoes back whole."""
    import asyncio

    from websockets.asyncio.client import connect

    ca_der = fast.native("GET", "/proxy/ca.der").content
    client_tls = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(ca_der))
    message = "hello " * 11_000

    async def exchange(url):
        async with connect(url, proxy=fast.proxy_url, ssl=client_tls if url.startswith("wss") else None,
                           subprotocols=["chat.v2", "chat.v1"], compression="deflate",
                           open_timeout=20) as websocket:
            await websocket.send(message)
            echoed = await asyncio.wait_for(websocket.recv(), 20)
            return websocket.subprotocol, websocket.response.headers.get("Sec-WebSocket-Extensions"), echoed

    for url in (websocket_echo.ws, websocket_echo.wss):
        protocol, extensions, echoed = asyncio.run(exchange(url))
        assert (protocol, extensions) == ("chat.v1", None), url
        assert echoed == f"echo: {message}", url
    assert websocket_echo.offers[-2:] == [None, None]


def test_fast_a_proxied_browser_keeps_its_websocket_subprotocol(fast, pages, websocket_echo):
    """Chromium through the proxy (it always offers permessage-deflate): a page's WebSocket
    opens with the subprotocol the app chose and echoes, over ws:// and wss://. Frames are
    relayed, not recorded."""
    session = fast.native("POST", "/sessions", json={"start_url": f"{pages}/subresources.html"})
    assert session.status_code == 201, session.text
    try:
        for url in (websocket_echo.ws, websocket_echo.wss):
            script = """(async () => {
                const ws = new WebSocket(%s, ["chat.v2", "chat.v1"]);
                await new Promise((opened, failed) => {
                    ws.onopen = opened;
                    ws.onclose = (e) => failed(new Error("closed with " + e.code));
                });
                const echo = new Promise((heard) => { ws.onmessage = (e) => heard(e.data); });
                ws.send("from the page");
                const answer = { protocol: ws.protocol, extensions: ws.extensions, echo: await echo };
                ws.close();
                return answer;
            })()""" % json.dumps(url)
            seen = node("eval", session.json()["cdp_ws_url"], script)["value"]
            assert seen == {"protocol": "chat.v1", "extensions": "", "echo": "echo: from the page"}, (url, seen)
    finally:
        fast.native("DELETE", f"/sessions/{session.json()['id']}")


def test_fast_never_replays_a_request_cut_at_the_body_cap(fast, apps):
    """A 3 MB upload is kept cut at 1 MiB: replaying those bytes would make the app answer 400
    and fail the run for a cut Tapedeck made. It is skipped, and the run says so."""
    plain, _ = apps
    run = create_run(fast)
    with proxied(fast) as client:
        assert client.post(f"http://127.0.0.1:{plain.port}/upload", content=b"x" * 3_000_000).status_code == 200
        assert client.get(f"http://127.0.0.1:{plain.port}/small").status_code == 200
    stop_run(fast, run["id"])
    final = wait_final(fast, run["id"])
    assert final["state"] == "passed" and final["baseline_check_passed_count"] == 1, final
    assert final["baseline_check_fail_count"] == 0 and "1 baseline(s) were not replayed" in final["problem"], final
    upload = [e for e in har(fast, run["test_record_id"])["entries"] if e["request"]["url"].endswith("/upload")]
    assert upload and upload[0]["_requestTruncated"] is True


def test_fast_a_run_with_its_own_body_cap_keeps_a_large_upload_whole_and_replays_it(fast, apps):
    """`body_cap_kib` on the run: 4 MiB keeps the 3 MB upload that the server's 1 MiB cap cuts,
    so it is replayed and passes; 1 KiB cuts even a small answer. Out of range is a 400 that
    names the range."""
    plain, _ = apps
    payload = b"x" * 3_000_000
    run = create_run(fast, body_cap_kib=4096)
    assert run["body_cap_kib"] == 4096
    with proxied(fast) as client:
        assert client.post(f"http://127.0.0.1:{plain.port}/upload", content=payload).status_code == 200
    stop_run(fast, run["id"])
    [upload] = har(fast, run["test_record_id"])["entries"]
    assert upload["_requestTruncated"] is False and len(upload["request"]["postData"]["text"]) == len(payload)
    copy = fast.fast("POST", "/test_run", json={"name": "replay", "test_record_id": run["test_record_id"]})
    final = wait_final(fast, copy.json()["body"]["id"])
    assert final["state"] == "passed" and final["baseline_check_passed_count"] == 1, final

    tiny = create_run(fast, body_cap_kib=1)
    with proxied(fast) as client:
        assert client.post(f"http://127.0.0.1:{plain.port}/echo", content=b"y" * 4000).status_code == 200
    stop_run(fast, tiny["id"])
    [cut] = har(fast, tiny["test_record_id"])["entries"]
    assert cut["_requestTruncated"] is True and len(cut["request"]["postData"]["text"]) == 1024

    refused = fast.fast("POST", "/test_run", json={"name": "too big", "body_cap_kib": 65_537})
    assert refused.status_code == 400 and "1..=65536" in refused.text, refused.text
