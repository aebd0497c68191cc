"""The base of every domain model: period, filters, one computation per change.

A domain model is a plain `param.Parameterized` (no Panel): filter parameters in, output
parameters out. Subclasses list their filter parameters in ``FILTERS`` and implement
`compute` (or `compute_staged`: the KPIs first, the tables and series from a function run after
them), functions of the parameters that return the new outputs; `_refresh` stores them in one
`param.update`, so views reading several outputs see one change. A page sets `defer`: the KPIs
are then stored at once and the rest in a second update after the cards have been sent
(`settle`). If `compute` raises, the previous outputs stay and the exception reaches the caller
(the app shows it as a notification).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any, ClassVar

import ibis
import pandas as pd
import param

from data.engine import Prepared, Soon
from models.kpi import money


class FiniteNumber(param.Number):
    """A number setting that refuses NaN and infinities: ``abs_tol=inf`` in a link or on the
    command line would make every mismatch "matched"."""

    def _validate_value(self, value: Any, allow_None: bool) -> None:
        super()._validate_value(value, allow_None)
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{self.name}: expected a finite number, got {value!r}")


#: Period presets, by label: each ends on the last day with data (not today: a file's data
#: usually ends before the day it is looked at), clipped to the data's first day.
PERIOD_PRESETS = (
    "Last 7 days",
    "Last 30 days",
    "Last 90 days",
    "Month to date",
    "Quarter to date",
    "Year to date",
    "Last full month",
    "Last full quarter",
    "All data",
)


#: The period a page opens on, first that fits: the last full quarter when the quarter before it
#: is in the data too, else the last full month when the month before it is, else all the data
#: (which has nothing before it to compare with). See `DomainModel.opening_period`.
OPENING_PRESETS = ("Last full quarter", "Last full month")

#: What the "prev" figures of a page, `tieout kpis` and `tieout export` are computed over
#: (`DomainModel.compare`, `DomainModel.compared_period`): the equally long window just before
#: the period, or the same dates one year earlier.
COMPARISONS = ("previous_period", "same_period_last_year")


def year_earlier(day: dt.date) -> dt.date:
    """The same date one year earlier; Feb 29 becomes Feb 28 (the year before has none)."""
    if day.month == 2 and day.day == 29:
        return dt.date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def preset_period(name: str, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The (start, end) of preset ``name`` for data from ``first`` to ``last``."""
    q_start = dt.date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    after = last + dt.timedelta(days=1)  # a month or quarter ending on `last` is full
    if name.startswith("Last ") and name.endswith(" days"):
        start, end = last - dt.timedelta(days=int(name.split()[1]) - 1), last
    elif name == "Month to date":
        start, end = last.replace(day=1), last
    elif name == "Quarter to date":
        start, end = q_start, last
    elif name == "Year to date":
        start, end = dt.date(last.year, 1, 1), last
    elif name == "Last full month":
        end = after.replace(day=1) - dt.timedelta(days=1)
        start = end.replace(day=1)
    elif name == "Last full quarter":
        end = dt.date(after.year, 3 * ((after.month - 1) // 3) + 1, 1) - dt.timedelta(days=1)
        start = dt.date(end.year, end.month - 2, 1)
    elif name == "All data":
        start, end = first, last
    else:
        raise ValueError(f"unknown period preset {name!r}: one of {', '.join(PERIOD_PRESETS)}")
    return max(start, first), max(min(end, last), max(start, first))


class DomainModel(param.Parameterized):
    """Owns one domain's filter state and computed outputs."""

    domain: ClassVar[str] = ""
    #: Multi-value filter parameters (a row passes if its value is one of the chosen; none = all),
    #: each with its name in a link and on the command line: the column it filters, in the
    #: singular (``segments`` -> ``--segment``, ``?segment=``).
    FILTERS: ClassVar[dict[str, str]] = {}
    #: Other parameters whose change recomputes the outputs (tolerances, model choices); a
    #: setting's name in a link is its own, on the command line with hyphens (``--abs-tol``).
    #: Every domain has ``compare``: a subclass lists ``(..., *DomainModel.SETTINGS)``.
    SETTINGS: ClassVar[tuple[str, ...]] = ("compare",)
    #: DataFrame outputs that are properties worked out on first read, not parameters.
    LAZY_OUTPUTS: ClassVar[tuple[str, ...]] = ()

    start = param.CalendarDate(
        default=None, allow_None=True, doc="First day of the period (inclusive)."
    )
    end = param.CalendarDate(
        default=None, allow_None=True, doc="Last day of the period (inclusive)."
    )
    data_start = param.CalendarDate(
        default=None,
        allow_None=True,
        precedence=-1,
        constant=True,
        doc="First day present in the data.",
    )
    data_end = param.CalendarDate(
        default=None,
        allow_None=True,
        precedence=-1,
        constant=True,
        doc="Last day present in the data.",
    )
    kpis = param.Dict(default={}, precedence=-1, doc="The KPI dict of KPI_DEFINITIONS.md.")
    compare = param.Selector(
        default="previous_period",
        objects=list(COMPARISONS),
        doc="What the period is compared with: the previous period or the same period last year.",
    )
    kpis_prev = param.Dict(
        default={}, precedence=-1, doc="The same KPIs over the compared period (compare)."
    )
    computations = param.Integer(
        default=0, precedence=-1, doc="How many times outputs were computed."
    )

    def __init__(self, source: Any, opening_view: bool = False, **params: Any):
        """``opening_view``: start on `opening_period` (the app's pages) instead of the whole
        data span (the CLI and exports, where no dates means all the data)."""
        #: Set by a page: ``defer(job)`` schedules ``job()`` (`settle`) for after the change's
        #: KPIs have reached the browser and returns True, or returns False (run it now). None
        #: (the CLI, exports, tests): every output is computed and published in one update.
        self.defer: Callable[[Callable[[], None]], bool] | None = None
        self._rest: Callable[[], dict[str, Any]] | None = None
        self._source = source
        self._opening_view = opening_view
        self._be = source.backend()
        self._prepared: dict[tuple[str, Any], Prepared] = {}  # by query name and shape
        super().__init__()
        self._setup()
        first, last = self._data_span()
        with param.edit_constant(self):
            self.data_start, self.data_end = first, last
        if "start" not in params and "end" not in params:
            params["start"], params["end"] = self.opening_period()
        params.setdefault("start", first)
        params.setdefault("end", last)
        with param.parameterized.discard_events(self):
            self.param.update(**params)
        self.param.watch(self._refresh, ["start", "end", *self.FILTERS, *self.SETTINGS])
        self._refresh()

    def close(self) -> None:
        """Release this model's database cursor (a closed session's models)."""
        try:
            self._be.disconnect()
        except Exception:  # already closed, or the source closed first: nothing to release
            pass

    # -- to implement ------------------------------------------------------------------
    def _setup(self) -> None:
        """Read tables and fill filter options (called before parameters are set)."""

    def _data_span(self) -> tuple[dt.date | None, dt.date | None]:
        raise NotImplementedError

    def compute(self) -> dict[str, Any]:
        """Return ``{output_parameter: value}`` for the current parameters: `compute_staged`'s
        two parts together (a subclass implements one of the two)."""
        first, rest = self.compute_staged()
        return {**first, **rest()}

    def compute_staged(self) -> tuple[dict[str, Any], Callable[[], dict[str, Any]]]:
        """The outputs in two parts: the KPI dicts (what the cards show) at once, and a function
        that works out the rest (series, tables) for the same parameters. A page publishes the
        first part at once and the rest after it (`defer`); `compute` joins them, so the CLI,
        exports and the page read the same numbers from the same code."""
        if type(self).compute is DomainModel.compute:
            raise NotImplementedError
        return self.compute(), dict

    def tables(self) -> dict[str, Any]:
        """The tables `tieout kpis --tables` prints, as DataFrames."""
        return {}

    def options_for(self, name: str) -> list[Any]:
        """The choices of filter ``name`` that go with the other filters' current values (a
        product of a chosen brand), plus those chosen; all of them when nothing narrows it."""
        objects = list(self.param[name].objects)
        facets = getattr(self, "_facets", None)
        if facets is None or name not in facets.columns:
            return objects
        keep = pd.Series(True, index=facets.index)
        for other in facets.columns:
            if other != name and getattr(self, other):
                keep &= facets[other].isin(list(getattr(self, other)))
        found = set(facets.loc[keep, name].dropna()) | set(getattr(self, name))
        return [v for v in objects if v in found]

    def clear_filters(self) -> None:
        """Every filter off and the opening period (`opening_period`), in one change."""
        start, end = self.opening_period()
        self.param.update(**{f: [] for f in self.FILTERS}, start=start, end=end)

    def opening_period(self) -> tuple[dt.date | None, dt.date | None]:
        """The period a fresh view shows (and a link without dates means).

        Built with ``opening_view``: the first of `OPENING_PRESETS` whose previous period
        (`previous_period`) lies inside the data, so the cards have something to compare with;
        else, and always without ``opening_view``, the whole data span.
        """
        first, last = self.data_start, self.data_end
        if not self._opening_view or first is None or last is None:
            return first, last
        for name in OPENING_PRESETS:
            start, end = preset_period(name, first, last)
            days = (end - start).days + 1
            if start - dt.timedelta(days=days) >= first:
                return start, end
        return first, last

    def use_preset(self, name: str) -> None:
        """Set the period to the preset ``name`` (`PERIOD_PRESETS`), in one change."""
        if self.data_start is None or self.data_end is None:
            return
        start, end = preset_period(name, self.data_start, self.data_end)
        self.param.update(start=start, end=end)

    # -- machinery ----------------------------------------------------------------------
    def period(self) -> tuple[dt.date, dt.date]:
        """The chosen period, checked."""
        start, end = self.start or self.data_start, self.end or self.data_end
        if start is None or end is None:
            raise ValueError(f"the {self.domain} data has no dates")
        if end < start:
            raise ValueError(f"the period ends ({end}) before it starts ({start})")
        return start, end

    def previous_period(self) -> tuple[dt.date, dt.date]:
        """The equally long window just before the period."""
        start, end = self.period()
        days = (end - start).days + 1
        return start - dt.timedelta(days=days), start - dt.timedelta(days=1)

    def compared_period(self) -> tuple[dt.date, dt.date]:
        """The window every "prev" figure is computed over, as ``compare`` chooses: the previous
        period (`previous_period`), or the same dates one year earlier (Feb 29 as Feb 28).

        A period longer than a year has no same period last year (it would overlap the period
        itself): the window is then empty (it ends the day before it starts), so the "prev"
        figures count nothing and `comparison` says why.
        """
        if self.compare == "previous_period":
            return self.previous_period()
        start, end = self.period()
        p_start, p_end = year_earlier(start), year_earlier(end)
        if p_end >= start:
            return p_start, p_start - dt.timedelta(days=1)
        return p_start, p_end

    def compared_name(self) -> str:
        """What the period is compared with, in words (`models.presentation.compared_name`):
        ``previous quarter``, ``previous 30 days``, ``same period last year``; ``previous
        period`` while the period is not valid (it ends before it starts). The labels of the
        "prev" figures name it (``GPV, same period last year``)."""
        from models.presentation import compared_name

        try:
            p_start, p_end = self.compared_period()
        except ValueError:
            return compared_name(self.compare)
        return compared_name(self.compare, p_start, p_end)

    def comparison(self) -> dict[str, Any]:
        """What the cards compare with, in words (`models.presentation.comparison`): its name
        (``previous quarter``, ``same period last year``), dates, and whether the data covers
        none, part or all of it."""
        from models.presentation import comparison

        start, end = self.period()
        p_start, p_end = self.compared_period()
        return comparison(
            start, end, p_start, p_end, self.data_start, self.data_end, compare=self.compare
        )

    def _refresh(self, *events: Any) -> None:
        first, rest = self.compute_staged()
        self._rest = None
        if self.defer is None:
            self.param.update(**first, **rest(), computations=self.computations + 1)
            return
        self._rest = rest
        self.param.update(**first, computations=self.computations + 1)
        if not self.defer(self.settle):
            self.settle()

    def settle(self) -> None:
        """Publish the outputs a change left to later (`defer`), if any are still to come:
        worked out for the parameters of the last change, once. Whatever reads the tables
        outside the page's own updates (exports, `summary`) calls this first."""
        rest, self._rest = self._rest, None
        if rest is not None:
            self.param.update(**rest())

    def _query(
        self, name: str, build: Callable[..., Any], key: Any = None, **values: Any
    ) -> pd.DataFrame:
        """Run the Ibis expression ``build(**values)``, compiled once per ``(name, key)``.

        ``key`` names whatever changes the query's shape (a filter that is off or matches
        nothing); ``values`` are dates, numbers and non-empty text lists, passed as parameters
        of a prepared statement (see `data.engine.Prepared`).
        """
        return self._prepare(name, build, key, values).run(self._be, **values)

    def _query_soon(
        self, name: str, build: Callable[..., Any], key: Any = None, **values: Any
    ) -> Soon:
        """`_query`, started now on a spare connection of a server while this model goes on
        (a change's independent queries at once on PostgreSQL; on DuckDB run now, as
        `_query`): its ``result()`` is the frame."""
        prepared = self._prepare(name, build, key, values)
        return prepared.soon(self._be, getattr(self._source, "spare", None), **values)

    def _prepare(
        self, name: str, build: Callable[..., Any], key: Any, values: dict[str, Any]
    ) -> Prepared:
        prepared = self._prepared.get((name, key))
        if prepared is None:
            prepared = self._prepared[(name, key)] = Prepared(self._be, build, values)
        return prepared

    def filters(self) -> dict[str, list[Any]]:
        """The active filters (those with a choice)."""
        return {f: list(getattr(self, f)) for f in self.FILTERS if getattr(self, f)}

    def output_tables(self) -> dict[str, pd.DataFrame]:
        """Every table behind a chart or table of the page, by name, in declaration order.

        DataFrame outputs as they are; dict outputs of DataFrames (breakdowns, shares) as
        ``<output>_<key>``; then the `LAZY_OUTPUTS`. Exports and `tieout export` write exactly
        these.
        """
        self.settle()
        out: dict[str, pd.DataFrame] = {}
        for name in self.param:
            value = getattr(self, name)
            if isinstance(value, pd.DataFrame):
                out[name] = value
            elif isinstance(value, dict) and value:
                if all(isinstance(v, pd.DataFrame) for v in value.values()):
                    out.update({f"{name}_{k}": v for k, v in value.items()})
        out.update({name: getattr(self, name) for name in self.LAZY_OUTPUTS})
        return out

    def summary(self, tables: bool = False) -> dict[str, Any]:
        """The `tieout kpis` output: domain, period, filters, kpis (and tables)."""
        self.settle()
        start, end = self.period()
        settings = {s: getattr(self, s) for s in self.SETTINGS}
        out: dict[str, Any] = {
            "domain": self.domain,
            "period": {"start": start.isoformat(), "end": end.isoformat()},
            "filters": {**self.filters(), **settings},
            "kpis": dict(self.kpis),
        }
        if tables:
            out["tables"] = self.tables()
        return out


def passes(column: ibis.Value, values: list[str]) -> ibis.BooleanValue:
    """``column`` (as text) is one of ``values``: written as a list literal, so a prepared
    query can take the list as one parameter."""
    return ibis.literal(values, type="array<string>").contains(column.cast("string"))


def set_options(model: param.Parameterized, name: str, values: list[Any]) -> None:
    """Give a ListSelector filter its choices (sorted, as found in the data)."""
    parameter = model.param[name]
    parameter.objects = sorted(v for v in values if v is not None)
    parameter.check_on_set = True  # a value not in the data is refused (typos on the CLI)


__all__ = ["DomainModel", "money", "passes", "set_options"]
