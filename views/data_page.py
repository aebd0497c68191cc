"""Data page: what each domain uses, its validation report, the run log, and loading new data.

On the desktop the user may open any folder (or go back to the demo data); on a server users may
upload a domain's files (they never browse the server's disk). Either way the new data is
validated and ingested in the background with progress shown, its report is shown, and nothing is
replaced until the user confirms; a domain whose new files fail validation keeps its data.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import panel as pn
import param

from data import schemas
from data.domains import NAMES, get
from data.engine import (
    BACKEND_ENV,
    SOURCE_SCHEMA_ENV,
    default_cache_dir,
    described,
    forget_source,
    read_runs,
)
from data.intake import MAPPING_FILE, mapping_toml, save_user_mapping
from data.loader import Job, load_folder
from data.settings import demo_dir, mode, save_prefs
from data.validate import SUFFIXES
from models import presentation
from views.common import esc, framed, table

log = logging.getLogger("tieout")

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # per upload; larger data belongs in a folder (desktop)
#: Room for the uploads of all live sessions of one server process (``$TIEOUT_UPLOAD_QUOTA``,
#: bytes); an upload that would pass it is refused with a message.
UPLOAD_QUOTA_ENV = "TIEOUT_UPLOAD_QUOTA"
#: Sent to the server in pieces of this size (Bokeh refuses websocket messages over 20 MB).
UPLOAD_CHUNK_BYTES = 4 * 1024 * 1024
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_]+(\.csv|\.csv\.gz|\.parquet)$", re.IGNORECASE)


def _in_folder(path: Any, root: Any) -> str:
    """A file's path inside its data folder (``payments/transactions.csv``; the folder is named
    above the table), or as it is when it lies elsewhere."""
    try:
        return Path(path).relative_to(Path(root)).as_posix()
    except ValueError:
        return str(path)


def status_frame(sources: dict[str, Any]) -> pd.DataFrame:
    """One row per table of every domain: folder, file, rows, status."""
    rows = []
    for domain, source in sources.items():
        st = source.status.get(domain)
        if st is None or not st.present:
            words = described(source)
            rows.append(
                {
                    "domain": get(domain).label,
                    "table": "",
                    "file": f"(no {domain} table in {words})"
                    if words is not None
                    else f"(no {domain}/ folder in {source.root})",
                    "rows": None,
                    "status": "no data",
                }
            )
            continue
        for name, path in st.files.items():
            rows.append(
                {
                    "domain": get(domain).label,
                    "table": name,
                    "file": _in_folder(path, source.root),
                    "read as": st.forms.get(name, ""),
                    "rows": st.rows.get(name),
                    "status": "loaded" if st.loaded else "invalid",
                }
            )
        for note in st.notes:
            rows.append(
                {
                    "domain": get(domain).label,
                    "table": "",
                    "file": note,
                    "read as": "",
                    "status": "note",
                }
            )
    return pd.DataFrame(rows, columns=["domain", "table", "file", "read as", "rows", "status"])


def problems_frame(sources: dict[str, Any]) -> pd.DataFrame:
    """Every validation problem of the domains' sources."""
    rows = []
    for domain, source in sources.items():
        st = source.status.get(domain)
        for p in st.problems if st else []:
            rows.append(
                {
                    "domain": get(domain).label,
                    "severity": p["severity"],
                    "file": p["file"],
                    "column": p["column"] or "",
                    "rows": ", ".join(map(str, p["rows"])),
                    "count": p["count"],
                    "value": p["value"] or "",
                    "expected": p["expected"],
                }
            )
    return pd.DataFrame(
        rows, columns=["domain", "severity", "file", "column", "rows", "count", "value", "expected"]
    )


def figure_checks(app: Any) -> list[tuple[str, str]]:
    """The checks a page makes on the figures beyond the files' validation (the influencer
    payouts against the payment terms), as (domain, text): stated by the domain's model, the
    open page's or, when the page is not open yet, one made for this."""
    from models import make_model, model_class

    out = []
    for domain, source in app.sources.items():
        if "warnings" not in model_class(domain).param:
            continue
        model = app.model(domain)
        if model is None:
            try:
                model = make_model(domain, source)
            except Exception:  # (the domain's own page says what is wrong)
                continue
        out += [(domain, text) for text in model.warnings]
    return out


def _checks_text(checks: list[tuple[str, str]]) -> str:
    lines = [
        f"**Checks on the figures**: {presentation.counted(len(checks), 'warning')}, each "
        "shown on its page too, for the period it shows (for a page not opened yet, over all "
        "the data)."
    ]
    lines += [f"- {esc(get(domain).label)}: {esc(text)}" for domain, text in checks]
    return "\n".join(lines)


def runs_frame(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """The run log as a table: one row per ingest, newest first."""
    rows = [
        {
            "at": r.get("at"),
            "folder": r.get("root"),
            "files": len(r.get("files", [])),
            "rows": sum(sum(t.values()) for t in r.get("rows", {}).values()),
            "loaded": ", ".join(r.get("loaded", [])),
            "errors": r.get("errors", 0),
            "warnings": len(r.get("warnings", [])),
            "seconds": r.get("timings", {}).get("total_s"),
        }
        for r in runs
    ]
    return pd.DataFrame(
        rows, columns=["at", "folder", "files", "rows", "loaded", "errors", "warnings", "seconds"]
    )


def in_use_html(sources: dict[str, Any]) -> str:
    """Where the data in use comes from: its folders, where the queries run when that is not
    here (a PostgreSQL server), or the tables of a PostgreSQL schema in words."""
    parts: dict[str, str] = {}
    for source in sources.values():
        if (words := described(source)) is not None:
            parts[words] = esc(words)
            continue
        shown = f"<code>{esc(source.root)}</code>"
        if (served := getattr(source, "served_by", None)) is not None:
            shown += f" (queried on {esc(served)})"
        parts[str(source.root)] = shown
    if all(described(s) is None for s in sources.values()):
        return "<p>Folders in use: " + ", ".join(parts.values()) + "</p>"
    return "<p>Data in use: " + ", ".join(parts.values()) + "</p>"


def loading_off_reason(sources: dict[str, Any]) -> str | None:
    """Why this app cannot open folders or take uploads, or None when it can: with
    ``--source-schema`` every load reads the tables of that schema, never files."""
    words = next((w for s in sources.values() if (w := described(s)) is not None), None)
    if words is None and (schema := os.environ.get(SOURCE_SCHEMA_ENV)):
        from data.pgschema import describe

        words = describe(os.environ.get(BACKEND_ENV) or "", schema)
    if words is None:
        return None
    return (
        f"Opening folders and uploading files are off: this app reads {words}; change the "
        "tables there and use *Load the changed files*."
    )


def upload_name(name: str, domain: str) -> str:
    """The file name an upload is stored under, or ValueError saying what was expected.

    Path parts are dropped (``../../x.csv`` and ``C:\\x\\y.csv`` keep only their last part); the
    rest must be a table of the domain with a supported suffix.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    tables = [t.name for t in schemas.tables_of(domain)]
    if not _SAFE_NAME.match(base):
        raise ValueError(
            f"file name {name!r}: expected a table name with {', '.join(SUFFIXES)} "
            f"(one of {', '.join(tables)})"
        )
    stem = base.lower().split(".", 1)[0]
    if stem not in tables:
        raise ValueError(f"file name {name!r}: not a {domain} table (one of {', '.join(tables)})")
    return base.lower()


def upload_quota() -> int:
    try:
        return int(os.environ.get(UPLOAD_QUOTA_ENV, 2 * 1024**3))
    except ValueError:
        return 2 * 1024**3


def upload_base() -> Path:
    """This process's folder of uploads: ``<cache>/uploads/<pid>``."""
    return default_cache_dir() / "uploads" / str(os.getpid())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def clean_stale_uploads(uploads: Path | None = None) -> list[Path]:
    """Remove the upload folders of server processes that have ended; return what was removed."""
    uploads = uploads or default_cache_dir() / "uploads"
    removed = []
    for folder in sorted(uploads.glob("*")) if uploads.is_dir() else []:
        if folder.is_dir() and folder.name.isdigit() and not _alive(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def save_uploads(domain: str, files: dict[str, bytes], base: Path | None = None) -> Path:
    """Write uploaded files into a fresh folder ``<base>/<id>/<domain>/``; return the root.

    Refused (ValueError saying why) over `MAX_UPLOAD_BYTES` for one upload, or when the uploads
    already kept under ``base`` leave no room for it within the quota (`upload_quota`).
    """
    total = sum(len(b) for b in files.values())
    if total > MAX_UPLOAD_BYTES:
        raise ValueError(
            f"upload of {total / 1e6:.0f} MB: at most {MAX_UPLOAD_BYTES / 1e6:.0f} MB per upload"
        )
    names = {upload_name(n, domain): data for n, data in files.items()}
    base = base or upload_base()
    used, quota = _folder_bytes(base), upload_quota()
    if used + total > quota:
        raise ValueError(
            f"upload of {total / 1e6:.0f} MB: the server keeps at most {quota / 1e6:.0f} MB of "
            f"uploads at once and {used / 1e6:.0f} MB are in use; try again when other "
            "sessions have ended"
        )
    root = base / uuid.uuid4().hex
    (root / domain).mkdir(parents=True)
    for name, data in names.items():
        (root / domain / name).write_bytes(data)
    return root


def discard_upload(root: Path) -> None:
    """Delete an uploaded folder and its cache entry (nobody uses them any more)."""
    forget_source(root)
    shutil.rmtree(root, ignore_errors=True)
    log.info("removed upload %s", root)


class UploadDropper(pn.widgets.FileDropper):
    """Panel's chunked FileDropper, bounded on the server too: a client that sends more than
    `MAX_UPLOAD_BYTES` (whatever its page says) has its pieces dropped and ``refused`` set."""

    refused = param.String(default="", doc="Why the last upload was dropped.")

    # ``refused`` stays on the server (the browser model has no such property).
    _rename: ClassVar[dict[str, str | None]] = {
        **pn.widgets.FileDropper._rename,
        "refused": None,
    }

    def _process_event(self, event: Any) -> None:
        data = getattr(event, "data", {}) or {}
        if getattr(event, "event_name", "") == "upload_event":
            held = sum(len(b) for v in self._file_buffer.values() for b in v)
            held += sum(len(v) for v in self.value.values())
            if held + len(data.get("data") or b"") > MAX_UPLOAD_BYTES:
                self._file_buffer.clear()
                self.refused = (
                    f"upload over {MAX_UPLOAD_BYTES / 1e6:.0f} MB: at most "
                    f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB per upload"
                )
                return
        super()._process_event(event)


def _as_bytes(data: bytes | str) -> bytes:
    # FileDropper hands text files over decoded as UTF-8; encoding them again gives the bytes.
    return data.encode("utf-8") if isinstance(data, str) else data


class DataView(pn.viewable.Viewer):
    """Shows what is loaded from where, every validation problem, the run log; loads new data."""

    def __init__(self, app: Any, **params: Any):
        super().__init__(**params)
        self.app = app
        sources = app.sources
        problems = problems_frame(sources)
        checks = figure_checks(app)
        roots = sorted({str(s.root) for s in sources.values()})
        #: Why loading other data is off (the tables of a PostgreSQL schema), else None.
        self.loading_off = loading_off_reason(sources)
        runs = [r for root in roots for r in read_runs(self._cache_dir(), Path(root))]
        self.candidate: Any = None
        self._job: Job | None = None
        self._poll: Any = None
        self.progress = pn.indicators.Progress(value=-1, max=100, width=400, visible=False)
        self.progress_text = pn.pane.Str("")
        self.report = pn.Column(sizing_mode="stretch_width")
        self.use_button = pn.widgets.Button(label="Use this data", color="primary", visible=False)
        self.use_button.on_click(lambda _e: self.use_candidate())
        self.chosen: dict[str, dict[str, str]] = {}  # headers chosen in this session
        self.columns_card = pn.Column(sizing_mode="stretch_width")
        self._recheck: Any = None  # how to check again the data the card is about
        #: Named handles of what the report shows (tests and callers use these, not positions):
        #: the summary text, the problems table (None when there are none), the header choices
        #: as (domain.table, column, select), their apply button and the tieout.toml download.
        self.report_text: Any = None
        self.problems_table: Any = None
        self.column_picks: list[tuple[str, str, Any]] = []
        self.apply_columns_button: Any = None
        self.mapping_download: Any = None
        self._layout = pn.Column(
            pn.pane.Markdown("## Data"),
            pn.pane.HTML(in_use_html(sources)),
            pn.pane.Markdown("**Tables**"),
            framed(table(status_frame(sources))),
            pn.pane.Markdown(
                "**Validation report of the files**: "
                + presentation.counted(len(problems), "problem")
                if len(problems)
                else "**Validation report of the files**: no problems found."
            ),
            framed(table(problems, header_filters=True)) if len(problems) else pn.Spacer(height=0),
            pn.pane.Markdown(_checks_text(checks)) if checks else pn.Spacer(height=0),
            pn.pane.Markdown("### Load other data"),
            self._loader_widgets(),
            self.progress_text,
            self.progress,
            self.report,
            self.columns_card,
            self.use_button,
            pn.pane.Markdown(
                "### Run log\nEvery ingest: when, which folder, how many files and rows, "
                "problems found and how long it took (hashes of each file are in the log file "
                f"`{esc(self._cache_dir() / 'runs.jsonl')}`)."
            ),
            framed(table(runs_frame(runs))),
            sizing_mode="stretch_width",
        )
        if mode() == "desktop" and self.loading_off is None:  # lacking columns: offer headers
            by_root: dict[str, tuple[Any, list[str]]] = {}
            for domain, source in sources.items():
                by_root.setdefault(str(source.root), (source, []))[1].append(domain)
            for source, domains in by_root.values():
                self.offer_columns(source, domains, source.root)

    def _cache_dir(self) -> Path:
        meta = next(iter(self.app.sources.values())).meta if self.app.sources else {}
        return Path(meta.get("cache_dir") or default_cache_dir())

    # -- loading ------------------------------------------------------------------------
    def _reading_widgets(self) -> pn.Row:
        """Choices for files whose values do not decide how to read them."""
        self.decimal = pn.widgets.Select(
            label="Decimal separator (when the values do not say)",
            options={"as the values show": "auto", "point: 1,234.56": ".", "comma: 1.234,56": ","},
        )
        self.date_order = pn.widgets.Select(
            label="Date order (when the values do not say)",
            options={
                "as the values show": "auto",
                "day first: 31/01/2025": "dayfirst",
                "month first: 01/31/2025": "monthfirst",
            },
        )
        return pn.Row(self.decimal, self.date_order, sizing_mode="stretch_width")

    def _settings(self) -> Any:
        from data.checks import Settings

        base = Settings.from_env()
        order = {"dayfirst": True, "monthfirst": False}.get(self.date_order.value)
        headers = {k: dict(v) for k, v in base.headers.items()}
        for key, pairs in self.chosen.items():
            headers.setdefault(key, {}).update(pairs)
        return Settings(
            decimal=self.decimal.value if self.decimal.value != "auto" else base.decimal,
            dayfirst=order if order is not None else base.dayfirst,
            mapping=base.mapping,
            headers=headers,
        )

    def _loader_widgets(self) -> pn.viewable.Viewable:
        """The controls to open a folder (desktop) or upload files (server); disabled, with
        the reason in one line (`load_note`), when the data is the tables of a schema."""
        shown = self._loader_controls()
        self.load_note: Any = None
        if self.loading_off is None:
            return shown
        for widget in self.load_controls:
            widget.disabled = True
        self.load_note = pn.pane.Alert(esc(self.loading_off), alert_type="secondary")
        return pn.Column(self.load_note, shown, sizing_mode="stretch_width")

    def _loader_controls(self) -> pn.viewable.Viewable:
        if mode() == "desktop":
            self.folder = pn.widgets.TextInput(
                label="Folder (with payments/, influencer/, reconciliation/ inside)",
                placeholder="/path/to/folder",
                sizing_mode="stretch_width",
            )
            check = pn.widgets.Button(label="Check folder", color="default")
            check.on_click(lambda _e: self.check_folder(self.folder.value))
            demo = pn.widgets.Button(label="Use demo data", color="light")
            demo.on_click(lambda _e: self.check_folder(str(demo_dir()), make_demo=True))
            reading = self._reading_widgets()
            #: Named handles: every control that loads other data (disabled with a reason
            #: when the data is the tables of a schema).
            self.load_controls = [self.folder, self.decimal, self.date_order, check, demo]
            return pn.Column(
                self.folder,
                reading,
                pn.Row(check, demo),
                sizing_mode="stretch_width",
            )
        self.domain = pn.widgets.Select(label="Domain", options=list(NAMES))
        limit = f"{MAX_UPLOAD_BYTES // 1024**2}MB"
        self.files = UploadDropper(
            multiple=True,
            chunk_size=UPLOAD_CHUNK_BYTES,
            max_file_size=limit,
            max_total_file_size=limit,
            previews=[],
            sizing_mode="stretch_width",
        )
        self.files.param.watch(lambda e: e.new and self._say_error(e.new), "refused")
        check = pn.widgets.Button(label="Check files", color="default")
        check.on_click(lambda _e: self.check_upload())
        reading = self._reading_widgets()
        self.load_controls = [self.domain, self.files, self.decimal, self.date_order, check]
        return pn.Column(
            pn.pane.Markdown(
                "Upload every table of one domain (CSV, CSV.GZ, Parquet or Excel, named like "
                f"`transactions.csv`; at most {MAX_UPLOAD_BYTES // 1024**2} MB in all). The "
                "files are checked first; your data changes only when you confirm, and only for "
                "this browser tab. Uploaded files are deleted when you replace them or close "
                "the tab."
            ),
            pn.Row(self.domain, sizing_mode="stretch_width"),
            self.files,
            reading,
            check,
            sizing_mode="stretch_width",
        )

    def check_folder(self, folder: str, make_demo: bool = False) -> None:
        if self.loading_off is not None:  # every load would read the schema, not the folder
            self._say_error(self.loading_off)
            return
        path = Path(folder.strip()).expanduser()
        if not folder.strip() or not (path.is_dir() or make_demo):  # the demo is created if gone
            self._say_error(f"{folder!r} is not a folder")
            return
        job = Job("load", load_folder, path.resolve(), make_demo, 0, self._settings())
        self._recheck = lambda: self.check_folder(str(path))
        self._start(job, None)

    def check_upload(self) -> None:
        if self.loading_off is not None:  # every load would read the schema, not the files
            self._say_error(self.loading_off)
            return
        files = {name: _as_bytes(data) for name, data in (self.files.value or {}).items()}
        if not files:
            self._say_error("choose the files to upload first")
            return
        self._drop_candidate()
        try:
            root = save_uploads(self.domain.value, files)
        except ValueError as exc:
            self._say_error(str(exc))
            return
        self.app.uploads.append(root)
        domain = self.domain.value
        self._recheck = lambda: self._start(
            Job("load", load_folder, root, False, 0, self._settings()), [domain], keep=root
        )
        self._start(Job("load", load_folder, root, False, 0, self._settings()), [domain])

    def _drop_candidate(self) -> None:
        """Forget a checked upload that was never used (a newer one replaces it)."""
        source, self.candidate = self.candidate, None
        if source is not None:
            self.app.release_upload(source.root)

    def _start(self, job: Job, domains: list[str] | None, keep: Path | None = None) -> None:
        self._job, self._domains = job, domains
        if self.candidate is not None and self.candidate.root == keep:  # checked again
            self.candidate = None
        self._drop_candidate()
        self.columns_card.objects = []
        self.column_picks = []
        self.use_button.visible = False
        self.report.objects = []
        self.report_text = self.problems_table = None
        self.progress.visible = True
        self._poll = pn.state.add_periodic_callback(self._progress, period=300)
        self._progress()
        doc = pn.state.curdoc

        def finished() -> None:  # the job's thread: hand over to the session's loop
            if doc is not None and doc.session_context is not None:
                doc.add_next_tick_callback(lambda: self._finish(job))
            else:
                self._finish(job)

        job.on_done(finished)

    def _progress(self) -> None:
        job = self._job
        if job is None:
            return
        self.progress_text.object = f"{job.message} ({job.elapsed:.0f} s)"
        self.progress.value = -1 if job.fraction is None else int(job.fraction * 100)

    def _finish(self, job: Job) -> None:
        if job is not self._job:  # a newer load replaced this one
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        self.progress.visible = False
        self.progress_text.object = ""
        if job.error:
            self._say_error(f"loading failed: {job.error}. Your current data is unchanged.")
            return
        self.show_candidate(job.result, self._domains)

    def show_candidate(self, source: Any, domains: list[str] | None = None) -> None:
        """Show the new data's report; offer to switch the domains that loaded."""
        wanted = domains or [d for d in NAMES if source.status[d].present]
        ok = [d for d in wanted if source.has(d)]
        bad = [d for d in wanted if d not in ok]
        lines = [f"**Checked** {self._named(source)}:"]
        for d in wanted:
            st = source.status[d]
            rows = sum(st.rows.values())
            errors = sum(1 for p in st.problems if p["severity"] == "error")
            verdict = (
                f"ready, {rows:,} rows"
                if st.loaded
                else f"{presentation.counted(errors, 'error')}: not usable"
            )
            lines.append(f"- {d}: {verdict}")
        if not wanted:
            lines.append("- no payments/, influencer/ or reconciliation/ folder found")
        if bad:
            lines.append(f"\n{', '.join(bad)} will keep the data you have now.")
        problems = problems_frame({d: source for d in wanted})
        self.report_text = pn.pane.Markdown("\n".join(lines))
        self.problems_table = table(problems, header_filters=True) if len(problems) else None
        self.report.objects = [
            self.report_text,
            framed(self.problems_table) if self.problems_table is not None else pn.Spacer(height=0),
        ]
        self.candidate, self._domains = source, ok
        self.offer_columns(source, wanted)
        self.use_button.label = f"Use this data for {', '.join(ok)}" if ok else "Use this data"
        self.use_button.visible = bool(ok)

    @staticmethod
    def _named(source: Any) -> str:
        """A checked source as Markdown: its folder as code, or the data in words."""
        words = described(source)
        return esc(words) if words is not None else f"`{esc(source.root)}`"

    def offer_columns(self, source: Any, domains: list[str], root: Path | None = None) -> None:
        """For each required column a file lacks, a choice among the file's headers that
        matched no column; applying them checks the data again with those headers (``root``:
        the folder to check, when it is not the one just checked)."""
        if root is not None:
            self._recheck = lambda: self.check_folder(str(root))
        picks: list[tuple[str, str, pn.widgets.Select]] = []
        for domain in domains:
            st = source.status.get(domain)
            for name, columns in (st.missing if st else {}).items():
                headers = (st.unmatched or {}).get(name, [])
                for column in columns:
                    options = {"(none of these)": ""} | {h: h for h in headers}
                    select = pn.widgets.Select(
                        label=f"Which header of {domain}/{name} holds '{column}'?",
                        options=options,
                        disabled=not headers,
                    )
                    picks.append((f"{domain}.{name}", column, select))
        self.column_picks = picks
        if not picks:
            return
        apply = pn.widgets.Button(label="Use these headers and check again", color="primary")
        download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self._mapping_text(picks).encode("utf-8")),
            filename=MAPPING_FILE,
            label=f"Download {MAPPING_FILE}",
            color="light",
        )
        apply.on_click(lambda _e: self.apply_columns(picks))
        self.apply_columns_button, self.mapping_download = apply, download
        where = (
            "Your choices are saved for this computer and used for every folder you open."
            if mode() == "desktop"
            else "Your choices are used for this browser tab; download them as a file to keep."
        )
        self.columns_card.objects = [
            pn.pane.Markdown(
                "#### Columns not found\nSome required columns have a different name in your "
                "files. Pick the header that holds each one. " + where
            ),
            pn.FlexBox(*(p[2] for p in picks)),
            pn.Row(apply, download),
        ]

    @staticmethod
    def _picked(picks: list[tuple[str, str, Any]]) -> dict[str, dict[str, str]]:
        chosen: dict[str, dict[str, str]] = {}
        for key, column, select in picks:
            if select.value:
                chosen.setdefault(key, {})[select.value] = column
        return chosen

    def _mapping_text(self, picks: list[tuple[str, str, Any]]) -> str:
        chosen = {k: dict(v) for k, v in self._settings().headers.items()}
        for key, pairs in self._picked(picks).items():
            chosen.setdefault(key, {}).update(pairs)
        return mapping_toml(chosen)

    def apply_columns(self, picks: list[tuple[str, str, Any]]) -> None:
        """Keep the picked headers (saved on the desktop, this session on a server) and check
        the same data again."""
        chosen = self._picked(picks)
        if not chosen:
            self._say_error("pick a header for at least one column first")
            return
        for key, pairs in chosen.items():
            self.chosen.setdefault(key, {}).update(pairs)
        if mode() == "desktop":
            save_user_mapping(chosen)
        if self._recheck is not None:
            self._recheck()

    def use_candidate(self) -> None:
        """Switch the checked domains to the new data (the rest keep theirs)."""
        if self.candidate is None or not self._domains:
            return
        source, domains = self.candidate, self._domains
        self.candidate = None
        if mode() == "desktop":
            save_prefs(last_data=str(source.root))
        self.app.replace(source, domains)
        if pn.state.notifications is not None:
            pn.state.notifications.success(f"Now using new data for {', '.join(domains)}")

    def _say_error(self, text: str) -> None:
        self.report_text = pn.pane.Alert(esc(text), alert_type="danger")
        self.problems_table = None
        self.report.objects = [self.report_text]
        self.use_button.visible = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


__all__ = ["DataView", "problems_frame", "save_uploads", "status_frame", "upload_name"]
