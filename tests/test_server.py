"""`tieout serve` hardening: basic auth is enforced, websockets from a foreign Origin are refused,
and the database a session queries cannot read files or change its settings."""

from __future__ import annotations

import base64
import html
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
from tests.pgcluster import PgCluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _serve(tmp_path: Path, *extra: str) -> Iterator[int]:
    root = write_tables(
        tmp_path / "data", "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    yield from _serve_with(tmp_path, "--data", str(root), *extra)


def _serve_with(tmp_path: Path, *args: str, start_s: float = 60) -> Iterator[int]:
    """`tieout serve ARGS` on a free loopback port until it answers (at most ``start_s``);
    stopped by its PID at the end (killed if it does not stop within 15 s)."""
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *args],
        env=env_for(tmp_path / "home"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + start_s
        while time.monotonic() < deadline and proc.poll() is None:
            conn = http.client.HTTPConnection("localhost", port, timeout=1)
            try:
                conn.request("HEAD", "/")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        if proc.poll() is not None:
            text = (tmp_path / "server.log").read_text(errors="replace")
            raise AssertionError(f"tieout serve exited ({proc.returncode}):\n{text[-3000:]}")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
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
    # three changes, however long a busy machine takes (no timing in the assertion)
    values = [["SMB"], ["Enterprise"], []]
    out = user(url, seconds=120, think=(0.05, 0.1), seed=0, values=values, changes=3)
    assert out["errors"] == []
    assert len(out["times"]) == 3


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


# ------------------------------------------------------------------ --source-schema (issue 17)
#: The domain pages, each opened once over the Bokeh protocol (what a browser receives).
PAGES = ("payments", "influencer", "reconciliation")
_KPI_VALUE = re.compile(r'<div class="kpi-value">(.*?)</div>')


def _session_texts(port: int, page: str) -> list[str]:
    """The text of every model of a fresh session of ``?page=PAGE``, as the browser gets it."""
    import panel.models  # noqa: F401  (registers Panel's bokeh models for the client)
    from bokeh.client import pull_session
    from bokeh.events import DocumentReady

    session = pull_session(url=f"http://localhost:{port}/", arguments={"page": page})
    try:
        session.document.callbacks.send_event(DocumentReady())
        session.force_roundtrip()
        # Panel sends HTML panes' text escaped (the browser unescapes it)
        texts = (getattr(m, "text", None) for m in session.document.models)
        return [html.unescape(str(t)) for t in texts if t]
    finally:
        session.close()


def _file_cards(root: Path) -> dict[str, list[str]]:
    """Each domain page's KPI card values on DuckDB from the files (the opening view)."""
    from bokeh.document import Document
    from pyviz_comms import Comm

    from app.main import create_app

    app = create_app(open_source(root, backend=""))
    out = {}
    for page in PAGES:
        app.tieout_nav.value = page
        app.main[0].get_root(Document(), Comm())
        out[page] = _KPI_VALUE.findall(app.tieout_pages[page][0].cards.object)
    app.tieout_app.close()
    return out


def test_serve_on_a_source_schema_shows_the_files_kpis(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    """`tieout serve --backend postgresql://... --source-schema S`: each domain page's cards
    carry the same values, formatted, as the page on DuckDB from the same tables as files."""
    from tests.influencer_tiny import tables as influencer_tables
    from tests.recon_tiny import tables as recon_tables
    from tests.test_postgres import _load_raw

    by_domain = {
        "payments": {"merchants": MERCHANTS, "transactions": TRANSACTIONS},
        "influencer": influencer_tables(),
        "reconciliation": recon_tables(),
    }
    root = tmp_path / "files"
    for domain, tables in by_domain.items():
        write_tables(root, domain, tables)
    want = _file_cards(root)
    assert all(want[page] for page in PAGES) and want["payments"][0].startswith("$")  # GPV
    schema = "raw_served"
    _load_raw(pg_cluster, schema, {n: t for ts in by_domain.values() for n, t in ts.items()})
    args = ("--backend", pg_cluster.url, "--source-schema", schema)
    for port in _serve_with(tmp_path, *args, start_s=180):
        for page in PAGES:
            texts = _session_texts(port, page)
            cards = next(t for t in texts if "kpi-card" in t)
            assert _KPI_VALUE.findall(cards) == want[page], page
            where = f"PostgreSQL schema {schema} on {pg_cluster.host}:{pg_cluster.port}/"
            assert any(f"Data: {where}{pg_cluster.dbname}" in t for t in texts)
            assert not any("/postgresql/" in t for t in texts)
