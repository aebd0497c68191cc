"""`tieout serve`: the app for a team, with production settings applied."""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data.settings import DATA_ENV, data_root


def serve(
    data: Path | None = None,
    port: int = 5006,
    address: str = "localhost",
    origins: list[str] | None = None,
    basic_auth: str | None = None,
    cookie_secret: str | None = None,
    num_procs: int = 1,
    show: bool = False,
    login_expiry_days: float = 1.0,
    oauth_provider: str | None = None,
    oauth_key: str | None = None,
    oauth_secret: str | None = None,
    oauth_redirect_uri: str | None = None,
    behind_proxy: bool = False,
) -> None:
    """Ingest (or reuse) the data, then serve `create_app` until stopped."""
    import panel as pn

    from app.main import create_app
    from data.loader import startup_job

    if data is not None:
        os.environ[DATA_ENV] = str(Path(data).resolve())
    root = data_root()
    schema = os.environ.get("TIEOUT_SOURCE_SCHEMA")  # tables of a database: no folder read
    if schema:
        print(f"tieout: loading the tables of schema {schema} ...", flush=True)  # noqa: T201
    elif not root.is_dir():
        raise SystemExit(f"tieout: data folder {root} does not exist (run `tieout generate`)")
    else:
        print(f"tieout: loading {root} ...", flush=True)  # noqa: T201
    job = startup_job(root)  # ingest once, before the first session
    job.wait()
    if job.error:
        what = f"the tables of schema {schema}" if schema else root
        raise SystemExit(f"tieout: loading {what} failed: {job.error}")
    if num_procs > 1:
        # DuckDB connections do not survive a fork: each worker reopens the cached database.
        from data.engine import clear_sources
        from data.loader import reset_jobs

        clear_sources()
        reset_jobs()
    allowed = origins or [f"localhost:{port}", f"127.0.0.1:{port}"]
    kwargs: dict[str, Any] = {}
    if basic_auth and oauth_provider:
        raise SystemExit("tieout: choose basic auth or OAuth, not both")
    if basic_auth:
        from app.auth import TieoutBasicAuthProvider

        # Not `basic_auth=`: given that, Panel installs its own provider in place of this one,
        # which throttles and logs failed logins and flags the login cookies (app/auth.py).
        kwargs["auth_provider"] = TieoutBasicAuthProvider(basic_auth)
    if oauth_provider:
        kwargs.update(
            oauth_provider=oauth_provider,
            oauth_key=oauth_key,
            oauth_secret=oauth_secret,
            oauth_redirect_uri=oauth_redirect_uri,
            oauth_encryption_key=os.environ.get("PANEL_OAUTH_ENCRYPTION"),
        )
    if basic_auth or oauth_provider:
        if not cookie_secret and num_procs > 1:
            raise SystemExit("tieout: several processes need one --cookie-secret they share")
        # Login cookies are signed with this secret and expire after login_expiry_days.
        kwargs["cookie_secret"] = cookie_secret or os.urandom(32).hex()
        kwargs["oauth_expiry"] = login_expiry_days
    elif cookie_secret:
        kwargs["cookie_secret"] = cookie_secret
    if behind_proxy:
        # Client address and https from the proxy's X-Real-Ip / X-Forwarded-* headers: failed
        # logins are then counted per real client and login cookies get the Secure flag.
        kwargs["use_xheaders"] = True
    from views.data_page import clean_stale_uploads

    for folder in clean_stale_uploads():
        print(f"tieout: removed uploads of an ended server process: {folder}", flush=True)  # noqa: T201
    _log_warnings_to_stderr()
    _trim_after_sessions()
    shown = address if address != "0.0.0.0" else "localhost"
    print(f"tieout: serving on http://{shown}:{port}/", flush=True)  # noqa: T201
    pn.serve(
        {"/": create_app},
        port=port,
        address=address,
        websocket_origin=allowed,
        show=show,
        num_procs=num_procs,
        title="Tieout",
        check_unused_sessions_milliseconds=10_000,
        unused_session_lifetime_milliseconds=60_000,
        **kwargs,
    )


def _log_warnings_to_stderr() -> None:
    """Send the "tieout" logger's warnings (failed logins among them) to stderr with a
    timestamp, unless logging is already configured."""
    log = logging.getLogger("tieout")
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)


#: Seconds from a session's end to handing the memory it freed back to the system: after Panel's
#: own collection of the session's objects (5 s after the last session ended).
TRIM_DELAY_S = 15.0


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where there is none (not Linux, or another C library)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _trim_after_sessions() -> None:
    """Once sessions have been discarded, hand the memory the C allocator keeps free back to the
    system (``malloc_trim(0)``, at most once per ``TRIM_DELAY_S``).

    With Python's default allocator this returns little (a few MB): most of a session's objects
    live in Python's own 1 MiB arenas, which go back to the system only when nothing in them is
    alive. Started with ``PYTHONMALLOC=malloc`` every object comes from glibc, and this is what
    returns the freed memory; figures in docs/benchmarks.md ("Server memory across sessions").
    """
    trim = _malloc_trim()
    if trim is None:
        return
    import panel as pn
    from tornado.ioloop import IOLoop

    pending: list[Any] = []

    def trim_now() -> None:
        pending.clear()
        trim(0)

    def session_ended(_ctx: Any) -> None:
        if not pending:
            pending.append(IOLoop.current().call_later(TRIM_DELAY_S, trim_now))

    pn.state.on_session_destroyed(session_ended)
