"""The reconciliation page's Review tab: work each exception, confirm suggested matches, see
their aging and sign the period off. Display and buttons only: the rules are `models.review`,
the state `data.state`, and every number the model's (`models.review_session.ReviewSession`).

Text from the data or from people (order ids, notes, names) reaches the page only through
`views.common.esc` or tables' plaintext cells.
"""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import holoviews as hv
import pandas as pd
import panel as pn
import param

from data.engine import described
from data.state import StaleEdit, StateError, Store, open_store
from models import presentation, review
from models.reconciliation import REVIEW_STEP, ReconciliationModel
from models.review_session import (
    DECISION_COLUMNS,
    LOG_COLUMNS,
    SIGNOFF_COLUMNS,
    ReviewSession,
    os_user,
)
from views.common import (
    axis_formatter,
    empty_plot,
    esc,
    for_display,
    hover,
    live_plot,
    show_frame,
    table,
    tabs,
    with_downloads,
)

log = logging.getLogger(__name__)

#: The worklist's row boxes whole (Tabulator's 40 px column cut them to "..." with its padding).
CHECKBOX_CSS = """
.tabulator-row .tabulator-cell:has(> input[type=checkbox]),
.tabulator-col .tabulator-col-title:has(> input[type=checkbox]) {
  text-overflow: clip !important; padding-left: 2px !important; padding-right: 2px !important;
}
"""

#: A suggestion's reason wraps in its column (the amounts beside it stay in view at 1024 px).
WRAP_CSS = """
.tabulator-row .tabulator-cell[tabulator-field=reason] { white-space: normal !important; }
"""

#: Worklist columns shown (the version stays in the model's frame: it is checked on save): the
#: amounts right after the order and its class, then the workflow (status, owner, note, flags),
#: so at 1024 px the money is in view rather than mostly empty notes.
_FIRST = ["order_id", "class", "claimed_revenue", "finance_revenue", "value_at_stake"]
_WORKFLOW = ["status", "owner", "note", "flags"]
SHOWN = [
    *_FIRST,
    *_WORKFLOW,
    *(c for c in review.WORKLIST_COLUMNS if c not in {*_FIRST, *_WORKFLOW, "version"}),
]
#: What the Set status and Owner fields say when left empty: the rows keep theirs.
UNCHANGED = "(leave as is)"


def current_user() -> tuple[str, bool]:
    """Who is reviewing, and whether other people use this app (a server): the signed-in user
    on a server, the OS user on the desktop."""
    from data.settings import mode

    server = mode() != "desktop"
    user = pn.state.user
    if user:
        return str(user), server
    return (os_user(), False) if not server else (ANONYMOUS, True)


#: How the review's own words for who reviews read on the page.
ANONYMOUS = "anonymous (no sign-in)"


def where_in_words(store: Store, server: bool) -> str:
    """Where the review notes are kept, as a finance user says it: never a URL, a password or
    a path."""
    if store.kind == "sqlite":
        return "saved on the Tieout server" if server else "saved on this computer"
    if store.kind == "postgresql":
        return "saved in the team database"
    return "saved in the review database"


def banner_text(
    who: str, server: bool, store: Store, scope: str, described: str | None = None
) -> str:
    """The line at the top of the tab: who is reviewing, where the notes are kept, and the
    data folder (its name only), or ``described``, the data in words when it is not a folder
    (the tables of a PostgreSQL schema; the scope is then an internal id)."""
    person = (
        "Reviewing without sign-in: changes are recorded as anonymous."
        if who == ANONYMOUS
        else f"Reviewing as {who}."
    )
    folder = Path(scope).name or scope
    data = described if described is not None else f"the data folder \u201c{folder}\u201d"
    return (
        f"{person} Statuses, owners, notes and sign-offs are {where_in_words(store, server)}, "
        f"for {data}."
    )


_AMOUNTS = re.compile(r"^claimed=(-?\d*);finance=(-?\d*)$")
_CODE_IN_BRACKETS = re.compile(r"\(([a-z0-9]+(?:_[a-z0-9]+)+)\)")


def _name(key: str) -> str:
    """A setting's or filter's name in words (`models.presentation`)."""
    return presentation.label(key)


def _amounts_words(text: Any) -> Any:
    """``claimed=5000;finance=5500`` (the amounts an exception was reviewed on, in cents) as
    ``claimed $50.00, finance $55.00``; any other value as its code's label."""
    m = _AMOUNTS.match(text) if isinstance(text, str) else None
    if m is None:
        return presentation.code_label(text)
    parts = [
        f"{name} " + ("none" if not c else presentation.full(Decimal(int(c)).scaleb(-2), "money"))
        for name, c in zip(("claimed", "finance"), m.groups(), strict=True)
    ]
    return ", ".join(parts)


def filters_in_words(text: Any) -> str:
    """A sign-off's filters (JSON) as ``Channels: Search; Campaigns: all``."""
    try:
        filters = json.loads(text) if isinstance(text, str) else dict(text or {})
    except (ValueError, TypeError):
        return str(text)
    parts = []
    for key, value in filters.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "all"
        parts.append(f"{_name(key)}: {value}")
    return "; ".join(parts) or "none (everything)"


_UTC = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\+00:00|Z)?$")


def _when(text: Any) -> Any:
    """A time of the state (UTC, ISO 8601) as ``2025-03-20 14:05:09``."""
    m = _UTC.match(text) if isinstance(text, str) else None
    return f"{m[1]} {m[2]}" if m else text


def times_display(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        out[c] = out[c].map(_when)
    return out


def log_display(log_frame: pd.DataFrame) -> pd.DataFrame:
    """The history as people read it: statuses in words, amounts as money, times plain."""
    out = times_display(log_frame, "at")
    for c in ("old", "new"):
        out[c] = out[c].map(_amounts_words)
    return out


def signoffs_display(signoffs: pd.DataFrame) -> pd.DataFrame:
    out = times_display(signoffs, "prepared_at", "approved_at")
    out["filters"] = out["filters"].map(filters_in_words)
    return out


_PREFIXES = {"KPI": "KPI", "bridge": "Bridge step", "filter": "Filter", "tolerance": "Setting"}


def _value_words(text: Any, kind: str | None) -> Any:
    if not isinstance(text, str) or text == "":
        return text
    if kind:
        try:
            return presentation.full(float(text), kind)
        except ValueError:
            pass
    try:
        value = json.loads(text)
    except ValueError:
        return _CODE_IN_BRACKETS.sub(lambda m: f"({presentation.code_label(m[1])})", text)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "all"
    return text


def differences_display(diff: pd.DataFrame) -> pd.DataFrame:
    """The differences against a snapshot with each KPI, bridge step and setting named in words
    and its values formatted by kind."""
    rows = []
    for item, signed, now in diff[review.DIFF_COLUMNS].itertuples(index=False):
        prefix, _, key = str(item).partition(" ")
        kind: str | None = None
        if prefix in _PREFIXES and key:
            if prefix == "KPI":
                kind = presentation.field(key).kind
                name = presentation.label(key)
            elif prefix == "bridge":
                kind, name = "money", str(presentation.code_label(key))
            else:
                name = _name(key)
            item = f"{_PREFIXES[prefix]}: {name}"
        elif prefix == "file":
            item = f"File: {key}"
        else:
            item = str(item)[:1].upper() + str(item)[1:]
        if kind in ("text", None) or kind == "":
            kind = None
        rows.append((item, _value_words(signed, kind), _value_words(now, kind)))
    return pd.DataFrame(rows, columns=review.DIFF_COLUMNS)


def count_line(n: int, noun: str, none: str) -> str:
    """``1,024 suggestions`` above a list, or ``none`` in words when it is empty."""
    return presentation.counted(n, noun) if n else none


def aging_text(totals: pd.DataFrame | None) -> str:
    """The aging chart's total in words, and why it is not the bridge's net difference."""
    if totals is None or not int(totals["open_exceptions"].sum()):
        return ""
    n = int(totals["open_exceptions"].sum())
    at_stake = sum(totals["value_at_stake"])
    return (
        f"**In all: {presentation.counted(n, 'open exception')}, "
        f"{presentation.full(at_stake, 'money')} at stake.** Exceptions already closed are not "
        "counted. Each exception's value at stake is its own size, always positive (the "
        "Exceptions tab lists them), so the total does not add up to the bridge's net "
        "difference on Summary, where steps of opposite signs offset."
    )


def aging_plot(totals: pd.DataFrame) -> Any:
    """Open exceptions' value at stake by age bucket."""
    if totals is None or totals.empty or not totals["open_exceptions"].any():
        return empty_plot("No open exceptions")
    d = for_display(totals)
    return hv.Bars(d, "age_bucket", ["value_at_stake", "open_exceptions"]).opts(
        responsive=True,
        height=280,
        color="#cf222e",
        title="Open exceptions by age: value at stake",
        xlabel="Days since the claim date",
        ylabel="Value at stake",
        yformatter=axis_formatter("money"),
        tools=["hover"],
        hover_tooltips=[("Age", "@{age_bucket}"), *hover("value_at_stake", "open_exceptions")],
    )


def _wrapping(*objects: Any) -> pn.FlexBox:
    """A row of widgets that wraps onto the next line when the page is narrow."""
    return pn.FlexBox(*objects, flex_wrap="wrap", sizing_mode="stretch_width")


class ReviewView(pn.viewable.Viewer):
    """The Review tab of one session over ``model``."""

    model = param.ClassSelector(class_=ReconciliationModel)
    aging_totals = param.DataFrame(default=None, precedence=-1)

    def __init__(self, store_url: str | None = None, **params: Any):
        super().__init__(**params)
        self._active = False
        self._stale = True
        self._message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.session: ReviewSession | None = None
        try:
            who, server = current_user()
            self.session = ReviewSession(self.model, open_store(store_url), who, server)
        except StateError as exc:
            log.error("the review state cannot be opened: %s", exc)
            text = (
                "The review notes cannot be opened: their database cannot be reached, or it "
                "was made by a newer Tieout. Ask whoever runs Tieout (the details are in its log)."
            )
            self._layout = pn.Column(
                pn.pane.HTML(self._box(text, "bad")),
                name="Review",
                sizing_mode="stretch_width",
            )
            return
        self._build()
        self.model.param.watch(self._model_changed, "computations")

    # -- layout -------------------------------------------------------------------------------
    @staticmethod
    def _box(text: str, kind: str = "info") -> str:
        colour = {"info": "#0969da", "good": "#1a7f37", "bad": "#cf222e", "warn": "#9a6700"}[kind]
        return (
            f'<div style="border-left:4px solid {colour};padding:6px 10px;margin:4px 0;'
            f'overflow-wrap:anywhere">'
            f"{esc(text)}</div>"
        )

    def _build(self) -> None:
        s = self.session
        assert s is not None
        self._who = pn.pane.HTML(
            self._box(banner_text(s.who, s.server, s.store, s.scope, described(s.model._source))),
            sizing_mode="stretch_width",
        )
        self._notices = pn.pane.HTML("", sizing_mode="stretch_width")
        # worklist
        self._work = table(
            review.empty_worklist()[SHOWN],
            selectable="checkbox",
            header_filters=True,
            pagination="remote",
            page_size=20,
            stylesheets=[CHECKBOX_CSS],
        )
        self._frame = pd.DataFrame()
        statuses = {presentation.code_label(x): x for x in review.STATUSES}
        self._status = pn.widgets.Select(
            label="Set status", options={UNCHANGED: "", **statuses}, value=""
        )
        self._owner = pn.widgets.TextInput(label="Owner", placeholder=UNCHANGED)
        self._note = pn.widgets.TextAreaInput(label="Note", placeholder="Why", height=70)
        apply = pn.widgets.Button(label="Apply to the selected rows", color="primary")
        apply.on_click(self._apply)
        reload = pn.widgets.Button(label="Reload")
        reload.on_click(lambda _e: self._reload())
        worklist = pn.Column(
            _wrapping(self._status, self._owner, self._note),
            _wrapping(apply, reload),
            with_downloads(self._work, "review_worklist"),
            name="Exceptions",  # the tab's title, and its name in the link (`subtab`)
            sizing_mode="stretch_width",
        )
        # suggestions and decided matches
        #: one line above each list: how many rows, or in words that there is none yet
        self._counts = {
            k: pn.pane.HTML("", sizing_mode="stretch_width", margin=(8, 10, 0, 10))
            for k in ("sugg", "matches", "signoffs", "log")
        }
        self._sugg = table(
            review.empty(review.SUGGESTION_COLUMNS),
            selectable=1,
            widths={"reason": 340},
            stylesheets=[WRAP_CSS],
        )
        self._matches = table(review.empty(DECISION_COLUMNS), selectable=1)
        confirm = pn.widgets.Button(label="Confirm the selected suggestion", color="success")
        reject = pn.widgets.Button(label="Reject it", color="danger")
        undo = pn.widgets.Button(label="Undo the selected confirmed match")
        confirm.on_click(lambda _e: self._decide(self._sugg, "confirmed"))
        reject.on_click(lambda _e: self._decide(self._sugg, "rejected"))
        undo.on_click(lambda _e: self._decide(self._matches, "undone"))
        suggestions = pn.Column(
            pn.pane.Markdown(
                "Missing-in-finance claims and finance-only orders that are probably one sale: "
                "equal amounts within the tolerance and dates within the timing window, or order "
                "IDs that differ only in case, spaces, leading zeros or one character. A "
                "confirmed pair counts as a matched order in every number (the bridge's step "
                f"*{presentation.code_label(REVIEW_STEP)}*)."
            ),
            _wrapping(confirm, reject),
            self._counts["sugg"],
            with_downloads(self._sugg, "suggested_matches"),
            pn.pane.Markdown("**Decided suggestions**"),
            undo,
            self._counts["matches"],
            with_downloads(self._matches, "review_matches"),
            name="Suggested matches",  # the tab's title, and its name in the link (`subtab`)
            sizing_mode="stretch_width",
        )
        # aging
        self._aging = table(review.empty(review.AGING_COLUMNS))
        aging = pn.Column(
            pn.pane.Markdown(
                "Open exceptions by days from the claim date (the finance date for "
                "finance-only orders) to the end of the period."
            ),
            pn.pane.Markdown(pn.bind(aging_text, self.param.aging_totals)),
            live_plot(aging_plot, self.param.aging_totals),
            with_downloads(self._aging, "aging"),
            name="Aging",  # the tab's title, and its name in the link (`subtab`)
            sizing_mode="stretch_width",
        )
        # sign-off
        self._signoffs = table(review.empty(SIGNOFF_COLUMNS), selectable=1, pagination=None)
        self._diff = table(review.empty(review.DIFF_COLUMNS))
        # shown once a sign-off is compared (an empty table under its headers said nothing)
        self._diff_box = pn.Column(
            pn.pane.Markdown("**Differences against the snapshot**"),
            with_downloads(self._diff, "sign-off_differences"),
            visible=False,
            sizing_mode="stretch_width",
        )
        prepare = pn.widgets.Button(label="Sign as preparer", color="primary")
        approve = pn.widgets.Button(label="Approve the selected sign-off", color="success")
        compare = pn.widgets.Button(label="Compare the selected sign-off with today")
        prepare.on_click(lambda _e: self._prepare())
        approve.on_click(lambda _e: self._approve())
        compare.on_click(lambda _e: self._compare())
        signoff = pn.Column(
            pn.pane.Markdown(
                "Signing stores a snapshot of the period, filters, tolerances, input files, "
                "KPIs, bridge and open exceptions. A reviewer (someone else on a server) "
                "approves it; if the numbers later differ, this tab says so."
            ),
            _wrapping(prepare, approve, compare),
            self._counts["signoffs"],
            with_downloads(self._signoffs, "sign-offs"),
            self._diff_box,
            name="Sign-off",  # the tab's title, and its name in the link (`subtab`)
            sizing_mode="stretch_width",
        )
        self._log = table(review.empty(LOG_COLUMNS), header_filters=True)
        history = pn.Column(
            self._counts["log"],
            with_downloads(self._log, "review_log"),
            name="History",  # the tab's title, and its name in the link (`subtab`)
            sizing_mode="stretch_width",
        )
        # a handle for the page's link (`subtab=aging`) and for tests
        self.tabs = tabs(worklist, suggestions, aging, signoff, history)
        self._layout = pn.Column(
            self._who,
            self._notices,
            self._message,
            # as wide as the page (`views.common.tabs`): a table wider than it scrolls in its
            # own frame
            self.tabs,
            name="Review",
            sizing_mode="stretch_width",
        )

    # -- updates ------------------------------------------------------------------------------
    def attach(self, tabs: pn.Tabs) -> None:
        """Follow the page's ``tabs`` (holding this view's layout): worked out while open."""
        tabs.param.watch(lambda e: self.shown(tabs.objects[e.new] is self._layout), "active")

    def shown(self, active: bool) -> None:
        """Told by the page whether the tab is open: its tables are worked out only then (the
        first time, with the state read again and exceptions whose amounts changed reopened)."""
        was = self._active
        self._active = active
        if active and not was and self.session is not None:
            self.session.load()
            self._stale = True
        if active and self._stale:
            self.refresh()

    def _model_changed(self, *_: Any) -> None:
        self._stale = True
        if self._active:
            self.refresh()

    def _reload(self) -> None:
        if self.session is not None:
            self.session.load()
        self.refresh()

    def refresh(self) -> None:
        """Show the session's current state (after a change of the model or of the state)."""
        s = self.session
        if s is None:
            return
        self._stale = False
        self._frame = s.worklist()
        show_frame(self._work, self._frame[SHOWN])
        self._work.selection = []
        sugg, decided = s.suggestions(), s.confirmed()
        show_frame(self._sugg, sugg)
        show_frame(self._matches, times_display(decided, "at"))
        aging = s.aging()
        show_frame(self._aging, aging)
        self.aging_totals = review.aging_totals(aging)
        signoffs, log_frame = s.signoff_table(), s.log().iloc[::-1]
        show_frame(self._signoffs, signoffs_display(signoffs))
        show_frame(self._log, log_display(log_frame))
        for key, n, one, none in (
            ("sugg", len(sugg), "suggestion", "No suggested match for this period and filters."),
            ("matches", len(decided), "decided suggestion", "No suggestion decided yet."),
            ("signoffs", len(signoffs), "sign-off", "This data has not been signed off yet."),
            ("log", len(log_frame), "change", "No change recorded yet."),
        ):
            self._counts[key].object = esc(count_line(n, one, none))
        self._notices.object = self._notices_html()

    def _notices_html(self) -> str:
        s = self.session
        assert s is not None
        parts = []
        if self.model.approximate:
            parts.append(self._box("These claims have no order IDs: nothing to review.", "warn"))
        for a, b, why in self.model.confirmed_ignored:
            parts.append(self._box(f"Confirmed match {a} / {b} is not counted: {why}.", "warn"))
        if s.reopened:
            parts.append(
                self._box(
                    f"{presentation.counted(s.reopened, 'exception')} reopened: their amounts "
                    "changed since they were closed (see History).",
                    "warn",
                )
            )
        for sign, diff in s.changed_signoffs():
            parts.append(
                self._box(
                    f"Sign-off {sign['id']} ({sign['period_start']} to {sign['period_end']}, "
                    f"{str(presentation.code_label(sign['state'])).lower()}) no longer matches "
                    f"the data: {presentation.counted(len(diff), 'difference')}. "
                    "Select it under Sign-off and compare.",
                    "bad",
                )
            )
        return "".join(parts)

    def _say(self, text: str, kind: str = "good") -> None:
        self._message.object = self._box(text, kind)

    def _act(self, fn: Any, done: Any) -> bool:
        """Run a change; say what happened (``done(result)``), or why not (a rule, or another
        session first). Returns whether it was saved."""
        try:
            result = fn()
        except StaleEdit as exc:
            self._say(str(exc), "bad")
            ok = False
        except ValueError as exc:
            self._say(f"Not saved: {exc}", "bad")
            ok = False
        else:
            self._say(done(result) if callable(done) else done)
            ok = True
        self.refresh()
        return ok

    # -- actions ------------------------------------------------------------------------------
    def _apply(self, *_: Any) -> None:
        s = self.session
        assert s is not None
        rows = self._frame.iloc[list(self._work.selection)] if self._work.selection else None
        if rows is None or rows.empty:
            self._say("Select one or more rows first (the boxes on the left).", "warn")
            return
        status = self._status.value or None
        owner = self._owner.value if self._owner.value.strip() else None
        note = self._note.value

        saved = self._act(
            lambda: s.set_status(rows, status, note, owner),
            lambda n: f"Saved: {presentation.counted(n, 'exception')} changed.",
        )
        if saved:
            self._note.value = ""

    def _decide(self, widget: Any, decision: str) -> None:
        s = self.session
        assert s is not None
        frame = widget.tieout_frame
        if not widget.selection or frame is None or frame.empty:
            self._say("Select a row first.", "warn")
            return
        row = frame.iloc[widget.selection[0]]
        words = {"confirmed": "Confirmed", "rejected": "Rejected", "undone": "Undone"}[decision]
        self._act(
            lambda: s.decide(str(row["claim_id"]), str(row["finance_id"]), decision),
            f"{words}: {row['claim_id']} / {row['finance_id']}.",
        )

    def _selected_signoff(self) -> int | None:
        frame = self._signoffs.tieout_frame
        if not self._signoffs.selection or frame is None or frame.empty:
            self._say("Select a sign-off first.", "warn")
            return None
        return int(frame.iloc[self._signoffs.selection[0]]["signoff_id"])

    def _prepare(self) -> None:
        s = self.session
        assert s is not None
        start, end = self.model.period()
        self._act(s.prepare, f"Signed as preparer: {start} to {end}.")

    def _approve(self) -> None:
        s = self.session
        sid = self._selected_signoff()
        if s is None or sid is None:
            return
        self._act(lambda: s.approve(sid), f"Sign-off {sid} approved.")

    def _compare(self) -> None:
        s = self.session
        sid = self._selected_signoff()
        if s is None or sid is None:
            return
        diff = s.differences(sid)
        show_frame(self._diff, differences_display(diff))
        self._diff_box.visible = True
        if diff.empty:
            self._say(f"Sign-off {sid}: the numbers are the same as when it was signed.")
        else:
            self._say(
                f"Sign-off {sid}: {presentation.counted(len(diff), 'difference')} since it was "
                "signed.",
                "bad",
            )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = [
    "ReviewView",
    "aging_plot",
    "banner_text",
    "current_user",
    "differences_display",
    "filters_in_words",
    "log_display",
    "where_in_words",
]
