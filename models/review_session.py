"""One person's review of the reconciliation: the model, the state store and who they are.

`ReviewSession` is what the Review tab, ``tieout recon`` and the workbook call: it reads the
review items of the data folder, lays them over the model's exceptions (`models.review`), writes
changes (the store checks versions), hands confirmed pairs to the model (so every number
counts them) and builds sign-off snapshots. No Panel here.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from data.state import Store
from models import review
from models.reconciliation import ReconciliationModel

#: Who writes the changes Tieout itself makes (an exception reopened by new data).
SYSTEM_USER = "tieout (new data)"
LOG_COLUMNS = ["at", "who", "order_id", "class", "action", "old", "new", "note"]
DECISION_COLUMNS = ["claim_id", "finance_id", "decision", "reason", "who", "at"]
SIGNOFF_COLUMNS = [
    "signoff_id",
    "period_start",
    "period_end",
    "state",
    "preparer",
    "prepared_at",
    "reviewer",
    "approved_at",
    "filters",
    "revenue_finance",
    "open_exceptions",
]


def _decimal(text: Any) -> Decimal | None:
    """Money kept as text in a snapshot, as the exact number it was."""
    return None if text in (None, "") else Decimal(str(text))


def os_user() -> str:
    """The person at the desktop (the OS account)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment (a bare container): say so
        return "unknown desktop user"


def scope_of(model: ReconciliationModel) -> str:
    """What review state belongs to: the data folder, resolved."""
    return str(Path(model._source.root).resolve())


class ReviewSession:
    """The review of ``model``'s exceptions by ``who``, kept in ``store``.

    ``server``: more than one person uses the app, so a sign-off is approved by someone other
    than its preparer.
    """

    def __init__(self, model: ReconciliationModel, store: Store, who: str, server: bool):
        self.model, self.store, self.who, self.server = model, store, who, server
        self.scope = scope_of(model)
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.decisions: list[dict[str, Any]] = []
        self.reopened = 0
        self._diffs: dict[tuple[Any, ...], pd.DataFrame] = {}
        model.attach_sheets(self.workbook_sheets)
        self.load(reopen=False)  # the exceptions are worked out when they are first looked at

    # -- reading --------------------------------------------------------------------------------
    def load(self, reopen: bool = True) -> None:
        """Read the state again; hand the confirmed pairs to the model; with ``reopen``, reopen
        the closed exceptions whose amounts changed (only with no campaign or channel filter: a
        filter changes which claim of a split order comes first, not the order)."""
        self.items = self.store.items(self.scope)
        self.decisions = self.store.decisions(self.scope)
        pairs = review.confirmed_pairs(self.decisions)
        if pairs != [tuple(p) for p in self.model.confirmed]:
            self.model.confirmed = pairs
        if reopen and not self.model.filters() and not self.model.approximate:
            edits = review.reopened(self.model.exceptions, self.items)
            if edits:
                self.store.apply(self.scope, edits, SYSTEM_USER)
                self.reopened += sum(e.log[0][0] == "reopened" for e in edits)
                self.items = self.store.items(self.scope)

    def worklist(self) -> pd.DataFrame:
        """The exceptions of the model's current state with their review status."""
        return review.worklist(self.model.exceptions, self.items, as_of=self.model.period()[1])

    def suggestions(self) -> pd.DataFrame:
        """Suggested matches of the period's missing-in-finance claims with every finance-only
        order, leaving out pairs already decided and orders already matched."""
        ex = self.model.exceptions
        missing = ex[ex["class"] == "missing_in_finance"]
        decided = [(d["claim_id"], d["finance_id"]) for d in self.decisions]
        used = [i for p in review.confirmed_pairs(self.decisions) for i in p]
        m = self.model
        return review.suggest(
            missing,
            m.finance_only_orders(),
            m.abs_tol,
            m.rel_tol,
            m.timing_days,
            decided=[
                p
                for p, d in zip(decided, self.decisions, strict=True)
                if d["decision"] in ("confirmed", "rejected")
            ],
            used=used,
        )

    def confirmed(self) -> pd.DataFrame:
        """Decided suggestions (confirmed, rejected, undone), with who and why."""
        rows = [{c: d.get(c) for c in DECISION_COLUMNS} for d in self.decisions]
        return pd.DataFrame(rows, columns=DECISION_COLUMNS)

    def aging(self) -> pd.DataFrame:
        return review.aging(self.worklist(), self.model.channel_of())

    def log(self, order_id: str | None = None) -> pd.DataFrame:
        """The history: who, when, what changed (oldest first)."""
        rows = self.store.history(self.scope, order_id)
        out = pd.DataFrame(rows, columns=["at", "who", "order_id", "cls", "action", "old", "new"])
        if rows:
            out["note"] = [r["note"] for r in rows]
        else:
            out["note"] = pd.Series(dtype=object)
        return out.rename(columns={"cls": "class"})[LOG_COLUMNS]

    # -- changing ------------------------------------------------------------------------------
    def set_status(
        self,
        selected: pd.DataFrame,
        status: str | None = None,
        note: str = "",
        owner: str | None = None,
    ) -> int:
        """Change the selected worklist rows (as they were loaded: their versions are checked);
        returns how many changed. ValueError for a rule, StaleEdit for a concurrent change."""
        edits = review.change_status(selected, self.items, status, note, owner)
        if edits:
            try:
                self.store.apply(self.scope, edits, self.who)
            finally:
                self.items = self.store.items(self.scope)
        return len(edits)

    def _decision(self, claim_id: str, finance_id: str) -> dict[str, Any] | None:
        for d in self.decisions:
            if d["claim_id"] == claim_id and d["finance_id"] == finance_id:
                return d
        return None

    def decide(self, claim_id: str, finance_id: str, decision: str) -> None:
        """Confirm, reject or undo the suggestion ``claim_id`` / ``finance_id``. A confirmed
        pair resolves both exceptions and counts as a matched order in every number."""
        if decision not in ("confirmed", "rejected", "undone"):
            raise ValueError(f"unknown decision {decision!r}")
        prior = self._decision(claim_id, finance_id)
        expected = int(prior["version"]) if prior else 0
        edits: list[Any] = []
        reason = ""
        if decision == "confirmed":
            s = self.suggestions()
            hit = s[(s["claim_id"] == claim_id) & (s["finance_id"] == finance_id)]
            if hit.empty:
                raise ValueError(f"{claim_id} / {finance_id} is not a current suggestion")
            row = hit.iloc[0]
            reason = str(row["reason"])
            claim = {"order_id": claim_id, "claimed_revenue": row["claimed_revenue"]}
            fin = {"order_id": finance_id, "finance_revenue": row["finance_revenue"]}
            edits = review.confirm_edits(claim, fin, self.items, reason)
        elif decision == "undone":
            if prior is None or prior["decision"] != "confirmed":
                raise ValueError(f"{claim_id} / {finance_id} is not a confirmed match")
            edits = review.unconfirm_edits(claim_id, finance_id, self.items)
        try:
            self.store.decide(
                self.scope, claim_id, finance_id, decision, reason, self.who, expected, edits
            )
        finally:
            self.load()

    # -- sign-off --------------------------------------------------------------------------------
    def snapshot(self, model: ReconciliationModel | None = None) -> dict[str, Any]:
        """What a sign-off of the model's current state stores."""
        m = model or self.model
        items = self.items
        work = review.worklist(m.exceptions, items, as_of=m.period()[1])
        return review.snapshot(
            m.period(),
            m.filters(),
            # the comparison choice changes no signed figure (only what the cards compare with)
            {s: getattr(m, s) for s in m.SETTINGS if s != "compare"},
            m.input_digests(),
            m.kpis,
            m.bridge,
            work,
            m.confirmed,
        )

    def signoffs(self) -> list[dict[str, Any]]:
        return self.store.signoffs(self.scope)

    def signoff_table(self) -> pd.DataFrame:
        rows = []
        for s in self.signoffs():
            snap = s["snapshot"]
            rows.append(
                {
                    "signoff_id": s["id"],
                    "period_start": s["period_start"],
                    "period_end": s["period_end"],
                    "state": s["state"],
                    "preparer": s["preparer"],
                    "prepared_at": s["prepared_at"],
                    "reviewer": s["reviewer"],
                    "approved_at": s["approved_at"],
                    "filters": json.dumps(snap.get("filters", {}), sort_keys=True),
                    "revenue_finance": _decimal(snap.get("kpis", {}).get("revenue_finance")),
                    "open_exceptions": len(snap.get("open_exceptions", [])),
                }
            )
        return pd.DataFrame(rows, columns=SIGNOFF_COLUMNS)

    def prepare(self) -> int:
        """Sign the model's current state as preparer; returns the sign-off's id."""
        start, end = self.model.period()
        return self.store.prepare(
            self.scope, start.isoformat(), end.isoformat(), self.snapshot(), self.who
        )

    def approve(self, signoff_id: int) -> None:
        """Approve a prepared sign-off as reviewer (someone else than its preparer on a
        server); refused when today's numbers differ from its snapshot."""
        s = self._signoff(signoff_id)
        if s["state"] != "prepared":
            raise ValueError(f"sign-off {signoff_id} is {s['state']}, not waiting for approval")
        review.check_approver(s["preparer"], self.who, self.server)
        diff = self.differences(signoff_id)
        if not diff.empty:
            raise ValueError(
                f"the numbers of sign-off {signoff_id} changed since it was prepared "
                f"({len(diff)} differences): prepare it again"
            )
        self.store.set_signoff(
            self.scope,
            signoff_id,
            int(s["version"]),
            state="approved",
            reviewer=self.who,
            approved_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )

    def _signoff(self, signoff_id: int) -> dict[str, Any]:
        for s in self.signoffs():
            if int(s["id"]) == int(signoff_id):
                return s
        raise ValueError(f"no sign-off {signoff_id}")

    def differences(self, signoff_id: int) -> pd.DataFrame:
        """How the numbers of a signed state (its period, filters and tolerances) differ today
        from its snapshot: read on a model of its own, set to that state. Kept until the
        sign-off, the confirmed pairs or any review item change (the data of a session does
        not)."""
        s = self._signoff(signoff_id)
        key = (
            int(signoff_id),
            int(s["version"]),
            tuple(self.model.confirmed),
            len(self.items),
            sum(int(i["version"]) for i in self.items.values()),
        )
        if key not in self._diffs:
            signed = s["snapshot"]
            model = self._model_for(signed)
            try:
                now = self.snapshot(model)
            finally:
                if model is not self.model:
                    model.close()  # its own database cursor
            self._diffs[key] = review.snapshot_differences(signed, now)
        return self._diffs[key].copy()

    def _model_for(self, snap: dict[str, Any]) -> ReconciliationModel:
        m = self.model
        p = snap["period"]
        wanted = {
            "start": dt.date.fromisoformat(p["start"]),
            "end": dt.date.fromisoformat(p["end"]),
            **{f: list(snap.get("filters", {}).get(f, [])) for f in m.FILTERS},
            **snap.get("tolerances", {}),
        }
        same = all(getattr(m, k) == v for k, v in wanted.items())
        if same:
            return m
        return type(m)(m._source, confirmed=list(m.confirmed), **wanted)

    def changed_signoffs(self) -> list[tuple[dict[str, Any], pd.DataFrame]]:
        """Sign-offs whose numbers differ today, each with its differences."""
        out = []
        for s in self.signoffs():
            diff = self.differences(int(s["id"]))
            if not diff.empty:
                out.append((s, diff))
        return out

    # -- exports ---------------------------------------------------------------------------------
    def workbook_sheets(self) -> dict[str, pd.DataFrame]:
        """The review's sheets of the reconciliation workbook: the log, the decided
        suggestions, the sign-offs and each snapshot's open exceptions."""
        sheets = {
            "review_log": self.log(),
            "review_matches": self.confirmed(),
            "signoffs": self.signoff_table(),
        }
        for s in self.signoffs():
            snap = s["snapshot"]
            rows = [{"item": "bridge " + b["step"], "value": b["amount"]} for b in snap["bridge"]]
            rows += [{"item": "KPI " + k, "value": v} for k, v in snap["kpis"].items()]
            rows += [{"item": "file " + k, "value": v} for k, v in snap["files"].items()]
            rows += [
                {
                    "item": f"open {e['order_id']} ({e['class']})",
                    "value": f"{e['status']}, {e['value_at_stake']}",
                }
                for e in snap["open_exceptions"]
            ]
            sheets[f"signoff_{s['id']}"] = pd.DataFrame(rows, columns=["item", "value"])
        return sheets


__all__ = ["SYSTEM_USER", "ReviewSession", "os_user", "scope_of"]
