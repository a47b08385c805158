"""Another X server on this host (here `Xvfb -nolock`, which leaves no lock file) is never
shared: a new box lands on a free display and shows its own screen."""

import base64
import socket
import struct
import subprocess

import httpx

from conftest import API_KEY, Server, chromium_of, wait_until

FOREIGN = 198


def png_size(png: bytes) -> tuple:
    """A PNG's (width, height) from its IHDR."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_a_box_never_lands_on_a_foreign_x_server_without_a_lock_file(tmp_path):
    foreign = subprocess.Popen(["Xvfb", f":{FOREIGN}", "-nolock", "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(tmp_path / "collide", first_display=FOREIGN, max_sessions=1)
    try:
        wait_until(lambda: x_answers(FOREIGN), 10, "the foreign X server")
        server.start()
        auth = {"Authorization": f"Bearer {API_KEY}"}
        box = httpx.post(f"{server.url}/gbox/boxes/linux", json={}, headers=auth, timeout=60).json()
        main, _ = chromium_of(box["id"])
        assert main.environ()["DISPLAY"] != f":{FOREIGN}", main.environ()["DISPLAY"]
        shot = httpx.post(f"{server.url}/gbox/boxes/{box['id']}/actions/screenshot", json={}, headers=auth,
                          timeout=60)
        assert shot.status_code == 200, shot.text
        png = base64.b64decode(shot.json()["uri"].split(",", 1)[1])
        assert png_size(png) == (1280, 720)
        assert foreign.poll() is None, "the foreign X server is untouched"
    finally:
        server.stop()
        foreign.terminate()
        foreign.wait()


def x_answers(number: int) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(f"\0/tmp/.X11-unix/X{number}".encode())
            return True
        except OSError:
            return False
