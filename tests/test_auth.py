"""`tieout serve --basic-auth`: failed logins are throttled per client and logged, and the login
cookies carry SameSite, HttpOnly and (over https) Secure."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application

from app.auth import LoginThrottle, TieoutBasicAuthProvider
from tests.test_server import _serve

PASSWORD = "s3cret-pass"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the throttle on its own, with a clock the test moves -------------------------------------


def _throttle(clock: FakeClock, **kw: float) -> LoginThrottle:
    opts = dict(max_failures=3, window=60.0, lockout=10.0, max_lockout=40.0, forget_after=600.0)
    return LoginThrottle(clock=clock, **{**opts, **kw})  # type: ignore[arg-type]


def test_throttle_locks_a_client_out_after_the_threshold_and_the_lockout_grows() -> None:
    clock = FakeClock()
    t = _throttle(clock)
    assert [t.failure("a"), t.failure("a")] == [0, 0] and t.retry_after("a") == 0
    assert t.failure("a") == 10  # the third failure within the window starts a lockout
    assert t.retry_after("a") == 10 and t.retry_after("b") == 0  # per client
    clock.now += 4
    assert t.retry_after("a") == 6
    lockouts = []
    for _ in range(4):
        clock.now += t.retry_after("a")
        assert t.retry_after("a") == 0  # the lockout is over
        lockouts.append([t.failure("a") for _ in range(3)][-1])
    assert lockouts == [20, 40, 40, 40]  # doubles, up to max_lockout


def test_throttle_forgets_failures_outside_the_window_and_after_a_success() -> None:
    clock = FakeClock()
    t = _throttle(clock)
    t.failure("a"), t.failure("a")
    clock.now += 61  # the two failures are out of the window
    assert t.failure("a") == 0 and t.failure("a") == 0 and t.failure("a") == 10
    clock.now += 10
    t.success("a")
    assert len(t) == 0
    assert [t.failure("a") for _ in range(3)] == [0, 0, 10]  # back to the first lockout
    clock.now += 10 + 601  # quiet for forget_after: the lockouts are forgotten too
    assert [t.failure("a") for _ in range(3)] == [0, 0, 10]


def test_throttle_tracks_a_bounded_number_of_clients() -> None:
    clock = FakeClock()
    t = _throttle(clock, max_clients=100)
    for _ in range(3):
        t.failure("locked")
    for i in range(1000):
        t.failure(f"10.0.{i // 256}.{i % 256}")
    assert len(t) == 100
    assert t.retry_after("locked") == 0  # the oldest was dropped first
    assert t.retry_after("10.0.3.231") == 0 and len(t) == 100  # a look-up adds nothing


# --- the login handler in process: Secure over https, per-client keys behind a proxy ----------


class TestLoginBehindAProxy(AsyncHTTPTestCase):
    """A Tornado app with just the login routes, run with ``xheaders`` as behind a proxy."""

    def get_app(self) -> Application:
        provider = TieoutBasicAuthProvider(PASSWORD, throttle=LoginThrottle(max_failures=2))
        return Application(provider.endpoints, cookie_secret="x" * 32)

    def get_httpserver_options(self) -> dict[str, bool]:
        return {"xheaders": True}

    def _login(self, password: str, headers: dict[str, str] | None = None) -> tuple[int, list[str]]:
        body = urllib.parse.urlencode({"username": "ann", "password": password})
        r = self.fetch(
            "/login",
            method="POST",
            body=body,
            headers={**FORM, **(headers or {})},
            follow_redirects=False,
            raise_error=False,
        )
        return r.code, r.headers.get_list("Set-Cookie")

    def test_cookies_are_secure_over_https_only(self) -> None:
        code, cookies = self._login(PASSWORD, {"X-Forwarded-Proto": "https"})
        assert code == 302 and any(c.startswith("user=") for c in cookies)
        assert all("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
        code, cookies = self._login(PASSWORD)
        assert code == 302 and cookies
        assert not any("Secure" in c for c in cookies)

    def test_logout_clears_the_cookies_with_the_same_flags(self) -> None:
        r = self.fetch("/logout", headers={"X-Forwarded-Proto": "https"})
        cookies = r.headers.get_list("Set-Cookie")
        assert r.code == 200 and any(c.startswith("user=") for c in cookies)
        assert all("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies)

    def test_clients_behind_the_proxy_are_counted_apart(self) -> None:
        with self.assertLogs("tieout", "WARNING") as logs:
            for _ in range(2):
                assert self._login("wrong", {"X-Forwarded-For": "203.0.113.7"})[0] == 302
        assert all("failed login from 203.0.113.7 for user 'ann'" in m for m in logs.output)
        assert self._login(PASSWORD, {"X-Forwarded-For": "203.0.113.7"})[0] == 429
        assert self._login(PASSWORD, {"X-Forwarded-For": "203.0.113.8"})[0] == 302


# --- end to end: `tieout serve --basic-auth` ---------------------------------------------------


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[int]:
    yield from _serve(tmp_path, "--basic-auth", PASSWORD, "--cookie-secret", "x" * 32)


def _post_login(port: int, username: str, password: str) -> tuple[int, list[str]]:
    """(status, Set-Cookie headers) of one login POST."""
    conn = http.client.HTTPConnection("localhost", port, timeout=30)
    try:
        body = urllib.parse.urlencode({"username": username, "password": password})
        conn.request("POST", "/login", body=body, headers=FORM)
        r = conn.getresponse()
        r.read()
        return r.status, [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
    finally:
        conn.close()


def test_five_failed_logins_lock_the_client_out_and_are_logged(
    auth_server: int, tmp_path: Path
) -> None:
    for _ in range(5):
        status, cookies = _post_login(auth_server, "mallory", "guess")
        assert status == 302 and not any(c.startswith("user=") for c in cookies)
    # Locked out: refused even with the right password.
    status, cookies = _post_login(auth_server, "ann", PASSWORD)
    assert status == 429 and not any(c.startswith("user=") for c in cookies)
    log = (tmp_path / "server.log").read_text()
    failed = re.findall(r"WARNING tieout: failed login from (\S+) for user 'mallory'", log)
    assert len(failed) == 5 and set(failed) <= {"127.0.0.1", "::1"}
    assert "locked out" in log and "guess" not in log and PASSWORD not in log


def test_login_cookies_are_samesite_and_httponly(auth_server: int) -> None:
    status, cookies = _post_login(auth_server, "ann", PASSWORD)
    assert status == 302
    names = {c.split("=", 1)[0] for c in cookies}
    assert {"user", "id_token"} <= names
    for cookie in cookies:
        flags = [f.strip().lower() for f in cookie.split(";")[1:]]
        assert "samesite=lax" in flags and "httponly" in flags, cookie
        assert "secure" not in flags, cookie  # plain http


def test_a_json_file_of_users_still_works(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"ann": "pw-ann", "bob": "pw-bob"}))
    handler = TieoutBasicAuthProvider(str(users)).login_handler
    # Unbound: the check reads only the class's credentials.
    assert handler._validate(handler, "ann", "pw-ann")
    assert not handler._validate(handler, "ann", "pw-bob")
    assert not handler._validate(handler, "eve", "pw-ann")
    anyone = TieoutBasicAuthProvider("pw").login_handler  # one password: any user name
    assert anyone._validate(anyone, "zoe", "pw") and not anyone._validate(anyone, "ann", "pw-ann")
