"""The native API: OpenAPI document, sessions and recordings, errors as `{code, message}`."""

import httpx

from conftest import API_KEY, processes, wait_until


def test_openapi_document_lists_the_native_routes(server):
    doc = httpx.get(f"{server.url}/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in ("/v1/sessions", "/v1/sessions/{id}", "/v1/sessions/{id}/recordings",
                 "/v1/recordings/{id}", "/v1/recordings/{id}/stop", "/v1/recordings/{id}/download-url",
                 "/v1/test-records/{id}", "/v1/test-records/{id}/har", "/v1/proxy/ca.der"):
        assert path in doc["paths"], path
    assert "delete" in doc["paths"]["/v1/recordings/{id}"] and "delete" in doc["paths"]["/v1/test-records/{id}"]
    # Every documented route about one thing is served: a missing thing, not a missing route.
    for path, operations in doc["paths"].items():
        if "{id}" not in path:
            continue
        for method in operations:
            answer = server.native(method.upper(), path.removeprefix("/v1").replace("{id}", "404404"))
            assert answer.status_code == 404 and answer.json()["message"] != "no such route", (method, path)


def test_native_session_and_recording_lifecycle(server):
    created = server.native("POST", "/sessions", json={"name": "native-1", "viewport": {"width": 640, "height": 480}})
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["state"] == "running" and session["cdp_ws_url"].startswith("ws://")
    assert server.native("GET", "/sessions/native-1").json()["id"] == session["id"]

    rec = server.native("POST", f"/sessions/{session['id']}/recordings", content=b"").json()
    assert rec["state"] == "recording" and rec["framerate"] == 10
    not_yet = server.native("GET", f"/recordings/{rec['id']}/download-url")
    assert not_yet.status_code == 409 and not_yet.json()["code"] == "conflict"

    deleted = server.native("DELETE", f"/sessions/{session['id']}")
    assert deleted.status_code == 204
    # Deleting the session finalized its recording.
    after = server.native("GET", f"/recordings/{rec['id']}").json()
    assert after["state"] == "finished" and after["stop_reason"] == "session_ended"
    assert after["size_bytes"] > 0 and after["duration_ms"] > 0
    gone = server.native("GET", f"/sessions/{session['id']}").json()
    assert gone["state"] == "deleted" and gone["deleted_at"]


def test_a_deleted_recording_takes_its_video_and_its_presigned_urls_with_it(server):
    session = server.native("POST", "/sessions", json={}).json()
    rec = server.native("POST", f"/sessions/{session['id']}/recordings", json={}).json()
    refused = server.native("DELETE", f"/recordings/{rec['id']}")
    assert refused.status_code == 409 and "stop it" in refused.json()["message"]
    server.native("POST", f"/recordings/{rec['id']}/stop")
    url = server.native("GET", f"/recordings/{rec['id']}/download-url").json()["url"]
    assert httpx.get(url).status_code == 200
    server.native("DELETE", f"/sessions/{session['id']}")

    assert server.native("DELETE", f"/recordings/{rec['id']}").status_code == 204
    assert httpx.get(url).status_code == 404
    assert server.native("GET", f"/recordings/{rec['id']}").status_code == 404
    assert server.native("GET", f"/sessions/{session['id']}/recordings").json()["items"] == []
    assert server.native("DELETE", f"/recordings/{rec['id']}").status_code == 404


def test_native_errors(server):
    assert server.native("POST", "/sessions", content=b"[").json()["code"] == "bad_request"
    assert server.native("GET", "/recordings/nope").status_code == 404
    assert httpx.get(f"{server.url}/v1/sessions").status_code == 401
    assert server.native("GET", "/recordings/x/download-url", params={"expires_in_secs": 0}).status_code == 400


def test_a_client_that_hangs_up_mid_create_or_mid_delete_leaves_no_ghost(server):
    """Create and delete run to completion whatever the client does: a session either has a
    running row and its processes, or neither."""
    bearer = {"Authorization": f"Bearer {API_KEY}"}

    def running() -> set:
        return {s["id"] for s in server.native("GET", "/sessions", params={"limit": 100}).json()["items"]}

    before = running()
    try:
        httpx.post(f"{server.url}/v1/sessions", headers=bearer, json={}, timeout=0.2)
        raise AssertionError("the create answered within 0.2 s; the hang-up was not tested")
    except httpx.TimeoutException:
        pass
    # The create finishes by itself: one new running session, with its browser.
    wait_until(lambda: len(running() - before) == 1, 30, "the abandoned create to finish")
    [session] = running() - before
    assert processes(f"/{session}/profile"), "a running session without its browser"

    try:
        httpx.delete(f"{server.url}/v1/sessions/{session}", headers=bearer, timeout=0.05)
    except httpx.TimeoutException:
        pass
    # The delete finishes by itself: no row left running, and no process left behind.
    wait_until(lambda: session not in running(), 30, "the abandoned delete to finish")
    wait_until(lambda: not processes(f"/{session}/profile"), 10, "the browser to be gone")
    assert server.native("GET", f"/sessions/{session}").json()["state"] == "deleted"
