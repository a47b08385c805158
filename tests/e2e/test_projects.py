"""Projects: every API key belongs to one project, and everything a key makes (sessions, boxes,
browsers, recordings, test runs, test records, baselines, storage keys) belongs to that project.

Two keys in two projects share one server: each lists only its own work, and the other's ids
answer 404 exactly as if they did not exist, in every dialect. Kernel names are unique per
project, FAST's one active run is one per project, the presigned-URL routes refuse the other
project's storage keys, and the proxy records a request into the run of the key it was
authenticated with (loopback clients without credentials: the default project's run)."""

import random
import string
import time

import httpx
import pytest
from gbox_sdk import GboxSDK
from kernel import ConflictError, Kernel

from conftest import API_KEY, QuietServer

VIEWPORT = {"width": 800, "height": 600}
# A FAST run or test record id that no project has.
NO_SUCH_NUMBER = 987654321


class Project:
    """One API key and its project, with the official Kernel and GBOX clients and raw requests
    in each dialect's own auth header (raw, so that refusals can be compared byte for byte)."""

    def __init__(self, server, project: str, secret: str, key_id=None):
        self.server = server
        self.project = project
        self.secret = secret
        self.key_id = key_id
        self.kernel = Kernel(api_key=secret, base_url=server.kernel_url)
        self.gbox = GboxSDK(api_key=secret, base_url=f"{server.url}/gbox")

    def _request(self, method: str, url: str, headers: dict, **kwargs) -> httpx.Response:
        return httpx.request(method, url, headers=headers, timeout=90, **kwargs)

    def native(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self._request(method, f"{self.server.url}/v1{path}",
                             {"Authorization": f"Bearer {self.secret}"}, **kwargs)

    def kernel_raw(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self._request(method, f"{self.server.kernel_url}{path}",
                             {"Authorization": f"Bearer {self.secret}"}, **kwargs)

    def gbox_raw(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self._request(method, f"{self.server.url}/gbox{path}",
                             {"Authorization": f"Bearer {self.secret}"}, **kwargs)

    def fast(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self._request(method, f"{self.server.url}/fast/v1{path}",
                             {"X-WallarmAPI-Token": self.secret}, **kwargs)

    def end_everything(self):
        """Ends this project's running sessions (browsers and boxes alike), with its own key:
        no other key can see them."""
        for session in self.native("GET", "/sessions", params={"limit": 100}).json()["items"]:
            self.native("DELETE", f"/sessions/{session['id']}")


@pytest.fixture(scope="module")
def projects(server):
    """Keys A and B in projects `project-a` and `project-b`, made by the admin key over the
    API; revoked afterwards."""
    made = []
    for name in ("a", "b"):
        response = server.native("POST", "/keys", json={"name": name, "project": f"project-{name}"})
        assert response.status_code == 201, response.text
        key = response.json()
        assert key["project"] == f"project-{name}" and key["admin"] is False
        made.append(Project(server, key["project"], key["secret"], key["id"]))
    yield made
    for project in made:
        server.native("DELETE", f"/keys/{project.key_id}")


@pytest.fixture(scope="module")
def default(server):
    """The admin key of the shared server, whose project is `default`."""
    return Project(server, "default", API_KEY)


def made_up_id() -> str:
    """An id shaped like Tapedeck's (24 lowercase alphanumerics) that nothing has."""
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=24))


def as_if_missing(send, theirs, made_up=None, status=404) -> httpx.Response:
    """Sends `send(theirs)` with another project's id or name, and `send(made_up)` with one that
    never existed, and asserts that both get the same answer: the same status (`status`, unless
    None) and the same body once the ids are swapped. Returns the answer about `theirs`."""
    made_up = made_up if made_up is not None else made_up_id()
    answer, missing = send(theirs), send(made_up)
    assert answer.status_code == missing.status_code, (theirs, answer.text, missing.text)
    if status is not None:
        assert answer.status_code == status, (theirs, answer.status_code, answer.text)
    assert answer.text == missing.text.replace(str(made_up), str(theirs)), (answer.text, missing.text)
    return answer


def ids(items, field="id") -> list:
    return [item[field] for item in items]


def test_two_projects_share_a_server_without_seeing_each_others_work(server, projects, default):
    a, b = projects
    try:
        # --- Kernel browsers, two at a time (the shared server has two session slots) ---
        a_browser = a.kernel.browsers.create(viewport=VIEWPORT, name="shared-name", timeout_seconds=300)
        a_id = a_browser.session_id
        # Within a project a name is still unique.
        with pytest.raises(ConflictError):
            a.kernel.browsers.create(viewport=VIEWPORT, name="shared-name")
        replay = a.kernel.browsers.replays.start(a_id)
        time.sleep(2)
        a.kernel.browsers.replays.stop(replay.replay_id, id_or_name=a_id)

        # B does not know A's name: looking it up finds nothing, and B may take it too.
        body = as_if_missing(lambda name: b.kernel_raw("GET", f"/browsers/{name}"), "shared-name").json()
        assert body["code"] == "not_found"
        b_id = b.kernel.browsers.create(viewport=VIEWPORT, name="shared-name", timeout_seconds=300).session_id
        assert b_id != a_id
        assert a.kernel.browsers.retrieve("shared-name").session_id == a_id
        assert b.kernel.browsers.retrieve("shared-name").session_id == b_id
        assert b.native("GET", "/sessions/shared-name").json()["id"] == b_id

        # Lists show the caller's project only, the default project's included.
        assert [x.session_id for x in a.kernel.browsers.list()] == [a_id]
        assert [x.session_id for x in b.kernel.browsers.list()] == [b_id]
        assert ids(a.native("GET", "/sessions").json()["items"]) == [a_id]
        assert ids(b.native("GET", "/sessions").json()["items"]) == [b_id]
        assert not {a_id, b_id} & set(ids(default.native("GET", "/sessions", params={"limit": 100}).json()["items"]))
        assert not {a_id, b_id} & {x.session_id for x in default.kernel.browsers.list()}

        # Kernel: every route about A's browser and replay answers B as if they did not exist.
        r = replay.replay_id
        for method, path, kwargs in [
            ("GET", "/browsers/{}", {}),
            ("GET", "/browsers/{}?include_deleted=true", {}),
            ("PATCH", "/browsers/{}", {"json": {"name": "taken-over"}}),
            ("DELETE", "/browsers/{}", {}),
            ("DELETE", "/browsers?persistent_id={}", {}),
            ("GET", "/browsers/{}/replays", {}),
            ("POST", "/browsers/{}/replays", {"json": {}}),
            ("GET", "/browsers/{}/replays/" + r, {}),
            ("POST", "/browsers/{}/replays/" + r + "/stop", {}),
        ]:
            answer = as_if_missing(lambda i: b.kernel_raw(method, path.format(i), **kwargs), a_id)
            assert answer.json()["code"] == "not_found", (method, path)
        # A's replay through B's own browser is no better.
        for method, path in [("GET", f"/browsers/{b_id}/replays/{{}}"),
                             ("POST", f"/browsers/{b_id}/replays/{{}}/stop")]:
            as_if_missing(lambda i: b.kernel_raw(method, path.format(i)), r)

        # Native: A's session and recording, and the presigned download URL of A's video.
        for method, path, theirs in [
            ("GET", "/sessions/{}", a_id),
            ("DELETE", "/sessions/{}", a_id),
            ("GET", "/sessions/{}/recordings", a_id),
            ("POST", "/sessions/{}/recordings", a_id),
            ("GET", "/recordings/{}", r),
            ("POST", "/recordings/{}/stop", r),
            ("GET", "/recordings/{}/download-url", r),
        ]:
            answer = as_if_missing(lambda i: b.native(method, path.format(i)), theirs)
            assert answer.json()["code"] == "not_found", (method, path)
        # GBOX: a Kernel browser is not a box, and another project's is not even a session.
        for method, path in [("GET", "/boxes/{}"), ("POST", "/boxes/{}/terminate")]:
            answer = as_if_missing(lambda i: b.gbox_raw(method, path.format(i)), a_id)
            assert answer.json()["statusCode"] == 404 and answer.json()["error"] == "Not Found"

        # None of it touched A's work: the browser runs under its name, with its one replay
        # (B's start did not start another), which A still downloads.
        assert a.kernel.browsers.retrieve(a_id).name == "shared-name"
        [listed] = a.kernel.browsers.replays.list(a_id)
        assert listed.replay_id == r and listed.finished_at is not None
        download = a.kernel.browsers.replays.download(r, id_or_name=a_id)
        assert download.http_response.status_code == 200 and len(download.read()) > 1000
        signed = a.native("GET", f"/recordings/{r}/download-url")
        assert signed.status_code == 200 and httpx.get(signed.json()["url"]).status_code == 200

        # Ended, A's browser is A's to read and still nobody else's.
        a.kernel.browsers.delete_by_id(a_id)
        b.kernel.browsers.delete_by_id(b_id)
        assert a.native("GET", f"/sessions/{a_id}").json()["state"] == "deleted"
        as_if_missing(lambda i: b.native("GET", f"/sessions/{i}"), a_id)
        assert {x.session_id for x in b.kernel.browsers.list(status="all")} == {b_id}

        # --- GBOX boxes, one per project ---
        a_box = a.gbox.create(type="linux")
        b_box = b.gbox.create(type="linux")
        a_box_id, b_box_id = a_box.data.id, b_box.data.id
        a_box.action.recording.start()
        time.sleep(2)
        a_video = a_box.action.recording.stop().storage_key
        a_shot = a_box.action.screenshot(output_format="storageKey").uri
        assert a_video.startswith("storage://tapedeck/recordings/") and a_video.endswith(".mp4")
        assert a_shot.startswith(f"storage://tapedeck/sessions/{a_box_id}/")
        a_recording = a_video.removeprefix("storage://tapedeck/recordings/").removesuffix(".mp4")

        assert [x.id for x in a.gbox.list_info().data] == [a_box_id]
        assert [x.id for x in b.gbox.list_info().data] == [b_box_id]
        assert ids(b.native("GET", "/sessions").json()["items"]) == [b_box_id]

        # A's box answers B as if it did not exist, on every route B tries, and B's answers A so.
        for method, path, kwargs in [
            ("GET", "/boxes/{}", {}),
            ("POST", "/boxes/{}/actions/screenshot", {"json": {}}),
            ("POST", "/boxes/{}/actions/recording/start", {}),
            ("POST", "/boxes/{}/storage/presigned-url", {"json": {"storageKey": a_video}}),
            ("POST", "/boxes/{}/terminate", {}),
        ]:
            answer = as_if_missing(lambda i: b.gbox_raw(method, path.format(i), **kwargs), a_box_id)
            assert answer.json()["statusCode"] == 404 and answer.json()["error"] == "Not Found"
        as_if_missing(lambda i: a.gbox_raw("GET", f"/boxes/{i}"), b_box_id)

        # A's storage keys are refused to B on B's own box, as keys that never existed are.
        for theirs, made_up in [
            (a_video, f"storage://tapedeck/recordings/{made_up_id()}.mp4"),
            (a_shot, f"storage://tapedeck/sessions/{made_up_id()}/screenshots/{made_up_id()}.png"),
        ]:
            answer = as_if_missing(lambda key: b.gbox_raw("POST", f"/boxes/{b_box_id}/storage/presigned-url",
                                                          json={"storageKey": key}), theirs, made_up)
            assert answer.json()["statusCode"] == 404
        for path in ("/recordings/{}", "/recordings/{}/download-url"):
            as_if_missing(lambda i: b.native("GET", path.format(i)), a_recording)

        # A's box still runs, recorded once (B's start started nothing), and A's keys work for A.
        assert a.gbox.get(a_box_id).data.status == "running"
        assert [x["state"] for x in a.native("GET", f"/sessions/{a_box_id}/recordings").json()["items"]] == [
            "finished"]
        url = a_box.storage.create_presigned_url(a_video)
        video = httpx.get(url)
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert httpx.get(a_box.storage.create_presigned_url(a_shot)).content[:4] == b"\x89PNG"
    finally:
        a.end_everything()
        b.end_everything()


def create_run(project: Project, name: str) -> dict:
    response = project.fast("POST", "/test_run", json={"name": name})
    assert response.status_code == 200, response.text
    run = response.json()["body"]
    assert run["state"] == "running" and run["recording"] is True
    return run


def get_run(project: Project, run_id: int) -> dict:
    response = project.fast("GET", f"/test_run/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()["body"]


def stop_run(project: Project, run_id: int) -> dict:
    response = project.fast("POST", f"/test_run/{run_id}/action/stop")
    assert response.status_code == 200, response.text
    return response.json()["body"]


def wait_final(project: Project, run_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = get_run(project, run_id)
        if run["state"] in ("passed", "failed", "interrupted"):
            return run
        time.sleep(0.3)
    raise AssertionError(f"test run {run_id} did not finish: {run}")


def recorded(project: Project, record_id: int) -> list:
    """The URLs in a test record's HAR export, read with the project's own key."""
    response = project.native("GET", f"/test-records/{record_id}/har")
    assert response.status_code == 200, response.text
    return [entry["request"]["url"] for entry in response.json()["log"]["entries"]]


def test_each_project_records_its_own_proxy_traffic(server, projects, default, echo_app):
    a, b = projects

    def through_proxy(path: str, credentials: str = "") -> int:
        """GETs `path` from the echo app through the recording proxy on loopback, with
        `user:key` as the Basic proxy credentials when given."""
        proxy = f"http://{credentials}@127.0.0.1:{server.proxy_port}" if credentials else server.proxy_url
        with httpx.Client(proxy=proxy, timeout=30) as client:
            answer = client.get(f"{echo_app.url}{path}")
        if answer.status_code == 200:
            assert answer.json()["path"] == path
        return answer.status_code

    # One active run per project: B's and the default project's new runs leave A's recording...
    first_a = create_run(a, "a, first")
    b_run = create_run(b, "b")
    d_run = create_run(default, "default")
    assert get_run(a, first_a["id"])["recording"] is True
    # ...and A's second run interrupts A's first, and nobody else's.
    a_run = create_run(a, "a, second")
    first = get_run(a, first_a["id"])
    assert first["state"] == "interrupted" and first["recording"] is False
    assert get_run(b, b_run["id"])["recording"] is True
    assert get_run(default, d_run["id"])["recording"] is True

    # Each request goes into the run of the key it was authenticated with, whatever the user
    # name; without credentials, a loopback client's goes into the default project's run.
    assert through_proxy("/from-a", f"tapedeck:{a.secret}") == 200
    assert through_proxy("/from-b", f"ci:{b.secret}") == 200
    assert through_proxy("/from-nobody") == 200
    assert through_proxy("/from-the-admin", f"admin:{API_KEY}") == 200
    # A wrong key is refused on loopback too, not taken for the default project.
    assert through_proxy("/from-a-wrong-key", "tapedeck:not-a-key-0000") == 407

    # While A's run records, B (and the default project) cannot read or stop it: its id
    # answers as one that never existed. So does its record, in the older stop form.
    for method, path in [("GET", "/test_run/{}"), ("POST", "/test_run/{}/action/stop"),
                         ("GET", "/test_run/{}/action/stop")]:
        answer = as_if_missing(lambda i: b.fast(method, path.format(i)), a_run["id"], NO_SUCH_NUMBER)
        assert answer.json() == {"status": 404, "body": {"id": {
            "error": "not_found", "value": a_run["id"], "message": f"test run not found: {a_run['id']}"}}}
    as_if_missing(lambda i: default.fast("GET", f"/test_run/{i}"), a_run["id"], NO_SUCH_NUMBER)
    answer = as_if_missing(lambda i: b.fast("POST", f"/test_record/{i}/action/stop"), a_run["test_record_id"],
                           NO_SUCH_NUMBER, status=None)
    assert 400 <= answer.status_code < 500, answer.text
    running = get_run(a, a_run["id"])
    assert running["state"] == "running" and running["recording"] is True

    # A stops its run; A's later traffic is recorded nowhere, not into B's or the default
    # project's runs, which still record.
    assert stop_run(a, a_run["id"])["baseline_count"] == 1
    assert through_proxy("/from-a-after-its-stop", f"tapedeck:{a.secret}") == 200
    assert stop_run(b, b_run["id"])["baseline_count"] == 1
    assert stop_run(default, d_run["id"])["baseline_count"] == 2

    assert recorded(a, a_run["test_record_id"]) == [f"{echo_app.url}/from-a"]
    assert recorded(a, first_a["test_record_id"]) == []
    assert recorded(b, b_run["test_record_id"]) == [f"{echo_app.url}/from-b"]
    assert recorded(default, d_run["test_record_id"]) == [f"{echo_app.url}/from-nobody", f"{echo_app.url}/from-the-admin"]

    # A's record is A's: B can neither export it nor replay it.
    for path in ("/test-records/{}", "/test-records/{}/har"):
        answer = as_if_missing(lambda i: b.native("GET", path.format(i)), a_run["test_record_id"], NO_SUCH_NUMBER)
        assert answer.json()["code"] == "not_found"
    answer = as_if_missing(lambda i: b.fast("POST", "/test_run", json={"name": "copy of a", "test_record_id": i}),
                           a_run["test_record_id"], NO_SUCH_NUMBER)
    assert answer.json() == {"status": 404, "body": {"test_record_id": {
        "error": "not_found", "value": a_run["test_record_id"],
        "message": f"test record not found: {a_run['test_record_id']}"}}}

    # Each run replays its own baselines against the app, and passes.
    assert wait_final(a, a_run["id"])["state"] == "passed"
    assert wait_final(b, b_run["id"])["state"] == "passed"
    assert wait_final(default, d_run["id"])["state"] == "passed"
