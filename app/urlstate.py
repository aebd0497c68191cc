"""A model's view state as URL query parameters, and back (no Panel here).

Only values that differ from the defaults are written (a fresh page has a clean URL); names are
the CLI's flag names (``segment``, ``start``, ``abs_tol``), both taken from the model's
``FILTERS`` and ``SETTINGS``, so a link and a `tieout kpis` command say the same thing. Reading
a query never raises: values that are unknown or malformed are skipped and returned as problems
for the page to show. Values only ever set model parameters, which check them against the options
found in the data: nothing in a URL reaches a file path or the database settings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import param

MAX_VALUES = 200  # more values than any filter has options: a crafted URL, ignored beyond this


def url_names(model: Any) -> dict[str, str]:
    """Model parameter -> query name, for every parameter a link carries."""
    return {"start": "start", "end": "end", **model.FILTERS, **{s: s for s in model.SETTINGS}}


def _default(model: Any, name: str) -> Any:
    """What a link without ``name`` means: the period a page opens on, a parameter's default."""
    if name in ("start", "end"):
        start, end = model.opening_period()
        return start if name == "start" else end
    return model.param[name].default


def to_query(model: Any) -> dict[str, list[str]]:
    """The query parameters of the model's state: only those differing from the defaults."""
    query: dict[str, list[str]] = {}
    for pname, qname in url_names(model).items():
        value = getattr(model, pname)
        if value == _default(model, pname) or value in (None, []):
            continue
        if isinstance(value, list):
            query[qname] = [str(v) for v in value]
        elif isinstance(value, dt.date):
            query[qname] = [value.isoformat()]
        else:
            query[qname] = [str(value)]
    return query


def _parse(model: Any, pname: str, values: list[str]) -> Any:
    p = model.param[pname]
    if p.__class__.__name__ == "ListSelector":
        return list(dict.fromkeys(values))[:MAX_VALUES]
    text = values[-1]
    if pname in ("start", "end"):
        return dt.date.fromisoformat(text)
    if isinstance(p, param.Integer):
        return int(text)
    if isinstance(p, param.Number):
        return float(text)
    return text


def from_query(model: Any, query: dict[str, list[str]]) -> dict[str, Any]:
    """The parameter values a query asks for, checked one by one; also returns problems.

    Returns ``{"values": {param: value}, "problems": [text]}``; apply the values with
    ``model.param.update`` (one computation).
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for pname, qname in url_names(model).items():
        raw = query.get(qname)
        if not raw:
            continue
        try:
            value = _parse(model, pname, [str(v) for v in raw])
            model.param[pname]._validate(value)
        except Exception:
            shown = ", ".join(str(v)[:40] for v in raw[:5])
            problems.append(f"link parameter {qname}={shown} ignored: not a valid value")
            continue
        values[pname] = value
    start = values.get("start", model.start)
    end = values.get("end", model.end)
    if start and end and end < start:
        problems.append("link period ignored: it ends before it starts")
        values.pop("start", None)
        values.pop("end", None)
    return {"values": values, "problems": problems}
