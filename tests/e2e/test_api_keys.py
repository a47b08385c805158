"""API keys: `tapedeck keys` and `/v1/keys` issue, list and revoke keys in the server's own
database; keys are stored hashed; a revoked key is refused by every dialect within a second."""

import sqlite3
import subprocess

import httpx

from conftest import API_KEY, BINARY, wait_until


def keys_cli(server, *args) -> str:
    done = subprocess.run([str(BINARY), "keys", "--data-dir", str(server.data_dir / "data"), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def accepted(server, key: str) -> dict:
    """Which dialects accept `key`, each with its own header."""
    bearer = {"Authorization": f"Bearer {key}"}
    return {
        "native": httpx.get(f"{server.url}/v1/sessions", headers=bearer).status_code,
        "kernel": httpx.get(f"{server.url}/kernel/browsers", headers=bearer).status_code,
        "gbox": httpx.get(f"{server.url}/gbox/boxes", headers=bearer).status_code,
        "fast": httpx.get(f"{server.url}/fast/v1/test_run/1",
                          headers={"X-WallarmAPI-Token": key}).status_code,
    }


def test_a_key_made_with_the_cli_works_everywhere_until_revoked(server):
    out = keys_cli(server, "create", "--name", "ci-pipeline", "--project", "team-b")
    secret = out.strip().splitlines()[-1]
    key_id = out.split()[2]
    assert len(secret) == 40 and secret.isalnum()
    assert all(status != 401 for status in accepted(server, secret).values()), accepted(server, secret)

    listed = keys_cli(server, "list")
    assert key_id in listed and "team-b" in listed and secret not in listed
    # The database holds hashes only: neither key's secret is in it.
    db = sqlite3.connect(server.data_dir / "data" / "tapedeck.db")
    stored = [row[0] for row in db.execute("SELECT secret_hash FROM api_keys")]
    db.close()
    assert stored and secret not in stored and API_KEY not in stored

    keys_cli(server, "revoke", key_id)
    wait_until(lambda: set(accepted(server, secret).values()) == {401}, 3,
               "every dialect to refuse the revoked key")


def test_admin_keys_manage_keys_over_the_api_and_others_may_not(server):
    made = server.native("POST", "/keys", json={"name": "alice", "project": "team-a"})
    assert made.status_code == 201, made.text
    alice = made.json()
    assert alice["project"] == "team-a" and alice["admin"] is False and len(alice["secret"]) == 40

    as_alice = {"Authorization": f"Bearer {alice['secret']}"}
    refused = httpx.post(f"{server.url}/v1/keys", headers=as_alice, json={"name": "mallory"})
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden", refused.text
    assert httpx.get(f"{server.url}/v1/keys", headers=as_alice).status_code == 403

    listing = server.native("GET", "/keys").json()["items"]
    assert alice["id"] in [k["id"] for k in listing]
    # The admin cannot lock itself out over the API.
    [admin] = [k for k in listing if k["admin"]]
    own = server.native("DELETE", f"/keys/{admin['id']}")
    assert own.status_code == 409 and "cannot revoke itself" in own.json()["message"], own.text
    assert server.native("GET", "/keys").status_code == 200
    assert all("secret" not in k for k in listing)
    assert server.native("POST", "/keys", json={}).status_code == 400

    assert server.native("DELETE", f"/keys/{alice['id']}").status_code == 204
    wait_until(lambda: httpx.get(f"{server.url}/v1/sessions", headers=as_alice).status_code == 401, 3,
               "the revoked key to be refused")
    assert server.native("DELETE", f"/keys/{alice['id']}").status_code == 404
    assert "/v1/keys" in server.native("GET", "/openapi.json").json()["paths"]
