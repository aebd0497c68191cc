"""Basic-auth login for `tieout serve`: failed logins are throttled per client and logged, and
every cookie the login and logout pages set is `HttpOnly`, `SameSite=Lax` and, over https,
`Secure`.

Panel's `BasicAuthProvider` / `BasicLoginHandler` do the work; the subclasses here add the
throttle, the log lines and the cookie flags. `app.server.serve` passes a
`TieoutBasicAuthProvider` to `pn.serve(auth_provider=...)` instead of `basic_auth=...`.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from panel.auth import (
    BasicAuthProvider,
    BasicLoginHandler,
    LogoutHandler,
    _validate_next_url,
)
from panel.io.resources import CDN_DIST
from panel.io.state import state
from tornado.escape import url_escape
from tornado.web import RequestHandler

log = logging.getLogger("tieout")

Credentials = str | dict[str, str]


@dataclass
class _Client:
    failures: int = 0  # in the current window
    window_start: float = 0.0
    last_failure: float = 0.0
    locked_until: float = 0.0
    lockouts: int = 0  # so far; each one doubles the next


class LoginThrottle:
    """Failed logins per client, in memory.

    After `max_failures` failures within `window` seconds a client is locked out: it may not
    try again for `lockout` seconds, doubled at each further lockout up to `max_lockout`. A
    successful login, or `forget_after` seconds without a failure, resets the client.

    At most `max_clients` clients are tracked; past that the one whose last failure is oldest
    is forgotten first, so the table cannot grow without bound. State lives in one process
    (with `--num-procs N` each process counts on its own) and is touched only from the
    Tornado event loop, hence no lock. `clock` is injectable for tests.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 300.0,
        lockout: float = 30.0,
        max_lockout: float = 900.0,
        forget_after: float = 3600.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.max_lockout = max_lockout
        self.forget_after = forget_after
        self.max_clients = max_clients
        self.clock = clock
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def __len__(self) -> int:
        return len(self._clients)

    def retry_after(self, client: str) -> float:
        """Seconds before `client` may try again (0 when it may now)."""
        record = self._clients.get(client)
        return max(0.0, record.locked_until - self.clock()) if record else 0.0

    def failure(self, client: str) -> float:
        """Count a failed login; return the lockout it starts in seconds (0 for none)."""
        now = self.clock()
        record = self._clients.pop(client, None)
        if record is None or now - record.last_failure > self.forget_after:
            record = _Client(window_start=now)
        if now - record.window_start > self.window:
            record.failures, record.window_start = 0, now
        record.failures += 1
        record.last_failure = now
        locked = 0.0
        if record.failures >= self.max_failures:
            locked = min(self.lockout * 2.0 ** min(record.lockouts, 32), self.max_lockout)
            record.locked_until = now + locked
            record.lockouts += 1
            record.failures, record.window_start = 0, now
        self._clients[client] = record  # most recent last
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        return locked

    def success(self, client: str) -> None:
        """A successful login: forget the client's failures and lockouts."""
        self._clients.pop(client, None)


def _same(given: str, expected: object) -> bool:
    """`given == expected`, in constant time for equal lengths."""
    return isinstance(expected, str) and hmac.compare_digest(
        given.encode("utf-8"), expected.encode("utf-8")
    )


class _CookieFlags(RequestHandler):
    """Every cookie this handler sets or clears is HttpOnly and SameSite=Lax, and Secure when
    the request came over https. With Tornado's `xheaders` on, `request.protocol` follows the
    proxy's X-Forwarded-Proto / X-Scheme, so a TLS-terminating proxy counts as https.

    Lax rather than Strict: a link to the app from mail or chat should find the user logged in.
    """

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        kwargs["httponly"] = True
        kwargs["samesite"] = "Lax"
        if self.request.protocol == "https":
            kwargs["secure"] = True
        super().set_cookie(name, value, *args, **kwargs)


class TieoutLoginHandler(_CookieFlags, BasicLoginHandler):
    """Panel's login page and POST, with a per-client throttle and a log line per failure.

    The client is `request.remote_ip`: the peer's address, or, when the server runs with
    Tornado's `xheaders` (Bokeh's `use_xheaders`), the address the proxy puts in X-Real-Ip /
    X-Forwarded-For. X-Forwarded-For is not read here directly, so a client cannot choose its
    own key by sending that header. Behind a proxy without `xheaders` every client shares the
    proxy's address (and so its lockout).
    """

    credentials: ClassVar[Credentials] = ""
    throttle: ClassVar[LoginThrottle]

    def _validate(self, username: str, password: str) -> bool:
        """A password for anyone, or a JSON file of user: password (re-read at each login)."""
        auth: Any = self.credentials
        if isinstance(auth, str) and os.path.isfile(auth):
            with open(auth, encoding="utf-8") as f:
                auth = json.load(f)
        if isinstance(auth, dict):
            return _same(password, auth.get(username))
        return _same(password, auth)

    def post(self) -> None:
        client = self.request.remote_ip or "unknown"
        username = self.get_argument("username", "")
        password = self.get_argument("password", "")
        shown = username[:100]  # logged with %r: quotes, escapes newlines
        wait = math.ceil(self.throttle.retry_after(client))
        if wait > 0:
            log.warning("login refused from %s for user %r: locked out", client, shown)
            self.set_status(429)
            self.set_header("Retry-After", str(wait))
            self.write(
                self._login_template.render(
                    login_endpoint=self._login_endpoint,
                    errormessage=f"Too many failed logins: try again in {wait} s.",
                    PANEL_CDN=CDN_DIST,
                )
            )
            return
        if self._validate(username, password):  # as BasicLoginHandler.post from here on
            self.throttle.success(client)
            self.set_current_user(username)
            self.redirect(_validate_next_url(self.get_cookie("next_url", state.base_url)))
            return
        locked = self.throttle.failure(client)
        log.warning(
            "failed login from %s for user %r%s",
            client,
            shown,
            f"; locked out for {locked:.0f} s" if locked else "",
        )
        self.redirect(self.request.uri + "?error=" + url_escape("Invalid username or password!"))


class TieoutLogoutHandler(_CookieFlags, LogoutHandler):
    """Panel's logout page; the cookies it clears carry the same flags."""


class TieoutBasicAuthProvider(BasicAuthProvider):
    """Panel's basic auth with `TieoutLoginHandler` / `TieoutLogoutHandler`.

    `credentials` is what `pn.serve(basic_auth=...)` takes: a password, or the path of a JSON
    file of user: password.
    """

    def __init__(
        self, credentials: Credentials, throttle: LoginThrottle | None = None, **kwargs: Any
    ) -> None:
        self._credentials = credentials
        self._throttle = LoginThrottle() if throttle is None else throttle
        super().__init__(**kwargs)  # reads login_handler / logout_handler

    @cached_property
    def login_handler(self) -> type[RequestHandler]:
        # A subclass per provider, so that two servers in one process share no settings.
        return type(
            "TieoutLoginHandler",
            (TieoutLoginHandler,),
            {
                "credentials": self._credentials,
                "throttle": self._throttle,
                "_login_endpoint": self._login_endpoint,
                "_login_template": self._login_template,
            },
        )

    @cached_property
    def logout_handler(self) -> type[RequestHandler]:
        return type(
            "TieoutLogoutHandler",
            (TieoutLogoutHandler,),
            {"_login_endpoint": self._login_endpoint, "_logout_template": self._logout_template},
        )
