"""Data page: the loaded source, its tables with row counts, and the validation report."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from views.common import esc, table


def status_frame(source: Any) -> pd.DataFrame:
    """One row per table of every domain: file, rows, status."""
    rows = []
    for domain, st in source.status.items():
        if not st.present:
            rows.append(
                {
                    "domain": domain,
                    "table": "",
                    "file": "(no folder)",
                    "rows": None,
                    "status": "no data",
                }
            )
            continue
        for name, path in st.files.items():
            rows.append(
                {
                    "domain": domain,
                    "table": name,
                    "file": path,
                    "rows": st.rows.get(name),
                    "status": "loaded" if st.loaded else "invalid",
                }
            )
    return pd.DataFrame(rows, columns=["domain", "table", "file", "rows", "status"])


def problems_frame(source: Any) -> pd.DataFrame:
    rows = []
    for domain, st in source.status.items():
        for p in st.problems:
            rows.append(
                {
                    "domain": domain,
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


class DataView(pn.viewable.Viewer):
    """Shows what is loaded from where, and every validation problem."""

    def __init__(self, source: Any, **params: Any):
        super().__init__(**params)
        meta = source.meta
        cached = "reused cached ingest" if meta.get("cached") else "ingested now"
        timings = ", ".join(f"{k} {v:.2f}s" for k, v in meta.get("timings", {}).items())
        problems = problems_frame(source)
        self._layout = pn.Column(
            pn.pane.Markdown("## Data"),
            pn.pane.HTML(
                f"<p>Source folder: <code>{esc(source.root)}</code> ({esc(cached)})."
                f"<br>Timings: {esc(timings)}</p>"
            ),
            pn.pane.Markdown("**Tables**"),
            table(status_frame(source)),
            pn.pane.Markdown(
                f"**Validation report**: {len(problems)} problem(s)"
                if len(problems)
                else "**Validation report**: no problems found."
            ),
            table(problems, header_filters=True) if len(problems) else pn.Spacer(height=0),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
