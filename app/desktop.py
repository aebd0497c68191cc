"""`tieout desktop` / `python -m app` / the frozen executable: the app for one person.

Serves on a free localhost port and opens ``http://localhost:PORT/`` in the default browser
(``--no-browser`` prints the URL only). A second launch finds the running instance through a small
file in the per-user config folder, checks it answers, and opens a new tab on it instead of
starting another server. The server stops a few seconds after the last tab closes. Logs go to a
per-user log file. The first launch creates demo data in the per-user data folder (progress shows
in the page); later launches open the folder used last.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import socket
import subprocess
import sys
import time
import urllib.request
import webbrowser
from pathlib import Path
from typing import Any

from data.settings import DATA_ENV, MODE_ENV, config_dir, demo_dir, last_data_folder, log_dir

log = logging.getLogger("tieout")

PING_PATH = "/tieout-ping"
#: Seconds with no open session before the server stops (after at least one session existed).
IDLE_EXIT_S = 3.0


def setup_logging() -> Path:
    """Log to a rotating per-user file; a windowed build has no stdout/stderr, so point them there
    too (else any print would crash)."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tieout.log"
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    if sys.stdout is None or sys.stderr is None:  # pragma: no cover - Windows windowed build
        stream = open(path, "a", encoding="utf-8", buffering=1)
        sys.stdout = sys.stdout or stream
        sys.stderr = sys.stderr or stream
    return path


def free_port() -> int:
    """A port free on localhost right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("localhost", 0))
        return int(s.getsockname()[1])


def _instance_file() -> Path:
    return config_dir() / "instance.json"


def running_instance(timeout: float = 1.0) -> str | None:
    """The URL of a Tieout already serving for this user, if one answers."""
    try:
        info = json.loads(_instance_file().read_text(encoding="utf-8"))
        url = f"http://localhost:{int(info['port'])}/"
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        with urllib.request.urlopen(url.rstrip("/") + PING_PATH, timeout=timeout) as r:
            body = json.loads(r.read().decode())
    except (OSError, ValueError):
        return None
    return url if body.get("app") == "tieout" else None


def open_browser(url: str) -> None:
    """Open ``url`` in the default browser, with the library path the user's session had (a
    frozen Linux app sets LD_LIBRARY_PATH to its own libraries, which can break the browser)."""
    env = dict(os.environ)
    if "LD_LIBRARY_PATH_ORIG" in env:
        env["LD_LIBRARY_PATH"] = env["LD_LIBRARY_PATH_ORIG"]
    elif getattr(sys, "frozen", False):
        env.pop("LD_LIBRARY_PATH", None)
    if sys.platform.startswith("linux"):
        try:
            subprocess.Popen(
                ["xdg-open", url],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            return
        except OSError:
            pass
    webbrowser.open(url, new=2)


def _ping_handler() -> Any:
    from tornado.web import RequestHandler

    class Ping(RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "application/json")
            self.write(json.dumps({"app": "tieout", "pid": os.getpid()}))

    return Ping


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tieout desktop", description=__doc__.splitlines()[0])
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-browser", action="store_true", help="print the URL, do not open it")
    p.add_argument("--data", type=Path, default=None, help="data folder (default: the last one)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")


def run(no_browser: bool = False, data: Path | None = None, port: int = 0) -> int:
    """Start (or reuse) the desktop server; return when it stops."""
    logfile = setup_logging()
    url = running_instance()
    if url is not None:
        log.info("already running at %s: opening a new tab", url)
        print(url, flush=True)  # noqa: T201
        if not no_browser:
            open_browser(url)
        return 0

    import panel as pn

    from app.main import create_app
    from data.loader import startup_job

    if data is not None:
        root, make_demo = data.expanduser().resolve(), False
        if not root.is_dir():
            print(f"tieout: --data {data}: no such folder", file=sys.stderr)  # noqa: T201
            return 2
    elif os.environ.get("TIEOUT_SOURCE_SCHEMA"):  # tables of a database: no folder, no demo
        root, make_demo = Path.cwd(), False
    else:
        root = last_data_folder() or demo_dir().resolve()
        make_demo = root == demo_dir().resolve()
    os.environ[MODE_ENV] = "desktop"
    os.environ[DATA_ENV] = str(root)
    startup_job(root, make_demo=make_demo, demo_rows=int(os.environ.get("TIEOUT_DEMO_ROWS", 0)))

    port = port or free_port()
    url = f"http://localhost:{port}/"
    server = pn.serve(
        {"/": create_app},
        port=port,
        address="localhost",
        websocket_origin=[f"localhost:{port}"],
        show=False,
        start=False,
        title="Tieout",
        check_unused_sessions_milliseconds=1000,
        unused_session_lifetime_milliseconds=2000,
        extra_patterns=[(PING_PATH, _ping_handler())],
    )
    instance = _instance_file()
    instance.parent.mkdir(parents=True, exist_ok=True)
    instance.write_text(json.dumps({"port": port, "pid": os.getpid()}), encoding="utf-8")

    seen = {"any": False, "idle_since": None}

    def watch_sessions() -> None:
        n = len(server.get_sessions())
        if n:
            seen["any"], seen["idle_since"] = True, None
            return
        if not seen["any"]:
            return
        now = time.monotonic()
        if seen["idle_since"] is None:
            seen["idle_since"] = now
        elif now - seen["idle_since"] >= IDLE_EXIT_S:
            log.info("last tab closed: stopping")
            server.io_loop.stop()

    from tornado.ioloop import PeriodicCallback

    PeriodicCallback(watch_sessions, 1000).start()
    log.info("serving %s on %s (log: %s)", root, url, logfile)
    print(f"Tieout is running at {url}", flush=True)  # noqa: T201
    if not no_browser:
        server.io_loop.add_callback(open_browser, url)
    try:
        server.start()
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        try:
            if json.loads(instance.read_text(encoding="utf-8")).get("pid") == os.getpid():
                instance.unlink()
        except (OSError, ValueError):
            pass
        server.stop()
        log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(no_browser=args.no_browser, data=args.data, port=args.port)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
