"""Shared fixtures: an isolated cache folder, Panel state reset, helpers to write tiny datasets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from data.engine import clear_sources
from tests.pgcluster import pg_cluster  # noqa: F401  (a session fixture for every test)


@pytest.fixture(autouse=True)
def _isolated(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("TIEOUT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    # the review state (data/state.py) of each test in its own SQLite file, never the user's
    monkeypatch.setenv("TIEOUT_STATE", f"sqlite:///{tmp_path_factory.mktemp('state')}/r.sqlite")
    # set by the CLI (reading choices, the backend), never inherited from the developer's shell
    for name in (
        "TIEOUT_DECIMAL",
        "TIEOUT_DATE_ORDER",
        "TIEOUT_MAPPING",
        "TIEOUT_BACKEND",
        "TIEOUT_SOURCE_SCHEMA",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
    clear_sources()
    try:
        import panel as pn

        pn.state.reset()
        pn.state.clear_caches()
    except ImportError:  # pragma: no cover
        pass


#: The engines every hand-worked model test and property test runs on.
ENGINES = ("duckdb", "postgres")


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``open(root, cache_dir=None)``: a source of ``root`` on this engine (DuckDB, or the
    throwaway PostgreSQL cluster: the files validated and ingested locally, then copied and the
    marts built on the server)."""
    from data.engine import open_source

    if request.param == "duckdb":
        return lambda root, cache_dir=None: open_source(root, cache_dir, backend="")
    url = request.getfixturevalue("pg_cluster").url
    return lambda root, cache_dir=None: open_source(root, cache_dir, backend=url)


SharedRoot = Callable[[str, dict[str, str]], tuple[Path, Path]]


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> SharedRoot:
    """``shared_root(domain, tables)``: ``(folder, cache)`` holding that tiny dataset, the same
    folder for every test that asks for the same tables, and one cache for the run. Each dataset
    is then ingested (and published to PostgreSQL) once, not once per test: the model tests build
    a fresh model on it each time (sources are read-only; a test that changes its files uses its
    own ``tmp_path``)."""
    import hashlib
    import json

    base = tmp_path_factory.mktemp("shared")
    roots: dict[str, Path] = {}

    def get(domain: str, tables: dict[str, str]) -> tuple[Path, Path]:
        text = json.dumps([domain, tables], sort_keys=True).encode()
        key = hashlib.blake2b(text, digest_size=8).hexdigest()
        if key not in roots:
            roots[key] = write_tables(base / key, domain, tables)
        return roots[key], base / "cache"

    return get


def write_tables(root: Path, domain: str, tables: dict[str, str]) -> Path:
    """Write ``{table: csv text}`` under ``root/domain`` and return ``root``."""
    folder = root / domain
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text.strip() + "\n", encoding="utf-8")
    return root
