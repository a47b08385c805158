"""Kernel's computer controls, driven by the unmodified official `kernel` SDK, as a
computer-use agent drives a browser: real X input on the session's display, read back from a
page that logs every mouse, wheel and key event with its screen point."""

import json
import struct
import time

import pytest
from kernel import BadRequestError

from conftest import frame_rgb, mean_rgb, node

VIEWPORT = {"width": 1280, "height": 720}


def page(browser, expression):
    return node("eval", browser.cdp_ws_url, expression)["value"]


def events(browser, since=0):
    return json.loads(page(browser, f"JSON.stringify(window.events.slice({since}))"))


def png_size(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def browser(kernel, pages):
    browser = kernel.browsers.create(viewport=VIEWPORT, timeout_seconds=120)
    page(browser, f"location.href = '{pages}/input.html'")
    deadline = time.monotonic() + 10
    while page(browser, "document.readyState + document.title") != "completeinput":
        assert time.monotonic() < deadline, "the input page did not load"
        time.sleep(0.2)
    return browser


def test_an_agent_clicks_drags_types_selects_and_scrolls_with_computer_controls(kernel, browser):
    computer = kernel.browsers.computer
    computer.click_mouse(browser.session_id, x=700, y=600)
    [down] = [e for e in events(browser) if e["type"] == "mousedown"]
    assert (down["x"], down["y"], down["button"]) == (700, 600, 0), down

    # A smooth move passes through many points and ends where it was asked to.
    seen = len(events(browser))
    computer.move_mouse(browser.session_id, x=900, y=500, smooth=True, duration_ms=400)
    moves = [e for e in events(browser, seen) if e["type"] == "mousemove"]
    assert len(moves) >= 10 and (moves[-1]["x"], moves[-1]["y"]) == (900, 500), moves[-3:]
    position = computer.get_mouse_position(browser.session_id)
    assert (position.x, position.y) == (900, 500)

    # A drag across the canvas inks it.
    pad_x, pad_y = json.loads(page(browser, "JSON.stringify(window.centre('pad'))"))
    computer.drag_mouse(browser.session_id, path=[[pad_x - 150, pad_y], [pad_x + 150, pad_y], [pad_x + 150, pad_y + 100]],
                        steps_per_segment=15, step_delay_ms=10)
    assert page(browser, "window.inked()") > 300 * 6

    field_x, field_y = json.loads(page(browser, "JSON.stringify(window.centre('field'))"))
    computer.click_mouse(browser.session_id, x=field_x, y=field_y)
    computer.type_text(browser.session_id, text="hello agent")
    assert page(browser, "document.getElementById('field').value") == "hello agent"
    computer.press_key(browser.session_id, keys=["Ctrl+a"])
    assert page(browser, "[document.activeElement.selectionStart, document.activeElement.selectionEnd].join()") == "0,11"
    computer.press_key(browser.session_id, keys=["BackSpace"])
    assert page(browser, "document.getElementById('field').value") == ""

    computer.scroll(browser.session_id, x=640, y=600, delta_y=3)
    assert page(browser, "window.scrollY") >= 200


def test_an_agent_takes_screenshots_of_the_screen_and_of_a_region(kernel, browser, scratch):
    computer = kernel.browsers.computer
    whole = computer.capture_screenshot(browser.session_id).read()
    assert png_size(whole) == (1280, 720)
    # A shade over the whole page, in a colour whose channels differ, so a swapped channel shows.
    page(browser, """new Promise(done => {
        document.body.insertAdjacentHTML('beforeend',
            '<div id=shade style="position:fixed;inset:0;background:rgb(20,160,220);z-index:99"></div>');
        requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
    })""")
    # Below the browser's own toolbar, which the page's shade does not cover.
    region = computer.capture_screenshot(browser.session_id, region={"x": 100, "y": 200, "width": 200, "height": 120}).read()
    assert png_size(region) == (200, 120)
    (scratch / "region.png").write_bytes(region)
    shade = mean_rgb(frame_rgb(scratch / "region.png", 0))
    assert all(abs(got - want) <= 3 for got, want in zip(shade, (20, 160, 220))), shade
    page(browser, "document.getElementById('shade').remove(), true")
    with pytest.raises(BadRequestError):
        computer.capture_screenshot(browser.session_id, region={"x": 1200, "y": 0, "width": 200, "height": 10})


def test_the_cursor_is_hidden_and_cannot_be_shown(kernel, browser):
    computer = kernel.browsers.computer
    assert computer.set_cursor_visibility(browser.session_id, hidden=True).ok
    with pytest.raises(BadRequestError) as refused:
        computer.set_cursor_visibility(browser.session_id, hidden=False)
    assert "never draw a pointer" in str(refused.value), refused.value
    computer.batch(browser.session_id, actions=[{"type": "set_cursor", "set_cursor": {"hidden": True}}])


def test_a_batch_runs_in_order_and_stops_at_its_first_bad_action(kernel, browser):
    computer = kernel.browsers.computer
    seen = len(events(browser))
    with pytest.raises(BadRequestError) as refused:
        computer.batch(browser.session_id, actions=[
            {"type": "click_mouse", "click_mouse": {"x": 300, "y": 600}},
            {"type": "click_mouse", "click_mouse": {"x": 310, "y": 610, "button": "right"}},
            {"type": "press_key", "press_key": {"keys": ["Ctrl+$(reboot)"]}},
            {"type": "click_mouse", "click_mouse": {"x": 320, "y": 620}},
        ])
    assert "actions[2] (press_key)" in str(refused.value), refused.value
    downs = [(e["x"], e["y"], e["button"]) for e in events(browser, seen) if e["type"] == "mousedown"]
    assert downs == [(300, 600, 0), (310, 610, 2)]
    # Points off the screen are refused, not clamped to its edge.
    with pytest.raises(BadRequestError):
        computer.click_mouse(browser.session_id, x=1280, y=10)


def test_an_agent_pastes_what_it_wrote_to_the_clipboard_and_reads_what_the_page_copied(kernel, browser):
    computer = kernel.browsers.computer
    computer.move_mouse(browser.session_id, x=700, y=600)  # tells the page its offset on the screen
    field_x, field_y = json.loads(page(browser, "JSON.stringify(window.centre('field'))"))
    computer.write_clipboard(browser.session_id, text="pasted by the agent")
    computer.click_mouse(browser.session_id, x=field_x, y=field_y)
    computer.press_key(browser.session_id, keys=["Ctrl+v"])
    assert page(browser, "document.getElementById('field').value") == "pasted by the agent"

    page(browser, "document.getElementById('field').value = 'copied in the page'")
    computer.press_key(browser.session_id, keys=["Ctrl+a", "Ctrl+c"])
    assert computer.read_clipboard(browser.session_id).text == "copied in the page"
