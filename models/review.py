"""Reconciliation as a workflow: the rules of reviewing exceptions (no Panel, no database).

- **Identity.** An exception is its order id and class (``A3`` / ``missing_in_finance``); its
  *amounts* (claimed and finance revenue, in cents) are kept beside it, so a new ingest that
  changes them is noticed (`reopened`).
- **Statuses** (`STATUSES`): open, investigating, explained, resolved, written off, moved as
  `TRANSITIONS` allows; explaining and writing off need a note. Every change is an `Edit` with
  its history rows, written by `data.state.Store` against the version it was made on.
- **Suggested matches** (`suggest`): a missing-in-finance claim and a finance-only order that are
  probably the same sale: equal amounts within the model's tolerance and dates within its timing
  window, or order ids that differ only in case, spaces, leading zeros, or one character with
  amounts within the tolerance. Each
  has its reason in words; a confirmed pair is handed to the model
  (`ReconciliationModel.confirmed`), which counts it as a matched order in every number.
- **Aging** (`aging`): open exceptions by days from the claim date (finance date for
  finance-only orders) to the end of the period, with count and value at stake, per campaign and
  channel.
- **Sign-off** (`snapshot`, `snapshot_differences`, `check_approver`): what a signature stores
  and how the numbers of today differ from it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from data.state import Edit
from models.kpi import money

STATUSES = ("open", "investigating", "explained", "resolved", "written_off")
#: Statuses that close an exception: it leaves the aging and reopens if its amounts change.
CLOSED = frozenset({"explained", "resolved", "written_off"})
#: Which status may follow which (setting the same status again only adds the note).
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"investigating", "explained", "resolved", "written_off"}),
    "investigating": frozenset({"open", "explained", "resolved", "written_off"}),
    "explained": frozenset({"open", "investigating", "resolved", "written_off"}),
    "resolved": frozenset({"open", "investigating"}),
    "written_off": frozenset({"open", "investigating"}),
}
#: Statuses a person must give a reason for.
NOTE_REQUIRED = frozenset({"explained", "written_off"})
#: The flag of an order matched by a confirmed suggestion (the model sets it).
REVIEW_FLAG = "matched_on_review"

AGING_BUCKETS = ("0-7", "8-30", "31-60", "over 60")
WORKLIST_COLUMNS = [
    "order_id",
    "class",
    "flags",
    "status",
    "owner",
    "note",
    "claimed_revenue",
    "finance_revenue",
    "value_at_stake",
    "claim_date",
    "finance_date",
    "age_days",
    "campaigns",
    "version",
]
SUGGESTION_COLUMNS = [
    "claim_id",
    "finance_id",
    "reason",
    "claimed_revenue",
    "finance_revenue",
    "claim_date",
    "finance_date",
    "days_apart",
    "rule",
]
AGING_COLUMNS = ["age_bucket", "campaign", "channel", "open_exceptions", "value_at_stake"]
MAX_SUGGESTIONS_PER_CLAIM = 3


def empty(columns: list[str]) -> pd.DataFrame:
    """A table without rows whose number columns are typed as numbers (their kind in
    `models.presentation`), so a page formats them as numbers from the start."""
    from models.presentation import field

    numeric = {"money", "count", "percent", "multiple", "coef", "index"}
    return pd.DataFrame(
        {c: pd.Series(dtype="float64" if field(c).kind in numeric else object) for c in columns}
    )


# ----------------------------------------------------------------------------- identity
def _cents(v: Any) -> int | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    return round(float(v) * 100) if not isinstance(v, Decimal) else int(v * 100)


def amounts_key(claimed: Any, finance: Any) -> str:
    """The amounts an exception was reviewed on, as text: ``claimed=5000;finance=5500`` (cents;
    empty when there is none)."""

    def part(v: Any) -> str:
        c = _cents(v)
        return "" if c is None else str(c)

    return f"claimed={part(claimed)};finance={part(finance)}"


def _amounts_words(key: str) -> dict[str, str]:
    out = {}
    for piece in key.split(";"):
        name, _, cents = piece.partition("=")
        out[name] = "none" if cents == "" else f"{Decimal(int(cents)).scaleb(-2):,.2f}"
    return out


def describe_change(old: str, new: str) -> str:
    """``claimed 50.00 -> 52.00`` for the amounts that differ between two `amounts_key`."""
    a, b = _amounts_words(old), _amounts_words(new)
    return "; ".join(f"{k} {a.get(k, 'none')} -> {b[k]}" for k in b if a.get(k) != b[k])


def value_at_stake_cents(row: Mapping[str, Any]) -> int:
    """How much an exception moves revenue away from a plain match (cents): the amount
    difference of a mismatch, the claim of an order missing in finance or refunded, the booking
    of a finance-only order, the extra claims of a duplicate, the booking of a timing one."""
    cls, flags = row.get("class"), str(row.get("flags") or "")
    claimed = _cents(row.get("claimed_revenue")) or 0
    finance = _cents(row.get("finance_revenue")) or 0
    if cls == "amount_mismatch":
        return abs(finance - claimed)
    if cls in ("missing_in_finance", "refunded"):
        return claimed
    if cls == "finance_only":
        return finance
    total = _cents(row.get("claims_total")) or claimed
    out = 0
    if "duplicate_claim" in flags:
        out += total - claimed
    if "timing" in flags:
        out += finance
    return out


# ----------------------------------------------------------------------------- worklist
def reviewable(exceptions: pd.DataFrame) -> pd.DataFrame:
    """The exceptions a person works: all but orders matched by a confirmed suggestion."""
    if exceptions.empty:
        return exceptions
    by_review = exceptions["flags"].astype(str).str.contains(REVIEW_FLAG, regex=False)
    return exceptions[~by_review]


def empty_worklist() -> pd.DataFrame:
    """A worklist without rows."""
    return empty(WORKLIST_COLUMNS)


def worklist(
    exceptions: pd.DataFrame,
    items: Mapping[tuple[str, str], Mapping[str, Any]],
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """The exceptions with their review status, owner, latest note and version (0 and open
    when nobody touched them yet), value at stake and age in days at ``as_of``."""
    ex = reviewable(exceptions).reset_index(drop=True)
    if ex.empty:
        return empty_worklist()
    keys = list(zip(ex["order_id"].astype(str), ex["class"].astype(str), strict=True))
    got = [items.get(k, {}) for k in keys]
    out = ex.copy()
    out["status"] = [g.get("status", "open") for g in got]
    out["owner"] = [g.get("owner", "") for g in got]
    out["note"] = [g.get("note", "") for g in got]
    out["version"] = [int(g.get("version", 0)) for g in got]
    out["value_at_stake"] = [money(value_at_stake_cents(r)) for r in ex.to_dict("records")]
    out["age_days"] = _ages(ex, as_of)
    return out[WORKLIST_COLUMNS]


def _ages(ex: pd.DataFrame, as_of: dt.date | None) -> list[int | None]:
    if as_of is None:
        return [None] * len(ex)
    out: list[int | None] = []
    for c, f in zip(ex["claim_date"], ex["finance_date"], strict=True):
        day = c if isinstance(c, dt.date) and not pd.isna(c) else f
        out.append((as_of - day).days if isinstance(day, dt.date) and not pd.isna(day) else None)
    return out


def change_status(
    selected: pd.DataFrame,
    items: Mapping[tuple[str, str], Mapping[str, Any]],
    status: str | None = None,
    note: str = "",
    owner: str | None = None,
) -> list[Edit]:
    """The edits that set ``status`` (and/or ``owner``) and add ``note`` on the ``selected``
    worklist rows, each made against the version the row was loaded with.

    Raises ValueError naming every row a rule refuses (a status that may not follow, a reason
    missing); then nothing is changed.
    """
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}: one of {', '.join(STATUSES)}")
    note = note.strip()
    if status in NOTE_REQUIRED and not note:
        raise ValueError(f"a note is needed to mark exceptions {status.replace('_', ' ')}")
    if status is None and owner is None and not note:
        raise ValueError("nothing to change: choose a status, an owner or write a note")
    edits, refused = [], []
    for r in selected.to_dict("records"):
        key = (str(r["order_id"]), str(r["class"]))
        cur = items.get(key, {})
        old_status = cur.get("status", "open")
        old_owner = cur.get("owner", "")
        version = int(cur.get("version", 0))
        if version != int(r.get("version", version)):
            version = int(r["version"])  # made against what the person saw: checked on save
        log: list[tuple[str, str, str, str]] = []
        new_status = old_status if status is None else status
        if new_status != old_status:
            if new_status not in TRANSITIONS[old_status]:
                refused.append(f"{key[0]} ({old_status} cannot become {new_status})")
                continue
            log.append(("status", old_status, new_status, note))
        new_owner = old_owner if owner is None else owner.strip()
        if new_owner != old_owner:
            log.append(("owner", old_owner, new_owner, ""))
        if note and not any(a == "status" for a, *_ in log):
            log.append(("note", "", "", note))
        if not log:
            continue
        amounts = amounts_key(r.get("claimed_revenue"), r.get("finance_revenue"))
        edits.append(
            Edit(
                order_id=key[0],
                cls=key[1],
                expected=version,
                status=new_status,
                owner=new_owner,
                note=note or cur.get("note", ""),
                amounts=amounts,
                log=tuple(log),
            )
        )
    if refused:
        raise ValueError("not changed: " + "; ".join(refused))
    return edits


def reopened(
    exceptions: pd.DataFrame, items: Mapping[tuple[str, str], Mapping[str, Any]]
) -> list[Edit]:
    """Edits for the exceptions whose amounts differ from those they were reviewed on: closed
    ones are reopened, the reason in their history; open ones only record the new amounts."""
    edits = []
    for r in reviewable(exceptions).to_dict("records"):
        key = (str(r["order_id"]), str(r["class"]))
        cur = items.get(key)
        if cur is None or not cur.get("amounts"):
            continue
        now_amounts = amounts_key(r.get("claimed_revenue"), r.get("finance_revenue"))
        if now_amounts == cur["amounts"]:
            continue
        change = describe_change(cur["amounts"], now_amounts)
        closed = cur["status"] in CLOSED
        status = "open" if closed else cur["status"]
        if closed:
            why = f"reopened: the amounts changed since it was {cur['status']} ({change})"
            log = (("reopened", cur["status"], "open", why),)
        else:
            log = (("amounts", cur["amounts"], now_amounts, f"amounts changed ({change})"),)
        edits.append(
            Edit(
                order_id=key[0],
                cls=key[1],
                expected=int(cur["version"]),
                status=status,
                owner=cur.get("owner", ""),
                note=cur.get("note", ""),
                amounts=now_amounts,
                log=log,
            )
        )
    return edits


# ----------------------------------------------------------------------------- suggestions
_SPACES = re.compile(r"\s+")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def _one_char_apart(a: str, b: str) -> bool:
    """a and b differ by one substituted, inserted or deleted character."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


_ID_STEPS: tuple[tuple[str, Any], ...] = (
    ("case", str.lower),
    ("spaces", lambda s: _SPACES.sub("", s)),
    ("leading zeros", lambda s: _LEADING_ZEROS.sub("", s)),
)


def _normalised(text: str, skip: str = "") -> str:
    for name, fn in _ID_STEPS:
        if name != skip:
            text = fn(text)
    return text


def id_reason(claim_id: str, finance_id: str) -> str | None:
    """Why two different order ids are probably one order, in words; None if they are not."""
    a, b = str(claim_id), str(finance_id)
    if a == b:
        return None
    if _normalised(a) == _normalised(b):
        needed = [n for n, _ in _ID_STEPS if _normalised(a, skip=n) != _normalised(b, skip=n)]
        return "Order IDs differ only in " + " and ".join(needed or ["case"])
    if _one_char_apart(a, b):
        return f"Order IDs differ in one character ({a} / {b})"
    return None


def _id_candidates(claims: list[str], fins: list[str]) -> set[tuple[str, str]]:
    """Pairs (claim, finance) of ids that may be one order: same normalised id, or one character
    apart (by deletion neighbourhoods: each id with one character replaced by a wildcard, or
    removed), without comparing every claim with every finance order."""

    norm = _normalised
    out: set[tuple[str, str]] = set()
    by_norm: dict[str, list[str]] = {}
    for f in fins:
        by_norm.setdefault(norm(f), []).append(f)
    for c in claims:
        out.update((c, f) for f in by_norm.get(norm(c), []))
    hoods: dict[str, list[str]] = {}
    for f in fins:
        for i in range(len(f)):
            hoods.setdefault(f[:i] + "\0" + f[i + 1 :], []).append(f)
            hoods.setdefault(f[:i] + f[i + 1 :], []).append(f)
        hoods.setdefault(f, []).append(f)
    for c in claims:
        keys = {c}
        for i in range(len(c)):
            keys.add(c[:i] + "\0" + c[i + 1 :])
            keys.add(c[:i] + c[i + 1 :])
        for k in keys:
            out.update((c, f) for f in hoods.get(k, []) if _one_char_apart(c, f))
    return out


def suggest(
    missing: pd.DataFrame,
    finance_only: pd.DataFrame,
    abs_tol: float,
    rel_tol: float,
    timing_days: int,
    decided: Iterable[tuple[str, str]] = (),
    used: Iterable[str] = (),
) -> pd.DataFrame:
    """Suggested matches of missing-in-finance claims (``order_id``, ``claimed_revenue``,
    ``claim_date``) with finance-only orders (``order_id``, ``finance_revenue``,
    ``finance_date``).

    A pair is suggested when the amounts are equal within the tolerance (``abs_tol`` currency +
    ``rel_tol`` x the finance amount, as the model classifies) and the dates at most
    ``timing_days`` apart, or when the order ids differ only in case, spaces, leading zeros or
    one character (whatever the amounts for case, spaces and leading zeros; one character apart
    needs the amounts within the tolerance too, whatever the dates). Pairs already
    ``decided`` and orders already ``used`` by a confirmed pair are left out. At most
    `MAX_SUGGESTIONS_PER_CLAIM` per claim: id matches first, then the smallest amount gap, then
    the fewest days apart.
    """
    used_ids = set(map(str, used))
    done = {(str(a), str(b)) for a, b in decided}
    m = missing[~missing["order_id"].astype(str).isin(used_ids)]
    f = finance_only[~finance_only["order_id"].astype(str).isin(used_ids)]
    if m.empty or f.empty:
        return empty(SUGGESTION_COLUMNS)
    mc = pd.DataFrame(
        {
            "claim_id": m["order_id"].astype(str).to_numpy(),
            "c_cents": [_cents(v) for v in m["claimed_revenue"]],
            "claim_date": pd.to_datetime(m["claim_date"]).to_numpy(),
        }
    )
    fc = pd.DataFrame(
        {
            "finance_id": f["order_id"].astype(str).to_numpy(),
            "f_cents": [_cents(v) for v in f["finance_revenue"]],
            "finance_date": pd.to_datetime(f["finance_date"]).to_numpy(),
        }
    )
    pairs = []
    # equal amounts within the tolerance, dates within the window: join on each day offset
    for d in range(-int(timing_days), int(timing_days) + 1):
        j = mc.assign(_day=mc["claim_date"] + pd.Timedelta(days=d)).merge(
            fc, left_on="_day", right_on="finance_date"
        )
        if j.empty:
            continue
        tol = abs_tol * 100 + rel_tol * j["f_cents"].abs()
        j = j[(j["f_cents"] - j["c_cents"]).abs() <= tol + 1e-9]
        pairs.append(j.assign(rule="amount_and_date").drop(columns="_day"))
    ids = _id_candidates(mc["claim_id"].tolist(), fc["finance_id"].tolist())
    if ids:
        idf = pd.DataFrame(sorted(ids), columns=["claim_id", "finance_id"])
        pairs.append(idf.merge(mc, on="claim_id").merge(fc, on="finance_id").assign(rule="id"))
    if not pairs:
        return empty(SUGGESTION_COLUMNS)
    s = pd.concat(pairs, ignore_index=True)
    s = s[[(a, b) not in done for a, b in zip(s["claim_id"], s["finance_id"], strict=True)]]
    if s.empty:
        return empty(SUGGESTION_COLUMNS)
    s = (
        s.groupby(["claim_id", "finance_id"], as_index=False, sort=False)
        .agg(
            c_cents=("c_cents", "first"),
            f_cents=("f_cents", "first"),
            claim_date=("claim_date", "first"),
            finance_date=("finance_date", "first"),
            rules=("rule", lambda r: ",".join(sorted(set(r)))),
        )
        .reset_index(drop=True)
    )
    s["days_apart"] = (s["finance_date"] - s["claim_date"]).dt.days.astype(int)
    s["gap"] = (s["f_cents"] - s["c_cents"]).abs()
    # One character apart says little on its own: sequential ids (F00002326 / F00002327) and
    # the demo's R00002326 / F00002326 are different orders one character apart, dates close
    # or not. Such a pair needs its amounts within the tolerance.
    weak = [
        r == "id" and _normalised(a) != _normalised(b)
        for r, a, b in zip(s["rules"], s["claim_id"], s["finance_id"], strict=True)
    ]
    near = s["gap"] <= abs_tol * 100 + rel_tol * s["f_cents"].abs() + 1e-9
    s = s[~pd.Series(weak, index=s.index) | near]
    if s.empty:
        return empty(SUGGESTION_COLUMNS)
    s["by_id"] = s["rules"].str.contains("id")
    s = s.sort_values(
        ["claim_id", "by_id", "gap", "days_apart"], ascending=[True, False, True, True]
    )
    s = s.groupby("claim_id", sort=False).head(MAX_SUGGESTIONS_PER_CLAIM)
    s["reason"] = [
        _reason(r)
        for r in s[["claim_id", "finance_id", "rules", "gap", "days_apart"]].to_dict("records")
    ]
    s["rule"] = s["rules"].map(lambda r: "id_and_amount" if r == "amount_and_date,id" else r)
    out = pd.DataFrame(
        {
            "claim_id": s["claim_id"],
            "finance_id": s["finance_id"],
            "claimed_revenue": [money(v) for v in s["c_cents"]],
            "finance_revenue": [money(v) for v in s["f_cents"]],
            "claim_date": s["claim_date"].dt.date,
            "finance_date": s["finance_date"].dt.date,
            "days_apart": s["days_apart"],
            "rule": s["rule"],
            "reason": s["reason"],
        }
    )
    return out.sort_values(["claim_id", "finance_id"]).reset_index(drop=True)[SUGGESTION_COLUMNS]


def _reason(r: Mapping[str, Any]) -> str:
    parts = []
    if "id" in r["rules"].split(","):
        parts.append(id_reason(r["claim_id"], r["finance_id"]) or "Order IDs alike")
    days = abs(int(r["days_apart"]))
    when = "the same day" if days == 0 else f"{days} day{'s' if days != 1 else ''} apart"
    gap = Decimal(int(r["gap"])).scaleb(-2)
    if "amount_and_date" in r["rules"].split(","):
        amount = "equal amounts" if gap == 0 else f"amounts ${gap:,.2f} apart (within tolerance)"
        parts.append(f"{amount}, {when}")
    elif gap:
        parts.append(f"amounts differ by ${gap:,.2f}, {when}")
    else:
        parts.append(f"equal amounts, {when}")
    return "; ".join(parts)


def confirm_edits(
    claim: Mapping[str, Any],
    finance: Mapping[str, Any],
    items: Mapping[tuple[str, str], Mapping[str, Any]],
    reason: str,
) -> list[Edit]:
    """The item edits of confirming a suggestion: the claim (missing in finance) and the finance
    order (finance only) are resolved, each history naming the other."""
    out = []
    for row, cls, other in (
        (claim, "missing_in_finance", finance["order_id"]),
        (finance, "finance_only", claim["order_id"]),
    ):
        key = (str(row["order_id"]), cls)
        cur = items.get(key, {})
        old = cur.get("status", "open")
        note = f"matched on review with {other}: {reason}"
        out.append(
            Edit(
                order_id=key[0],
                cls=cls,
                expected=int(cur.get("version", 0)),
                status="resolved",
                owner=cur.get("owner", ""),
                note=note,
                amounts=amounts_key(row.get("claimed_revenue"), row.get("finance_revenue")),
                log=(("matched", old, "resolved", note),),
            )
        )
    return out


def unconfirm_edits(
    claim_id: str, finance_id: str, items: Mapping[tuple[str, str], Mapping[str, Any]]
) -> list[Edit]:
    """Undoing a confirmed pair reopens both exceptions."""
    out = []
    for oid, cls, other in (
        (claim_id, "missing_in_finance", finance_id),
        (finance_id, "finance_only", claim_id),
    ):
        cur = items.get((oid, cls))
        if cur is None:
            continue
        note = f"match with {other} undone"
        out.append(
            Edit(
                order_id=oid,
                cls=cls,
                expected=int(cur["version"]),
                status="open",
                owner=cur.get("owner", ""),
                note=note,
                amounts=cur.get("amounts", ""),
                log=(("unmatched", cur["status"], "open", note),),
            )
        )
    return out


def confirmed_pairs(decisions: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The (claim id, finance id) pairs confirmed, from the store's decisions."""
    return sorted(
        (str(d["claim_id"]), str(d["finance_id"]))
        for d in decisions
        if d["decision"] == "confirmed"
    )


# ----------------------------------------------------------------------------- aging
def age_bucket(days: int) -> str:
    if days <= 7:
        return AGING_BUCKETS[0]
    if days <= 30:
        return AGING_BUCKETS[1]
    if days <= 60:
        return AGING_BUCKETS[2]
    return AGING_BUCKETS[3]


def aging(work: pd.DataFrame, channels: Mapping[str, str]) -> pd.DataFrame:
    """Open exceptions (status not closed) by age bucket x campaign x channel: how many and the
    value at stake. An order claimed by several campaigns counts under its first; a finance-only
    order under ``(no campaign)``. Ages are `worklist`'s (days to its ``as_of``)."""
    if work.empty:
        return empty(AGING_COLUMNS)
    w = work[~work["status"].isin(CLOSED) & work["age_days"].notna()]
    if w.empty:
        return empty(AGING_COLUMNS)
    first = w["campaigns"].fillna("").astype(str).str.split(", ").str[0]
    camp = first.where(first != "", "(no campaign)")
    frame = pd.DataFrame(
        {
            "age_bucket": [age_bucket(int(d)) for d in w["age_days"]],
            "campaign": camp.to_numpy(),
            "channel": [channels.get(c, "(no channel)") for c in camp],
            "cents": [_cents(v) or 0 for v in w["value_at_stake"]],
        }
    )
    g = frame.groupby(["age_bucket", "campaign", "channel"], as_index=False).agg(
        open_exceptions=("cents", "size"), value_at_stake=("cents", "sum")
    )
    g["age_bucket"] = pd.Categorical(g["age_bucket"], categories=AGING_BUCKETS, ordered=True)
    g = g.sort_values(["age_bucket", "campaign", "channel"]).reset_index(drop=True)
    g["age_bucket"] = g["age_bucket"].astype(str)
    g["open_exceptions"] = g["open_exceptions"].astype(np.int64)
    g["value_at_stake"] = [money(int(v)) for v in g["value_at_stake"]]
    return g[AGING_COLUMNS]


def aging_totals(table: pd.DataFrame) -> pd.DataFrame:
    """`aging` summed by bucket (every bucket listed, in order)."""
    rows = []
    for b in AGING_BUCKETS:
        part = table[table["age_bucket"] == b] if len(table) else table
        cents = sum(int(v * 100) for v in part["value_at_stake"]) if len(part) else 0
        n = int(part["open_exceptions"].sum()) if len(part) else 0
        rows.append({"age_bucket": b, "open_exceptions": n, "value_at_stake": money(cents)})
    return pd.DataFrame(rows, columns=["age_bucket", "open_exceptions", "value_at_stake"])


# ----------------------------------------------------------------------------- sign-off
def _plain(v: Any) -> Any:
    """A value as JSON keeps it exactly: money as text (``"270.00"``), dates ISO."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def snapshot(
    period: tuple[dt.date, dt.date],
    filters: Mapping[str, Any],
    tolerances: Mapping[str, Any],
    files: Mapping[str, str],
    kpis: Mapping[str, Any],
    bridge: pd.DataFrame,
    work: pd.DataFrame,
    confirmed: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """What a signature keeps: period, filters, tolerances, input file digests, KPIs, bridge,
    confirmed matches and the open exceptions (order id, class, status, amounts)."""
    open_rows = work[~work["status"].isin(CLOSED)] if len(work) else work
    return _plain(
        {
            "period": {"start": period[0], "end": period[1]},
            "filters": dict(filters),
            "tolerances": dict(tolerances),
            "files": dict(files),
            "kpis": {k: v for k, v in kpis.items() if not isinstance(v, list | dict)},
            "bridge": [
                {"step": s, "amount": a}
                for s, a in zip(bridge["step"], bridge["amount"], strict=True)
            ],
            "confirmed": [list(p) for p in confirmed],
            "open_exceptions": [
                {
                    "order_id": r["order_id"],
                    "class": r["class"],
                    "status": r["status"],
                    "value_at_stake": r["value_at_stake"],
                }
                for r in open_rows.to_dict("records")
            ],
        }
    )


DIFF_COLUMNS = ["item", "signed", "now"]


def snapshot_differences(signed: Mapping[str, Any], now: Mapping[str, Any]) -> pd.DataFrame:
    """What differs between a signed snapshot and the same snapshot taken now: input files,
    filters and tolerances, each KPI, each bridge step, the open exceptions (count and those
    added or gone). Empty when the numbers are the same."""
    rows: list[tuple[str, Any, Any]] = []

    def cmp(prefix: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                rows.append((f"{prefix} {k}", a.get(k), b.get(k)))

    for part in ("filters", "tolerances", "files", "kpis"):
        cmp(part.rstrip("s") if part != "kpis" else "KPI", signed.get(part, {}), now.get(part, {}))
    steps_a = {s["step"]: s["amount"] for s in signed.get("bridge", [])}
    steps_b = {s["step"]: s["amount"] for s in now.get("bridge", [])}
    cmp("bridge", steps_a, steps_b)
    if signed.get("confirmed", []) != now.get("confirmed", []):
        rows.append(
            (
                "confirmed matches",
                len(signed.get("confirmed", [])),
                len(now.get("confirmed", [])),
            )
        )
    ka = {(e["order_id"], e["class"]) for e in signed.get("open_exceptions", [])}
    kb = {(e["order_id"], e["class"]) for e in now.get("open_exceptions", [])}
    if ka != kb:
        rows.append(("open exceptions", len(ka), len(kb)))
        gone, new = sorted(ka - kb), sorted(kb - ka)
        if gone:
            rows.append(("open exceptions no longer open", _ids(gone), ""))
        if new:
            rows.append(("open exceptions new since signing", "", _ids(new)))
    return pd.DataFrame([(i, _text(a), _text(b)) for i, a, b in rows], columns=DIFF_COLUMNS)


def _ids(keys: list[tuple[str, str]], limit: int = 20) -> str:
    text = ", ".join(f"{o} ({c})" for o, c in keys[:limit])
    return text + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else str(v)


def check_approver(preparer: str, reviewer: str, server: bool) -> None:
    """A reviewer approves someone else's preparation on a server (on the desktop one person may
    do both). Raises ValueError otherwise."""
    if not reviewer:
        raise ValueError("approving needs a signed-in reviewer")
    if server and reviewer == preparer:
        raise ValueError(f"{reviewer} prepared this sign-off; another person must approve it")


__all__ = [
    "AGING_BUCKETS",
    "CLOSED",
    "NOTE_REQUIRED",
    "REVIEW_FLAG",
    "STATUSES",
    "TRANSITIONS",
    "aging",
    "aging_totals",
    "amounts_key",
    "change_status",
    "check_approver",
    "confirm_edits",
    "confirmed_pairs",
    "empty",
    "empty_worklist",
    "id_reason",
    "reopened",
    "snapshot",
    "snapshot_differences",
    "suggest",
    "value_at_stake_cents",
    "worklist",
]
