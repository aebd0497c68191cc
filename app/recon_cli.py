"""``tieout recon status`` and ``tieout recon export-log``: the reconciliation review from the
command line (the numbers and rules are `models.review_session.ReviewSession`'s, as on the
page).

- ``status``: where the review state lives, the exceptions of the period by status and class,
  confirmed matches, open exceptions by age, and each sign-off with whether today's numbers
  still match its snapshot (``--fail-on-change`` exits 1 when one does not).
- ``export-log``: the review log, the decided suggestions, the sign-offs and each sign-off's
  snapshot, as CSV files or one XLSX workbook (text neutralised for spreadsheets).

Reading the state on new data reopens the closed exceptions whose amounts changed (recorded
as done by ``tieout (new data)``), as opening the page does.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

EXIT_CHANGED = 1


class _StateURL(argparse.Action):
    """``--state URL`` of ``serve`` and ``desktop``: the review state of every session of the
    process, through ``$TIEOUT_STATE`` (read by `data.state.default_url`, as server sessions
    read their other settings from the environment)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        from data.state import STATE_ENV

        os.environ[STATE_ENV] = str(values)
        setattr(namespace, self.dest, values)


STATE_HELP = (
    "review state database URL (default $TIEOUT_STATE, else the SQLite file in your data "
    "folder); e.g. postgresql://user@host/db"
)


def add_parser(sub: Any) -> None:
    """Add ``recon status`` and ``recon export-log`` to the `tieout` subcommands, and
    ``--state URL`` to ``serve``, ``desktop``, ``kpis`` and ``export`` (whose reconciliation
    numbers count the matches confirmed in that state, as the page does)."""
    from app.cli import _add_model_args, _add_reading_args

    for name in ("serve", "desktop", "kpis", "export"):
        if name in sub.choices:
            sub.choices[name].add_argument(
                "--state", action=_StateURL, default=None, help=STATE_HELP
            )

    r = sub.add_parser("recon", help="the reconciliation review: status, export the log")
    rs = r.add_subparsers(dest="recon_command", required=True, parser_class=type(r))
    s = rs.add_parser("status", help="exceptions by status, aging, matches, sign-offs")
    e = rs.add_parser("export-log", help="write the review log, matches and sign-offs")
    for p in (s, e):
        p.add_argument("--data", required=True, type=Path)
        p.add_argument("--state", default=None, help=STATE_HELP)
        _add_model_args(p)
        _add_reading_args(p)
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.add_argument(
        "--fail-on-change",
        action="store_true",
        help="exit 1 when a sign-off's numbers differ from today's",
    )
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--format", choices=["csv", "xlsx"], default="csv")


def _session(a: argparse.Namespace) -> Any:
    from app.cli import UsageError, _model_from_args
    from data.state import StateError, open_store
    from models.review_session import ReviewSession, os_user

    a.domain = "reconciliation"
    model = _model_from_args(a)
    if model.approximate:
        raise UsageError("these claims have no order IDs: there are no exceptions to review")
    try:
        store = open_store(a.state)
    except StateError as exc:
        raise UsageError(str(exc)) from None
    session = ReviewSession(model, store, os_user(), server=False)
    session.load()  # reopens what new data changed, as opening the page's Review tab does
    return session


def status(session: Any) -> dict[str, Any]:
    """What ``recon status`` reports, as plain values."""
    from models import review

    m = session.model
    start, end = m.period()
    work = session.worklist()
    by_status = work.groupby("status").size().to_dict() if len(work) else {}
    by_class = (
        work.groupby(["class", "status"]).size().rename("n").reset_index() if len(work) else None
    )
    aging = review.aging_totals(session.aging())
    signoffs = []
    for s in session.signoffs():
        diff = session.differences(int(s["id"]))
        signoffs.append(
            {
                "id": s["id"],
                "period": f"{s['period_start']} to {s['period_end']}",
                "state": s["state"],
                "preparer": s["preparer"],
                "reviewer": s["reviewer"] or None,
                "changed": not diff.empty,
                "differences": diff.to_dict(orient="records"),
            }
        )
    return {
        "state": session.store.where(),
        "data": session.scope,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "filters": m.filters(),
        "exceptions": len(work),
        "by_status": {k: int(v) for k, v in sorted(by_status.items())},
        "by_class": []
        if by_class is None
        else [
            {"class": c, "status": st, "exceptions": int(n)}
            for c, st, n in by_class.itertuples(index=False)
        ],
        "confirmed_matches": [list(p) for p in m.confirmed],
        "ignored_matches": [list(p) for p in m.confirmed_ignored],
        "reopened_now": int(session.reopened),
        "aging": aging.to_dict(orient="records"),
        "signoffs": signoffs,
    }


def _text(report: dict[str, Any]) -> str:
    from models.presentation import code_label, full

    lines = [
        f"review state: {report['state']}",
        f"data folder: {report['data']}",
        f"period: {report['period']['start']} to {report['period']['end']}, filters: "
        + (", ".join(f"{k}={v}" for k, v in report["filters"].items()) or "none"),
        f"exceptions: {report['exceptions']} ("
        + ", ".join(f"{code_label(k).lower()} {v}" for k, v in report["by_status"].items())
        + ")",
    ]
    for r in report["by_class"]:
        lines.append(f"  {code_label(r['class'])}: {code_label(r['status'])} {r['exceptions']}")
    lines.append(f"confirmed matches counted: {len(report['confirmed_matches'])}")
    for a, b, why in report["ignored_matches"]:
        lines.append(f"  not counted: {a} / {b}: {why}")
    if report["reopened_now"]:
        lines.append(f"reopened now (amounts changed): {report['reopened_now']}")
    lines.append("open exceptions by age (days since the claim date):")
    for r in report["aging"]:
        lines.append(
            f"  {r['age_bucket']:>8}: {r['open_exceptions']:>6}  "
            f"{full(r['value_at_stake'], 'money')} at stake"
        )
    if not report["signoffs"]:
        lines.append("sign-offs: none")
    for s in report["signoffs"]:
        who = f"prepared by {s['preparer']}" + (
            f", approved by {s['reviewer']}" if s["reviewer"] else ""
        )
        state = (
            f"CHANGED since signed ({len(s['differences'])} differences)"
            if s["changed"]
            else "numbers unchanged"
        )
        lines.append(f"sign-off {s['id']}: {s['period']}, {s['state']} ({who}): {state}")
        for d in s["differences"][:20]:
            lines.append(f"    {d['item']}: {d['signed']} -> {d['now']}")
    return "\n".join(lines)


def cmd_recon(a: argparse.Namespace) -> int:
    """``tieout recon status|export-log``."""
    from app.cli import EXIT_OK, UsageError, dumps

    session = _session(a)
    if a.recon_command == "status":
        report = status(session)
        sys.stdout.write((dumps(report) if a.format == "json" else _text(report)) + "\n")
        changed = any(s["changed"] for s in report["signoffs"])
        return EXIT_CHANGED if a.fail_on_change and changed else EXIT_OK
    out = a.out.resolve()
    data = a.data.resolve()
    if out == data or data in out.parents:
        raise UsageError(f"--out {a.out} is inside the data folder; choose another folder")
    for path in export_log(session, out, a.format):
        sys.stdout.write(f"{path}\n")
    return EXIT_OK


def export_log(session: Any, out: Path, fmt: str) -> list[Path]:
    """Write the review's sheets (`ReviewSession.workbook_sheets`) into ``out``."""
    from models.export import to_csv_bytes, to_xlsx_bytes

    out.mkdir(parents=True, exist_ok=True)
    sheets: dict[str, pd.DataFrame] = session.workbook_sheets()
    if fmt == "xlsx":
        path = out / "reconciliation_review.xlsx"
        path.write_bytes(to_xlsx_bytes(sheets))
        return [path]
    written = []
    for name, df in sheets.items():
        path = out / f"reconciliation_{name}.csv"
        path.write_bytes(to_csv_bytes(df))
        written.append(path)
    return written


__all__ = ["add_parser", "cmd_recon", "export_log", "status"]
