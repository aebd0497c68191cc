"""`tieout serve` hardening: basic auth is enforced, websockets from a foreign Origin are refused,
and the database a session queries cannot read files or change its settings."""

from __future__ import annotations

import base64
import http.client
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from data.engine import open_source
from tests.conftest import write_tables
from tests.launch import env_for
from tests.payments_tiny import MERCHANTS, TRANSACTIONS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _serve(tmp_path: Path, *extra: str) -> Iterator[int]:
    root = write_tables(
        tmp_path / "data", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "serve",
            "--data",
            str(root),
            "--port",
            str(port),
            *extra,
        ],
        env=env_for(tmp_path / "home"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("localhost", port, timeout=1)
            try:
                conn.request("HEAD", "/")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        yield port
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[int]:
    yield from _serve(tmp_path)


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[int]:
    yield from _serve(tmp_path, "--basic-auth", "s3cret-pass", "--cookie-secret", "x" * 32)


def test_a_simulated_user_sees_new_kpis_after_each_change(open_server: int) -> None:
    """The `make load` client (a Bokeh protocol session) against the tiny payments data."""
    from tests.benchmarks.load import user

    url = f"http://localhost:{open_server}/"
    out = user(url, seconds=3, think=(0.05, 0.1), seed=0, values=[["SMB"], ["Enterprise"], []])
    assert out["errors"] == []
    assert len(out["times"]) >= 3


def _request(
    port: int,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of one request on its own connection, closed after."""
    conn = http.client.HTTPConnection("localhost", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        out = {k.lower(): v for k, v in r.getheaders()}
        cookies = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"]
        out["set-cookie"] = "; ".join(cookies)
        return r.status, out, r.read().decode()
    finally:
        conn.close()


def test_basic_auth_refuses_a_request_without_credentials(auth_server: int) -> None:
    status, headers, body = _request(auth_server, "GET", "/")
    assert status == 302 and "login" in headers.get("location", "")
    assert "Payments analytics" not in body and "bokeh" not in body.lower()
    # A wrong password gets no session cookie; the right one does, and then the page loads.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    login = {"username": "ann", "password": "wrong"}
    _, bad, _ = _request(auth_server, "POST", "/login", urllib.parse.urlencode(login), form)
    assert "user=" not in bad.get("set-cookie", "")
    login["password"] = "s3cret-pass"
    _, good, _ = _request(auth_server, "POST", "/login", urllib.parse.urlencode(login), form)
    cookie = good.get("set-cookie", "")
    assert "user=" in cookie
    status, _, _ = _request(auth_server, "GET", "/", headers={"Cookie": cookie})
    assert status == 200


def _session_token(port: int) -> str:
    _, _, html = _request(port, "GET", "/")
    m = re.search(r'"token":\s*"([^"]+)"', html) or re.search(r"token\s*=\s*'([^']+)'", html)
    assert m, "no session token in the page"
    return m.group(1)


def _ws_status(port: int, origin: str) -> int:
    """The HTTP status of a websocket upgrade to the app from ``origin`` (101 = accepted)."""
    token = _session_token(port)
    request = (
        "GET /ws HTTP/1.1\r\n"
        f"Host: localhost:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: bokeh, {token}\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection(("localhost", port), timeout=30) as sock:
        sock.sendall(request.encode())
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def test_websocket_from_a_foreign_origin_is_refused(open_server: int) -> None:
    port = open_server
    assert _ws_status(port, f"http://localhost:{port}") == 101
    assert _ws_status(port, "http://evil.example") == 403
    assert _ws_status(port, f"http://127.0.0.2:{port}") == 403


def test_a_session_database_cannot_read_files_or_change_settings(tmp_path: Path) -> None:
    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    con = open_source(root).backend().con
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    for sql in (
        f"SELECT * FROM read_csv('{secret}')",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        f"COPY merchants TO '{tmp_path / 'out.csv'}'",
        f"ATTACH '{tmp_path / 'x.duckdb'}' AS x",
        "INSTALL httpfs",
    ):
        with pytest.raises(Exception):  # noqa: B017 - duckdb raises several error classes
            con.execute(sql)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "x.duckdb").exists()
