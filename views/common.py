"""Formatting and display helpers shared by the pages. Formatting only: no KPI arithmetic.

Every piece of user text goes through `esc` before it reaches HTML; tables use Tabulator's
``plaintext`` formatter for text columns, which escapes.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import time
import weakref
from decimal import Decimal
from typing import Any

import holoviews as hv
import pandas as pd
import panel as pn
import param

from models import presentation

#: Older kind names the pages used, and the presentation kinds they are.
_KINDS = {"rate": "percent", "share": "percent", "ratio": "multiple"}


def esc(text: Any) -> str:
    """HTML-escape anything shown from the data."""
    return html.escape("" if text is None else str(text), quote=True)


class SafeMultiChoice(pn.widgets.MultiChoice):
    """A MultiChoice whose options are shown as text.

    Bokeh's MultiChoice hands option labels to Choices.js, which renders them as HTML: a value
    like ``<img src=x onerror=...>`` in the data would run in the browser. Options go to the
    browser as (value, escaped label) pairs; the values, and so the filter, are unchanged.
    """

    def _process_param_change(self, params: dict[str, Any]) -> dict[str, Any]:
        props = super()._process_param_change(params)
        if "options" in props:
            props["options"] = [(str(v), esc(v)) for v in props["options"]]
        return props


def period_widgets(model: Any) -> list[Any]:
    """From and To pickers, the period presets and *Clear filters*, and what the period is
    compared with (*Compare with*: previous period or same period last year), for a page's
    sidebar."""
    from models.base import PERIOD_PRESETS

    presets = pn.widgets.MenuButton(
        label="Period presets",
        items=list(PERIOD_PRESETS),
        sizing_mode="stretch_width",
    )
    presets.on_click(lambda e: model.use_preset(e.new))
    clear = pn.widgets.Button(label="Clear filters", sizing_mode="stretch_width")
    clear.on_click(lambda _e: model.clear_filters())
    return [
        pn.widgets.DatePicker.from_param(
            model.param.start, name="From", sizing_mode="stretch_width"
        ),
        pn.widgets.DatePicker.from_param(model.param.end, name="To", sizing_mode="stretch_width"),
        pn.Row(presets, clear, sizing_mode="stretch_width"),
        pn.widgets.Select.from_param(
            model.param.compare,
            name="Compare with",
            options={presentation.code_label(v): v for v in model.param.compare.objects},
            sizing_mode="stretch_width",
        ),
    ]


#: While a change runs, the page's content is dimmed (a CSS variable inherited through every
#: shadow root, read by `STALE_CSS`); the model's next computation (`dim_while_busy`) undims it,
#: and its charts and tables (`_PART_STALE_CSS`, a second variable) once they have followed.
#: A value that arrives in the same update as the new numbers (a preset sets the dates) does
#: not dim them again; a change that never comes back undims after 8 s.
_BUSY_JS = """
if (window.tieoutDone) return;
document.body.style.setProperty('--tieout-stale', '0.45');
document.body.style.setProperty('--tieout-later', '0.45');
clearTimeout(window.tieoutBusyTimer);
window.tieoutBusyTimer = setTimeout(() => {
  document.body.style.removeProperty('--tieout-stale');
  document.body.style.removeProperty('--tieout-later');
}, 8000);
"""
_DONE_JS = """
document.body.style.removeProperty('--tieout-stale');
clearTimeout(window.tieoutBusyTimer);
window.tieoutDone = true;
setTimeout(() => { window.tieoutDone = false; }, 0);
"""
_SETTLED_JS = "document.body.style.removeProperty('--tieout-later');"
STALE_CSS = ":host { opacity: var(--tieout-stale, 1); transition: opacity 0.12s; }"


def dim_while_busy(model: Any, controls: Any) -> pn.Column:
    """Dim the page's content (styled with `STALE_CSS`) from a change of any widget in
    ``controls`` (a sidebar column) until the model has computed again; every widget there is
    made as wide as the sidebar; its charts and tables stay dim until they have followed
    (`later`). Returns the (invisible) widgets that carry the model's computation count to the
    browser: put them on the page."""
    for widget in controls.select(pn.widgets.Widget):
        # as wide as the sidebar: a field of its default width (300 px) widened the sidebar's
        # column past the sidebar, which cut off the number fields' spin buttons
        widget.sizing_mode = "stretch_width"
        if isinstance(widget, pn.widgets.MenuButton | pn.widgets.Button):
            widget.js_on_click(code=_BUSY_JS)
        elif "value" in widget.param:
            widget.jscallback(value=_BUSY_JS)
    done = pn.widgets.IntInput(value=model.computations, visible=False, disabled=True)
    settled = pn.widgets.IntInput(value=model.computations, visible=False, disabled=True)

    def settle(event: Any) -> None:
        done.value = event.new

        def job() -> None:  # once the charts and tables have followed (`later`)
            settled.value = done.value

        if not later(settled, job, settle=True):
            job()

    model.param.watch(settle, "computations")
    defer_rest(model)
    done.jscallback(value=_DONE_JS)
    settled.jscallback(value=_SETTLED_JS)
    return pn.Column(done, settled, visible=False)


def defer_rest(model: Any) -> None:
    """Have ``model`` publish a change's KPIs at once and its other outputs (series, tables)
    after the cards have reached the browser (`DomainModel.defer`, run through `later`): the
    cards no longer wait for the tables, and a change that comes in meanwhile skips them."""

    def job() -> None:
        try:
            model.settle()
        except Exception as exc:  # as a change's error: a notification, the outputs stay
            handler = pn.config.exception_handler
            if handler is None:
                raise
            handler(exc)

    model.defer = lambda _settle: later(model, job)


def data_page_button(label: str = "Open the Data page") -> pn.widgets.Button:
    """A button to the Data page (validation report, files in use), keeping the theme."""
    # primary, not warning: a yellow outline on white hardly reads
    button = pn.widgets.Button(label=label, color="primary", variant="outline", margin=(0, 0, 6, 5))
    button.js_on_click(
        code=(
            "const u = new URL(window.location.href);"
            "const n = new URL(window.location.pathname, window.location.origin);"
            "n.searchParams.set('page', 'data');"
            "const t = u.searchParams.get('theme');"
            "if (t) n.searchParams.set('theme', t);"
            "window.location.href = n.toString();"
        )
    )
    return button


def choice_filter(parameter: param.Parameter, name: str) -> SafeMultiChoice:
    """The sidebar filter of a model's list parameter (options shown as text)."""
    return SafeMultiChoice.from_param(parameter, name=name, sizing_mode="stretch_width")


def model_filters(model: Any, names: dict[str, str] | None = None) -> list[SafeMultiChoice]:
    """The sidebar filters of every model filter, labelled in words, whose options narrow each
    other (`DomainModel.options_for`: only the products of the chosen brands, ...)."""
    widgets = {
        p: choice_filter(
            model.param[p], name=(names or {}).get(p) or p.replace("_", " ").capitalize()
        )
        for p in model.FILTERS
    }

    def narrow() -> None:
        for p, w in widgets.items():
            options = model.options_for(p)
            if list(w.options) != options:
                w.options = options

    def narrow_later(*_: Any) -> None:  # after the change's cards (`later`)
        if not later(narrow, narrow):
            narrow()

    model.param.watch(narrow_later, list(model.FILTERS))
    narrow()
    return list(widgets.values())


def fmt(value: Any, kind: str) -> str:
    """A value for display (`models.presentation.full`); ``n/a`` for null (a ratio with a zero
    denominator)."""
    return presentation.full(value, _KINDS.get(kind, kind))


def _as_float(v: Any) -> float | None:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    if isinstance(v, Decimal | int | float):
        return float(v)
    return None


_GREY = "#6e7781"


def _delta_html(colour: str, text: str) -> str:
    return f'<div class="delta" style="color:{colour};font-size:0.85em">{esc(text)}</div>'


def card_html(
    key: str,
    value: Any,
    prev: Any = None,
    good_when_up: bool | None = True,
    compared: dict[str, Any] | None = None,
    missing_prev: bool = False,
) -> str:
    """One KPI card: label and value as `models.presentation` declares them, the change against
    the compared period coloured good/bad (not up/down; ``good_when_up=None``: neither, as for
    spend, grey) and named (``vs previous quarter``), or
    in words when there is nothing to compare with; the definition and the compared period's
    dates in a tooltip. ``compared``: `DomainModel.comparison` (None: "previous period")."""
    f = presentation.field(key, compared["name"] if compared else None)
    c = compared or {
        "coverage": "all",
        "short": "vs previous period",
        "missing": "no data for the previous period",
        "tooltip": "Compared with the previous period.",
        "name": "previous period",
    }
    cur, old = _as_float(value), _as_float(prev)
    if value is None:
        delta = ""
    elif missing_prev:  # a KPI of the period's end only (churn risk): no comparison, say why
        delta = _delta_html(_GREY, "as of the period's end, no comparison")
    elif c["coverage"] == "none":  # never "$0.00" for a period the data does not reach
        delta = _delta_html(_GREY, c["missing"])
    elif old is None:
        delta = _delta_html(_GREY, f"not defined for the {c['name']}")
    else:
        assert cur is not None
        if f.kind == "percent":
            diff, text = (cur - old) * 100, f"{(cur - old) * 100:+.1f} pp"
        elif f.kind in ("pct", "bps"):
            diff, text = cur - old, f"{cur - old:+.1f}{' pp' if f.kind == 'pct' else ' bps'}"
        elif old != 0:
            diff = (cur - old) / abs(old) * 100
            text = f"{diff:+.1f}%"
        else:  # up from nothing: a percent change has no meaning
            diff, text = cur, ("from 0" if cur else "no change")
        if text.startswith(("+0.0", "-0.0")):  # rounds to nothing: "0.0 pp", not "-0.0 pp"
            diff, text = 0.0, text[1:]
        good = (diff > 0) == good_when_up if diff != 0 and good_when_up is not None else None
        green, red = ("#3fb950", "#f85149") if _dark() else ("#1a7f37", "#cf222e")  # contrast
        colour = green if good else (red if good is False else _GREY)
        arrow = "▲" if diff > 0 else ("▼" if diff < 0 else "•")
        delta = _delta_html(colour, f"{arrow} {text} {c['short']}")
    tip = f.definition + ("" if missing_prev else " " + c["tooltip"])
    return (
        f'<div class="kpi-card" title="{esc(tip.strip())}">'
        f'<div class="kpi-label">{esc(f.label)}</div>'
        f'<div class="kpi-value">{esc(presentation.full(value, f.kind))}</div>{delta}</div>'
    )


#: Cards' look, light and dark (the template's text colour; a border that shows on both).
CARDS_CSS = """
.kpi-row { display: flex; flex-wrap: wrap; gap: 10px; }
.kpi-card { padding: 8px 12px; border: 1px solid rgba(128, 128, 128, 0.45); border-radius: 8px;
            min-width: 170px; flex: 0 1 200px; }
.kpi-label { font-size: 0.8em; opacity: 0.8; }
.kpi-value { font-size: 1.5em; font-weight: 600; white-space: nowrap; }
"""


def cards_html(
    specs: list[tuple[str, bool | None]],
    kpis: dict[str, Any],
    prev: dict[str, Any],
    model: Any = None,
    computations: int = 0,
) -> str:
    """A row of cards from (KPI key, good when up; None: neither) specs, each naming what it
    is compared with (``model.comparison()``; the page's `period_line` names the period).
    ``computations``: the model's count, bound by the pages so the cards follow every change
    (another comparison whose figures are equal, all zero before the data, sends no new
    ``kpis_prev``)."""
    compared = None
    if model is not None:
        try:
            compared = model.comparison()
        except ValueError:  # a period that ends before it starts: the cards say nothing more
            pass
    body = "".join(
        card_html(key, kpis.get(key), prev.get(key), up, compared, key not in prev)
        for key, up in specs
    )
    return f'<style>{CARDS_CSS}</style><div class="kpi-row">{body}</div>'


def period_text_html(model: Any, computations: int = 0) -> str:
    """One line naming the period and what it is compared with (``model.comparison()``),
    empty for a period that ends before it starts (the date fields say so)."""
    try:
        caption = model.comparison()["caption"]
    except ValueError:
        return ""
    return f'<div style="font-size: 0.9em; opacity: 0.85">{esc(caption)}</div>'


def period_line(model: Any) -> pn.pane.HTML:
    """The period line under a page's title, above its tabs: every tab's figures are of this
    period, so it is in sight on each (not only above the cards)."""
    return pn.pane.HTML(
        pn.bind(period_text_html, model, model.param.computations),
        sizing_mode="stretch_width",
        margin=(0, 10, 4, 10),
    )


def for_display(df: pd.DataFrame | None) -> pd.DataFrame:
    """Exact Decimal money columns as floats for the browser (display only; exports use the
    model's values)."""
    if df is None:
        return pd.DataFrame()
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_datetime64_any_dtype(col):  # dates as ISO text
            out[c] = col.dt.strftime("%Y-%m-%d").fillna("")
            continue
        if presentation.field(c).kind == "points":  # a fraction's change, in points
            out[c] = pd.to_numeric(col, errors="coerce") * 100
            continue
        if col.dtype != object:
            continue
        present = col[col.notna()]
        if present.empty:
            continue
        first = present.iloc[0]  # model columns hold one kind of value each
        if c in presentation.CODE_COLUMNS:  # known codes in words, others as given
            out[c] = col.map(presentation.code_label)
        elif isinstance(first, dt.date):  # dates as ISO text, missing ones blank
            out[c] = [
                v.isoformat()[:10] if isinstance(v, dt.date) and v is not pd.NaT else ""
                for v in col
            ]
        elif isinstance(first, Decimal) and present.map(lambda v: isinstance(v, Decimal)).all():
            out[c] = _floats(col)
    return out


def _floats(col: pd.Series) -> pd.Series:
    return pd.to_numeric(col.map(lambda v: None if v is None else float(v)))


def money_floats(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose exact Decimal money columns are floats, for a chart to plot (the
    other columns as the model gives them, e.g. a change in points stays a fraction)."""
    out = df.copy()
    for c in out.columns:
        present = out[c][out[c].notna()]
        if out[c].dtype == object and len(present) and isinstance(present.iloc[0], Decimal):
            out[c] = _floats(out[c])
    return out


#: Numeral formats of table cells by kind; a missing value shows as ``n/a`` (a ratio with a zero
#: denominator), never ``NaN`` (Tabulator's own money formatter writes NaN as it is).
_TABLE_FORMATS = {
    "money": "$0,0.00",
    "count": "0,0",
    "index": "0,0",
    "percent": "0.0%",
    "coef": "0.000",
}
#: Kinds written with a unit after the number, and their decimals.
_SUFFIXES = {"pct": ("%", 1), "points": (" pp", 1), "bps": (" bps", 1), "multiple": ("x", 2)}


def _suffixed(suffix: str, decimals: int, signed: bool = False) -> Any:
    """A cell formatter for numbers with a unit (``262.4 bps``; ``signed``: ``+74.7%`` for a
    rise, as the cards write changes); only numbers reach it (the template never writes text
    from the data)."""
    from bokeh.models.widgets.tables import HTMLTemplateFormatter

    plus = "(v > 0 ? '+' : '') + " if signed else ""
    return HTMLTemplateFormatter(
        template=(
            "<% var v = Number(value); %><%= (value === null || isNaN(v)) ? 'n/a' : "
            f"{plus}v.toLocaleString('en-US', {{minimumFractionDigits: {decimals}, "
            f"maximumFractionDigits: {decimals}}}) + '{suffix}' %>"
        )
    )


def number_formatter(kind: str, values: pd.Series | None = None, signed: bool = False) -> Any:
    """How a table shows a number column of ``kind`` (values stay numbers, so they sort);
    ``signed``: a change, written with its sign (``+74.7%``, ``-0.4 pp``)."""
    from bokeh.models.widgets.tables import NumberFormatter

    if kind in _SUFFIXES:
        return _suffixed(*_SUFFIXES[kind], signed=signed)
    whole = values is not None and pd.api.types.is_integer_dtype(values)
    fmt = _TABLE_FORMATS.get(kind, "0,0" if whole else "0,0.00")  # undeclared: 2 decimals
    return NumberFormatter(format=fmt, nan_format="n/a", null_format="n/a")


def _titles(columns: Any, compared: str | None = None) -> dict[str, str]:
    """Column titles in words; those of the compared period's figures name it (``compared``:
    `DomainModel.compared_name`, ``GPV, same period last year``)."""
    return {c: presentation.label(c, compared) for c in columns}


def _compared(widget: Any) -> str | None:
    """What the period of a `table`'s model is compared with, in words (None: no model)."""
    model = getattr(widget, "tieout_model", None)
    return None if model is None else model.compared_name()


def _column_options(shown: pd.DataFrame, compared: str | None = None) -> dict[str, Any]:
    """Titles in words (`_titles`), each column's formatter (text escaped, numbers by their
    kind), the first column frozen."""
    text_cols = [
        c
        for c in shown.columns
        if (
            shown[c].dtype == object
            or pd.api.types.is_string_dtype(shown[c])
            or isinstance(shown[c].dtype, pd.CategoricalDtype)
        )
        # a column with no value yet (a table drawn empty) is formatted as declared, so its
        # money is money from the start, whatever the type of its first rows' column
        and not (presentation.field(c).kind != "text" and shown[c].isna().all())
    ]
    formatters: dict[str, Any] = {c: {"type": "plaintext"} for c in text_cols}
    for c in shown.columns:
        if c not in text_cols:
            change = "_change" in str(c)  # gpv_change_pct, approval_rate_change: signed
            formatters[c] = number_formatter(presentation.field(c).kind, shown[c], change)
    return dict(
        formatters=formatters,
        # numbers right-aligned, so their decimals line up
        text_align={c: "right" for c in shown.columns if c not in text_cols},
        titles=_titles(shown.columns, compared),
        frozen_columns=list(shown.columns[:1]),
    )


#: Tabulator's footer (pagination) and header filters follow the dark theme (left light grey
#: and white by Panel's dark styling); `!important` as Tabulator's own stylesheet comes later.
DARK_TABLE_CSS = """
.tabulator .tabulator-footer { background-color: #2b3035 !important; color: #e0e0e0 !important;
                               border-top: 1px solid #495057 !important; }
.tabulator .tabulator-footer .tabulator-page { background: transparent !important;
  color: #e0e0e0 !important; border: 1px solid #495057 !important; }
.tabulator .tabulator-footer .tabulator-page.active { background: #0d6efd !important;
  color: #ffffff !important; }
.tabulator .tabulator-footer .tabulator-page:disabled { color: #868e96 !important; }
.tabulator .tabulator-header .tabulator-col .tabulator-header-filter input {
  background-color: #212529 !important; color: #e0e0e0 !important;
  border: 1px solid #495057 !important; }
"""


def table(df: pd.DataFrame | None, model: Any = None, **kwargs: Any) -> pn.widgets.Tabulator:
    """A sortable, filterable table; text cells escaped (plaintext formatter).

    The model's own frame is kept beside the displayed one, so downloads export the model's
    exact values (not the display floats) for the rows the user sees. ``model``: the domain
    model whose frames it shows, so the titles of the compared period's columns name what it
    compares with (``GPV, same period last year``) and follow the choice.
    """
    shown = for_display(df)
    compared = None if model is None else model.compared_name()
    options: dict[str, Any] = dict(
        pagination="local",
        page_size=15,
        show_index=False,
        disabled=True,
        sizing_mode="stretch_width",
        header_filters=kwargs.pop("header_filters", False),
        # as wide as its frame; columns past it scroll inside, the first one frozen
        layout="fit_data_fill",
        **_column_options(shown, compared),
    )
    options.update(kwargs)
    options["stylesheets"] = [*options.get("stylesheets", []), _PART_STALE_CSS]
    if _dark():
        options["stylesheets"] = [*options["stylesheets"], DARK_TABLE_CSS]
    options["stylesheets"] = _paged(options["stylesheets"], shown, options.get("page_size"))
    widget = _Table(shown, **options)
    widget.tieout_frame = df
    widget.tieout_model = model
    return widget


#: A table whose rows fit on one page has no page bar (First, Prev, 1, Next, Last).
_ONE_PAGE_CSS = ".tabulator-footer { display: none; }"


def _paged(stylesheets: list[Any], shown: pd.DataFrame, page_size: int | None) -> list[Any]:
    """``stylesheets`` with `_ONE_PAGE_CSS` when ``shown`` fits on one page, without it else."""
    rest = [c for c in stylesheets if c != _ONE_PAGE_CSS]
    return [*rest, _ONE_PAGE_CSS] if page_size and len(shown) <= page_size else rest


class _Table(pn.widgets.Tabulator):
    """A `table`'s widget: a frame given while it is drawn nowhere (a tab not open) waits, and is
    shown when the table is drawn."""

    tieout_frame: pd.DataFrame | None = None
    tieout_model: Any = None
    _tieout_pending = False

    def _get_model(self, doc: Any, root: Any = None, parent: Any = None, comm: Any = None) -> Any:
        if self._tieout_pending:
            self._tieout_pending = False
            _show(self, for_display(self.tieout_frame))
        return super()._get_model(doc, root, parent, comm)


def show_frame(widget: pn.widgets.Tabulator, df: pd.DataFrame | None) -> None:
    """Show a new model frame in a `table` (when it is next drawn, if it is drawn nowhere)."""
    widget.tieout_frame = df
    if isinstance(widget, _Table) and not widget._models:
        widget._tieout_pending = True
        return
    _show(widget, for_display(df))


def show_later(widget: pn.widgets.Tabulator, df: pd.DataFrame | None) -> None:
    """`show_frame` for a model's new outputs: in a server session a table on the page follows
    the change's cards a moment later (`later`)."""
    if isinstance(widget, _Table) and not widget._models:
        widget.tieout_frame = df
        widget._tieout_pending = True
        return
    widget._tieout_next = df  # the frame behind the rows shown changes with them (downloads)

    def job() -> None:
        widget.tieout_frame = widget._tieout_next
        _show(widget, for_display(widget.tieout_frame))

    if not later(widget, job):
        job()


def _show(widget: pn.widgets.Tabulator, shown: pd.DataFrame) -> None:
    """Set a table's rows; its titles and formats too when the columns or their types are new
    (a table made empty, another breakdown, or rows in a table first drawn empty: its columns
    were all text then), its titles when what is compared is named otherwise."""
    compared = _compared(widget)
    before = widget.value
    paged = _paged(list(widget.stylesheets), shown, widget.page_size)
    if paged != list(widget.stylesheets):
        widget.stylesheets = paged
    if (
        list(shown.columns) != list(before.columns)
        or list(shown.dtypes) != list(before.dtypes)
        or not widget.titles
    ):
        widget.param.update(value=shown, **_column_options(shown, compared))
        return
    titles = _titles(shown.columns, compared)
    if titles != widget.titles:
        widget.param.update(value=shown, titles=titles)
    else:
        widget.value = shown


def exported_frame(widget: pn.widgets.Tabulator) -> pd.DataFrame:
    """The model's rows behind what the table shows now (its header filters applied)."""
    source = getattr(widget, "tieout_frame", None)
    view = widget.current_view
    if source is None or not source.index.is_unique:
        return view
    return source.loc[view.index]


# ------------------------------------------------------------------------------ charts

_COMPACT_JS = """
const a = Math.abs(tick);
let s;
if (a >= 1e9) s = (a / 1e9).toFixed(1).replace(/\\.0$/, '') + 'B';
else if (a >= 1e6) s = (a / 1e6).toFixed(1).replace(/\\.0$/, '') + 'M';
else if (a >= 1e3) s = (a / 1e3).toFixed(1).replace(/\\.0$/, '') + 'K';
else s = a.toFixed(a >= 10 || a === 0 ? 0 : 1);
return (tick < 0 ? '-' : '') + PREFIX + s;
"""


def axis_formatter(kind: str) -> Any:
    """A chart axis for numbers of ``kind``, compact: ``$2.2M``, ``85%``, ``1.4x``, ``250 bps``
    (the same rules as `models.presentation.compact`)."""
    from bokeh.models import CustomJSTickFormatter, NumeralTickFormatter

    kind = _KINDS.get(kind, kind)
    if kind == "percent":
        return NumeralTickFormatter(format="0%")
    if kind == "pct":
        return CustomJSTickFormatter(code="return tick.toFixed(0) + '%';")
    if kind == "multiple":
        return CustomJSTickFormatter(code="return tick.toFixed(1) + 'x';")
    if kind == "bps":
        return CustomJSTickFormatter(code="return tick.toFixed(0) + ' bps';")
    prefix = "'$'" if kind == "money" else "''"
    return CustomJSTickFormatter(code=_COMPACT_JS.replace("PREFIX", prefix))


#: Numeral formats of hover values by kind (the full form: `models.presentation.full`).
HOVER_FORMATS = {
    "money": "$0,0.00",
    "count": "0,0",
    "index": "0,0",
    "percent": "0.0%",
    "multiple": "0.00",
    "coef": "0.000",
}


def hover(*columns: str, kinds: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Hover lines for ``columns``: each labelled in words, its value in full for its kind."""
    lines = []
    for c in columns:
        f = presentation.field(c)
        kind = _KINDS.get((kinds or {}).get(c, f.kind), (kinds or {}).get(c, f.kind))
        ref = "@{" + c + "}"
        if kind in HOVER_FORMATS:
            value = ref + "{" + HOVER_FORMATS[kind] + "}"
        elif kind == "pct":
            value = ref + "{0,0.0}%"
        elif kind == "bps":
            value = ref + "{0,0.0} bps"
        elif kind == "points":  # numeral's % multiplies by 100: a fraction's change in points
            value = ref + "{+0.0%}"
            lines.append((f.label + " (points)", value))
            continue
        else:
            value = ref
        lines.append((f.label, value + ("x" if kind == "multiple" else "")))
    return lines


def _dark() -> bool:
    """Whether this session shows the dark theme (``theme=dark`` in its link)."""
    args = pn.state.session_args if pn.state.curdoc is not None else {}
    return (args or {}).get("theme", [b""])[0] in (b"dark", "dark")


def label_colour() -> str:
    """Text drawn on a chart (values on bars) in the theme's text colour, not a series colour."""
    return "#E0E0E0" if _dark() else "#444444"


def _group_labels(plot: Any, element: Any) -> None:
    """Names on a grouped bar chart's axis (campaigns with marketing and finance bars) in the
    theme's text colour: Bokeh's themes leave them dark grey, unreadable on the dark theme."""
    from bokeh.models import CategoricalAxis

    colour = label_colour()
    for axis in [*plot.state.xaxis, *plot.state.yaxis]:
        if isinstance(axis, CategoricalAxis):
            axis.group_text_color = colour
            axis.subgroup_text_color = colour
            axis.group_text_font_style = "normal"


def quiet(plot: Any) -> Any:
    """A chart's common look: no toolbar (hover still works), axes never shared with the other
    charts of the page; bars with grouped axis labels in the theme's colour and no padding
    below the smallest value."""
    plot = plot.opts(toolbar=None, shared_axes=False)
    if not isinstance(plot, hv.Bars):
        return plot
    # the value axis starts at the smallest value (0 for bars all above it), not 10% past it: a
    # net profit of -$30 next to $1.7M of revenue pushed the axis to -$175K
    return plot.opts(hooks=[_group_labels], padding=(0, (0, 0.05)))


#: How long a change's slower updates (charts, tables on the open tab) wait after it: its KPI
#: cards reach the browser first, and a next change within this time postpones them again
#: (`later`), so a person clicking through filters gets each change's cards at once and the
#: charts once they pause, instead of each change waiting behind the charts of a view already
#: left (a chart is drawn in 50-300 ms, which the next change's cards waited for at 60 ms:
#: back-to-back p95 750 ms on influencer, 195 ms at 250; docs/benchmarks.md).
CHART_DELAY_MS = 250
#: Pause between two of those updates: a change coming from the browser meanwhile is handled
#: in it, instead of waiting for every chart of the change before.
LATER_GAP_MS = 5
#: Charts and tables follow a change's cards a moment later (`later`): until all of them are
#: up to date (`dim_while_busy`'s second variable) they stay as dim as the whole page was while
#: the change ran (`STALE_CSS`), 0.45 in all (the page's own dimming divided out). Set on the
#: body by the browser, so no chart is sent again to dim or undim it.
_PART_STALE_CSS = (
    ":host { opacity: calc(var(--tieout-later, 1) / var(--tieout-stale, 1)); "
    "transition: opacity 0.12s; }"
)


class _Later:
    """A session's updates that follow a change's cards: one per callback, in the order they
    were asked for, each once with the newest outputs; held back while changes keep coming
    (the browser gets the newest cards instead of charts of a view already left)."""

    def __init__(self, doc: Any):
        self._doc = doc
        self._jobs: dict[int, Any] = {}
        self._settle: dict[int, Any] = {}  # run when no other job is left
        self._last = 0.0
        self._scheduled = False
        self._running = False

    def add(self, key: int, job: Any, settle: bool = False) -> None:
        (self._settle if settle else self._jobs).setdefault(key, job)
        if self._running:  # work that follows from a job (charts of its tables): no new wait
            return
        self._last = time.monotonic()
        self._schedule(CHART_DELAY_MS)

    def _schedule(self, ms: float) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        self._doc.add_timeout_callback(self._run, max(int(ms), 1))

    def _run(self) -> None:
        self._scheduled = False
        wait = CHART_DELAY_MS - (time.monotonic() - self._last) * 1000
        if wait >= 1:  # a change came in meanwhile: its cards go first
            self._schedule(wait)
            return
        jobs = self._jobs or self._settle
        if not jobs:
            return
        job = jobs.pop(next(iter(jobs)))
        self._running = True
        try:
            job()
        finally:
            self._running = False
            if self._jobs or self._settle:
                self._schedule(LATER_GAP_MS)


_LATER: weakref.WeakKeyDictionary[Any, _Later] = weakref.WeakKeyDictionary()


def later(key: Any, job: Any, settle: bool = False) -> bool:
    """Run ``job()`` after the current change's other updates have reached the browser, in a
    server session (`_Later`); ``key``: the same key asked again runs once; ``settle``: only
    once every other such job has run. False (nothing scheduled) outside a server session: the
    caller runs it now."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return False
    queue = _LATER.get(doc)
    if queue is None:
        queue = _LATER[doc] = _Later(doc)
    queue.add(id(key), job, settle)
    return True


_NUMERIC = (hv.Curve, hv.Points, hv.Scatter)
_CATEGORICAL = (hv.Bars, hv.HeatMap)


def _categories(element: Any) -> tuple[Any, ...]:
    """What an in-place update must not change: a categorical chart's categories and rows."""
    if not isinstance(element, _CATEGORICAL):
        return ()
    keys = tuple(tuple(pd.unique(element.dimension_values(d))) for d in element.kdims)
    return (len(element), keys)


class _ChartPane(pn.pane.HoloViews):
    """A HoloViews pane that lets its `LivePlot` bring a stale chart up to date just before the
    pane is drawn (a tab opened for the first time)."""

    def _get_model(self, doc: Any, root: Any = None, parent: Any = None, comm: Any = None) -> Any:
        owner = getattr(self, "_tieout_owner", None)
        if owner is not None:
            owner._catch_up()
        return super()._get_model(doc, root, parent, comm)


class LivePlot(pn.viewable.Viewer):
    """A chart that updates in place when its inputs change.

    ``fn(*values)`` builds the chart as usual; ``deps`` are parameters (watched) or plain values.
    While the new chart has the same shape as the one shown (element type, dimensions, title), it
    is pushed through a HoloViews DynamicMap, so the browser receives new data for the existing
    plot instead of a whole new plot. A change of shape (another metric, an empty result) renders
    the new chart from scratch. A chart that is not drawn anywhere yet (a tab never opened) is
    not rebuilt on a change, only marked stale, and brought up to date when it is drawn.
    """

    def __init__(self, fn: Any, *deps: Any, in_place: bool = True, **params: Any):
        super().__init__(**params)
        self._fn, self._deps = fn, deps
        self._in_place = in_place  # False: always draw anew (a chart with its own streams)
        self._latest: Any = None
        self._signature: Any = None
        self._dmap: Any = None
        self._tick = hv.streams.Stream.define("Tick")()
        self._stale = False
        self._pane = _ChartPane(self._render(), sizing_mode="stretch_width")
        self._pane._tieout_owner = self
        # dimmed until the page has caught up with a change (`_PART_STALE_CSS`)
        self._frame = pn.Column(
            self._pane, sizing_mode="stretch_width", stylesheets=[_PART_STALE_CSS]
        )
        owners: dict[int, tuple[Any, list[str]]] = {}
        for d in deps:
            if isinstance(d, param.Parameter):
                owners.setdefault(id(d.owner), (d.owner, []))[1].append(d.name)
        for owner, names in owners.values():  # one call per update of an owner's parameters
            owner.param.watch(self._changed, names)

    @staticmethod
    def _shape(plot: Any) -> Any:
        opts = plot.opts.get().kwargs if hasattr(plot, "opts") else {}
        return (
            type(plot).__name__,
            tuple(str(d) for d in plot.dimensions()),
            str(opts.get("title")),
            tuple(type(p).__name__ for p in getattr(plot, "values", list)()),
        )

    def _values(self) -> list[Any]:
        return [
            getattr(d.owner, d.name) if isinstance(d, param.Parameter) else d for d in self._deps
        ]

    def _render(self) -> Any:
        plot = self._fn(*self._values())
        if isinstance(plot, hv.Text):  # an empty result: shown as it is
            self._dmap = self._signature = None
            return plot
        plot = quiet(plot)
        # Charts on numeric axes update in place; bars and heatmaps only while their categories
        # (and row count) stay the same, since changing categories in place gets BokehJS "Size
        # mismatch" errors: otherwise they are drawn anew.
        parts = list(plot.values()) if isinstance(plot, hv.Overlay | hv.NdOverlay) else [plot]
        if not self._in_place or not all(isinstance(e, (*_NUMERIC, *_CATEGORICAL)) for e in parts):
            self._dmap = self._signature = None  # a new plot each time (a tap stream stays linked)
            return plot
        signature = (self._shape(plot), tuple(_categories(e) for e in parts))
        self._latest = plot
        if self._dmap is not None and signature == self._signature:
            self._tick.event()  # the pane keeps its plot: only the data changes
            return self._dmap
        self._signature = signature
        self._dmap = hv.DynamicMap(lambda: self._latest, streams=[self._tick]).opts(framewise=True)
        return self._dmap

    def _changed(self, *events: Any) -> None:
        if not self._pane._models:  # drawn nowhere: nothing to send, build it when drawn
            self._stale = True
            return
        # In a server session the chart follows a moment later, dimmed until then (`later`):
        # the change's KPI cards reach the browser first instead of waiting for the charts.
        if not later(self, self._update):
            self._update()

    def _update(self) -> None:
        self._stale = False
        obj = self._render()
        if obj is not self._pane.object:
            self._pane.object = obj

    def _catch_up(self) -> None:
        if self._stale:
            self._update()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._frame


def live_plot(fn: Any, *deps: Any, in_place: bool = True) -> LivePlot:
    """`LivePlot` of ``fn`` bound to ``deps`` (parameters or values)."""
    return LivePlot(fn, *deps, in_place=in_place)


def empty_plot(message: str = "No data for these filters") -> hv.Text:
    """What a chart shows when the filters match nothing."""
    return hv.Text(0.5, 0.5, message).opts(
        xaxis=None, yaxis=None, toolbar=None, responsive=True, height=280
    )


def downloads(widget: pn.widgets.Tabulator, stem: str) -> pn.Row:
    """CSV and XLSX downloads of a table's rows as shown (model values, text neutralised)."""
    from models.export import table_xlsx_bytes, to_csv_bytes

    def csv() -> io.BytesIO:
        return io.BytesIO(to_csv_bytes(exported_frame(widget)))

    def xlsx() -> io.BytesIO:
        return io.BytesIO(table_xlsx_bytes(exported_frame(widget), stem, _compared(widget)))

    words = " ".join(w.upper() if w in ("roas", "cac") else w for w in stem.split("_"))
    words = words[:1].upper() + words[1:]
    return pn.Row(
        pn.widgets.FileDownload(callback=csv, filename=f"{stem}.csv", label=f"{words} (CSV)"),
        pn.widgets.FileDownload(callback=xlsx, filename=f"{stem}.xlsx", label=f"{words} (Excel)"),
    )


def with_downloads(widget: pn.widgets.Tabulator, stem: str) -> pn.Column:
    """A table with its CSV and XLSX downloads above it, in a frame as wide as the page: a
    table wider than that scrolls inside it, never widening the page."""
    return pn.Column(downloads(widget, stem), framed(widget), sizing_mode="stretch_width")


#: Tab panels may shrink to the window: as grid items they would otherwise be at least as wide
#: as their widest content (a table of many columns), and the page with them.
_TABS_CSS = ".bk-panel-models-layout-Column { min-width: 0; }"


def tabs(*panels: Any, **kwargs: Any) -> pn.Tabs:
    """A page's tabs: built when first opened, as wide as the page."""
    return pn.Tabs(
        *panels,
        dynamic=True,
        sizing_mode="stretch_width",
        stylesheets=[_TABS_CSS, STALE_CSS],
        **kwargs,
    )


def checks_notice(model: Any, heading: str) -> pn.Column:
    """The model's checks on the figures (its ``warnings``) in plain words above a page's tabs:
    ``heading`` (markdown: what to check and why it matters), then each warning, and a button to
    the Data page; hidden while there is none."""

    def text(warnings: list[str]) -> str:
        return heading + "\n\n" + "\n\n".join(esc(w) for w in warnings) if warnings else ""

    notice = pn.Column(
        pn.pane.Alert(
            pn.bind(text, model.param.warnings),
            alert_type="warning",
            sizing_mode="stretch_width",
            margin=(5, 5, 0, 5),
        ),
        data_page_button("See the files and checks on the Data page"),
        visible=bool(model.warnings),
        sizing_mode="stretch_width",
    )
    model.param.watch(lambda e: setattr(notice, "visible", bool(e.new)), "warnings")
    return notice


def toggle(parameter: param.Parameter, **kwargs: Any) -> pn.widgets.RadioButtonGroup:
    """A choice among a few options shown as buttons (Week / Month, GPV / Approval rate): the
    chosen one filled with the theme's primary colour, the others outlined, so it is told
    apart on the light and the dark theme alike (the default grey buttons differ by a shade)."""
    return pn.widgets.RadioButtonGroup.from_param(
        parameter, color="primary", variant="outline", **kwargs
    )


def framed(widget: Any) -> pn.Column:
    """``widget`` in a frame that scrolls sideways when it is wider than the page (a frame
    that does not scroll takes the width of what it holds, and so does the page)."""
    return pn.Column(widget, scroll="x-auto", sizing_mode="stretch_width")


def workbook_download(model: Any) -> pn.widgets.FileDownload:
    """The whole-domain workbook (KPI sheet with filters and period first, then every table)."""
    from models.export import workbook_bytes

    return pn.widgets.FileDownload(
        callback=lambda: io.BytesIO(workbook_bytes(model)),
        filename=f"tieout-{model.domain}.xlsx",
        label="Download workbook (XLSX)",
        color="primary",
    )


def bound_table(model: Any, name: str, **kwargs: Any) -> pn.widgets.Tabulator:
    """A `table` showing the model's DataFrame output ``name``, updated in place on change."""
    widget = table(getattr(model, name), model=model, **kwargs)
    model.param.watch(lambda e: show_later(widget, e.new), name)
    return widget
