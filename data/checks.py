"""Judging raw tables: every rule of `data.schemas` and the domain rules, as Ibis expressions.

`typed_table` turns a raw table (text cells, or Parquet's own types) into typed columns plus, for
each column, a flag of cells that could not be read; `table_checks` and `domain_checks` list the
problems to look for as boolean expressions; `run_checks` counts each in one query per table and
fetches the first rows of those that occur. Reading the files is `data.intake`'s job; nothing here
touches a file.

Numbers are read per column in the spelling its values show (decimal point or decimal comma,
thousands separators, a currency symbol or code), dates in ISO or day-first / month-first order as
the values show. When the values do not decide, it is an error asking for the setting, never a
guess (`Settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from data.schemas import Column, Table, tables_of

MAX_TEXT_CHARS = 1000
MAX_ROWS_LISTED = 5

#: A currency symbol or a three-letter code before or after an amount.
_CURRENCY = r"^(?:[$€£¥]|[A-Za-z]{3})\s*|\s*(?:[$€£¥]|[A-Za-z]{3})$"
#: Valid spellings under a decimal point / a decimal comma (sign already removed).
#: (A thousands group never follows a leading 0: "0.093" is a decimal, "0,093" too.)
_POINT = r"^(?:[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?|\d+\.\d*|\.\d+|\d+)$"
_COMMA = r"^(?:[1-9]\d{0,2}(?:\.\d{3})+(?:,\d*)?|\d+,\d*|,\d+|\d+)$"
_SEPARATED = r"[.,]"
#: Dates that are not ISO: d/m/y or m/d/y with / . or -, optional time.
_DMY = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(?:[ T].*)?$"
_ISO = r"^\d{4}-\d{1,2}-\d{1,2}"
POINT_EXPECTED = "an amount like 1234.56 or 1,234.56 (decimal point; ',' only between thousands)"
COMMA_EXPECTED = "an amount like 1234,56 or 1.234,56 (decimal comma; '.' only between thousands)"
_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", " %I:%M%p")
#: The same spellings field by field, for engines without a safe cast (PostgreSQL before 16):
#: ISO (the time, fractions and a zone suffix optional, the zone ignored as DuckDB's cast does),
#: and d/m/y or m/d/y with one separator (`_SAME_SEPARATOR`) and the times of `_TIMES`.
_ISO_FIELDS = (
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?)?"
    r"(?:Z|\s?UTC|[+-]\d{2}(?::?\d{2})?)?$"
)
_DMY_FIELDS = (
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})"
    r"(?:\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\s*([AaPp][Mm]))?)?$"
)
_SAME_SEPARATOR = r"^\d{1,2}(?:/\d{1,2}/|\.\d{1,2}\.|-\d{1,2}-)"


@ibis.udf.scalar.builtin
def try_strptime(text: str, formats: dt.Array[dt.string]) -> dt.timestamp:  # type: ignore[empty-body]
    """DuckDB's try_strptime: the first format that reads the text, else NULL."""


#: Engines whose casts raise on text that does not read (no TRY_CAST): each value is checked
#: by pattern and range first (`_parse_when`, `_parse_number`). The checks run on DuckDB (files)
#: and PostgreSQL (``--source-schema``); they are the same rules on both.
_NO_TRY_CAST = ("postgres",)


@dataclass
class Settings:
    """Choices a person makes where the values do not decide (CLI flags, the Data page), and a
    header mapping file; from the environment for a server (``TIEOUT_DECIMAL=,``,
    ``TIEOUT_DATE_ORDER=dayfirst|monthfirst``, ``TIEOUT_MAPPING=FILE``)."""

    decimal: str | None = None  # "." or ","
    dayfirst: bool | None = None
    mapping: str | None = None  # a tieout.toml given outside the data folder
    #: Headers chosen on the Data page: ``{"domain.table": {"Header in file": "column"}}``
    #: (the user's saved choices, `data.paths.user_mapping_file`, unless given).
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def key(self) -> str:
        """What the cache key must cover: the choices and the mapping file's bytes."""
        import hashlib
        import json

        digest = ""
        if self.mapping:
            try:
                with open(self.mapping, "rb") as fh:
                    digest = hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
            except OSError:
                digest = "unreadable"
        chosen = json.dumps(self.headers, sort_keys=True) if self.headers else ""
        return f"decimal={self.decimal};dayfirst={self.dayfirst};mapping={digest}{chosen}"

    @classmethod
    def from_env(cls) -> Settings:
        import os

        from data.intake import read_mapping
        from data.paths import user_mapping_file

        order = os.environ.get("TIEOUT_DATE_ORDER", "").lower()
        saved = user_mapping_file()
        try:
            headers = read_mapping(saved) if saved.is_file() else {}
        except (OSError, ValueError):  # a damaged saved choice is not the data's problem
            headers = {}
        return cls(
            decimal=os.environ.get("TIEOUT_DECIMAL") or None,
            dayfirst={"dayfirst": True, "monthfirst": False}.get(order),
            mapping=os.environ.get("TIEOUT_MAPPING") or None,
            headers=headers,
        )

    def to_env(self) -> dict[str, str]:
        env = {}
        if self.decimal:
            env["TIEOUT_DECIMAL"] = self.decimal
        if self.dayfirst is not None:
            env["TIEOUT_DATE_ORDER"] = "dayfirst" if self.dayfirst else "monthfirst"
        if self.mapping:
            env["TIEOUT_MAPPING"] = self.mapping
        return env


@dataclass(frozen=True)
class RawValue:
    """A check's value shown as the file has it: column ``name`` of the raw table."""

    name: str


@dataclass
class Check:
    """One rule over a table: rows where ``mask`` holds are problems; ``value`` is shown."""

    column: str | None
    expected: str
    mask: ir.BooleanValue
    value: ir.Value | RawValue | None = None
    severity: str = "error"


@dataclass
class Typed:
    """A raw table with typed columns (``<col>``), the raw text (``<col>__raw``) and flags of
    unreadable cells (``<col>__bad``), plus what was decided about each column's spelling."""

    table: ir.Table
    columns: list[str]
    source: ir.Table | None = None  # the raw table (with ``_row``)
    raw_cols: dict[str, str] = field(default_factory=dict)  # column -> raw column
    expected: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ask: dict[str, str] = field(default_factory=dict)  # column -> the setting to ask for
    ask_masks: dict[str, Any] = field(default_factory=dict)  # column -> the values it is about
    mixed: dict[str, str] = field(default_factory=dict)  # column -> why some values fail


def _text(col: ir.Value) -> ir.StringValue:
    """The cell's text without surrounding white space; empty is missing. Trimmed only where
    there is white space to trim: trimming every value was most of typing a text column."""
    s = col.cast("string")
    return ibis.ifelse(s.re_search(r"^\s|\s$"), s.strip(), s).nullif("")


def _number_style(be: Any, raw: ir.Table, cols: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per column: how many values only a decimal point reads, only a decimal comma reads, and
    values with a separator that both read (one query for every number column)."""
    if not cols:
        return {}
    aggs = []
    for name, rc in cols.items():
        t = _text(raw[rc]).re_replace(_CURRENCY, "").re_replace(r"^-", "")
        point, comma = t.re_search(_POINT), t.re_search(_COMMA)
        both = point & comma & t.re_search(_SEPARATED)
        aggs += [
            (point & ~comma).cast("int32").sum().name(f"{name}__p"),
            (comma & ~point).cast("int32").sum().name(f"{name}__c"),
            both.cast("int32").sum().name(f"{name}__b"),
        ]
    row = be.execute(raw.aggregate(aggs)).iloc[0]
    return {n: {k: int(row[f"{n}__{k}"] or 0) for k in ("p", "c", "b")} for n in cols}


def _date_order(be: Any, raw: ir.Table, cols: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per date column: values only day-first reads, only month-first reads, and others."""
    if not cols:
        return {}
    aggs = []
    for name, rc in cols.items():
        t = _text(raw[rc])
        first = t.re_extract(_DMY, 1).try_cast("int64")
        second = t.re_extract(_DMY, 2).try_cast("int64")
        dmy = t.re_search(_DMY)
        aggs += [
            (dmy & (first > 12)).cast("int32").sum().name(f"{name}__d"),
            (dmy & (second > 12)).cast("int32").sum().name(f"{name}__m"),
            (dmy & (first <= 12) & (second <= 12)).cast("int32").sum().name(f"{name}__a"),
        ]
    row = be.execute(raw.aggregate(aggs)).iloc[0]
    return {n: {k: int(row[f"{n}__{k}"] or 0) for k in ("d", "m", "a")} for n in cols}


def _parse_number(t: ir.StringValue, style: str, dialect: str = "duckdb") -> ir.FloatingValue:
    """Text in the column's spelling -> exact decimal (NULL when it does not read)."""
    body = t.re_replace(_CURRENCY, "")
    sign = ibis.ifelse(body.startswith("-"), -1, 1)
    digits = body.re_replace(r"^-", "")
    pattern = _POINT if style == "." else _COMMA
    plain = digits.replace(",", "") if style == "." else digits.replace(".", "").replace(",", ".")
    ok = digits.re_search(pattern)
    if dialect in _NO_TRY_CAST:  # past decimal(38, 9) TRY_CAST gives NULL; a cast would raise
        ok = ok & ~plain.re_search(r"^\d{30}")
    value = ibis.ifelse(ok, plain, ibis.null("string")).try_cast("decimal(38, 9)")
    return value * sign


@dataclass
class Spellings:
    """What the values of each text column show: number styles and date orders (counts)."""

    styles: dict[str, dict[str, int]]
    orders: dict[str, dict[str, int]]


def spellings(
    be: Any, raw: ir.Table, spec: Table, columns: dict[str, str], types: dict[str, str]
) -> Spellings:
    """Count, for each text number and date column, the values that decide its spelling."""
    text_typed = {n: rc for n, rc in columns.items() if "VARCHAR" in types.get(rc, "VARCHAR")}
    number_cols = {
        n: rc
        for n, rc in text_typed.items()
        if n in spec.names and spec.column(n).kind in ("money", "int", "float")
    }
    date_cols = {
        n: rc
        for n, rc in text_typed.items()
        if n in spec.names and spec.column(n).kind in ("date", "timestamp")
    }
    return Spellings(_number_style(be, raw, number_cols), _date_order(be, raw, date_cols))


def typed_table(
    be: Any,
    raw: ir.Table,
    spec: Table,
    columns: dict[str, str],
    types: dict[str, str],
    settings: Settings,
    label: str,
    shown: Spellings,
) -> Typed:
    """Typed columns of ``raw`` for the columns of ``spec`` found in it (see `Typed`).

    A column whose values do not decide its spelling is an error asking for the setting (never
    a guess from other columns).
    """
    styles, orders = shown.styles, shown.orders
    result = Typed(raw, [], source=raw, raw_cols=dict(columns))
    selects: dict[str, ir.Value] = {}
    for name, rc in columns.items():
        col = spec.column(name) if name in spec.names else Column(name, "str", nullable=True)
        value, bad, expected = _typed_column(
            col,
            raw[rc],
            types.get(rc, "VARCHAR"),
            styles.get(name),
            orders.get(name),
            settings,
            label,
            result,
            be.name,
        )
        selects[name] = value
        selects[f"{name}__bad"] = bad
        result.expected[name] = expected
        result.columns.append(name)
        if name in result.ask_masks:
            selects[f"{name}__ask"] = result.ask_masks[name]
    result.table = raw.select(_row=raw["_row"], **selects)
    return result


def _typed_column(
    col: Column,
    raw: ir.Value,
    rtype: str,
    style: dict[str, int] | None,
    order: dict[str, int] | None,
    settings: Settings,
    label: str,
    result: Typed,
    dialect: str = "duckdb",
) -> tuple[ir.Value, ir.BooleanValue, str]:
    text_input = "VARCHAR" in rtype
    t = _text(raw)
    blank = t.isnull()
    if col.kind in ("money", "int", "float"):
        if not text_input:  # Parquet numbers: as they are, if finite
            num = raw.cast("float64")
            bad = raw.notnull() & (num.isnan() | num.isinf())
            value = ibis.ifelse(bad, ibis.null("float64"), num)
            expected = "a finite number"
        else:
            chosen = _choose_number_style(col, style or {}, settings, label, result)
            if col.name in result.ask:
                result.ask_masks[col.name] = t.re_search(_SEPARATED).fill_null(False)
            value = _parse_number(t, chosen, dialect)
            bad = ~blank & value.isnull()
            expected = POINT_EXPECTED if chosen == "." else COMMA_EXPECTED
            if col.kind != "money":
                expected = "a number" + expected[len("an amount") :]
            expected += result.mixed.get(col.name, "")
        if col.kind == "money":
            if not text_input:  # a float of currency units: to the nearest cent, as before
                return (value * 100).round(0).cast("int64"), bad, expected
            cents = (value.cast("decimal(38, 9)") * 100).round(0).cast("int64")
            return cents, bad, expected
        if col.kind == "int":
            frac = value.notnull() & (value.cast("float64") != value.cast("float64").floor())
            return (
                ibis.ifelse(frac, ibis.null("int64"), value.cast("float64").round(0).cast("int64")),
                bad | frac,
                "a whole number",
            )
        return value.cast("float64"), bad, expected.replace("an amount", "a number")
    if col.kind in ("date", "timestamp"):
        if not text_input:
            value = raw.cast("timestamp")
            bad = ibis.literal(False)
        else:
            dayfirst = _choose_date_order(col, order or {}, settings, label, result)
            if col.name in result.ask:
                result.ask_masks[col.name] = t.re_search(_DMY).fill_null(False)
            value = _parse_when(t, dayfirst, dialect)
            bad = ~blank & value.isnull()
        if col.kind == "date":
            return value.cast("date"), bad, "a date like 2025-01-31 (or 31/01/2025)"
        return value, bad, "a timestamp like 2025-01-31 14:05:00"
    too_long = t.length() > MAX_TEXT_CHARS
    if col.kind == "enum":
        cases = [(t.lower() == a.lower(), ibis.literal(a)) for a in col.allowed]
        mapped = ibis.cases(*cases, else_=ibis.null("string"))
        return mapped, (~blank & mapped.isnull()), "one of " + ", ".join(col.allowed)
    return (  # a value too long is an error, so the table holding it is never stored
        t,
        too_long.fill_null(False),
        f"text of at most {MAX_TEXT_CHARS:,} characters",
    )


def _parse_when(t: ir.StringValue, dayfirst: bool | None, dialect: str) -> ir.TimestampValue:
    """Text -> timestamp: ISO, else d/m/y or m/d/y in the column's order (both, day-first
    first, when no order is known); NULL when it does not read.

    DuckDB casts (TRY_CAST, try_strptime with `_formats`); an engine without a safe cast reads
    the same spellings field by field and builds the value only where every field is in range
    (a day past the month's end, hour 25 or minute 60 is NULL there as in DuckDB).
    """
    iso = t.re_search(_ISO)
    if dialect not in _NO_TRY_CAST:
        formats = ibis.literal(_formats(dayfirst), type="array<string>")
        return ibis.ifelse(iso, t.try_cast("timestamp"), try_strptime(t, formats))

    def num(pattern: str, group: int) -> ir.IntegerValue:
        return t.re_extract(pattern, group).nullif("").cast("int32")

    def valid_day(y: ir.IntegerValue, m: ir.IntegerValue, d: ir.IntegerValue) -> ir.BooleanValue:
        leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
        last = ibis.cases(
            (m == 2, ibis.ifelse(leap, 29, 28)), (m.isin([4, 6, 9, 11]), 30), else_=31
        )
        return (y >= 1) & m.between(1, 12) & (d >= 1) & (d <= last)

    # ISO: hour 24 only as 24:00:00 (the next midnight), fractions to the microsecond
    y, m, d = num(_ISO_FIELDS, 1), num(_ISO_FIELDS, 2), num(_ISO_FIELDS, 3)
    hh, mi, ss = (num(_ISO_FIELDS, g).fill_null(0) for g in (4, 5, 6))
    frac = t.re_extract(_ISO_FIELDS, 7).fill_null("").substr(0, 6).rpad(6, "0").cast("int32")
    clock = ((hh <= 23) & (mi <= 59) & (ss <= 59)) | ((hh == 24) & (mi == 0) & (ss == 0))
    iso_ok = t.re_search(_ISO_FIELDS) & valid_day(y, m, d) & clock & ((hh < 24) | (frac == 0))
    iso_value = ibis.timestamp(y, m, d, hh, mi, ss) + frac.as_interval("us")

    # d/m/y or m/d/y, with the times of `_TIMES` (12-hour: 1-12 with AM/PM)
    a, b, year = num(_DMY_FIELDS, 1), num(_DMY_FIELDS, 2), num(_DMY_FIELDS, 3)
    # a two-digit year as DuckDB's %y reads it: 00-68 in the 2000s, 69-99 in the 1900s
    two_digit = t.re_extract(_DMY_FIELDS, 3).length() == 2
    year = ibis.ifelse(two_digit, year + ibis.ifelse(year < 69, 2000, 1900), year)
    hh, mi, ss = (num(_DMY_FIELDS, g).fill_null(0) for g in (4, 5, 6))
    ampm = t.re_extract(_DMY_FIELDS, 7).nullif("").upper()
    clock = ibis.ifelse(ampm.isnull(), hh <= 23, hh.between(1, 12)) & (mi <= 59) & (ss <= 59)
    hour = ibis.ifelse(ampm.isnull(), hh, hh % 12 + ibis.ifelse(ampm == "PM", 12, 0))
    dmy_ok = t.re_search(_DMY_FIELDS) & t.re_search(_SAME_SEPARATOR) & clock
    orders = [(a, b), (b, a)] if dayfirst is None else [(a, b) if dayfirst else (b, a)]
    cases = [
        (dmy_ok & valid_day(year, month, day), ibis.timestamp(year, month, day, hour, mi, ss))
        for day, month in orders
    ]
    return ibis.cases(
        (iso, ibis.ifelse(iso_ok, iso_value, ibis.null("timestamp"))),
        *cases,
        else_=ibis.null("timestamp"),
    )


def _formats(dayfirst: bool | None) -> list[str]:
    dates = []
    for sep in ("/", ".", "-"):
        for year in ("%y", "%Y"):  # "25" as 2025 (%Y would read it as year 25)
            if dayfirst is not False:
                dates.append(f"%d{sep}%m{sep}{year}")
            if dayfirst is not True:
                dates.append(f"%m{sep}%d{sep}{year}")
    return [d + t for d in dates for t in _TIMES]


def _choose_number_style(
    col: Column, counts: dict[str, int], settings: Settings, label: str, result: Typed
) -> str:
    """The column's decimal separator as its values show (values in the other spelling then
    fail to read, named with their rows); when every value reads both ways (like '1,234'), the
    setting, else an error asking for it."""
    point, comma, both = counts.get("p", 0), counts.get("c", 0), counts.get("b", 0)
    if point and comma:
        chosen = "." if point >= comma else ","
        how = None
        other = "decimal comma" if chosen == "." else "decimal point"
        result.mixed[col.name] = (
            f"; this column mixes spellings: {min(point, comma):,} value(s) read only with a "
            f"{other}"
        )
    elif comma:
        chosen, how = ",", "decided by the values"
    elif point or not both:
        chosen, how = ".", ("decided by the values" if point and both else None)
    elif settings.decimal in (".", ","):
        chosen, how = settings.decimal, "as set"
    else:
        chosen, how = ".", None
        result.ask[col.name] = (
            "a decimal separator the values decide: every value like '1,234' reads both "
            "ways (set it with --decimal . or --decimal , or on the Data page)"
        )
    if how and chosen == ",":
        result.notes.append(f"{col.name}: decimal comma, '.' thousands ({how})")
    elif how:
        result.notes.append(f"{col.name}: decimal point, ',' thousands ({how})")
    return chosen


def _choose_date_order(
    col: Column, counts: dict[str, int], settings: Settings, label: str, result: Typed
) -> bool | None:
    """The column's date order as its values show (a day over 12 decides); when no value
    decides, the setting, else an error asking for it."""
    day, month, either = counts.get("d", 0), counts.get("m", 0), counts.get("a", 0)
    if day and month:
        result.ask[col.name] = (
            "one date order for the column: some values are day-first (31/01), others "
            "month-first (01/31); set it with --dayfirst or --monthfirst or on the Data page"
        )
        return True
    if day:
        result.notes.append(f"{col.name}: day-first dates (decided by the values)")
        return True
    if month:
        result.notes.append(f"{col.name}: month-first dates (decided by the values)")
        return False
    if either and settings.dayfirst is not None:
        order = "day-first" if settings.dayfirst else "month-first"
        result.notes.append(f"{col.name}: {order} dates (as set)")
        return settings.dayfirst
    if either:
        result.ask[col.name] = (
            "a date order the values decide: every value like 03/04/2025 reads both ways "
            "(set it with --dayfirst or --monthfirst, or on the Data page)"
        )
    return None


def table_checks(be: Any, spec: Table, typed: Typed, rows: int, present: list[str]) -> list[Check]:
    """Column and key rules of one table."""

    def be_count_repeats(keyed: ir.Table, key: list[str]) -> int:
        if len(key) == 1:  # COUNT(DISTINCT) in one pass (a DISTINCT subquery took 8x longer)
            row = be.execute(keyed.aggregate(n=keyed.count(), d=keyed[key[0]].nunique()))
            return int(row["n"].iloc[0]) - int(row["d"].iloc[0])
        groups = keyed.group_by(key).agg(n=keyed.count())
        return int(be.execute(groups.filter(groups.n > 1).count()))

    t = typed.table
    checks = [Check(n, msg, t[f"{n}__ask"], RawValue(n)) for n, msg in typed.ask.items()]
    for name in typed.columns:
        if name not in spec.names:
            continue
        col = spec.column(name)
        expected = typed.expected[name]
        checks.append(Check(name, expected, t[f"{name}__bad"], RawValue(name)))
        if not col.nullable:
            checks.append(
                Check(
                    name,
                    f"a value ({expected}); the cell is empty",
                    t[name].isnull() & ~t[f"{name}__bad"],
                    RawValue(name),
                )
            )
        if col.min is not None or col.max is not None:
            scale = 100 if col.kind == "money" else 1
            value = t[name].cast("float64")
            mask = ibis.literal(False)
            parts = []
            if col.min is not None:
                mask = mask | (value < col.min * scale)
                parts.append(f">= {col.min:g}")
            if col.max is not None:
                mask = mask | (value > col.max * scale)
                parts.append(f"<= {col.max:g}")
            checks.append(
                Check(name, f"a value {' and '.join(parts)}", mask.fill_null(False), RawValue(name))
            )
    if spec.key and all(k in typed.columns for k in spec.key):
        key = list(spec.key)
        keyed = t.filter(ibis.and_(*(t[k].notnull() for k in key)))
        repeats = be_count_repeats(keyed, key)
        if repeats:  # only then the (costly) window that finds the repeating rows
            n = ibis.row_number().over(group_by=[keyed[k] for k in key], order_by=keyed["_row"])
            dup_t = keyed.mutate(_dup=n)
            raw_key = (
                dup_t[key[0]].cast("string")
                if len(key) == 1
                else ibis.literal(" / ").join([dup_t[k].cast("string") for k in key])
            )
            check = Check(
                ", ".join(key),
                "a unique key (this value repeats an earlier row)",
                dup_t["_dup"] > 0,
                raw_key,
            )
            check.table = dup_t  # type: ignore[attr-defined]
            checks.append(check)
    return checks


def run_checks(
    be: Any,
    table: ir.Table,
    checks: list[Check],
    label: str,
    offset: int,
    typed: Typed | None = None,
) -> list[Any]:
    """Every check's count in one query, and the first rows of those that occur."""
    from data.validate import Problem

    if not checks:
        return []
    problems: list[Problem] = []
    groups: dict[int, tuple[ir.Table, list[tuple[int, Check]]]] = {}
    for i, check in enumerate(checks):
        t = getattr(check, "table", table)
        groups.setdefault(id(t), (t, []))[1].append((i, check))
    counts: dict[int, int] = {}
    for t, items in groups.values():
        per_row = [(i, c) for i, c in items if not isinstance(c.mask, ir.Scalar)]
        counts.update({i: 1 for i, c in items if isinstance(c.mask, ir.Scalar)})
        if not per_row:
            continue
        aggs = [c.mask.fill_null(False).cast("int32").sum().name(f"n{i}") for i, c in per_row]
        row = be.execute(t.aggregate(aggs)).iloc[0]
        counts.update({i: int(row[f"n{i}"] or 0) for i, _ in per_row})
    for i, check in enumerate(checks):
        n = counts[i]
        if not n:
            continue
        t = getattr(check, "table", table)
        if isinstance(check.mask, ir.Scalar) or check.value is None:
            problems.append(
                Problem(label, check.column, check.expected, (), 0, None, check.severity)
            )
            continue
        hits = t.filter(check.mask.fill_null(False)).order_by("_row")
        if isinstance(check.value, RawValue):  # as the file has it: from the raw table
            assert typed is not None and typed.source is not None
            first = be.execute(hits.select(r=hits["_row"]).limit(MAX_ROWS_LISTED))
            src = typed.source
            rc = typed.raw_cols[check.value.name]
            found = be.execute(
                src.filter(src["_row"].isin([int(r) for r in first["r"]])).select(
                    r=src["_row"], v=src[rc].cast("string")
                )
            )
            first = first.merge(found, on="r", how="left")
        else:
            first = be.execute(
                hits.select(r=hits["_row"], v=check.value.cast("string")).limit(MAX_ROWS_LISTED)
            )
        rows = tuple(int(r) + offset for r in first["r"])
        v = first["v"].iloc[0]
        value = "" if v is None or v != v else str(v)[:80]
        problems.append(
            Problem(label, check.column, check.expected, rows, n, value, check.severity)
        )
    return problems


def domain_checks(be: Any, domain: str, tables: dict[str, ir.Table]) -> dict[str, list[Check]]:
    """Rules across columns and tables, by the table they are reported on."""
    out: dict[str, list[Check]] = {}

    def add(table: str, check: Check) -> None:
        out.setdefault(table, []).append(check)

    for spec in tables_of(domain):
        if spec.name not in tables:
            continue
        t = tables[spec.name]
        for col in spec.columns:
            if not col.ref or col.name not in t.columns:
                continue
            target_table, target_col = col.ref.split(".")
            if not _has(tables, target_table, target_col):
                continue
            known = tables[target_table][target_col]
            add(
                spec.name,
                Check(
                    col.name,
                    f"an id present in {target_table}.{target_col}",
                    t[col.name].notnull() & ~t[col.name].isin(known),
                    t[col.name],
                ),
            )
    from data.domains import get, resolve  # the registry names this module's rules

    for name, check in resolve(get(domain).rules)(tables, be):
        add(name, check)
    return out


# ------------------------------------------------------------------ rules of each domain
# Each takes the domain's read tables (by name) and the backend, and returns the checks it adds,
# with the table each is reported on. A rule whose columns are missing adds nothing (the
# missing column is reported by the column checks).


def _has(tables: dict[str, ir.Table], table: str, *cols: str) -> bool:
    return table in tables and set(cols) <= set(tables[table].columns)


def payments_rules(tables: dict[str, ir.Table], be: Any) -> list[tuple[str, Check]]:
    """A reason on declined rows only; one currency (no fx conversion yet)."""
    out: list[tuple[str, Check]] = []
    if _has(tables, "transactions", "status", "decline_reason"):
        tx = tables["transactions"]
        declined = (tx.status == "declined").fill_null(False)
        has_reason = tx.decline_reason.notnull()
        out.append(
            (
                "transactions",
                Check(
                    "decline_reason",
                    "a decline reason on every declined row",
                    declined & ~has_reason,
                    tx.decline_reason,
                ),
            )
        )
        out.append(
            (
                "transactions",
                Check(
                    "decline_reason",
                    "an empty decline reason on approved rows",
                    ~declined & has_reason & tx.status.notnull(),
                    tx.decline_reason,
                ),
            )
        )
    if _has(tables, "transactions", "currency"):
        tx = tables["transactions"]
        counts = tx.filter(tx.currency.notnull()).group_by("currency").agg(n=ibis._.count())
        top = be.execute(counts.order_by([ibis.desc("n"), "currency"]).limit(2))
        if len(top) > 1:  # fx conversion is not implemented: unconverted sums would be wrong
            main = str(top["currency"].iloc[0])
            out.append(
                (
                    "transactions",
                    Check(
                        "currency",
                        f"one currency ({main}); fx_rates conversion is not supported yet, so "
                        "convert the amounts before loading",
                        tx.currency.notnull() & (tx.currency != main),
                        tx.currency,
                    ),
                )
            )
    return out


def reconciliation_rules(tables: dict[str, ir.Table], be: Any) -> list[tuple[str, Check]]:
    """One channel per campaign in the spend table."""
    if not _has(tables, "marketing_spend", "campaign", "channel"):
        return []
    sp = tables["marketing_spend"]
    multi = sp.group_by("campaign").agg(n=sp.channel.nunique()).filter(lambda g: g.n > 1).campaign
    return [
        (
            "marketing_spend",
            Check("channel", "one channel per campaign", sp.campaign.isin(multi), sp.campaign),
        )
    ]


def influencer_rules(tables: dict[str, ir.Table], be: Any) -> list[tuple[str, Check]]:
    """An influencer on every Influenced sale; an Order commission is a fraction."""
    out: list[tuple[str, Check]] = []
    if _has(tables, "tracking_data", "attribution_type", "influencer_id"):
        tr = tables["tracking_data"]
        out.append(
            (
                "tracking_data",
                Check(
                    "influencer_id",
                    "an influencer_id on every Influenced sale",
                    (tr.attribution_type == "Influenced").fill_null(False)
                    & tr.influencer_id.isnull(),
                    tr.influencer_id,
                ),
            )
        )
    if _has(tables, "payouts", "basis", "rate"):
        po = tables["payouts"]
        out.append(
            (
                "payouts",
                Check(
                    "rate",
                    "a commission fraction between 0 and 1 for basis Order",
                    (po.basis == "Order").fill_null(False) & (po.rate > 1).fill_null(False),
                    po.rate,
                ),
            )
        )
    return out
