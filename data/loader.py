"""Background loads with progress a page can poll (no Panel here).

A `Job` runs one function in a thread; the function reports progress through the job (message and
fraction); a page polls the job from its own event loop. The process's first load (the data the
app starts with) is one shared job: every session waits on the same one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("tieout")

#: Demo size created by the desktop app on first launch (quick: about ten seconds in all).
DESKTOP_DEMO_ROWS = 200_000


class Job:
    """One background task: progress message, fraction (None = unknown), result or error."""

    def __init__(self, name: str, fn: Callable[..., Any], *args: Any):
        self.name = name
        self.message = "starting"
        self.fraction: float | None = None
        self.result: Any = None
        self.error: str | None = None
        self.started = time.monotonic()
        self.finished: float | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, args=(fn, *args), name=f"tieout-{name}", daemon=True
        )
        self._thread.start()

    @property
    def done(self) -> bool:
        return self.finished is not None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def report(self, message: str, fraction: float | None = None) -> None:
        self.message, self.fraction = message, fraction

    def on_done(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (from the job's thread) when the job ends; at once if it has."""
        with self._lock:
            if not self.done:
                self._callbacks.append(callback)
                return
        callback()

    def wait(self, timeout: float | None = None) -> Any:
        self._thread.join(timeout)
        return self.result

    def _run(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            self.result = fn(self, *args)
        except Exception as exc:  # shown to the user by the page that polls the job
            log.exception("%s failed", self.name)
            self.error = f"{exc.__class__.__name__}: {exc}"
        finally:
            with self._lock:
                self.finished = time.monotonic()
                callbacks, self._callbacks = self._callbacks, []
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # a closed session's document: nothing to update
                    log.exception("%s: completion callback failed", self.name)


def load_folder(
    job: Job, root: Path, make_demo: bool = False, demo_rows: int = 0, settings: Any = None
) -> Any:
    """Create the demo data if asked and missing, then validate and ingest ``root`` (with the
    reading choices ``settings``, a `data.checks.Settings`; the environment's by default)."""
    from data.engine import open_source
    from data.generate import MARKER, generate, total_units

    if make_demo and not (root / MARKER).exists():
        rows = demo_rows or DESKTOP_DEMO_ROWS
        total, done = total_units(rows), 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            job.report(f"creating demo data ({done:,} of {total:,} rows)", done / total)

        job.report("creating demo data", 0.0)
        generate(root, rows=rows, progress=tick)
    job.report(f"validating and loading {root}")
    return open_source(root, progress=lambda msg: job.report(msg), settings=settings)


_JOBS: dict[str, Job] = {}
_JOBS_LOCK = threading.Lock()


def startup_job(root: Path, make_demo: bool = False, demo_rows: int = 0) -> Job:
    """The load of ``root``, started once per process and shared by every session (a failed
    load is retried by the next session)."""
    key = str(Path(root).resolve())
    with _JOBS_LOCK:
        job = _JOBS.get(key)
        if job is None or (job.done and job.error):
            job = _JOBS[key] = Job("load", load_folder, Path(key), make_demo, demo_rows)
        return job


def reset_jobs() -> None:
    """Forget finished loads (tests)."""
    with _JOBS_LOCK:
        _JOBS.clear()
