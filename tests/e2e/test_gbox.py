"""GBOX's boxes, UI actions, recording, rewind and storage, driven by the unmodified `gbox-sdk`."""

import base64
import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from gbox_sdk import GboxSDK
from gbox_sdk._exceptions import BadRequestError, NotFoundError, PermissionDeniedError

from conftest import API_KEY, chromium_of, expires, ffprobe, frame_rgb, mean_rgb, node, processes, wait_until


@pytest.fixture
def sdk(server):
    client = GboxSDK(api_key=API_KEY, base_url=f"{server.url}/gbox")
    yield client
    for box in client.list_info(status=["running"]).data:
        client.terminate(box.id)


def page_value(server, box_id, expression):
    session = server.native("GET", f"/sessions/{box_id}").json()
    return node("eval", session["cdp_ws_url"], expression)["value"]


def open_page(box, url, server, title):
    """Navigates the box's browser like a person (focus the address bar, type, Enter), then
    waits until the page with `title` has loaded. Create returns only once the browser's window
    is mapped, so the first keystrokes already reach it."""
    loaded = f"complete:{title}"
    box.action.press_key(keys=["control", "l"], combination=True)
    box.action.type(url, press_enter=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if page_value(server, box.data.id, "document.readyState + ':' + document.title") == loaded:
            time.sleep(0.5)  # the load's last paint, before anything records or clicks
            return
        time.sleep(0.3)
    raise AssertionError(f"{url} did not load in the box")


def test_gbox_sdk_records_taps_and_typing(sdk, server, pages, scratch):
    box = sdk.create(type="linux", config={"labels": {"suite": "gbox"}, "expiresIn": "30m"}, wait=True)
    assert box.data.status == "running" and box.data.config.labels == {"suite": "gbox"}
    open_page(box, f"{pages}/box.html", server, "box")

    box.action.recording.start()
    started = time.monotonic()
    time.sleep(1)
    result = box.action.tap(x=900, y=300 + 90)  # the pad, below the ~90 px toolbar
    assert result.action_id and result.message
    box.action.tap(x=200, y=90 + 55)  # the text field
    box.action.type("hello from gbox")
    time.sleep(1.5)
    stop = box.action.recording.stop()
    wall = time.monotonic() - started

    assert stop.storage_key.startswith("storage://tapedeck/")
    download = httpx.get(stop.presigned_url)  # no auth header
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
    video = scratch / "box.mp4"
    video.write_bytes(download.content)
    probe = ffprobe(video)
    assert probe["codec"] == "h264" and abs(probe["duration"] - wall) <= 1.0, (probe, wall)
    red, green, blue = mean_rgb(frame_rgb(video, 0.3, from_end=True))
    assert blue > 120 and red < 100, f"the tapped pad's blue background is not in the video: {(red, green, blue)}"

    assert page_value(server, box.data.id, "document.getElementById('field').value") == "hello from gbox"
    assert page_value(server, box.data.id, "document.body.className") == "pad-pressed"


def test_gbox_tap_target_presses_the_described_button(sdk, server, pages):
    box = sdk.create(type="linux")
    open_page(box, f"{pages}/box.html", server, "box")
    box.action.tap(target="login button")
    assert page_value(server, box.data.id, "document.getElementById('pressed').textContent") == "Login"
    box.action.click(target="Sign up")
    assert page_value(server, box.data.id, "document.getElementById('pressed').textContent") == "Sign up"
    with pytest.raises(BadRequestError) as err:
        box.action.tap(target="purchase premium subscription")
    assert "no element" in err.value.body["message"]
    assert err.value.body["statusCode"] == 400 and err.value.body["error"] == "Bad Request"


def test_gbox_browser_opens_a_page_in_a_new_tab_lists_tabs_and_hands_out_a_cdp_url(sdk, server, pages):
    box = sdk.create(type="linux")
    page = f"{pages}/box.html"
    tab = box.browser.open_tab(page)
    # The answer comes once the page's DOM has loaded, and the new tab is in front.
    assert tab.id and tab.title == "box" and tab.url == page and tab.active, tab
    tabs = box.browser.list_tab_info().data
    assert [t.id for t in tabs if t.active] == [tab.id], tabs
    assert len(tabs) == 2 and {t.url for t in tabs} == {"about:blank", page}, tabs
    # Actions find elements in the tab in front (the page names what was pressed in its title).
    box.action.tap(target="login button")
    wait_until(lambda: [t.title for t in box.browser.list_tab_info().data if t.active] == ["box: Login"], 5,
               "the tap to press Login in the new tab")

    # The CDP URL needs no API key: its token is the credential.
    url = box.browser.cdp_url()
    assert url.startswith("ws://") and f"/gbox/boxes/{box.data.id}/browser/cdp?jwt=" in url, url
    assert node("eval", url, "20 + 22")["value"] == 42
    assert sdk.client.v1.boxes.browser.open(box.data.id).cdp_url.startswith("ws://")
    refused = httpx.get(url.replace("ws://", "http://").replace("jwt=", "jwt=x"), headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                             "Sec-WebSocket-Version": "13",
                                                             "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert refused.status_code == 401

    # Pages a session may not show, and malformed lifetimes, are the client's mistakes.
    for bad in ("file:///etc/passwd", "javascript:alert(1)", "chrome://settings"):
        with pytest.raises(BadRequestError) as err:
            box.browser.open_tab(bad)
        assert "url must be an http or https URL" in err.value.body["message"]
    with pytest.raises(BadRequestError):
        sdk.client.v1.boxes.browser.cdp_url(box.data.id, expires_in="forever")
    box.terminate()
    with pytest.raises(NotFoundError):
        box.browser.list_tab_info()


def test_gbox_tabs_switch_navigate_and_close(sdk, server, pages):
    box = sdk.create(type="linux")
    first = next(t for t in box.browser.list_tab_info().data)
    opened = box.browser.open_tab(f"{pages}/box.html")
    assert opened.active
    switched = box.browser.switch_tab(first.id)
    assert switched.id == first.id and switched.active, switched
    assert [t.id for t in box.browser.list_tab_info().data if t.active] == [first.id]
    moved = box.browser.update_tab(tab_id=first.id, url=f"{pages}/solid.html")
    assert moved.url == f"{pages}/solid.html" and not moved.loading, moved
    assert "closed" in box.browser.close_tab(opened.id).message
    assert [t.id for t in box.browser.list_tab_info().data] == [first.id]
    with pytest.raises(NotFoundError):
        box.browser.switch_tab(opened.id)
    # Closing the browser closes its pages; its window stays, with one blank tab.
    box.browser.open_tab(f"{pages}/box.html")
    sdk.client.v1.boxes.browser.close(box.data.id)
    [blank] = box.browser.list_tab_info().data
    assert blank.url == "about:blank" and blank.id != first.id, blank


def test_gbox_rewind_extracts_the_last_seconds(sdk, server, pages, scratch):
    box = sdk.create(type="linux")
    open_page(box, f"{pages}/box.html", server, "box")
    box.action.recording.rewind.enable()
    time.sleep(8)  # the ring holds more than the 5 s extract
    box.action.tap(x=900, y=390)  # the pad turns the page blue just before the extract
    time.sleep(1.5)
    extract = box.action.recording.rewind.extract(duration="5s")
    video = scratch / "rewind.mp4"
    video.write_bytes(httpx.get(extract.presigned_url).content)
    probe = ffprobe(video)
    assert abs(probe["duration"] - 5) <= 1.0, probe
    red, green, blue = mean_rgb(frame_rgb(video, 0.3, from_end=True))
    assert blue > 120 and red < 100, "the extract does not show the last seconds"
    box.action.recording.rewind.disable()
    with pytest.raises(BadRequestError):
        box.action.recording.rewind.extract(duration="5s")
    with pytest.raises(BadRequestError):
        box.action.recording.rewind.extract(duration="6m")


def test_gbox_storage_presigned_urls(sdk, server, scratch):
    box = sdk.create(type="linux")
    box.action.recording.start()
    time.sleep(2)
    stop = box.action.recording.stop()
    url = box.storage.create_presigned_url(stop.storage_key, expires_in="1m")
    assert url.startswith("http") and '"' not in url and url.strip() == url
    assert httpx.get(url).status_code == 200
    assert httpx.get(url[:-1] + ("0" if url[-1] != "0" else "1")).status_code == 403
    short = box.storage.create_presigned_url(stop.storage_key, expires_in="1s")
    expires(short)
    with pytest.raises(BadRequestError):
        box.storage.create_presigned_url(stop.storage_key, expires_in="7h")

    other = sdk.create(type="linux")
    with pytest.raises(NotFoundError):
        other.storage.create_presigned_url(stop.storage_key)
    with pytest.raises(Exception) as err:
        box.storage.create_presigned_url("storage://tapedeck/../api-key")
    assert err.value.status_code in (400, 403)

    shot = box.action.screenshot(output_format="storageKey")
    assert shot.uri.startswith("storage://tapedeck/") and httpx.get(shot.presigned_url).content[:4] == b"\x89PNG"
    inline = box.action.screenshot()
    assert inline.uri.startswith("data:image/png;base64,")


def test_gbox_terminate_then_get_and_strict_list(sdk, server):
    box = sdk.create(type="linux", config={"labels": {"team": "a"}})
    keep = sdk.create(type="linux", config={"labels": {"team": "b"}})
    box.terminate()  # POST terminate, then GET: must read as terminated
    assert box.data.status == "terminated"
    assert sdk.get(box.data.id).data.status == "terminated"
    listed = sdk.list()  # validates every box strictly
    ids = {b.data.id for b in listed.operators}
    assert {box.data.id, keep.data.id} <= ids
    running = sdk.list_info(status=["running"], labels={"team": "b"})
    assert [b.id for b in running.data] == [keep.data.id] and running.total == 1
    with pytest.raises(BadRequestError) as err:
        sdk.client.v1.boxes.create_android()
    assert "Android" in err.value.body["message"]


def test_gbox_second_recording_start_replaces_the_first(sdk, server, scratch):
    box = sdk.create(type="linux")
    box.action.recording.start()
    time.sleep(3)
    box.action.recording.start()
    second_started = time.monotonic()
    time.sleep(2)
    stop = box.action.recording.stop()
    wall = time.monotonic() - second_started
    video = scratch / "second.mp4"
    video.write_bytes(httpx.get(stop.presigned_url).content)
    assert abs(ffprobe(video)["duration"] - wall) <= 1.0
    recordings = server.native("GET", f"/sessions/{box.data.id}/recordings").json()["items"]
    assert [r["state"] for r in recordings] == ["discarded", "finished"]
    with pytest.raises(BadRequestError):
        box.action.recording.stop()


def test_gbox_box_expires_by_itself(sdk):
    box = sdk.create(type="linux", config={"expiresIn": "3s"})
    assert box.data.expires_at is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sdk.get(box.data.id).data.status != "terminated":
        time.sleep(0.5)
    assert sdk.get(box.data.id).data.status == "terminated"


def test_gbox_bad_input_uses_gbox_errors(sdk, server):
    box = sdk.create(type="linux")
    with pytest.raises(BadRequestError) as err:
        sdk.client.post(f"/boxes/{box.data.id}/actions/recording/start",
                        body={"duration": "soon"}, cast_to=object)
    assert err.value.body["statusCode"] == 400 and "duration" in err.value.body["message"]
    with pytest.raises(BadRequestError):
        box.action.tap(x=5000, y=10)
    # Numbers past any screen are the client's mistake, told at once (not a 500 to retry).
    for scroll in ({"scrollX": 0, "scrollY": 1e300}, {"scrollX": -50000, "scrollY": 0},
                   {"x": 1e300, "y": 10, "scrollX": 0, "scrollY": 100}):
        started = time.monotonic()
        with pytest.raises(BadRequestError) as err:
            sdk.client.post(f"/boxes/{box.data.id}/actions/scroll", body=scroll, cast_to=object)
        assert err.value.body["statusCode"] == 400 and time.monotonic() - started < 5, err.value.body
    assert "scroll executed" in box.action.scroll(scroll_x=0, scroll_y=300, x=100, y=100).message
    with pytest.raises(NotFoundError) as missing:
        sdk.get("no-such-box")
    assert missing.value.body == {"statusCode": 404, "message": missing.value.body["message"], "error": "Not Found"}
    unauthorized = httpx.get(f"{server.url}/gbox/boxes", headers={"Authorization": "Bearer nope"})
    assert unauthorized.status_code == 401 and unauthorized.json()["error"] == "Unauthorized"


def test_a_stopped_browser_times_out_its_own_actions_only_and_its_box_still_ends_at_once(sdk, server):
    stuck, other = sdk.create(type="linux"), sdk.create(type="linux")
    main, _ = chromium_of(stuck.data.id)
    os.kill(main.pid, signal.SIGSTOP)
    try:
        def tap_by_description():
            # Raw, so the SDK's retries of a 5xx do not multiply the wait.
            return httpx.post(f"{server.url}/gbox/boxes/{stuck.data.id}/actions/tap",
                              headers={"Authorization": f"Bearer {API_KEY}"},
                              json={"target": "the search box"}, timeout=120)

        with ThreadPoolExecutor(max_workers=1) as pool:
            asked = time.monotonic()
            pending = pool.submit(tap_by_description)
            # Meanwhile the other box is as quick as ever, and so is the stuck box's screen.
            before = time.monotonic()
            assert "executed" in other.action.tap(x=200, y=200).message
            assert stuck.action.screenshot().uri.startswith("data:image/png;base64,")
            assert time.monotonic() - before < 10
            answer = pending.result()
        took = time.monotonic() - asked
        assert answer.status_code == 504, answer.text
        body = answer.json()
        assert body["statusCode"] == 504 and body["error"] == "Gateway Timeout"
        assert "did not answer within 15 s" in body["message"], body
        assert 14 <= took < 30, took

        ending = time.monotonic()
        stuck.terminate()
        assert time.monotonic() - ending < 5
        wait_until(lambda: not processes(f"/{stuck.data.id}/profile"), 10, "the stopped browser to be gone")
    finally:
        try:
            os.kill(main.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_gbox_gestures_drag_a_slider_swipe_to_scroll_and_long_press_for_a_context_menu(sdk, server, pages):
    box = sdk.create(type="linux", wait=True)
    open_page(box, f"{pages}/input.html", server, "input")
    box.action.move(x=640, y=600)  # a first mouse event tells the page its offset on the screen
    left, top, width, height = json.loads(page_value(server, box.data.id, "JSON.stringify(window.box('slider'))"))
    middle = top + height // 2
    box.action.drag(start={"x": left + 2, "y": middle}, end={"x": left + width + 20, "y": middle}, duration="300ms")
    assert page_value(server, box.data.id, "document.getElementById('slider').value") == "100"

    box.action.swipe(direction="up", distance="medium")  # the finger pushes the page up: it scrolls down
    assert page_value(server, box.data.id, "window.scrollY") >= 300

    box.action.long_press(x=700, y=600, duration="300ms")
    menus = page_value(server, box.data.id, "window.events.filter(e => e.type === 'contextmenu').length")
    assert menus == 1

    # One finger touching down on the slider's right end and moving to its left drags it to 0.
    box.action.press_key(keys=["escape"])
    page_value(server, box.data.id, "window.scrollTo(0, 0), window.scrollY")
    left, top, width, height = json.loads(page_value(server, box.data.id, "JSON.stringify(window.box('slider'))"))
    middle = top + height // 2
    box.action.touch(points=[{"start": {"x": left + width - 2, "y": middle},
                              "actions": [{"type": "wait", "duration": "50ms"},
                                          {"type": "move", "x": left - 20, "y": middle, "duration": "200ms"}]}])
    assert page_value(server, box.data.id, "document.getElementById('slider').value") == "0"
    with pytest.raises(BadRequestError):
        box.action.touch(points=[{"start": {"x": 10, "y": 10}}, {"start": {"x": 20, "y": 20}}])

    box.action.clipboard.set("from the clipboard")
    assert box.action.clipboard.get() == "from the clipboard"


def pixel_rgb(png, x, y):
    """The (r, g, b) of one pixel of a PNG file."""
    done = subprocess.run(["ffmpeg", "-v", "error", "-i", str(png), "-vf", f"crop=1:1:{x}:{y}",
                           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
    return tuple(done.stdout[:3])


def test_gbox_screen_layout_and_element_detection_describe_the_page_in_front(sdk, server, pages, scratch):
    box = sdk.create(type="linux", wait=True)
    open_page(box, f"{pages}/input.html", server, "input")
    assert 'id="slider"' in box.action.screen_layout().content
    box.action.move(x=640, y=600)  # a first mouse event tells the page its offset on the screen
    detected = box.action.elements.detect()
    [save] = [e for e in detected.elements.elements if e.label == "Save draft"]
    assert save.type == "button"
    centre_x, centre_y = json.loads(page_value(server, box.data.id, "JSON.stringify(window.centre('save'))"))
    assert save.x <= centre_x <= save.x + save.width and save.y <= centre_y <= save.y + save.height, save
    assert abs(save.center_x - centre_x) <= 2 and abs(save.center_y - centre_y) <= 2, save
    # The marked screenshot frames the button in red where the source shows it plain.
    for name, shot in (("source", detected.screenshot.source), ("marked", detected.screenshot.marked)):
        (scratch / f"{name}.png").write_bytes(base64.b64decode(shot.uri.split(",", 1)[1]))
    edge = (int(save.x), int(save.y + save.height / 2))
    plain, framed = (pixel_rgb(scratch / f"{n}.png", *edge) for n in ("source", "marked"))
    assert framed[0] > 200 and framed[1] < 80 and plain != framed, (plain, framed)

    # An action's screenshots: before it, after it (once its delay has passed), and the trace
    # framing the point it acted on.
    clicked = box.action.click(x=centre_x, y=centre_y,
                               options={"screenshot": {"phases": ["before", "after", "trace"], "delay": "100ms"}})
    for phase in ("before", "after", "trace"):
        shot = getattr(clicked.screenshot, phase)
        (scratch / f"{phase}.png").write_bytes(base64.b64decode(shot.uri.split(",", 1)[1]))
    mark_edge = (int(centre_x) - 12, int(centre_y))
    after, traced = (pixel_rgb(scratch / f"{n}.png", *mark_edge) for n in ("after", "trace"))
    assert traced[0] > 200 and traced[1] < 80 and after != traced, (after, traced)
    only_after = box.action.move(x=10, y=400, options={"screenshot": {"phases": ["after"]}})
    assert only_after.screenshot.after.uri.startswith("data:image/png;base64,")
    assert only_after.screenshot.before is None and only_after.screenshot.trace is None
    with pytest.raises(BadRequestError):
        box.action.move(x=10, y=400, options={"screenshot": {"phases": ["during"]}})


def test_gbox_commands_code_and_files_run_in_the_box_as_its_user_confined_to_its_home(sdk, server):
    box = sdk.create(type="linux", wait=True)
    uid = box.command("id -u")
    assert uid.exit_code == 0 and int(uid.stdout) != 0, uid
    wrote = box.command("echo kept > note.txt && cat note.txt && pwd")
    home = wrote.stdout.splitlines()[1]
    assert wrote.stdout.splitlines()[0] == "kept" and home.endswith(box.data.id), wrote
    code = box.run_code("import os, sys; print(os.getcwd(), sys.argv[1:])", language="python", argv=["a b"])
    assert code.stdout.strip() == f"{home} ['a b']", code
    outside = box.command("echo x > /etc/tapedeck-box-test")
    assert outside.exit_code != 0 and "Read-only file system" in outside.stderr, outside
    secrets = box.command(f"ls {server.data_dir / 'data'}")
    assert secrets.exit_code != 0 and secrets.stdout == "", secrets
    slow = box.command("sleep 10", timeout="1s")
    assert slow.exit_code == 124, slow
    with pytest.raises(BadRequestError):
        box.command("true", envs={"LD_PRELOAD": "/tmp/x.so"})

    # Files: written, read, listed, renamed and removed as the box's user, in its home.
    written = box.fs.write(path="notes/today.txt", content="written through fs")
    assert written.data.path == f"{home}/notes/today.txt" and written.data.size == "18", written.data
    assert box.command("stat -c %u notes/today.txt").stdout.strip() == uid.stdout.strip()
    assert box.fs.read("notes/today.txt").content == "written through fs"
    assert box.command("cat notes/today.txt").stdout == "written through fs"
    binary = box.fs.write(path="notes/bytes.bin", content=bytes(range(256)))
    assert binary.data.size == "256", binary.data
    listed = box.fs.list_info("notes").data
    assert sorted((e.name, e.type) for e in listed) == [("bytes.bin", "file"), ("today.txt", "file")], listed
    deep = {e.path: e.type for e in box.fs.list_info(".", depth=2).data}
    assert deep[f"{home}/notes"] == "dir" and deep[f"{home}/notes/today.txt"] == "file", deep
    moved = box.fs.rename(old_path="notes/today.txt", new_path="notes/kept.txt")
    assert moved.name == "kept.txt" and moved.type == "file", moved
    assert box.fs.exists("notes/kept.txt").exists and not box.fs.exists("notes/today.txt").exists
    assert box.fs.get("notes").data.type == "dir"
    assert "removed" in box.fs.remove("notes").message
    assert not box.fs.exists("notes").exists
    # Outside its home the box's user is refused, and the server's data dir is not there at all.
    with pytest.raises(PermissionDeniedError):
        box.fs.write(path="/etc/tapedeck-box-test", content="x")
    with pytest.raises(NotFoundError):
        box.fs.read(str(server.data_dir / "data" / "tapedeck.db"))
    with pytest.raises(NotFoundError):
        box.fs.read("missing.txt")
    box.fs.write(path="a.txt", content="1")
    box.fs.write(path="b.txt", content="2")
    with pytest.raises(BadRequestError) as refused:  # GBOX's SDK retries a 409: conflicts are 400s
        box.fs.rename(old_path="a.txt", new_path="b.txt")
    assert "already exists" in refused.value.body["message"]


def test_gbox_display_start_and_the_routes_a_linux_box_lacks(sdk, server):
    box = sdk.create(type="linux")
    display = box.display()
    assert (display.resolution.width, display.resolution.height) == (1280, 720), display
    assert display.orientation == "landscapeLeft"
    assert box.resolution.set(width=1280, height=720).width == 1280
    with pytest.raises(BadRequestError) as refused:
        box.resolution.set(width=800, height=600)
    assert "1280x720" in refused.value.body["message"]
    assert box.start().data.status == "running"
    with pytest.raises(BadRequestError) as refused:
        box.stop()
    assert "cannot be stopped and resumed" in refused.value.body["message"]
    with pytest.raises(BadRequestError) as refused:
        box.action.extract(instruction="the page's title")
    assert "actions/extract" in refused.value.body["message"]
    for method, route in (("POST", "web-terminal-url"), ("GET", "websocket-url")):
        response = httpx.request(method, f"{server.url}/gbox/boxes/{box.data.id}/{route}",
                                 headers={"Authorization": f"Bearer {API_KEY}"})
        assert response.status_code == 400 and route in response.text, response.text
    response = httpx.post(f"{server.url}/gbox/boxes/{box.data.id}/actions/press-button", json={"buttons": ["home"]},
                          headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 400 and "actions/press-button" in response.text, response.text
    media = httpx.get(f"{server.url}/gbox/boxes/{box.data.id}/media/albums", headers={"Authorization": f"Bearer {API_KEY}"})
    assert media.status_code == 400 and "media/albums" in media.text, media.text
