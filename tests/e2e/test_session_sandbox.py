"""Sessions run sandboxed: unprivileged, with Chromium's own sandbox on, a clean environment, a
filesystem view without the server's files, and no way to local files through the API or CDP."""

import os
from pathlib import Path

import httpx
import pytest
from gbox_sdk import GboxSDK
from gbox_sdk._exceptions import BadRequestError as GboxBadRequest
from kernel import BadRequestError as KernelBadRequest

from conftest import API_KEY, Server, chromium_of, encoder_of, node, processes, spool_of, wait_until

SECRET_ENV = {
    "AWS_SECRET_ACCESS_KEY": "aws-secret-must-not-leak",
    "AWS_ACCESS_KEY_ID": "aws-id-must-not-leak",
    "DATABASE_URL": "postgres://tapedeck:db-password-must-not-leak@db/tapedeck",
    "TAPEDECK_EXTRA_SECRET": "tapedeck-secret-must-not-leak",
}


def xvfb_of(display: str) -> list:
    return [p for p in processes(display) if p.exe.endswith("/Xvfb") and display in p.args]


def leaked(env: dict) -> list:
    return sorted(k for k in env if k.startswith(("TAPEDECK_", "AWS_")) or "DATABASE" in k)


@pytest.fixture(scope="module")
def secret_server(tmp_path_factory):
    """A server started with secrets in its environment, as an operator's would be."""
    srv = Server(tmp_path_factory.mktemp("sandbox"), first_display=150, env=SECRET_ENV).start()
    yield srv
    srv.stop()


def test_session_processes_are_unprivileged_with_chromiums_sandbox_and_no_server_secrets(secret_server):
    browser = secret_server.kernel_client().browsers.create(viewport={"width": 1024, "height": 768})
    sdk = GboxSDK(api_key=API_KEY, base_url=f"{secret_server.url}/gbox")
    box = sdk.create(type="linux", config={"envs": {"BOX_TOKEN": "for-the-box", "TZ": "UTC"}})
    try:
        for session_id, own_env in [(browser.session_id, {}), (box.data.id, {"BOX_TOKEN": "for-the-box"})]:
            main, procs = chromium_of(session_id)
            env = main.environ()
            assert main.uid != 0
            assert leaked(env) == [], env
            assert env["HOME"].endswith(f"/sessions/{session_id}") and env["DISPLAY"].startswith(":")
            assert {k: env.get(k) for k in own_env} == own_env
            # Chromium's own sandbox is on: no --no-sandbox anywhere, and each renderer has a
            # seccomp-bpf filter and a PID namespace of its own.
            assert not any("--no-sandbox" in p.text for p in procs)

            def renderers_sandboxed(session_id=session_id, main=main) -> bool:
                # Read afresh: a renderer that has just started installs its filter moments later.
                renderers = [p for p in chromium_of(session_id)[1] if "--type=renderer" in p.text]
                return bool(renderers) and all(
                    r.seccomp == 2 and r.pid_ns != main.pid_ns and r.uid != 0 for r in renderers)

            wait_until(renderers_sandboxed, 10, "every renderer to run in Chromium's sandbox")
            # Every process started for the session, bubblewrap's included, is unprivileged.
            everything = processes(f"/{session_id}/")
            assert everything and all(p.uid != 0 for p in everything), [(p.uid, p.args[:2]) for p in everything]
            xvfb = xvfb_of(env["DISPLAY"])
            assert len(xvfb) == 1 and xvfb[0].uid != 0 and leaked(xvfb[0].environ()) == []

        # The recorder's ffmpeg too, with no writable directory at all: it writes to a pipe, and
        # the server writes the spool.
        replay = secret_server.kernel_client().browsers.replays.start(browser.session_id, framerate=5)
        ffmpeg = encoder_of(replay.replay_id)
        assert ffmpeg.uid != 0 and leaked(ffmpeg.environ()) == []
        assert not (ffmpeg.root / str(spool_of(ffmpeg)).lstrip("/")).exists()
        data_dir = secret_server.data_dir / "data"
        assert not (ffmpeg.root / str(data_dir).lstrip("/")).exists()
        secret_server.kernel_client().browsers.replays.stop(replay.replay_id, id_or_name=browser.session_id)
    finally:
        secret_server.kernel_client().browsers.delete_by_id(browser.session_id)
        sdk.terminate(box.data.id)


def test_the_browser_sees_neither_the_data_dir_nor_other_sessions_and_cannot_open_files(kernel, server):
    data_dir = server.data_dir / "data"
    secret = (data_dir / "signing-secret").read_text().strip()
    (data_dir / "api-key").write_text(API_KEY)  # as if the server had generated its key
    one = kernel.browsers.create()
    other = kernel.browsers.create()
    main, _ = chromium_of(one.session_id)
    other_main, _ = chromium_of(other.session_id)
    own_dir = Path(main.environ()["HOME"])
    other_dir = Path(other_main.environ()["HOME"])

    # Its mount namespace: its own directory and the system, read-only; no data dir, no other
    # session's directory.
    view = lambda path: main.root / str(path).lstrip("/")  # noqa: E731
    assert view(own_dir / "profile").is_dir()
    assert not view(data_dir).exists() and not view(other_dir).exists()
    assert view("/etc/passwd").exists()
    assert os.statvfs(view("/usr")).f_flag & os.ST_RDONLY
    assert os.statvfs(view("/etc")).f_flag & os.ST_RDONLY
    assert not os.statvfs(view("/tmp")).f_flag & os.ST_RDONLY

    # Over CDP (Playwright through the relay), local files do not open.
    for url in [f"file://{data_dir}/api-key", f"file://{data_dir}/signing-secret", "file:///etc/passwd",
                f"file://{other_dir}/"]:
        seen = node("visit", one.cdp_ws_url, url)
        assert not seen["loaded"], seen
        assert API_KEY not in seen["text"] and secret not in seen["text"] and "root:x:0" not in seen["text"]
    # The web still does.
    assert node("visit", one.cdp_ws_url, "data:text/html,<p>still browsing</p>")["text"] == "still browsing"


def test_typing_a_file_url_into_a_boxs_address_bar_is_refused(server):
    sdk = GboxSDK(api_key=API_KEY, base_url=f"{server.url}/gbox")
    box = sdk.create(type="linux")
    try:
        box.action.press_key(keys=["control", "l"], combination=True)
        box.action.type("file:///etc/passwd", press_enter=True)
        cdp = server.native("GET", f"/sessions/{box.data.id}").json()["cdp_ws_url"]

        def shown():
            return node("eval", cdp, "location.href + ' ' + document.body.innerText")["value"]

        wait_until(lambda: "chrome-error://" in shown(), 10, "the blocked page")
        assert "root:x:0" not in shown()
    finally:
        sdk.terminate(box.data.id)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "chrome://settings", "javascript:alert(1)", "view-source:http://x"])
def test_start_urls_other_than_web_blank_and_data_are_400_in_every_dialect(server, kernel, url):
    with pytest.raises(KernelBadRequest) as err:
        kernel.browsers.create(start_url=url)
    assert err.value.body["code"] == "bad_request" and "start_url" in err.value.body["message"]

    native = server.native("POST", "/sessions", json={"start_url": url})
    assert native.status_code == 400, native.text
    assert native.json()["code"] == "bad_request" and "start_url" in native.json()["message"]

    # Nothing was started by the refused calls.
    assert list(kernel.browsers.list()) == []


@pytest.mark.parametrize("name", ["LD_PRELOAD", "LD_LIBRARY_PATH", "GCONV_PATH", "BASH_ENV", "NODE_OPTIONS",
                                  "PYTHONPATH", "PERL5OPT", "MALLOC_CHECK_", "DISPLAY", "PATH"])
def test_envs_that_change_how_programs_load_are_400(server, name):
    sdk = GboxSDK(api_key=API_KEY, base_url=f"{server.url}/gbox")
    with pytest.raises(GboxBadRequest) as err:
        sdk.create(type="linux", config={"envs": {name: "x"}})
    assert err.value.body["statusCode"] == 400 and err.value.body["error"] == "Bad Request"
    assert name in err.value.body["message"]
    raw = httpx.post(f"{server.url}/gbox/boxes/linux", json={"config": {"envs": {name: "/tmp/x.so"}}},
                     headers={"Authorization": f"Bearer {API_KEY}"})
    assert raw.status_code == 400 and raw.json()["statusCode"] == 400
    assert sdk.list_info(status=["running"]).data == []


def test_a_box_with_ordinary_envs_still_starts(server):
    sdk = GboxSDK(api_key=API_KEY, base_url=f"{server.url}/gbox")
    box = sdk.create(type="linux", config={"envs": {"TZ": "Asia/Tokyo", "LANG": "C.UTF-8"}})
    try:
        cdp = server.native("GET", f"/sessions/{box.data.id}").json()["cdp_ws_url"]
        zone = node("eval", cdp, "Intl.DateTimeFormat().resolvedOptions().timeZone")["value"]
        assert zone == "Asia/Tokyo"
    finally:
        sdk.terminate(box.data.id)
