"""The native API against its own OpenAPI document, with requests a machine makes up
(schemathesis): no 5xx, and every answer's status, content type and body match the document."""

import subprocess

from conftest import API_KEY, E2E, ROOT, Server

# Examples per operation and phase; the run takes about ten seconds.
MAX_EXAMPLES = 8


def test_generated_requests_get_documented_answers_and_never_a_server_error(tmp_path):
    # Its own server: the run creates keys and fills every session slot.
    server = Server(tmp_path / "contract", first_display=175).start()
    try:
        done = subprocess.run(
            [str(ROOT / ".venv/bin/schemathesis"), "run", f"{server.url}/v1/openapi.json",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                         "response_schema_conformance",
             "--phases", "coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES),
             "--header", f"Authorization: Bearer {API_KEY}",
             "--request-timeout", "60", "--workers", "1", "--continue-on-failure",
             "--seed", "20261130"],
            cwd=E2E, capture_output=True, text=True, timeout=600,
        )
        assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
        assert "schemathesis.toml" in done.stdout, "schemathesis.toml was not read"
    finally:
        server.stop()
