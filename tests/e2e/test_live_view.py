"""Live view: a session's screen watched in a separate headless Chromium through the URL each
dialect hands out, input from the viewer landing on the session's page, read-only viewers whose
input the server drops, and revoked or expired URLs refused."""

import json
import subprocess
import httpx
import pytest
from gbox_sdk import GboxSDK

from conftest import API_KEY, E2E, ROOT, node, wait_until

VIEWPORT = {"width": 1280, "height": 720}
SHOTS = ROOT / "target" / "live-view-screenshots"


def view(mode: str, name: str, **inputs) -> dict:
    """Runs live_view.mjs in `mode` and returns what the viewer saw; its page is saved as
    target/live-view-screenshots/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    inputs = {**inputs, "shots": str(SHOTS), "name": name}
    done = subprocess.run(["node", str(E2E / "live_view.mjs"), mode, json.dumps(inputs)],
                          capture_output=True, text=True, timeout=120, cwd=E2E)
    assert done.returncode == 0, f"live_view.mjs {mode} failed:\n{done.stderr}"
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen.pop("page_errors") == [], "the viewer page threw"
    return seen


@pytest.fixture
def browser(kernel, pages):
    browser = kernel.browsers.create(viewport=VIEWPORT, timeout_seconds=120)
    node("eval", browser.cdp_ws_url, f"location.href = '{pages}/input.html'")
    wait_until(lambda: node("eval", browser.cdp_ws_url, "document.readyState + document.title")["value"]
               == "completeinput", timeout=10, what="the input page to load")
    # A first mouse event tells the page its offset on the screen.
    kernel.browsers.computer.move_mouse(browser.session_id, x=700, y=500)
    return browser


def test_a_person_watches_a_kernel_browser_live_and_takes_over_with_the_mouse(server, kernel, browser):
    viewer = browser.browser_live_view_url
    assert viewer and "/live/" in viewer, viewer
    seen = view("story", "kernel-control", viewer=viewer, cdp=browser.cdp_ws_url, click=[640, 400])
    assert seen["control"] and (seen["width"], seen["height"]) == (1280, 720), seen
    assert seen["change_ms"] < 1000, seen
    assert seen["mousedowns"] == [[640, 400, 0]], seen
    # The viewer's click is on the session's timeline, where the pointer was; the fixture's
    # API move is there too.
    events = server.native("GET", f"/sessions/{browser.session_id}/events", params={"kind": "action"}).json()
    actions = [(e["payload"]["source"], e["payload"]["action"], e["payload"].get("x"), e["payload"].get("y"))
               for e in events["items"]]
    assert ("live_view", "mouse_down", 640, 400) in actions, actions
    assert ("api", "move_mouse", 700, 500) in actions, actions


def test_a_viewer_scrubs_back_into_the_recording_and_returns_to_live(server, kernel, browser):
    viewer = browser.browser_live_view_url
    rewind = viewer.replace("?", "/rewind?", 1)
    idle = httpx.get(rewind)
    assert idle.status_code == 409 and "nothing to scrub back into" in idle.json()["message"], idle.text
    started = server.native("POST", f"/sessions/{browser.session_id}/recordings", json={"framerate": 10})
    assert started.status_code == 201, started.text
    try:
        # Scrubbing back works once the recording has closed a segment.
        wait_until(lambda: httpx.get(f"{rewind}&seconds=5").status_code == 200, timeout=30,
                   what="the recording's first segment")
        assert httpx.get(f"{rewind}&seconds=601").status_code == 400
        seen = view("rewind", "kernel-rewind", viewer=viewer)
        assert seen["replay"]["duration"] > 1 and seen["replay"]["canvasHidden"], seen
        assert seen["replay_state"].startswith("recorded"), seen
        assert seen["back_mode"] == "live" and seen["video_hidden"] and seen["canvas_shown"], seen
    finally:
        server.native("POST", f"/recordings/{started.json()['id']}/stop")


def test_a_read_only_viewer_watches_but_its_clicks_never_arrive(kernel, browser):
    seen = view("story", "kernel-read-only", viewer=f"{browser.browser_live_view_url}&readOnly=true", cdp=browser.cdp_ws_url,
                click=[600, 380])
    assert not seen["control"] and seen["change_ms"] < 1000, seen
    assert seen["mousedowns"] == [], seen


def test_revoked_and_expired_live_view_urls_are_refused(server, kernel, browser):
    made = server.native("POST", f"/sessions/{browser.session_id}/live-view", json={"access": "read"})
    assert made.status_code == 201 and made.json()["access"] == "read", made.text
    viewer = made.json()["url"]
    assert httpx.get(viewer).status_code == 200
    assert httpx.get(made.json()["raw_url"]).status_code == 200
    assert server.native("DELETE", f"/sessions/{browser.session_id}/live-view").status_code == 204
    # The page checks only the signature; the WebSocket is where a revoked URL is refused.
    refused = httpx.get(viewer.replace("?", "/ws?", 1), headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert refused.status_code == 401, refused.text
    # A URL made after the revocation works.
    fresh = server.native("POST", f"/sessions/{browser.session_id}/live-view").json()
    assert view("watch", "native-after-revocation", viewer=fresh["url"])["control"]
    # A short-lived one is refused once it has expired.
    short = server.native("POST", f"/sessions/{browser.session_id}/live-view", json={"ttl_seconds": 1}).json()
    wait_until(lambda: httpx.get(short["url"]).status_code == 401, timeout=5, what="the URL to expire")
    tampered = fresh["url"].replace(browser.session_id, "someone-else")
    assert httpx.get(tampered).status_code == 401
    bad = server.native("POST", f"/sessions/{browser.session_id}/live-view", json={"access": "admin"})
    assert bad.status_code == 400 and "access" in bad.text


def test_the_gbox_sdk_live_view_url_shows_the_box_and_its_raw_url_embeds(server):
    sdk = GboxSDK(api_key=API_KEY, base_url=f"{server.url}/gbox")
    box = sdk.create(type="linux", wait=True)
    try:
        urls = box.live_view()
        assert urls.url != urls.raw_url and "raw=1" in urls.raw_url, urls
        seen = view("watch", "gbox-raw", viewer=urls.raw_url)
        assert seen["control"] and (seen["width"], seen["height"]) == (1280, 720), seen
    finally:
        box.terminate()
