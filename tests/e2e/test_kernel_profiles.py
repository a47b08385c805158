"""Kernel profiles with the official SDK: a browser's cookies and local storage outlive it in a
profile and come back in the next browser that loads it; one browser uses a profile at a time."""

import io
import tarfile
import time
import uuid

import httpx
import pytest
from kernel import BadRequestError, ConflictError, Kernel, NotFoundError

from conftest import API_KEY, node, wait_until
from test_scale_backends import postgres, s3, scale_server  # noqa: F401 (fixtures)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SET_STATE = ("document.cookie = 'seen=yes; max-age=86400; path=/';"
             " localStorage.setItem('cart', '3 apples'); document.cookie")
READ_STATE = "({cookie: document.cookie, cart: localStorage.getItem('cart')})"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def visit(browser, url: str):
    seen = node("visit", browser.cdp_ws_url, url)
    assert seen["loaded"], seen


def test_cookies_and_local_storage_come_back_in_the_next_browser_with_the_profile(kernel, pages):
    name = unique("shop")
    profile = kernel.profiles.create(name=name)
    assert profile.name == name and profile.last_used_at is None
    page = f"{pages}/solid.html"

    first = kernel.browsers.create(profile={"name": name, "save_changes": True})
    assert first.profile.id == profile.id and first.profile_save_changes is True
    visit(first, page)
    assert "seen=yes" in node("eval", first.cdp_ws_url, SET_STATE)["value"]
    kernel.browsers.delete_by_id(first.session_id)

    saved = kernel.profiles.retrieve(profile.id)
    assert saved.updated_at is not None and saved.last_used_at is not None

    second = kernel.browsers.create(profile={"id": profile.id})
    assert second.profile.name == name and second.profile_save_changes is False
    visit(second, page)
    state = node("eval", second.cdp_ws_url, READ_STATE)["value"]
    assert "seen=yes" in state["cookie"], state
    assert state["cart"] == "3 apples", state

    # Without save_changes, what the second browser did is not kept.
    node("eval", second.cdp_ws_url, "localStorage.setItem('cart', 'emptied'); true")
    kernel.browsers.delete_by_id(second.session_id)
    third = kernel.browsers.create(profile={"name": name})
    visit(third, page)
    assert node("eval", third.cdp_ws_url, READ_STATE)["value"]["cart"] == "3 apples"


def test_a_second_browser_on_a_profile_in_use_is_a_409_the_sdk_does_not_retry(server, kernel):
    profile = kernel.profiles.create(name=unique("busy"))
    first = kernel.browsers.create(profile={"id": profile.id, "save_changes": True})

    attempts = []
    counting = httpx.Client(event_hooks={"request": [lambda request: attempts.append(request.url.path)]})
    client = Kernel(api_key=API_KEY, base_url=server.kernel_url, http_client=counting, max_retries=2)
    started = time.monotonic()
    with pytest.raises(ConflictError) as err:
        client.browsers.create(profile={"name": profile.name})
    assert attempts == ["/kernel/browsers"], attempts
    assert time.monotonic() - started < 5
    assert err.value.response.headers["x-should-retry"] == "false"
    assert err.value.body["code"] == "conflict"
    assert first.session_id in err.value.body["message"]
    # The refused create left nothing running.
    assert [b.session_id for b in kernel.browsers.list()] == [first.session_id]

    # A profile in use cannot be deleted either; once its browser is gone, it can.
    with pytest.raises(ConflictError):
        kernel.profiles.delete(profile.id)
    kernel.browsers.delete_by_id(first.session_id)
    assert kernel.profiles.retrieve(profile.id).id == profile.id
    second = kernel.browsers.create(profile={"id": profile.id})
    kernel.browsers.delete_by_id(second.session_id)
    kernel.profiles.delete(profile.id)
    with pytest.raises(NotFoundError):
        kernel.profiles.retrieve(profile.id)
    with pytest.raises(NotFoundError):
        kernel.browsers.create(profile={"id": profile.id})


def test_a_saved_profile_downloads_as_a_tar_without_caches(kernel, pages):
    name = unique("dl")
    kernel.profiles.create(name=name)
    with pytest.raises(NotFoundError):
        kernel.profiles.download(name)
    browser = kernel.browsers.create(profile={"name": name, "save_changes": True})
    visit(browser, f"{pages}/solid.html")
    node("eval", browser.cdp_ws_url, SET_STATE)
    kernel.browsers.delete_by_id(browser.session_id)

    packed = kernel.profiles.download(name)
    assert packed.headers["content-type"] == "application/octet-stream"
    assert f'filename="{name}.tar.zst"' in packed.headers["content-disposition"]
    compressed = packed.read()
    assert compressed.startswith(ZSTD_MAGIC) and len(compressed) > 1000

    plain = kernel.profiles.download(name, format="tar").read()
    assert len(plain) > len(compressed)
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        members = tar.getmembers()
    paths = {m.name for m in members}
    assert "Local State" in paths, sorted(paths)
    assert any(p.endswith("/Cookies") for p in paths), sorted(paths)
    assert any("Local Storage/leveldb" in p for p in paths), sorted(paths)
    caches = [p for p in paths if set(p.split("/")) & {"Cache", "Code Cache", "GPUCache"}]
    assert caches == [] and "DevToolsActivePort" not in paths, caches
    assert all(m.isfile() or m.isdir() for m in members)

    with pytest.raises(BadRequestError):
        kernel.profiles.download(name, format="zip")


def test_profiles_are_listed_renamed_and_validated(server, kernel):
    tag = uuid.uuid4().hex[:8]
    made = [kernel.profiles.create(name=f"list-{tag}-{i}") for i in range(3)]
    made.append(kernel.profiles.create())
    assert made[-1].name is None

    # limit=2 makes the SDK follow X-Next-Offset across pages.
    listed = [p.id for p in kernel.profiles.list(limit=2, query=f"LIST-{tag}")]
    assert listed == [p.id for p in made[:3]]
    assert [p.id for p in kernel.profiles.list(name=f"list-{tag}-1")] == [made[1].id]
    assert made[-1].id in [p.id for p in kernel.profiles.list(limit=100)]

    renamed = kernel.profiles.update(made[0].id, name=f"renamed-{tag}")
    assert renamed.name == f"renamed-{tag}" and renamed.updated_at is not None
    assert kernel.profiles.retrieve(f"renamed-{tag}").id == made[0].id
    with pytest.raises(ConflictError):
        kernel.profiles.update(made[0].id, name=f"list-{tag}-2")
    with pytest.raises(ConflictError):
        kernel.profiles.create(name=f"list-{tag}-2")

    for bad in ("with space", "x" * 256, "../up"):
        with pytest.raises(BadRequestError):
            kernel.profiles.create(name=bad)
    with pytest.raises(BadRequestError):
        kernel.profiles.list(limit=101)
    with pytest.raises(BadRequestError):
        kernel.browsers.create(profile={"id": made[1].id, "name": made[1].name})
    with pytest.raises(NotFoundError):
        kernel.profiles.retrieve("no-such-profile")

    # Another project sees none of them.
    other = server.native("POST", "/keys", json={"name": f"other-{tag}", "project": f"other-{tag}"})
    assert other.status_code == 201, other.text
    stranger = Kernel(api_key=other.json()["secret"], base_url=server.kernel_url)
    try:
        assert list(stranger.profiles.list()) == []
        with pytest.raises(NotFoundError):
            stranger.profiles.retrieve(made[1].id)
        with pytest.raises(NotFoundError):
            stranger.browsers.create(profile={"name": made[1].name})
    finally:
        server.native("DELETE", f"/keys/{other.json()['id']}")


def test_browsers_ended_by_timeout_or_shutdown_save_too_on_postgres_and_s3(tmp_path, postgres, s3, pages):
    bucket_dir, s3_env, _ = s3
    server = scale_server(tmp_path, postgres(), s3_env, first_display=160).start()
    page = f"{pages}/solid.html"
    try:
        kernel = server.kernel_client()
        profile = kernel.profiles.create(name="kept")
        assert [p.id for p in kernel.profiles.list(query="KEP")] == [profile.id]

        # Ended by its inactivity timeout: saved before it leaves the list.
        idle = kernel.browsers.create(profile={"name": "kept", "save_changes": True}, timeout_seconds=10)
        visit(idle, page)
        node("eval", idle.cdp_ws_url, "localStorage.setItem('by', 'timeout'); true")
        wait_until(lambda: not list(kernel.browsers.list()), 30, "the idle browser to time out")

        last = kernel.browsers.create(profile={"name": "kept", "save_changes": True})
        with pytest.raises(ConflictError):
            kernel.browsers.create(profile={"id": profile.id})
        visit(last, page)
        assert node("eval", last.cdp_ws_url, "localStorage.getItem('by')")["value"] == "timeout"
        node("eval", last.cdp_ws_url, "localStorage.setItem('by', 'shutdown'); true")

        # Ended by the server's shutdown; the archive is an object in the bucket.
        server.stop()
        assert (bucket_dir / "profiles" / f"{profile.id}.tar.zst").stat().st_size > 0
        server.start()
        after = kernel.browsers.create(profile={"name": "kept"})
        visit(after, page)
        assert node("eval", after.cdp_ws_url, "localStorage.getItem('by')")["value"] == "shutdown"
    finally:
        server.stop()
