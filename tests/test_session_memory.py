"""A server session leaves nothing behind once it is discarded.

The sessions go through Bokeh's own session lifecycle, in process and without a network: an
`ApplicationContext` built the way `tieout serve` builds it (Panel's application plus Bokeh's
`DocumentLifecycleHandler`, as `BokehTornado` adds it), sessions created from a request and
discarded by the same clean-up the server runs every few seconds. No timing, no memory figures:
what is checked is that nothing module-level still refers to a session's objects, and that a
session does not replace process-wide objects (each replacement outlives the session that made
it, amid that session's memory).
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path
from typing import Any

import holoviews as hv
import panel as pn
import pytest
from bokeh.application.handlers.document_lifecycle import DocumentLifecycleHandler
from bokeh.server.contexts import ApplicationContext
from panel.io.application import build_applications
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from app import server
from app.main import create_app
from data.engine import open_source
from tests.conftest import write_tables
from tests.payments_tiny import MERCHANTS, TRANSACTIONS

SESSIONS = 3


def _request() -> HTTPServerRequest:
    return HTTPServerRequest(
        start_line=RequestStartLine("GET", "/", "HTTP/1.1"),
        headers=HTTPHeaders({"Host": "localhost"}),
    )


async def _sessions(source: Any, count: int = SESSIONS) -> list[dict[str, Any]]:
    """Open and discard ``count`` sessions one after another; what was left of each."""
    made: list[Any] = []

    def app() -> Any:
        template = create_app(source)
        made.append(template.tieout_app)
        return template

    application = build_applications({"/": app})["/"]
    application.add(DocumentLifecycleHandler())  # as BokehTornado does for every app
    context = ApplicationContext(application, url="/")
    seen = []
    for k in range(count):
        session = await context.create_session_if_needed(f"session-{k}", request=_request())
        doc = session.document
        tieout_app = made.pop()
        assert tieout_app.built, "the session built its first page"
        refs = {
            "app": weakref.ref(tieout_app),
            "model": weakref.ref(tieout_app.model("payments")),
            "doc": weakref.ref(doc),
        }
        roots_open = len(pn.state._fake_roots)
        builder = hv.opts.__dict__.get("Curve")
        del doc, tieout_app
        session.request_expiration()
        await context._cleanup_sessions(0)  # what the server's periodic check runs
        assert session.destroyed
        del session
        await asyncio.sleep(0)  # let callbacks the clean-up scheduled (at no delay) run
        gc.collect()
        seen.append(
            {
                "alive": sorted(name for name, ref in refs.items() if ref() is not None),
                "roots_open": roots_open,
                "roots_after": len(pn.state._fake_roots),
                "views_after": len(pn.state._views),
                "opts_builder": builder,
            }
        )
    return seen


def test_a_discarded_session_is_collected_and_leaves_no_entries(tmp_path: Path) -> None:
    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    source = open_source(root)
    roots_before = len(pn.state._fake_roots)
    seen = asyncio.run(_sessions(source))
    for k, s in enumerate(seen):
        # the app object, its model and the Bokeh document are gone with the session
        assert s["alive"] == [], (k, s)
        # nothing of the session stays in Panel's per-process registries
        assert s["views_after"] == 0, (k, s)
        assert s["roots_open"] == roots_before + 1, (k, s)
        assert s["roots_after"] == roots_before, (k, s)
    # HoloViews' backend is selected once: a session does not rebuild the hv.opts builders,
    # which would outlive it (and keep the memory around them from being returned)
    assert seen[0]["opts_builder"] is not None
    assert all(s["opts_builder"] is seen[0]["opts_builder"] for s in seen)


def test_memory_freed_by_ended_sessions_is_handed_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tieout serve` calls malloc_trim(0) once sessions have been discarded (glibc only)."""
    calls: list[int] = []
    monkeypatch.setattr(server, "_malloc_trim", lambda: calls.append)
    monkeypatch.setattr(server, "TRIM_DELAY_S", 0.0)
    server._trim_after_sessions()
    root = write_tables(
        tmp_path, "payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS}
    )
    asyncio.run(_sessions(open_source(root), count=1))
    assert calls == [0]
