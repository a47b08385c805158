"""The scale-out backends for real: metadata in a private PostgreSQL cluster, blobs in an
S3-compatible bucket served by s3s-fs (which checks SigV4 signatures and expiry).

Both servers are started here from what `scripts/install-deps --test` installed."""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from conftest import API_KEY, Server, expires, ffprobe, free_port, processes, wait_until
from test_fast import App, create_run, har, proxied, stop_run

S3_KEY, S3_SECRET, BUCKET = "tapedeck-e2e", "tapedeck-e2e-secret-0123", "recordings"


def postgres_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    assert found, f"PostgreSQL's {tool} is missing: run scripts/install-deps --test"
    return found[-1]


def as_postgres_user(args: list) -> list:
    # PostgreSQL refuses to run as root; the Debian package creates the `postgres` user.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def postgres():
    """A throwaway cluster on a free port; yields a function that creates a fresh database (with
    `.stop()` and `.start()` for the whole cluster)."""
    # Not under pytest's tmp dir: that is private to root, and the cluster runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="tapedeck-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    data = root / "data"
    subprocess.run(as_postgres_user([postgres_bin("initdb"), "-D", str(data), "-U", "tapedeck",
                                     "--auth=trust", "--no-sync"]), check=True, capture_output=True)

    def start():
        running = subprocess.run(as_postgres_user([postgres_bin("pg_ctl"), "-D", str(data), "status"]),
                                 capture_output=True)
        if running.returncode == 0:
            return
        subprocess.run(as_postgres_user([
            postgres_bin("pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "start", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
        ]), check=True, capture_output=True)

    def stop():
        subprocess.run(as_postgres_user([postgres_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)

    start()
    names = iter(range(1000))

    def database() -> str:
        name = f"tapedeck_{next(names)}"
        subprocess.run([postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tapedeck", name],
                       check=True, capture_output=True)
        return f"postgres://tapedeck@127.0.0.1:{port}/{name}"

    # Tests that take the database away and bring it back.
    database.stop, database.start = stop, start
    yield database
    stop()
    shutil.rmtree(root, ignore_errors=True)


def sql(url: str, query: str) -> str:
    done = subprocess.run(["psql", url, "-At", "-c", query], check=True, capture_output=True, text=True)
    return done.stdout.strip()


class S3:
    """s3s-fs on a free port with one bucket: unpacks as (bucket dir, env for it, endpoint), and
    can be stopped and started again on the same port and files."""

    def __init__(self, root: Path):
        self.binary = shutil.which("s3s-fs") or str(Path.home() / ".cargo" / "bin" / "s3s-fs")
        assert Path(self.binary).exists(), "s3s-fs is missing: run scripts/install-deps --test"
        self.root = root
        (root / BUCKET).mkdir()
        self.endpoint = f"http://127.0.0.1:{free_port()}"
        self.env = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": S3_KEY,
                    "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}
        self.proc = None

    def __iter__(self):
        return iter((self.root / BUCKET, self.env, self.endpoint))

    def start(self):
        port = self.endpoint.rsplit(":", 1)[1]
        self.proc = subprocess.Popen([self.binary, "--host", "127.0.0.1", "--port", port,
                                      "--access-key", S3_KEY, "--secret-key", S3_SECRET, str(self.root)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers():
            try:
                httpx.get(self.endpoint, timeout=1)
                return True
            except httpx.HTTPError:
                return False
        wait_until(answers, 20, "s3s-fs to answer")
        return self

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A running s3s-fs (see `S3`)."""
    bucket = S3(tmp_path_factory.mktemp("s3")).start()
    yield bucket
    if bucket.proc.poll() is None:
        bucket.stop()


# What every node of a fleet on one PostgreSQL shares (a node on PostgreSQL needs one).
CLUSTER_SECRET = "e2e-cluster-secret-0123456789"


def scale_server(tmp_path, database_url, s3_env, first_display, blob_url=f"s3://{BUCKET}"):
    return Server(tmp_path / "scale", first_display=first_display, env=s3_env,
                  extra_args=["--database-url", database_url, "--blob-url", blob_url,
                              "--cluster-secret", CLUSTER_SECRET])


def test_kernel_replays_on_postgres_and_s3(tmp_path, postgres, s3):
    bucket_dir, s3_env, endpoint = s3
    database_url = postgres()
    server = scale_server(tmp_path, database_url, s3_env, first_display=170).start()
    try:
        kernel = server.kernel_client()
        browser = kernel.browsers.create(viewport={"width": 1280, "height": 720})
        replay = kernel.browsers.replays.start(browser.session_id)
        time.sleep(4)
        kernel.browsers.replays.stop(replay.replay_id, id_or_name=browser.session_id)

        # The video is an object in the bucket, and its segments are gone once it is final.
        assert (bucket_dir / "recordings" / f"{replay.replay_id}.mp4").stat().st_size > 0
        deadline = time.monotonic() + 10
        while list((bucket_dir / "recordings").rglob("*.m4s")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not list((bucket_dir / "recordings").rglob("*.m4s"))

        # The metadata is in PostgreSQL, not in a SQLite file.
        assert sql(database_url, f"SELECT state FROM recordings WHERE id = '{replay.replay_id}'") == "finished"
        assert not list(server.data_dir.rglob("tapedeck.db"))

        # The SDK's download follows a redirect to the bucket's own presigned URL.
        download = kernel.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id)
        assert download.http_response.status_code == 200
        assert str(download.http_response.url).startswith(f"{endpoint}/{BUCKET}/")
        video = tmp_path / "replay.mp4"
        download.write_to_file(video)
        probe = ffprobe(video)
        assert probe["codec"] == "h264" and (probe["width"], probe["height"]) == (1280, 720)
        assert 3.0 <= probe["duration"] <= 6.0, probe

        # replay_view_url is presigned by the bucket (SigV4), which checks signature and expiry.
        [listed] = kernel.browsers.replays.list(browser.session_id)
        view_url = listed.replay_view_url
        assert view_url.startswith(f"{endpoint}/{BUCKET}/recordings/")
        assert view_url.rsplit("&", 1)[-1].startswith("X-Amz-Signature=")
        ranged = httpx.get(view_url, headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and ranged.content == video.read_bytes()[:100]
        # One hex digit of the signature changed: well-formed, but not the bucket's.
        tampered = view_url[:-1] + ("0" if view_url[-1] != "0" else "1")
        assert httpx.get(tampered).status_code == 403
        short = server.native("GET", f"/recordings/{replay.replay_id}/download-url",
                              params={"expires_in_secs": 1}).json()
        assert httpx.get(short["url"]).status_code == 200
        expires(short["url"])

        # A restarted server finds everything again in the shared database and bucket.
        server.stop()
        server.start()
        [again] = kernel.browsers.replays.list(browser.session_id)
        assert again.replay_id == replay.replay_id and again.finished_at is not None
    finally:
        server.stop()


def test_recovery_after_kill9_into_a_bucket_folder(tmp_path, postgres, s3):
    bucket_dir, s3_env, endpoint = s3
    database_url = postgres()
    # A folder of a shared bucket: every object, and every presigned URL, stays under it.
    server = scale_server(tmp_path, database_url, s3_env, first_display=175,
                          blob_url=f"s3://{BUCKET}/team-a/").start()
    try:
        kernel = server.kernel_client()
        browser = kernel.browsers.create(viewport={"width": 1280, "height": 720})
        replay = kernel.browsers.replays.start(browser.session_id)
        time.sleep(5)
        server.kill9()
        server.start()
        native = server.native("GET", f"/recordings/{replay.replay_id}").json()
        assert native["state"] == "interrupted" and native["stop_reason"] == "recovered", native
        video = bucket_dir / "team-a" / "recordings" / f"{replay.replay_id}.mp4"
        probe = ffprobe(video)
        assert probe["codec"] == "h264" and probe["duration"] >= 3.5, probe
        assert abs(native["duration_ms"] / 1000 - probe["duration"]) <= 0.5, (native, probe)
        assert not (bucket_dir / "recordings" / f"{replay.replay_id}.mp4").exists()
        url = server.native("GET", f"/recordings/{replay.replay_id}/download-url").json()["url"]
        assert url.startswith(f"{endpoint}/{BUCKET}/team-a/recordings/{replay.replay_id}.mp4?")
        assert httpx.get(url).content == video.read_bytes()
    finally:
        server.stop()


def test_fast_baselines_on_postgres(tmp_path, postgres, s3):
    _, s3_env, _ = s3
    database_url = postgres()
    server = scale_server(tmp_path, database_url, s3_env, first_display=180).start()
    app = App()
    try:
        run = create_run(server)
        body = b'{"name":"tape"}'
        with proxied(server) as client:
            assert client.get(f"http://127.0.0.1:{app.port}/first").status_code == 200
            assert client.post(f"http://127.0.0.1:{app.port}/second", content=body,
                               headers={"Content-Type": "application/json"}).status_code == 200
        stopped = stop_run(server, run["id"])
        assert stopped["recording"] is False and stopped["baseline_count"] == 2
        assert sql(database_url, f"SELECT count(*) FROM baselines WHERE test_record_id = {run['test_record_id']}") == "2"
        entries = har(server, run["test_record_id"])["entries"]
        assert [e["request"]["url"] for e in entries] == [
            f"http://127.0.0.1:{app.port}/first", f"http://127.0.0.1:{app.port}/second"]
        assert entries[1]["request"]["postData"] == {"mimeType": "application/json", "text": body.decode()}
        assert json.loads(entries[1]["response"]["content"]["text"])["body"] == body.decode()
    finally:
        app.stop()
        server.stop()


def test_a_database_outage_answers_503_with_retry_after_in_every_dialect_and_heals(tmp_path, postgres, s3):
    _, s3_env, _ = s3
    server = scale_server(tmp_path, postgres(), s3_env, first_display=196).start()
    bearer = {"Authorization": f"Bearer {API_KEY}"}
    try:
        session = server.native("POST", "/sessions", json={}).json()
        postgres.stop()
        asked = time.monotonic()
        answers = {
            "native": httpx.get(f"{server.url}/v1/sessions", headers=bearer, timeout=30),
            "kernel": httpx.get(f"{server.url}/kernel/browsers", headers=bearer, timeout=30),
            "gbox": httpx.get(f"{server.url}/gbox/boxes", headers=bearer, timeout=30),
            "fast": httpx.get(f"{server.url}/fast/v1/test_run/1", headers={"X-WallarmAPI-Token": API_KEY},
                              timeout=30),
        }
        # Each within two database waits (5 s each: the key check, then the query), never a hang.
        assert time.monotonic() - asked < 4 * 12
        for dialect, answer in answers.items():
            assert answer.status_code == 503 and answer.headers["retry-after"] == "5", (dialect, answer.text)
            # FAST's envelope names the error, the others say it in words too.
            said = "unavailable" if dialect == "fast" else "database is not answering"
            assert said in answer.text and "request id" not in answer.text, (dialect, answer.text)
        # A session running here still ends: its processes now, its row once the database is back.
        ended = httpx.delete(f"{server.url}/v1/sessions/{session['id']}", headers=bearer, timeout=60)
        assert ended.status_code == 204, ended.text
        wait_until(lambda: not processes(f"/{session['id']}/profile"), 10, "the browser to be gone")
        postgres.start()
        wait_until(lambda: httpx.get(f"{server.url}/v1/sessions", headers=bearer).status_code == 200, 30,
                   "the server to answer again once the database is back")
        wait_until(lambda: server.native("GET", f"/sessions/{session['id']}").json()["state"] == "deleted", 60,
                   "the ended session's row to be written")
    finally:
        postgres.start()
        server.stop()


def test_a_bucket_away_for_10_s_mid_recording_loses_no_segment(tmp_path, postgres, s3, pages):
    """Segments wait in the spool while the bucket is away and are stored once it is back: the
    video covers the whole recording."""
    server = scale_server(tmp_path, postgres(), s3.env, first_display=192).start()
    try:
        session = server.native("POST", "/sessions", json={"start_url": f"{pages}/motion.html"}).json()
        asked = time.monotonic()
        recording = server.native("POST", f"/sessions/{session['id']}/recordings", json={"framerate": 10}).json()
        answered = time.monotonic()
        time.sleep(3)
        s3.stop()
        try:
            time.sleep(10)
            # The server still answers while its bucket is away.
            assert server.native("GET", f"/recordings/{recording['id']}").json()["state"] == "recording"
        finally:
            s3.start()
        time.sleep(3)
        stop_asked = time.monotonic()
        stopped = server.native("POST", f"/recordings/{recording['id']}/stop").json()
        assert stopped["state"] == "finished" and stopped["stop_reason"] == "requested", stopped
        video = tmp_path / "through-outage.mp4"
        video.write_bytes(httpx.get(server.native("GET", f"/recordings/{recording['id']}/download-url")
                                    .json()["url"]).content)
        probe = ffprobe(video)
        # The video spans start to stop: at least from the start's answer, at most from its ask.
        assert stop_asked - answered - 1 <= probe["duration"] <= stop_asked - asked + 1, probe
        assert abs(stopped["duration_ms"] / 1000 - probe["duration"]) <= 0.5, (stopped, probe)
        # A page that changes at every frame, at 10 fps: no stretch of frames is missing.
        assert probe["frames"] >= 5 * probe["duration"], probe
    finally:
        server.stop()


def test_presigned_bucket_urls_name_the_public_endpoint_clients_reach(tmp_path, postgres, s3):
    """The server reaches s3s-fs as 127.0.0.1 (`AWS_ENDPOINT_URL`), clients as `localhost`
    (`--blob-public-url`): every URL handed out names `localhost`, and the bucket accepts it,
    since it was signed for that host (rewriting the host of a URL signed for the other is
    refused)."""
    port = s3.endpoint.rsplit(":", 1)[1]
    public = f"http://localhost:{port}"
    server = Server(tmp_path / "public", first_display=199, env=s3.env,
                    extra_args=["--database-url", postgres(), "--blob-url", f"s3://{BUCKET}",
                                "--blob-public-url", public, "--cluster-secret", CLUSTER_SECRET]).start()
    try:
        kernel = server.kernel_client()
        browser = kernel.browsers.create()
        replay = kernel.browsers.replays.start(browser.session_id)
        time.sleep(1)
        kernel.browsers.replays.stop(replay.replay_id, id_or_name=browser.session_id)

        download = kernel.browsers.replays.download(replay.replay_id, id_or_name=browser.session_id)
        assert download.http_response.status_code == 200
        assert str(download.http_response.url).startswith(f"{public}/{BUCKET}/recordings/")
        video = tmp_path / "public.mp4"
        download.write_to_file(video)
        assert ffprobe(video)["duration"] >= 0.5

        [listed] = kernel.browsers.replays.list(browser.session_id)
        native = server.native("GET", f"/recordings/{replay.replay_id}/download-url").json()["url"]
        for url in (listed.replay_view_url, native):
            assert url.startswith(f"{public}/{BUCKET}/recordings/"), url
            assert httpx.get(url).content == video.read_bytes()
            assert httpx.get(url.replace(public, s3.endpoint)).status_code == 403
    finally:
        server.stop()
