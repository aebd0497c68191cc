"""The docs travel with the repo: every link in README.md and docs/ points at a file in it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_links_stay_inside_the_repo() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked, wrong = 0, []
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            path = target.split("#")[0]
            if not path:  # a link to a heading of the same page
                continue
            checked += 1
            resolved = (page.parent / path).resolve()
            if "://" in target or not resolved.is_relative_to(ROOT) or not resolved.exists():
                wrong.append(f"{page.relative_to(ROOT)}: {target}")
    assert checked >= 5, "the README's links to docs/ were not found"
    assert not wrong, "\n".join(wrong)
