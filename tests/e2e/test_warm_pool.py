"""The warm pool: pre-started sessions handed to creates that fit, evicted for creates that
do not, and never more than --max-sessions browsers in all."""

import time

from conftest import Server, node

VIEWPORT = {"width": 1280, "height": 720}


def wait_for_pooled(server: Server, count: int):
    """Waits until `count` pooled sessions became ready in all."""
    server.wait_for_metric("tapedeck_pooled_sessions_started_total", count)


def test_warm_pool_hands_out_evicts_and_refills(tmp_path):
    server = Server(tmp_path / "pool", max_sessions=2, first_display=150, extra_args=["--warm-pool", "1"]).start()
    try:
        wait_for_pooled(server, 1)
        # A fitting create gets the pooled browser, which answers over CDP at once.
        warm = server.native("POST", "/sessions", json={"viewport": VIEWPORT})
        assert warm.status_code == 201, warm.text
        assert node("eval", warm.json()["cdp_ws_url"], "20 + 22") == {"value": 42}
        # Taking it started a replacement, which now holds the second slot.
        wait_for_pooled(server, 2)

        # Both slots are taken (one session, one pooled): a create that does not fit the pool
        # evicts the pooled session instead of being refused.
        kiosk = server.native("POST", "/sessions", json={"viewport": VIEWPORT, "kiosk": True})
        assert kiosk.status_code == 201, kiosk.text
        assert server.metric("tapedeck_pooled_sessions_evicted_total") == 1
        # Now two real sessions fill the server: the next create is refused, pool or not.
        full = server.native("POST", "/sessions", json={"viewport": VIEWPORT})
        assert full.status_code == 503 and full.json()["code"] == "capacity_exhausted", full.text

        # Deleting a session frees a slot, and the pool refills it.
        assert server.native("DELETE", f"/sessions/{kiosk.json()['id']}").status_code == 204
        wait_for_pooled(server, 3)
        again = server.native("POST", "/sessions", json={"viewport": VIEWPORT})
        assert again.status_code == 201, again.text
        rec = server.native("POST", f"/sessions/{again.json()['id']}/recordings", json={}).json()
        time.sleep(1)
        stopped = server.native("POST", f"/recordings/{rec['id']}/stop").json()
        assert stopped["state"] == "finished" and stopped["size_bytes"] > 0, stopped
    finally:
        server.stop()
