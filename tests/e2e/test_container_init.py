"""Tapedeck as PID 1 of a container (here `unshare --pid --fork --mount-proc`): processes that
the sessions' sandboxes leave behind are reaped, so creating and deleting browsers does not
fill the process table with zombies, and SIGTERM still stops the server."""

import os
import signal
from pathlib import Path

from conftest import Server, wait_until

CYCLES = 4


def zombies_under(root: int) -> list:
    """The pids of zombie processes descended from `root`, from /proc's `stat` lines."""
    parent, state = {}, {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except (FileNotFoundError, ProcessLookupError):
            continue
        if stat:
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            fields = stat.rsplit(")", 1)[1].split()
            state[int(entry.name)], parent[int(entry.name)] = fields[0], int(fields[1])

    def descends(pid):
        while pid in parent and pid != root:
            pid = parent[pid]
        return pid == root

    return [pid for pid, s in state.items() if s == "Z" and pid != root and descends(pid)]


def test_sessions_leave_no_zombies_when_the_server_is_a_containers_pid_1(tmp_path):
    server = Server(tmp_path / "pid1", first_display=175, max_sessions=1)
    server.args = ["unshare", "--pid", "--fork", "--mount-proc", *server.args]
    server.start()
    # The namespace's PID 1: `unshare` ignores SIGTERM, and killing it leaves PID 1 running.
    [pid_1] = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    try:
        for cycle in range(CYCLES):
            created = server.native("POST", "/sessions", json={"name": f"pid1-{cycle}"})
            assert created.status_code in (200, 201), created.text
            assert server.native("DELETE", f"/sessions/{created.json()['id']}").status_code in (200, 204)
        wait_until(lambda: not zombies_under(server.proc.pid), 15,
                   "the zombies left by deleted browsers to be reaped")
        # As `docker stop` does: SIGTERM to the namespace's PID 1.
        os.kill(int(pid_1), signal.SIGTERM)
        assert server.proc.wait(timeout=60) == 0, server.log()
        assert "shutdown requested" in server.log()
    finally:
        if server.proc.poll() is None:
            # On failure: SIGKILL to PID 1 ends the whole namespace, then `unshare` exits.
            os.kill(int(pid_1), signal.SIGKILL)
            server.proc.wait(timeout=30)
