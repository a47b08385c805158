"""Secrets stay secret: a private data dir, no credentials in the server's log even at debug
level, CDP URLs that die with their session, and 5xx bodies without internals."""

import os
import stat
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import API_KEY, Server, node, wait_until

VIEWPORT = {"width": 640, "height": 480}


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory):
    """A server logging at debug level for everything, the level most likely to leak."""
    srv = Server(tmp_path_factory.mktemp("debug-log"), first_display=170,
                 env={"RUST_LOG": "debug"}).start()
    yield srv
    srv.stop()


def test_the_data_dir_and_its_secrets_are_private_to_the_server(debug_server):
    data = debug_server.data_dir / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("signing-secret", "ca.key", "tapedeck.db"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_the_server_log_holds_no_cdp_token_signature_or_api_key(debug_server, tmp_path):
    session = debug_server.native("POST", "/sessions", json={"viewport": VIEWPORT}).json()
    cdp_ws_url = session["cdp_ws_url"]
    jwt = parse_qs(urlsplit(cdp_ws_url).query)["jwt"][0]
    assert node("eval", cdp_ws_url, "6 * 7") == {"value": 42}

    recording = debug_server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()
    time.sleep(1)  # a second of video to download
    stopped = debug_server.native("POST", f"/recordings/{recording['id']}/stop")
    assert stopped.status_code == 200, stopped.text
    url = debug_server.native("GET", f"/recordings/{recording['id']}/download-url").json()["url"]
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    download = httpx.get(url)
    assert download.status_code == 200 and len(download.content) > 0
    debug_server.native("DELETE", f"/sessions/{session['id']}")

    log = debug_server.log()
    # The requests were logged, by path and request id, with their query strings left out.
    assert f"/v1/recordings/{recording['id']}/download-url" in log
    for secret, what in ((jwt, "CDP token"), (sig, "presigned signature"), (API_KEY, "API key")):
        assert secret not in log, f"the {what} is in the server log"


def test_every_answer_carries_a_request_id_found_in_the_log(debug_server):
    response = debug_server.native("GET", "/sessions/no-such-session")
    assert response.status_code == 404
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 24 and request_id.isalnum()
    wait_until(lambda: request_id in debug_server.log(), 5, "the request id in the log")


def test_a_deleted_sessions_cdp_url_is_refused(server):
    session = server.native("POST", "/sessions", json={"viewport": VIEWPORT}).json()
    cdp_ws_url = session["cdp_ws_url"]
    assert node("eval", cdp_ws_url, "1 + 1") == {"value": 2}
    assert server.native("DELETE", f"/sessions/{session['id']}").status_code == 204
    # The token is still well signed and unexpired, but its session is gone.
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
    refused = httpx.get(cdp_ws_url.replace("ws://", "http://"), headers=upgrade)
    assert refused.status_code == 404, refused.text
    assert refused.json()["code"] == "not_found"
