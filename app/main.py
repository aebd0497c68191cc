"""`create_app()`: one fresh object graph (models, views) per browser session.

Served by `tieout serve`, the desktop launcher, or directly: `panel serve app/main.py` (with the
package installed, e.g. `pip install -e .`; the data folder comes from ``$TIEOUT_DATA``).
"""

from __future__ import annotations

import html
import logging
import traceback
from typing import Any

import holoviews as hv
import panel as pn

from app.settings import data_root
from data.engine import Source, open_source

log = logging.getLogger("tieout")

PAGES = {
    "influencer": "Influencer ROI",
    "payments": "Payments",
    "reconciliation": "Reconciliation",
    "data": "Data",
}


def _notify_error(exc: BaseException) -> None:
    """The one place callback errors reach the user: a notification; outputs stay as they were."""
    log.error("callback failed: %s", "".join(traceback.format_exception(exc)))
    if pn.state.notifications is not None:
        pn.state.notifications.error(html.escape(str(exc)), duration=8000)


pn.config.exception_handler = _notify_error


def _domain_view(domain: str, source: Source) -> tuple[Any, Any]:
    """(page, sidebar filters) of a domain, or a 'no data' message."""
    from models import AVAILABLE

    if domain not in AVAILABLE:
        return pn.pane.Alert(f"The {PAGES[domain]} page is not built yet.", alert_type="info"), None
    status = source.status.get(domain)
    if status is None or not status.present:
        msg = f"No {domain}/ folder in {source.root}."
        return pn.pane.Alert(html.escape(msg), alert_type="info"), None
    if not status.loaded:
        return pn.pane.Alert(
            f"The {domain} data did not pass validation; see the Data page for every problem.",
            alert_type="warning",
        ), None
    from models import make_model

    model = make_model(domain, source)
    if domain == "payments":
        from views.payments import PaymentsView as View
    elif domain == "influencer":
        from views.influencer import InfluencerView as View
    else:
        from views.reconciliation import ReconciliationView as View
    view = View(model=model)
    return view, view.filters


def _wants_dark() -> bool:
    args = pn.state.session_args if pn.state.curdoc else {}
    return bool(args) and args.get("theme", [b""])[0] == b"dark"


def create_app(source: Source | None = None) -> pn.template.BootstrapTemplate:
    """Build the app for one session: header, sidebar navigation and filters, pages."""
    hv.extension("bokeh", logo=False)
    pn.extension("tabulator", notifications=True)
    source = source or open_source(data_root())
    from views.data_page import DataView

    nav = pn.widgets.RadioButtonGroup(
        options={v: k for k, v in PAGES.items()},
        value="payments",
        orientation="vertical",
        sizing_mode="stretch_width",
    )
    main = pn.Column(sizing_mode="stretch_width")
    side_filters = pn.Column(sizing_mode="stretch_width")
    built: dict[str, tuple[Any, Any]] = {}

    def show(page: str) -> None:
        if page not in built:
            built[page] = (DataView(source), None) if page == "data" else _domain_view(page, source)
        body, filters = built[page]
        main.objects = [body]
        side_filters.objects = [pn.pane.Markdown("### Filters"), filters] if filters else []

    nav.param.watch(lambda e: show(e.new), "value")
    show(nav.value)
    template = pn.template.BootstrapTemplate(
        title="Tieout",
        sidebar=[pn.pane.Markdown("### Pages"), nav, side_filters],
        main=[main],
        header=[
            pn.pane.HTML(
                f'<span style="color:white">Data: {html.escape(str(source.root))}</span>'
                '&nbsp;&nbsp;<a style="color:white" href="?theme=default">Light</a> | '
                '<a style="color:white" href="?theme=dark">Dark</a>'
            )
        ],
        theme="dark" if _wants_dark() else "default",
        sidebar_width=300,
    )
    # Handles for tests and the URL sync: the page objects built so far and the navigation.
    template.tieout_pages = built  # type: ignore[attr-defined]
    template.tieout_nav = nav  # type: ignore[attr-defined]
    return template


if pn.state.served:
    create_app().servable()
