"""The command line as a new user meets it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ServerFactory
from tests.helpers.server import free_port, start_server


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOKENWIRE_DATA_DIR": str(data_dir)}
    env.pop("TOKENWIRE_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "tokenwire", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_serve_prints_a_login_url_whose_token_works(server_factory: ServerFactory) -> None:
    server = server_factory()
    url = f"http://127.0.0.1:{server.port}/?token={server.token}"
    assert url in server.log()
    response = httpx.get(f"{server.url}/api/v1/conversations", headers=server.headers())
    assert response.status_code == 200


def test_users_create_prints_the_token_last_and_stores_only_its_hash(tmp_path: Path) -> None:
    result = run_cli("users", "create", "grace", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("tw_")
    assert len(token) > 40
    assert token.encode() not in (tmp_path / "tokenwire.db").read_bytes()
    again = run_cli("users", "create", "grace", data_dir=tmp_path)
    assert again.returncode != 0
    assert "exists" in again.stderr


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    for _ in range(2):
        result = run_cli("db", "upgrade", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout


def test_the_local_token_is_kept_across_restarts(tmp_path: Path) -> None:
    from tokenwire.cli import local_token
    from tokenwire.settings import Settings

    settings = Settings(data_dir=tmp_path, token=None)
    first = local_token(settings)
    assert local_token(settings) == first
    assert (tmp_path / "token").stat().st_mode & 0o777 == 0o600


def test_no_auth_refuses_any_address_but_loopback(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        result = run_cli("serve", "--no-auth", "--host", host, data_dir=tmp_path)
        assert result.returncode == 2, (host, result.stderr)
        assert "loopback" in result.stderr


def test_no_auth_serves_the_local_user_without_a_token(tmp_path: Path) -> None:
    server = start_server(tmp_path, args=["--no-auth"])
    try:
        assert f"http://127.0.0.1:{server.port}/\n" in server.log()  # no token in the URL
        anonymous = httpx.get(f"{server.url}/api/v1/conversations")
        assert anonymous.status_code == 200
        made = httpx.post(f"{server.url}/api/v1/conversations", json={"title": "mine"})
        with server.client() as client:  # the same user as the token's: the local one
            assert made.json()["id"] in [
                c["id"] for c in client.get("/api/v1/conversations").json()["items"]
            ]
        # A token, when given, is still checked; a foreign page gets nothing.
        bad = httpx.get(f"{server.url}/api/v1/conversations", headers={"Authorization": "Bearer x"})
        assert bad.status_code == 401
        foreign = httpx.get(
            f"{server.url}/api/v1/conversations", headers={"Origin": "http://evil.example"}
        )
        assert foreign.status_code == 401
    finally:
        server.stop()


def test_cors_adds_to_the_setting(tmp_path: Path) -> None:
    env = {"TOKENWIRE_CORS_ORIGINS": "http://a.example"}
    server = start_server(tmp_path, env, args=["--cors", "http://b.example", "--cors", "*"])
    try:
        for origin in ("http://a.example", "http://b.example", "http://any.example"):
            preflight = httpx.options(
                f"{server.url}/api/v1/conversations",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 200, origin
    finally:
        server.stop()


def test_a_second_server_on_one_sqlite_database_refuses_to_start(
    server_factory: ServerFactory,
) -> None:
    first = server_factory()
    second = subprocess.run(
        [sys.executable, "-m", "tokenwire", "serve", "--port", str(free_port())],
        env=first.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert "already served by pid" in second.stderr
    assert "one server per SQLite database" in second.stderr
    # The first one is untouched, and the lock goes with its process, however it ends.
    assert httpx.get(f"{first.url}/healthz").status_code == 200
    first.stop(signal.SIGKILL)
    again = server_factory(data_dir=first.data_dir)
    assert httpx.get(f"{again.url}/healthz").status_code == 200
