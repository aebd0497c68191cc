"""`create_app()`: one fresh object graph (models, views) per browser session.

Served by `tieout serve`, the desktop launcher, or directly: `panel serve app/main.py` (with the
package installed, e.g. `pip install -e .`; the data folder comes from ``$TIEOUT_DATA``).

A session starts on the process's data (loaded once, in the background, with progress shown
while it loads). The Data page can replace a domain's data for this session (a folder on the
desktop, uploaded files on a server); domains whose new files fail validation keep their data.
Each domain page's period, filters and settings are mirrored in the URL query string.
"""

from __future__ import annotations

import html
import logging
import os
import re
import traceback
import urllib.parse
from pathlib import Path
from typing import Any

import holoviews as hv
import panel as pn

from app.urlstate import from_query, to_query
from data.domains import NAMES, REGISTRY
from data.engine import BACKEND_ENV, SOURCE_SCHEMA_ENV, Source, described
from data.loader import Job, load_folder, startup_job
from data.settings import data_root, demo_dir, mode

log = logging.getLogger("tieout")

#: The pages: one per registered domain, then the Data page.
PAGES = {**{name: d.label for name, d in REGISTRY.items()}, "data": "Data"}


#: How often a session checks whether its source files changed on disk.
FILE_CHECK_MS = 5000


def _short(path: str, roots: list[Any]) -> str:
    """A source file's name inside its data folder (payments/transactions.csv)."""
    for root in roots:
        if path.startswith(str(root)):
            return path[len(str(root)) :].lstrip("/\\")
    return path


def _notify_error(exc: BaseException) -> None:
    """The one place callback errors reach the user: a notification; outputs stay as they were."""
    log.error("callback failed: %s", "".join(traceback.format_exception(exc)))
    if pn.state.notifications is not None:
        pn.state.notifications.error(html.escape(str(exc)), duration=8000)


pn.config.exception_handler = _notify_error


def _notify_later(warnings: list[str]) -> None:
    """Show warnings once the page is up: notifications sent while a session's page is still
    being built never reached the browser (a link's ignored values went unsaid)."""

    def show() -> None:
        if pn.state.notifications is not None:
            for text in warnings:
                pn.state.notifications.warning(text, duration=10000)

    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        pn.state.onload(lambda: doc.add_timeout_callback(show, 500))
    else:
        show()


def theme_button(label: str, theme: str) -> pn.widgets.Button:
    """Switch to ``theme``: the page reloads with its link (page, tab, filters) kept."""
    button = pn.widgets.Button(label=label, color="light", variant="outline", margin=(0, 2))
    button.js_on_click(
        args={"theme": theme},
        code=(
            "const u = new URL(window.location.href);"
            "u.searchParams.set('theme', theme);"
            "window.location.href = u.toString();"
        ),
    )
    return button


def tab_slug(name: str) -> str:
    """A tab's name in a link: ``ROAS & CAC`` -> ``roas-cac``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _domain_view(domain: str, source: Source) -> tuple[Any, Any]:
    """(page, sidebar filters) of a domain, or a 'no data' message."""
    status = source.status.get(domain)
    if status is None or not status.present:
        if (words := described(source)) is not None:
            msg = f"No table of the {domain} domain in {words}."
        else:
            msg = f"No {domain}/ folder in {source.root}. Load one on the Data page."
        return pn.pane.Alert(html.escape(msg), alert_type="info"), None
    if not status.loaded:
        return pn.pane.Alert(
            f"The {domain} data did not pass validation; see the Data page for every problem.",
            alert_type="warning",
        ), None
    declared = REGISTRY[domain]
    # opening_view: the page opens on a period that has one to compare with (models.base)
    view = declared.view_class()(model=declared.model_class()(source, opening_view=True))
    return view, view.filters


def _session_query() -> dict[str, list[str]]:
    """The query string this session was opened with (empty outside a server session)."""
    if not pn.state.curdoc or not pn.state.session_args:
        return {}
    return {
        k: [v.decode("utf-8", "replace") for v in vals] for k, vals in pn.state.session_args.items()
    }


class TieoutApp:
    """One browser session: navigation, the pages built so far, the data each domain uses."""

    def __init__(self, source: Source | None = None, job: Job | None = None):
        self.query = _session_query()
        self.sources: dict[str, Source] = {}
        self.built: dict[str, tuple[Any, Any]] = {}
        self.uploads: list[Any] = []  # folders this session uploaded (deleted when unused)
        page = self.query.get("page", ["payments"])[0]
        self.nav = pn.widgets.RadioButtonGroup(
            options={v: k for k, v in PAGES.items()},
            value=page if page in PAGES else "payments",
            orientation="vertical",
            sizing_mode="stretch_width",
            # the open page filled, the others outlined: told apart on both themes (as
            # `views.common.toggle`; the default grey buttons differed by a shade in dark)
            color="primary",
            variant="outline",
        )
        self.main = pn.Column(sizing_mode="stretch_width")
        # Shown when the files behind the data in use change on disk (checked every few seconds).
        self.stale_text = pn.pane.Alert("", alert_type="warning", visible=False)
        self.stale_button = pn.widgets.Button(
            label="Load the changed files", color="warning", visible=False
        )
        self.stale_button.on_click(lambda _e: self.reload_changed())
        self._stale_roots: list[Any] = []
        self._reload: Job | None = None
        self.side_filters = pn.Column(sizing_mode="stretch_width")
        self._job = job
        self._poll: Any = None
        self._shown_load = False  # the first load's outcome is shown once
        if source is not None:
            self._use(source)
        self.nav.param.watch(lambda e: self.show(e.new), "value")

    # -- data ---------------------------------------------------------------------------
    def _use(self, source: Source, domains: tuple[str, ...] = NAMES) -> None:
        for d in domains:
            self.sources[d] = source
            model = self.model(d)
            if model is not None:
                model.close()
            self.built.pop(d, None)
        self.built.pop("data", None)

    def replace(self, source: Source, domains: list[str]) -> None:
        """Use ``source`` for ``domains`` from now on (the Data page's switch)."""
        before = {s.root for s in self.sources.values()}
        self._use(source, tuple(domains))
        for root in before:
            self.release_upload(root)
        self.show(self.nav.value)

    def release_upload(self, root: Any) -> None:
        """Delete an uploaded folder of this session once no domain uses it."""
        if root in self.uploads and all(s.root != root for s in self.sources.values()):
            from views.data_page import discard_upload

            self.uploads.remove(root)
            discard_upload(root)

    def check_files(self) -> list[str]:
        """Show a notice when the files behind the data in use changed since they were loaded."""
        changed: list[str] = []
        roots = []
        for source in {id(s): s for s in self.sources.values()}.values():
            if files := source.changed_files():
                changed += files
                roots.append(source.root)
        self._stale_roots = roots
        if changed and (self._reload is None or self._reload.done):
            names = ", ".join(_short(f, roots) for f in changed[:5])
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            kind = "tables" if described(self.sources.get("payments")) else "files"
            self.stale_text.object = html.escape(
                f"The {kind} behind this data changed after they were loaded ({names}{more}). "
                f"The numbers shown are still those of the earlier {kind}."
            )
        self.stale_text.visible = self.stale_button.visible = bool(changed)
        return changed

    def reload_changed(self) -> None:
        """Validate and load the changed folders again; switch every domain that used them."""
        if not self._stale_roots or (self._reload is not None and not self._reload.done):
            return
        root = self._stale_roots[0]
        domains = [d for d, s in self.sources.items() if s.root == root]
        self.stale_button.visible = False
        self.stale_text.object = "Loading the changed files..."
        job = self._reload = Job("reload", load_folder, root)
        doc = pn.state.curdoc

        def finished() -> None:
            if job.error:
                self.stale_text.object = html.escape(
                    f"Loading the changed files failed: {job.error}. The data in use is unchanged."
                )
                return
            self.replace(job.result, domains)
            self.check_files()

        def on_done() -> None:  # the job's thread: hand over to the session's loop
            if doc is not None and doc.session_context is not None:
                doc.add_next_tick_callback(finished)
            else:
                finished()

        job.on_done(on_done)

    @property
    def root(self) -> Any:
        return self.sources["payments"].root if self.sources else data_root()

    def start(self) -> None:
        """Show the first page, or the load's progress until the data is ready."""
        if self.sources or self._job is None:
            self.show(self.nav.value)
            return
        bar = pn.indicators.Progress(value=-1, max=100, width=400)
        text = pn.pane.Str("")
        self.main.objects = [
            pn.pane.Markdown("## Loading data"),
            text,
            bar,
        ]

        def poll() -> None:
            job = self._job
            assert job is not None
            text.object = f"{job.message} ({job.elapsed:.0f} s)"
            bar.value = -1 if job.fraction is None else int(job.fraction * 100)
            if job.done and self._poll is not None:
                self._poll.stop()
                self._loaded()

        def follow() -> None:
            # Once the page has loaded in the browser: callbacks registered while the session's
            # document is still being built were sometimes never run (the page stayed on
            # "Loading data" after the load had finished).
            self._poll = pn.state.add_periodic_callback(poll, period=300)
            poll()
            doc = pn.state.curdoc

            def finished() -> None:  # runs in the job's thread: hand over to the session's loop
                if doc is not None and doc.session_context is not None:
                    doc.add_next_tick_callback(self._loaded)
                else:
                    self._loaded()

            assert self._job is not None
            self._job.on_done(finished)

        poll()
        pn.state.onload(follow)

    def _loaded(self) -> None:
        """The first load ended: show the page, or why it failed."""
        job = self._job
        if job is None or self.sources or self._shown_load:
            return
        self._shown_load = True
        if job.error:
            self.main.objects = [
                pn.pane.Alert(
                    html.escape(f"Loading the data failed: {job.error}"), alert_type="danger"
                )
            ]
            return
        self._use(job.result)
        self.show(self.nav.value)

    # -- pages --------------------------------------------------------------------------
    def show(self, page: str) -> None:
        if not self.sources:
            return
        if page not in self.built:
            if page == "data":
                from views.data_page import DataView

                self.built[page] = (DataView(app=self), None)
            else:
                self.built[page] = _domain_view(page, self.sources[page])
                self._sync_url(page)
        body, filters = self.built[page]
        self.main.objects = [body]
        self.side_filters.objects = [pn.pane.Markdown("### Filters"), filters] if filters else []
        self._write_url(page)

    def close(self) -> None:
        """Release the cursors of every model this session built (called when it ends)."""
        for page in list(self.built):
            model = self.model(page)
            if model is not None:
                model.close()
        self.built.clear()
        if self.uploads:
            from views.data_page import discard_upload

            for root in self.uploads:
                discard_upload(root)
            self.uploads.clear()

    def model(self, page: str) -> Any:
        """The model of a built domain page (None when the page shows a message)."""
        body = self.built.get(page, (None, None))[0]
        return getattr(body, "model", None)

    def _sync_url(self, page: str) -> None:
        """Apply the link's state to a newly built page, then mirror its changes in the URL."""
        model = self.model(page)
        if model is None:
            return
        if self.query.get("page", ["payments"])[0] == page:
            asked = from_query(model, self.query)
            if asked["values"]:
                model.param.update(**asked["values"])
            if asked["problems"]:
                _notify_later([html.escape(p) for p in asked["problems"]])
        view_tabs = getattr(self.built[page][0], "tabs", None)
        if view_tabs is not None:
            if self.query.get("page", ["payments"])[0] == page and "tab" in self.query:
                slugs = [tab_slug(t.name) for t in view_tabs]
                wanted = self.query["tab"][0]
                if wanted in slugs:
                    view_tabs.active = slugs.index(wanted)
                else:
                    _notify_later([html.escape(f"tab={wanted}: no such tab (ignored)")])
            view_tabs.param.watch(lambda *_: self._write_url(page), "active")
            for outer, inner in getattr(self.built[page][0], "subtabs", {}).items():
                if self.query.get("page", ["payments"])[0] == page and "subtab" in self.query:
                    wanted = self.query["subtab"][0]
                    slugs = [tab_slug(t.name) for t in inner]
                    if tab_slug(outer) == self.query.get("tab", [""])[0] and wanted in slugs:
                        inner.active = slugs.index(wanted)
                    elif tab_slug(outer) == self.query.get("tab", [""])[0]:
                        _notify_later([html.escape(f"subtab={wanted}: no such tab (ignored)")])
                inner.param.watch(lambda *_: self._write_url(page), "active")
        names = ["start", "end", *model.FILTERS, *model.SETTINGS]
        model.param.watch(lambda *_: self._write_url(page), names)

    def _write_url(self, page: str) -> None:
        if not pn.state.curdoc or pn.state.location is None or self.nav.value != page:
            return
        query: dict[str, list[str]] = {}
        if page != "payments":
            query["page"] = [page]
        if "theme" in self.query:
            query["theme"] = self.query["theme"]
        model = self.model(page)
        if model is not None:
            query.update(to_query(model))
        view_tabs = getattr(self.built.get(page, (None,))[0], "tabs", None)
        if view_tabs is not None and view_tabs.active:
            name = view_tabs[view_tabs.active].name
            query["tab"] = [tab_slug(name)]
            inner = getattr(self.built[page][0], "subtabs", {}).get(name)
            if inner is not None and inner.active:
                query["subtab"] = [tab_slug(inner[inner.active].name)]
        search = urllib.parse.urlencode(query, doseq=True)
        pn.state.location.search = f"?{search}" if search else ""

    # -- layout -------------------------------------------------------------------------
    def template(self) -> pn.template.BootstrapTemplate:
        dark = self.query.get("theme", [""])[0] == "dark"
        # The folder's name, not its path (a server's disk layout is not the users' business);
        # tables of a database in words (never the internal id that stands for a folder).
        if self._is_demo():
            where = "demo data"
        elif (words := self._described()) is not None:
            where = html.escape(words)
        else:
            where = html.escape(Path(self.root).name or "/")
        template = pn.template.BootstrapTemplate(
            title="Tieout",
            sidebar=[pn.pane.Markdown("### Pages"), self.nav, self.side_filters],
            main=[pn.Row(self.stale_text, self.stale_button), self.main],
            header=[
                pn.Row(
                    pn.pane.HTML(f'<span style="color:white">Data: {where}</span>'),
                    theme_button("Light", "default"),
                    theme_button("Dark", "dark"),
                )
            ],
            theme="dark" if dark else "default",
            sidebar_width=300,
        )
        # Handles for tests: the session object, the pages built so far and the navigation.
        template.tieout_app = self  # type: ignore[attr-defined]
        template.tieout_pages = self.built  # type: ignore[attr-defined]
        template.tieout_nav = self.nav  # type: ignore[attr-defined]
        return template

    def _described(self) -> str | None:
        """The data in words when it is not a folder: the tables of a PostgreSQL schema (also
        while they load, from the settings)."""
        if self.sources:
            return described(self.sources["payments"])
        schema, url = os.environ.get(SOURCE_SCHEMA_ENV), os.environ.get(BACKEND_ENV)
        if schema and url:
            from data.pgschema import describe

            return describe(url, schema)
        return None

    def _is_demo(self) -> bool:
        return mode() == "desktop" and str(self.root) == str(demo_dir().resolve())


def _holoviews_bokeh() -> None:
    """Select HoloViews' bokeh backend, once per process.

    `hv.extension` only sets process-wide state, and every call rebuilds the ``hv.opts``
    builders (about 10,000 small objects: a signature for every element's options). Called for
    each session, the newest set outlived the session that made it, scattered over the memory
    of the sessions alive at the time: Python's allocator returns a 1 MiB arena to the system
    only when nothing in it is alive, so these few objects kept ~180 MB of freed arenas after 50
    sessions (docs/benchmarks.md, "Server memory across sessions").
    """
    if hv.Store.current_backend != "bokeh" or "bokeh" not in hv.Store.renderers:
        hv.extension("bokeh", logo=False)
    if not getattr(_holoviews_bokeh, "styled", False):  # once, whoever loaded the backend
        _holoviews_bokeh.styled = True  # type: ignore[attr-defined]
        # Series told apart by colour (this period / the compared one, revenue / net profit,
        # marketing / finance) in colours that say nothing good or bad: HoloViews' own cycle
        # starts blue, red, and red reads as a loss beside the green and red of the changes.
        cycle = hv.Cycle(list(SERIES_COLOURS))
        hv.opts.defaults(
            hv.opts.Curve(color=cycle),
            hv.opts.Scatter(color=cycle),
            hv.opts.Area(color=cycle),
            hv.opts.Bars(color=cycle, cmap=list(SERIES_COLOURS)),
        )


#: Colours of the series of one chart, in order: blue, grey, amber, purple, teal, pink, brown.
SERIES_COLOURS = ("#0969da", "#8c959f", "#bf8700", "#8250df", "#1b7c83", "#bf3989", "#953800")


def _end_session(app: TieoutApp, template: Any, doc: Any) -> None:
    """A session ended: release its cursors and uploads, and what Panel keeps of it.

    Panel (1.9) lists each session's template root in ``pn.state._fake_roots`` and means to take
    it out when the session ends, but never records which root is whose (``BaseTemplate._refs``
    stays empty): the list grew by one entry per session for the life of the process, and it is
    searched on every widget change. Entries whose view is gone (or is this session's) are
    dropped here; left alone if Panel did record the root, as it would then remove it itself.
    """
    app.close()
    roots = getattr(pn.state, "_fake_roots", None)
    views = getattr(pn.state, "_views", None)
    if not isinstance(roots, list) or not isinstance(views, dict):
        return
    if doc in getattr(template, "_refs", {}):
        return

    def alive(ref: str) -> bool:
        view = views.get(ref)
        return view is not None and view[2] is not doc

    roots[:] = [ref for ref in roots if alive(ref)]


def create_app(source: Source | None = None) -> pn.template.BootstrapTemplate:
    """Build the app for one session: header, sidebar navigation and filters, pages."""
    _holoviews_bokeh()
    pn.extension("tabulator", "filedropper", notifications=True)
    job = None
    if source is None:
        job = startup_job(data_root())
        if job.done and not job.error:
            source, job = job.result, None
    app = TieoutApp(source, job)
    template = app.template()
    app.start()
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        pn.state.on_session_destroyed(lambda _ctx: _end_session(app, template, doc))
        pn.state.onload(
            lambda: pn.state.add_periodic_callback(app.check_files, period=FILE_CHECK_MS)
        )
    return template


if pn.state.served:
    create_app().servable()
