"""Bad input gets Kernel's `{code, message}` error with the right status, and nothing breaks."""

import httpx
import pytest
from kernel import AuthenticationError, BadRequestError, ConflictError, Kernel, NotFoundError

from conftest import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def assert_kernel_error(response: httpx.Response, status: int, code: str):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["message"], body


def test_malformed_json_and_wrong_types_are_400(server):
    url = f"{server.kernel_url}/browsers"
    assert_kernel_error(httpx.post(url, content=b"{nope", headers=AUTH), 400, "bad_request")
    assert_kernel_error(httpx.post(url, json={"timeout_seconds": "soon"}, headers=AUTH), 400, "bad_request")
    assert_kernel_error(httpx.post(url, json={"timeout_seconds": 5}, headers=AUTH), 400, "bad_request")
    assert_kernel_error(httpx.post(url, json={"viewport": {"width": 10, "height": 10}}, headers=AUTH),
                        400, "bad_request")
    assert_kernel_error(httpx.get(f"{url}?limit=many", headers=AUTH), 400, "bad_request")


def test_replay_parameters_are_validated(kernel):
    browser = kernel.browsers.create(viewport={"width": 800, "height": 600})
    # Too high and too low name the same range, Kernel's.
    for fps in (99, 0):
        with pytest.raises(BadRequestError) as err:
            kernel.browsers.replays.start(browser.session_id, framerate=fps)
        assert f"framerate must be in 1..=20, got {fps}" in err.value.body["message"]
    with pytest.raises(BadRequestError):
        kernel.browsers.replays.start(browser.session_id, max_duration_in_seconds=0)
    # Nothing was started by the refused calls.
    assert kernel.browsers.replays.list(browser.session_id) == []


def test_missing_or_wrong_auth_is_401(server):
    url = f"{server.kernel_url}/browsers"
    assert_kernel_error(httpx.get(url), 401, "unauthorized")
    assert_kernel_error(httpx.get(url, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    with pytest.raises(AuthenticationError):
        Kernel(api_key="wrong", base_url=server.kernel_url).browsers.create()


def test_unknown_ids_are_404(kernel, server):
    with pytest.raises(NotFoundError) as err:
        kernel.browsers.retrieve("no-such-browser")
    assert err.value.body["code"] == "not_found"
    with pytest.raises(NotFoundError):
        kernel.browsers.delete_by_id("no-such-browser")
    browser = kernel.browsers.create(viewport={"width": 800, "height": 600})
    with pytest.raises(NotFoundError):
        kernel.browsers.replays.stop("no-such-replay", id_or_name=browser.session_id)
    response = httpx.get(f"{server.kernel_url}/browsers/{browser.session_id}/replays/nope", headers=AUTH)
    assert_kernel_error(response, 404, "not_found")


def test_conflicts_are_409_and_not_retried(kernel, server):
    kernel.browsers.create(viewport={"width": 800, "height": 600}, name="taken")
    response = httpx.post(f"{server.kernel_url}/browsers", json={"name": "taken"}, headers=AUTH)
    assert_kernel_error(response, 409, "conflict")
    assert response.headers["x-should-retry"] == "false"


def test_update_renames_and_retags_and_refuses_other_fields(kernel):
    browser = kernel.browsers.create(viewport={"width": 800, "height": 600}, name="before", tags={"team": "a"})
    kernel.browsers.create(viewport={"width": 800, "height": 600}, name="other")

    updated = kernel.browsers.update(browser.session_id, name="after", tags={"team": "b"})
    assert (updated.name, updated.tags) == ("after", {"team": "b"})
    assert kernel.browsers.retrieve("after").session_id == browser.session_id
    with pytest.raises(NotFoundError):
        kernel.browsers.retrieve("before")

    with pytest.raises(ConflictError):
        kernel.browsers.update(browser.session_id, name="other")
    with pytest.raises(BadRequestError) as err:
        kernel.browsers.update(browser.session_id, viewport={"width": 1024, "height": 768})
    assert "viewport" in err.value.body["message"]
    # The refused patches changed nothing.
    kept = kernel.browsers.retrieve(browser.session_id)
    assert (kept.name, kept.tags) == ("after", {"team": "b"})


def test_webdriver_url_says_it_is_not_served(kernel):
    browser = kernel.browsers.create(viewport={"width": 800, "height": 600})
    response = httpx.get(browser.webdriver_ws_url.replace("ws://", "http://", 1))
    assert_kernel_error(response, 501, "not_implemented")
    assert "cdp_ws_url" in response.json()["message"]


def test_capacity_is_529(kernel, server):
    # The test server runs with --max-sessions 2.
    kernel.browsers.create(viewport={"width": 800, "height": 600})
    kernel.browsers.create(viewport={"width": 800, "height": 600})
    response = httpx.post(f"{server.kernel_url}/browsers", json={}, headers=AUTH)
    assert_kernel_error(response, 529, "capacity_exhausted")


def test_empty_bodies_are_accepted_with_a_json_content_type(kernel, server):
    headers = {**AUTH, "Content-Type": "application/json"}
    created = httpx.post(f"{server.kernel_url}/browsers", content=b"", headers=headers, timeout=60)
    assert created.status_code == 200, created.text
    browser = created.json()
    for field in ("session_id", "cdp_ws_url", "webdriver_ws_url", "created_at", "headless",
                  "stealth", "timeout_seconds", "memory", "region"):
        assert field in browser, field
    assert "base_url" not in browser
    assert browser["timeout_seconds"] == 60
    sid = browser["session_id"]
    started = httpx.post(f"{server.kernel_url}/browsers/{sid}/replays", content=b"", headers=headers)
    assert started.status_code == 201
    rid = started.json()["replay_id"]
    stopped = httpx.post(f"{server.kernel_url}/browsers/{sid}/replays/{rid}/stop", content=b"",
                         headers=headers, timeout=60)
    assert stopped.status_code == 200
    deleted = httpx.delete(f"{server.kernel_url}/browsers/{sid}", headers=headers, timeout=60)
    assert deleted.status_code == 204 and deleted.content == b""
