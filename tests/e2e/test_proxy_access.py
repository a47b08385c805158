"""Who may use the recording proxy, and where it refuses to go: loopback clients use it as they
are, a client on another address needs the API key as its Basic proxy password, and nobody
reaches Tapedeck's own ports through it (the API, the proxy, the sessions' DevTools)."""

import base64
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import API_KEY, E2E, SANDBOX_ROOT, EchoApp, Server, wait_until


@pytest.fixture(scope="module")
def echo_app():
    """An echo app that also answers with the headers it received."""
    app = EchoApp(with_headers=True)
    yield app
    app.httpd.shutdown()




@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A server whose proxy listens on every address (so other hosts can reach it) and which
    keeps one browser warm (so a pooled browser's DevTools port exists before any create)."""
    server = Server(tmp_path_factory.mktemp("proxy-access"), first_display=190)
    # Its own sandbox dir (the default is shared by every server on the machine), in a place
    # the session user can reach, so its browsers' profiles are its own to read.
    server.sandbox_dir = SANDBOX_ROOT / f"e2e-proxy-access-{server.port}"
    server.args += ["--warm-pool", "1", "--sandbox-dir", str(server.sandbox_dir)]
    at = server.args.index("--proxy-listen") + 1
    server.args[at] = f"0.0.0.0:{server.proxy_port}"
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.sandbox_dir, ignore_errors=True)


def devtools_ports(server) -> set:
    """The DevTools ports of the server's browsers, from the DevToolsActivePort file Chromium
    writes into each session's profile (Tapedeck starts it with --remote-debugging-port=0)."""
    ports = set()
    for marker in (server.sandbox_dir / "sessions").glob("*/profile/DevToolsActivePort"):
        lines = marker.read_text().split()
        if lines:
            ports.add(int(lines[0]))
    return ports


def through_proxy(proxy_port: int, head: str) -> tuple:
    """Sends one raw request head to the proxy on loopback, exactly as written (no client
    normalizes `127.1` or `0x7f000001` on the way), and returns (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as conn:
        conn.sendall(head.encode() + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        head_bytes, _, body = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode().split("\r\n")
        headers = {name.lower(): value for name, value in
                   (line.split(": ", 1) for line in lines[1:] if ": " in line)}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = conn.recv(4096)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body.decode(errors="replace")


def get(proxy_port: int, host_port: str, path: str = "/", extra: str = "") -> tuple:
    return through_proxy(proxy_port, f"GET http://{host_port}{path} HTTP/1.1\r\nHost: {host_port}\r\n"
                                     f"Connection: close\r\n{extra}")


def connect(proxy_port: int, host_port: str) -> tuple:
    return through_proxy(proxy_port, f"CONNECT {host_port} HTTP/1.1\r\nHost: {host_port}\r\n")


def websocket(proxy_port: int, host_port: str, path: str) -> tuple:
    return get(proxy_port, host_port, path, "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                            "Sec-WebSocket-Version: 13\r\n"
                                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def create_run(server, name: str) -> dict:
    response = server.fast("POST", "/test_run", json={"name": name})
    assert response.status_code == 200, response.text
    return response.json()["body"]


def stop_run(server, run_id: int):
    response = server.fast("POST", f"/test_run/{run_id}/action/stop")
    assert response.status_code == 200, response.text


def recorded(server, record_id: int) -> list:
    response = server.native("GET", f"/test-records/{record_id}/har", params={"redact": "false"})
    assert response.status_code == 200, response.text
    return response.json()["log"]["entries"]


def test_proxy_refuses_every_devtools_port_by_any_spelling_and_tapedecks_own_listeners(guarded, echo_app):
    wait_until(lambda: devtools_ports(guarded), 60, "the pooled browser's DevTools port")
    session = guarded.native("POST", "/sessions", json={"viewport": {"width": 800, "height": 600}})
    assert session.status_code == 201, session.text
    try:
        # The pool refills, so the created session and a new pooled one both run a browser.
        wait_until(lambda: len(devtools_ports(guarded)) >= 2, 60, "two browsers' DevTools ports")
        for port in devtools_ports(guarded):
            assert httpx.get(f"http://127.0.0.1:{port}/json/version").status_code == 200
            for host in ("127.0.0.1", "localhost", "[::1]", "127.1", "2130706433", "0x7f000001",
                         "0.0.0.0", "[::]", "[::ffff:127.0.0.1]"):
                status, headers, body = get(guarded.proxy_port, f"{host}:{port}", "/json/version")
                assert status == 403, (host, status, body)
                assert "DevTools" in body and headers["content-type"].startswith("text/plain")
            for host in ("127.0.0.1", "localhost", "[::1]", "2130706433"):
                status, _, body = connect(guarded.proxy_port, f"{host}:{port}")
                assert status == 403 and "DevTools" in body, (host, status, body)
            browser_path = json.loads(httpx.get(f"http://127.0.0.1:{port}/json/version").text)[
                "webSocketDebuggerUrl"].split(str(port), 1)[1]
            for host in ("127.0.0.1", "localhost"):
                status, _, body = websocket(guarded.proxy_port, f"{host}:{port}", browser_path)
                assert status == 403 and "DevTools" in body, (host, status, body)
    finally:
        guarded.native("DELETE", f"/sessions/{session.json()['id']}")

    for target in (f"127.0.0.1:{guarded.port}", f"localhost:{guarded.port}",
                   f"127.0.0.1:{guarded.proxy_port}", f"[::1]:{guarded.proxy_port}"):
        status, _, body = get(guarded.proxy_port, target, "/healthz")
        assert status == 403 and "own listener" in body, (target, status, body)
        status, _, body = connect(guarded.proxy_port, target)
        assert status == 403 and "own listener" in body, (target, status, body)

    # Other loopback servers are proxied and recorded as before, with no credentials.
    run = create_run(guarded, "loopback")
    with httpx.Client(proxy=guarded.proxy_url, timeout=30) as client:
        assert client.get(f"http://127.0.0.1:{echo_app.port}/loopback-app").json()["path"] == "/loopback-app"
        assert client.get(f"http://localhost:{echo_app.port}/by-name").status_code == 200
    stop_run(guarded, run["id"])
    assert [e["request"]["url"] for e in recorded(guarded, run["test_record_id"])] == [
        f"http://127.0.0.1:{echo_app.port}/loopback-app", f"http://localhost:{echo_app.port}/by-name"]


def test_loopback_clients_that_send_credentials_must_send_a_valid_key(guarded, echo_app):
    url = f"http://127.0.0.1:{echo_app.port}/with-credentials"
    with httpx.Client(proxy=f"http://tapedeck:wrong@127.0.0.1:{guarded.proxy_port}") as client:
        refused = client.get(url)
    assert refused.status_code == 407 and refused.headers["proxy-authenticate"] == 'Basic realm="tapedeck"'
    with httpx.Client(proxy=f"http://tapedeck:{API_KEY}@127.0.0.1:{guarded.proxy_port}") as client:
        answer = client.get(url).json()
    assert "proxy-authorization" not in answer["headers"]


class Namespace:
    """A network namespace joined to this host by a veth pair: a client with a non-loopback
    address (127.0.0.2 is still loopback). Created by the test, removed afterwards."""

    def __init__(self):
        tag = os.getpid() % 10_000_000
        self.name = f"tapedeck-proxy-{tag}"
        self.host_link = f"tdph{tag}"
        subnet = 16 + os.getpid() % 200
        self.host_ip = f"10.213.{subnet}.1"
        self.inside_ip = f"10.213.{subnet}.2"

    def ip(self, *args, check=True):
        return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)

    def create(self):
        self.remove()  # leftovers of a run that was killed
        self.ip("netns", "add", self.name)
        self.ip("link", "add", self.host_link, "type", "veth", "peer", "name", "tdpn0", "netns", self.name)
        self.ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_link)
        self.ip("link", "set", self.host_link, "up")
        self.ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.inside_ip}/30", "dev", "tdpn0")
        self.ip("netns", "exec", self.name, "ip", "link", "set", "tdpn0", "up")
        self.ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        return self

    def remove(self):
        self.ip("link", "del", self.host_link, check=False)
        self.ip("netns", "del", self.name, check=False)

    def curl(self, *args) -> str:
        done = subprocess.run(["ip", "netns", "exec", self.name, "curl", "-s", "--max-time", "20", *args],
                              capture_output=True, text=True, timeout=60)
        return done.stdout


@pytest.fixture
def namespace():
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("curl"):
        pytest.skip("needs root, iproute2 and curl to make a second address (netns + veth)")
    ns = Namespace()
    try:
        yield ns.create()
    finally:
        ns.remove()


def test_a_client_off_loopback_needs_the_api_key_and_is_recorded_with_it(guarded, echo_app, namespace):
    proxy = f"{namespace.host_ip}:{guarded.proxy_port}"
    target = f"http://127.0.0.1:{echo_app.port}"
    run = create_run(guarded, "from another address")

    def status(*args) -> str:
        return namespace.curl("-o", "/dev/null", "-w", "%{http_code}", *args)

    # No credentials: 407 asking for Basic, for plain requests and for CONNECT.
    head = namespace.curl("-D", "-", "-o", "/dev/null", "-x", f"http://{proxy}", f"{target}/anonymous")
    assert head.startswith("HTTP/1.1 407"), head
    assert 'proxy-authenticate: basic realm="tapedeck"' in head.lower()
    assert namespace.curl("-o", "/dev/null", "-w", "%{http_connect}", "-p", "-x", f"http://{proxy}",
                          f"{target}/tunnel") == "407"
    assert namespace.curl("-o", "/dev/null", "-w", "%{http_connect}", "-p", "-x",
                          f"http://tapedeck:{API_KEY}@{proxy}", f"{target}/tunnel") == "200"
    # A wrong key: 407 too.
    assert status("-x", f"http://tapedeck:not-the-key-5150@{proxy}", f"{target}/wrong") == "407"
    assert status("-x", f"http://tapedeck:{API_KEY}x@{proxy}", f"{target}/longer-key") == "407"
    # The key, with any user name: forwarded, without the proxy's credentials.
    answer = json.loads(namespace.curl("-x", f"http://tapedeck:{API_KEY}@{proxy}", f"{target}/with-key"))
    assert answer["path"] == "/with-key" and "proxy-authorization" not in answer["headers"]
    assert status("-x", f"http://anyone:{API_KEY}@{proxy}", f"{target}/any-user") == "200"
    # The key does not open Tapedeck's own ports, whichever of the host's addresses is used.
    assert status("-x", f"http://tapedeck:{API_KEY}@{proxy}",
                  f"http://{namespace.host_ip}:{guarded.proxy_port}/") == "403"
    assert status("-x", f"http://tapedeck:{API_KEY}@{proxy}", f"http://127.0.0.1:{guarded.port}/healthz") == "403"
    stop_run(guarded, run["id"])

    entries = recorded(guarded, run["test_record_id"])
    assert [e["request"]["url"] for e in entries] == [
        f"{target}/tunnel", f"{target}/with-key", f"{target}/any-user"]
    for entry in entries:
        names = {h["name"].lower() for h in entry["request"]["headers"]}
        assert not names & {"proxy-authorization", "proxy-connection"}, names
    # The key and its Basic encodings never reach the log.
    log = guarded.log()
    assert API_KEY not in log
    assert basic("tapedeck", API_KEY).split()[1] not in log and "not-the-key-5150" not in log


def test_playwrights_chromium_off_loopback_answers_the_proxys_challenge(guarded, echo_app, namespace):
    proxy = f"http://{namespace.host_ip}:{guarded.proxy_port}"
    target = f"http://127.0.0.1:{echo_app.port}/from-chromium"

    def chromium(password: str) -> dict:
        done = subprocess.run(["ip", "netns", "exec", namespace.name, "node", str(E2E / "drive.mjs"),
                               "proxied", proxy, password, target],
                              capture_output=True, text=True, timeout=120, cwd=E2E)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    run = create_run(guarded, "chromium")
    answer = chromium(API_KEY)
    assert answer["status"] == 200 and json.loads(answer["body"])["path"] == "/from-chromium"
    assert chromium("not-the-key")["status"] == 407
    stop_run(guarded, run["id"])
    # Once: the refused attempt is not recorded (Chromium also asks for /favicon.ico).
    urls = [e["request"]["url"] for e in recorded(guarded, run["test_record_id"])]
    assert urls.count(target) == 1, urls
