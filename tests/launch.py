"""Run the desktop app as a user would (source or frozen) and find its URL."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path


def start(cmd: list[str], home: Path, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """Start ``cmd`` (a launcher run with ``--no-browser``) with its per-user folders under
    ``home``; return the process and the URL it printed."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        TIEOUT_HOME=str(home),
        TIEOUT_CACHE_DIR=str(home / "cache"),
        TIEOUT_DEMO_ROWS="20000",
    )
    out = open(home / "stdout.txt", "wb")
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    proc.tieout_out = out  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = (home / "stdout.txt").read_text(errors="replace")
        if m := re.search(r"running at (http://localhost:\d+/)", text):
            return proc, m.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"launcher exited early ({proc.returncode}):\n{text}")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no URL within {timeout} s")


def env_for(home: Path) -> dict[str, str]:
    return dict(os.environ, TIEOUT_HOME=str(home), TIEOUT_CACHE_DIR=str(home / "cache"))


def wait_exit(proc: subprocess.Popen, timeout: float) -> int | None:
    """The exit code if the process ends within ``timeout`` s (else kill it, return None)."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return None
    finally:
        proc.tieout_out.close()  # type: ignore[attr-defined]
