"""A replay shows the page as asked: the page is exactly the viewport (no black column or row at
the right and bottom edges), and the first frame is the page as the session was handed out,
not the grey of a window that has not painted yet."""

import httpx

from conftest import frame_rgb, node

PAGE_COLOUR = (40, 160, 90)
WIDTH, HEIGHT = 1280, 720


def pixel(frame: bytes, x: int, y: int) -> tuple:
    i = 3 * (y * WIDTH + x)
    return tuple(frame[i:i + 3])


def near(rgb: tuple, want: tuple, tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, want))


def test_a_replay_shows_the_whole_page_from_its_first_frame(server, pages, scratch):
    created = server.native("POST", "/sessions", json={"start_url": f"{pages}/solid.html",
                                                       "viewport": {"width": WIDTH, "height": HEIGHT}})
    assert created.status_code == 201, created.text
    session = created.json()
    try:
        # Recording starts the moment the session is handed out, as an agent's first call would.
        rec = server.native("POST", f"/sessions/{session['id']}/recordings", json={"framerate": 10}).json()
        inner = node("eval", session["cdp_ws_url"], "JSON.stringify([innerWidth, innerHeight])")["value"]
        assert inner.startswith(f"[{WIDTH},"), inner
        stopped = server.native("POST", f"/recordings/{rec['id']}/stop")
        assert stopped.status_code == 200, stopped.text
        url = server.native("GET", f"/recordings/{rec['id']}/download-url").json()["url"]
        video = scratch / "edges.mp4"
        video.write_bytes(httpx.get(url, timeout=60).content)

        for at in (0.0, 0.5):
            frame = frame_rgb(video, at)
            assert len(frame) == WIDTH * HEIGHT * 3
            # The browser toolbar is at the top; the page fills the rest.
            edges = {"centre": (WIDTH // 2, HEIGHT // 2), "right column": (WIDTH - 1, HEIGHT // 2),
                     "bottom row": (WIDTH // 2, HEIGHT - 1), "bottom-right": (WIDTH - 1, HEIGHT - 1)}
            for name, (x, y) in edges.items():
                assert near(pixel(frame, x, y), PAGE_COLOUR), (at, name, pixel(frame, x, y))
    finally:
        server.native("DELETE", f"/sessions/{session['id']}")
