"""The reconciliation page's Review tab: work each exception, confirm suggested matches, see
their aging and sign the period off. Display and buttons only: the rules are `models.review`,
the state `data.state`, and every number the model's (`models.review_session.ReviewSession`).

Text from the data or from people (order ids, notes, names) reaches the page only through
`views.common.esc` or tables' plaintext cells.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import pandas as pd
import panel as pn
import param

from data.state import StaleEdit, StateError, open_store
from models import presentation, review
from models.reconciliation import ReconciliationModel
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
    with_downloads,
)

#: Worklist columns shown (the version stays in the model's frame: it is checked on save).
SHOWN = [c for c in review.WORKLIST_COLUMNS if c != "version"]


def current_user() -> tuple[str, bool]:
    """Who is reviewing, and whether other people use this app (a server): the signed-in user
    on a server, the OS user on the desktop."""
    from data.settings import mode

    server = mode() != "desktop"
    user = pn.state.user
    if user:
        return str(user), server
    return (os_user(), False) if not server else ("anonymous (no sign-in)", True)


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
            self._layout = pn.Column(
                pn.pane.HTML(self._box("The review state cannot be opened: " + str(exc), "bad")),
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
            f'<div style="border-left:4px solid {colour};padding:6px 10px;margin:4px 0">'
            f"{esc(text)}</div>"
        )

    def _build(self) -> None:
        s = self.session
        assert s is not None
        self._who = pn.pane.HTML(
            self._box(
                f"Reviewing as {s.who}. Review state: {s.store.where()} (data folder {s.scope})."
            ),
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
        )
        self._frame = pd.DataFrame()
        statuses = {presentation.code_label(x): x for x in review.STATUSES}
        self._status = pn.widgets.Select(
            label="Set status", options={"(keep)": "", **statuses}, value=""
        )
        self._owner = pn.widgets.TextInput(label="Owner", placeholder="(keep)")
        self._note = pn.widgets.TextAreaInput(label="Note", placeholder="Why", height=70)
        apply = pn.widgets.Button(label="Apply to the selected rows", color="primary")
        apply.on_click(self._apply)
        reload = pn.widgets.Button(label="Reload")
        reload.on_click(lambda _e: self._reload())
        worklist = pn.Column(
            pn.Row(self._status, self._owner, self._note, sizing_mode="stretch_width"),
            pn.Row(apply, reload),
            with_downloads(self._work, "review_worklist"),
            sizing_mode="stretch_width",
        )
        # suggestions and decided matches
        self._sugg = table(review.empty(review.SUGGESTION_COLUMNS), selectable=1)
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
                "confirmed pair counts as a matched order in every number (bridge step "
                "*Matched on review*)."
            ),
            pn.Row(confirm, reject),
            with_downloads(self._sugg, "suggested_matches"),
            pn.pane.Markdown("**Decided suggestions**"),
            undo,
            with_downloads(self._matches, "review_matches"),
            sizing_mode="stretch_width",
        )
        # aging
        self._aging = table(review.empty(review.AGING_COLUMNS))
        aging = pn.Column(
            pn.pane.Markdown(
                "Open exceptions by days from the claim date (the finance date for "
                "finance-only orders) to the end of the period."
            ),
            live_plot(aging_plot, self.param.aging_totals),
            with_downloads(self._aging, "aging"),
            sizing_mode="stretch_width",
        )
        # sign-off
        self._signoffs = table(review.empty(SIGNOFF_COLUMNS), selectable=1, pagination=None)
        self._diff = table(review.empty(review.DIFF_COLUMNS))
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
            pn.Row(prepare, approve, compare),
            with_downloads(self._signoffs, "signoffs"),
            pn.pane.Markdown("**Differences against the snapshot**"),
            with_downloads(self._diff, "signoff_differences"),
            sizing_mode="stretch_width",
        )
        self._log = table(review.empty(LOG_COLUMNS), header_filters=True)
        history = pn.Column(with_downloads(self._log, "review_log"), sizing_mode="stretch_width")
        self._layout = pn.Column(
            self._who,
            self._notices,
            self._message,
            pn.Tabs(
                ("Exceptions", worklist),
                ("Suggested matches", suggestions),
                ("Aging", aging),
                ("Sign-off", signoff),
                ("History", history),
                dynamic=False,
                sizing_mode="stretch_width",
            ),
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
        show_frame(self._sugg, s.suggestions())
        show_frame(self._matches, s.confirmed())
        aging = s.aging()
        show_frame(self._aging, aging)
        self.aging_totals = review.aging_totals(aging)
        show_frame(self._signoffs, s.signoff_table())
        show_frame(self._log, s.log().iloc[::-1])
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
                    f"{s.reopened} exception(s) reopened: their amounts changed since they were "
                    "closed (see History).",
                    "warn",
                )
            )
        for sign, diff in s.changed_signoffs():
            parts.append(
                self._box(
                    f"Sign-off {sign['id']} ({sign['period_start']} to {sign['period_end']}, "
                    f"{sign['state']}) no longer matches the data: {len(diff)} difference(s). "
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
            lambda n: f"Saved: {n} exception(s) changed.",
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
        show_frame(self._diff, diff)
        if diff.empty:
            self._say(f"Sign-off {sid}: the numbers are the same as when it was signed.")
        else:
            self._say(f"Sign-off {sid}: {len(diff)} difference(s) since it was signed.", "bad")

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = ["ReviewView", "aging_plot", "current_user"]
