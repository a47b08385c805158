"""A new user's wrong storage settings: the start fails at once, in one paragraph that names the
cause, and leaves no secret behind in a data dir that will not be used."""

import os
import subprocess
import time

from conftest import BINARY, free_port


def start(tmp_path, *args, env=None):
    """Runs `tapedeck serve` with `args`, no AWS_* variables and backtraces asked for."""
    data_dir = tmp_path / "data"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "TAPEDECK_API_KEY"}
    began = time.monotonic()
    done = subprocess.run(
        [str(BINARY), "serve", "--listen", f"127.0.0.1:{free_port()}",
         "--proxy-listen", f"127.0.0.1:{free_port()}", "--data-dir", str(data_dir), *args],
        env={**clean, "RUST_BACKTRACE": "1", **(env or {})}, capture_output=True, text=True, timeout=60,
    )
    return done, time.monotonic() - began, data_dir


def assert_one_paragraph_and_no_secrets(done, data_dir, *said):
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("tapedeck: ") and all(s in last for s in said), done.stderr
    assert "backtrace" not in done.stderr.lower() and "panicked" not in done.stderr, done.stderr
    written = sorted(p.name for p in data_dir.rglob("*")) if data_dir.exists() else []
    secrets = [name for name in written if name in ("api-key", "signing-secret", "ca.pem", "ca.key")]
    assert secrets == [], written


def test_a_database_url_with_nothing_listening_fails_at_once_saying_connection_refused(tmp_path):
    url = f"postgres://tapedeck@127.0.0.1:{free_port()}/tapedeck"
    done, took, data_dir = start(tmp_path, "--database-url", url)
    assert took < 10, (took, done.stderr)
    assert_one_paragraph_and_no_secrets(done, data_dir, "cannot connect to", "Connection refused")
    assert "pool timed out" not in done.stderr


def test_a_bucket_without_credentials_fails_at_once_naming_the_missing_keys(tmp_path):
    done, took, data_dir = start(tmp_path, "--blob-url", "s3://recordings",
                                 env={"AWS_EC2_METADATA_DISABLED": "true"})
    assert took < 10, (took, done.stderr)
    assert_one_paragraph_and_no_secrets(done, data_dir, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set")
