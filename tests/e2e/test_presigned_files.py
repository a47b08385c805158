"""Presigned download URLs: no auth needed, signature and expiry checked, Range honoured, and
no path can leave the store."""

import time
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import expires


@pytest.fixture
def finished_recording(server):
    session = server.native("POST", "/sessions", json={"viewport": {"width": 640, "height": 480}})
    assert session.status_code == 201, session.text
    sid = session.json()["id"]
    rec = server.native("POST", f"/sessions/{sid}/recordings", json={"framerate": 5})
    assert rec.status_code == 201, rec.text
    time.sleep(2.5)
    stopped = server.native("POST", f"/recordings/{rec.json()['id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["state"] == "finished", stopped.text
    yield stopped.json()
    server.native("DELETE", f"/sessions/{sid}")


def test_presigned_url_downloads_without_auth_and_serves_ranges(server, finished_recording):
    rid = finished_recording["id"]
    signed = server.native("GET", f"/recordings/{rid}/download-url").json()
    assert signed["storage_key"] == f"storage://tapedeck/recordings/{rid}.mp4"
    assert urlsplit(signed["url"]).query.split("&")[-1].startswith("sig=")
    whole = httpx.get(signed["url"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert len(whole.content) == signed["size_bytes"] == finished_recording["size_bytes"]
    part = httpx.get(signed["url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 0-99/{signed['size_bytes']}"
    assert part.content == whole.content[:100]


def test_tampered_expired_and_escaping_urls_are_refused(server, finished_recording):
    rid = finished_recording["id"]
    url = server.native("GET", f"/recordings/{rid}/download-url").json()["url"]
    flipped = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert httpx.get(flipped).status_code == 403
    longer = url.replace("expires=", "expires=9")
    assert httpx.get(longer).status_code == 403
    assert httpx.get(url.split("?")[0]).status_code == 403

    short = server.native("GET", f"/recordings/{rid}/download-url", params={"expires_in_secs": 1}).json()
    expires(short["url"])
    expired = httpx.get(short["url"])
    assert expired.status_code == 403 and expired.json()["message"] == "URL expired"

    query = urlsplit(url).query
    for path in ("/files/../api-key", "/files/recordings/..%2f..%2fapi-key", "/files/%2e%2e/api-key"):
        response = httpx.get(f"{server.url}{path}?{query}")
        assert response.status_code in (403, 404), path
        assert API_KEY_MARKER not in response.text


API_KEY_MARKER = "e2e-test-key"
