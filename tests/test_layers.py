"""The layers: data <- models <- views <- app. Read from the source with `ast`, so a lazy import
inside a function counts as much as one at the top of a module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What each package may never import (the layers above it, and Panel below views).
FORBIDDEN = {
    "data": ("models", "views", "app", "panel", "holoviews", "hvplot", "bokeh"),
    "models": ("views", "app", "panel", "holoviews", "hvplot", "bokeh"),
    "views": ("app",),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_from_a_layer_above(package: str) -> None:
    files = sorted((ROOT / package).glob("*.py"))
    assert files, f"no modules found in {package}/"
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in sorted(_imports(path))
        if name.split(".")[0] in FORBIDDEN[package]
    ]
    assert not wrong, "\n".join(wrong)
