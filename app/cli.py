"""The `tieout` command: generate, validate, kpis, export, serve, desktop.

Exit codes: 0 ok, 2 bad input or usage (the message names what is wrong; no traceback),
1 unexpected error.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.recon_cli import add_parser as add_recon_parser
from app.recon_cli import cmd_recon
from data.domains import NAMES

EXIT_OK, EXIT_UNEXPECTED, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or input: exit code 2."""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-01-31, got {text!r}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"tieout: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tieout", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    g = sub.add_parser("generate", help="write demo data for every domain")
    g.add_argument("--out", required=True, type=Path)
    g.add_argument("--rows", type=int, default=1_000_000, help="payments transactions")
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--start", type=_date, default=None)
    g.add_argument("--end", type=_date, default=None)
    g.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    g.add_argument("--quiet", action="store_true", help="no progress bar")

    v = sub.add_parser("validate", help="check a data folder and print every problem")
    v.add_argument("--data", required=True, type=Path)
    v.add_argument("--domain", choices=NAMES, action="append")
    _add_reading_args(v)

    k = sub.add_parser("kpis", help="print the KPIs of one domain as JSON or CSV")
    k.add_argument("--domain", required=True, choices=NAMES)
    k.add_argument("--data", type=Path, default=None, help="data folder (or --source-schema)")
    _add_model_args(k)
    k.add_argument("--tables", action="store_true", help="add the domain's tables")
    k.add_argument("--format", choices=["json", "csv"], default="json")
    _add_reading_args(k)
    _add_backend_arg(k)

    e = sub.add_parser(
        "export", help="write the KPIs and every table behind a domain's charts (CSV/Parquet/XLSX)"
    )
    e.add_argument("--domain", required=True, choices=NAMES)
    e.add_argument("--data", type=Path, default=None, help="data folder (or --source-schema)")
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--format", choices=["csv", "parquet", "xlsx"], default="csv")
    _add_model_args(e)
    _add_reading_args(e)
    _add_backend_arg(e)

    d = sub.add_parser("desktop", help="the app for one person: serve locally, open the browser")
    from app.desktop import add_arguments

    add_arguments(d)
    _add_reading_args(d)
    _add_backend_arg(d)

    s = sub.add_parser("serve", help="serve the app for a team (panel serve)")
    s.add_argument("--data", type=Path, default=None)
    s.add_argument("--port", type=int, default=5006)
    s.add_argument("--address", default="localhost")
    s.add_argument("--allow-websocket-origin", dest="origins", action="append", default=[])
    s.add_argument("--basic-auth", default=None, help="password, or a JSON file of user: pass")
    s.add_argument("--cookie-secret", default=None)
    s.add_argument("--num-procs", type=int, default=1)
    s.add_argument("--show", action="store_true", help="open a browser")
    s.add_argument("--login-expiry-days", type=float, default=1.0, help="login cookie lifetime")
    s.add_argument("--oauth-provider", default=None, help="e.g. github, google, azure, generic")
    s.add_argument("--oauth-key", default=None)
    s.add_argument("--oauth-secret", default=None)
    s.add_argument("--oauth-redirect-uri", default=None)
    s.add_argument(
        "--behind-proxy",
        action="store_true",
        help="trust the reverse proxy's X-Forwarded-For/-Proto headers (client address, https)",
    )
    _add_reading_args(s)
    _add_backend_arg(s)
    add_recon_parser(sub)  # tieout recon status|export-log (issue 19)
    return p


def _add_reading_args(p: argparse.ArgumentParser) -> None:
    """How to read files whose values do not decide it (see README, Files as they come)."""
    g = p.add_argument_group("reading files")
    g.add_argument(
        "--decimal",
        choices=[".", ","],
        default=None,
        help="decimal separator of number columns whose values do not decide it",
    )
    order = g.add_mutually_exclusive_group()
    order.add_argument(
        "--dayfirst",
        dest="dayfirst",
        action="store_const",
        const=True,
        default=None,
        help="read dates like 03/04/2025 as 3 April",
    )
    order.add_argument(
        "--monthfirst",
        dest="dayfirst",
        action="store_const",
        const=False,
        help="read dates like 03/04/2025 as March 4",
    )
    g.add_argument(
        "--mapping",
        type=Path,
        default=None,
        help="a tieout.toml of header names (applied over the data folder's own)",
    )


def _add_backend_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        default=None,
        metavar="URL",
        help="query engine: postgresql://user@host:port/db (password from PGPASSWORD, "
        "~/.pgpass or PGSERVICE, never here), or spark / spark://host:port for kpis and "
        "export; default DuckDB, or $TIEOUT_BACKEND",
    )
    p.add_argument(
        "--source-schema",
        default=None,
        metavar="SCHEMA",
        help="with a postgresql:// backend and no --data: the raw tables already in this "
        "schema of the database, validated and used there (or $TIEOUT_SOURCE_SCHEMA)",
    )


def _apply_backend_arg(a: argparse.Namespace) -> None:
    """The engine reaches every reader (and server sessions) through the environment."""
    from data.engine import BACKEND_ENV, SOURCE_SCHEMA_ENV
    from data.postgres import BackendError, check_url, is_postgres
    from data.spark import is_spark

    if not hasattr(a, "source_schema"):
        return
    schema = a.source_schema or os.environ.get(SOURCE_SCHEMA_ENV) or None
    if schema:
        if not is_postgres(a.backend or os.environ.get(BACKEND_ENV)):
            raise UsageError(
                f"--source-schema {schema}: needs --backend postgresql://user@host:port/db "
                "(the database that holds the schema)"
            )
        if a.data is not None:
            raise UsageError(
                f"--source-schema {schema} reads the tables of the database: give no --data"
            )
        os.environ[SOURCE_SCHEMA_ENV] = schema
    elif a.command in ("kpis", "export") and a.data is None:
        raise UsageError("--data is required (or --source-schema with a postgresql:// backend)")
    url = a.backend
    if not url:
        return

    if is_spark(url):
        if a.command in ("serve", "desktop"):
            raise UsageError(
                "--backend spark is for batch work (tieout kpis, tieout export): a filter "
                "change takes seconds there; serve on DuckDB or PostgreSQL"
            )
        os.environ[BACKEND_ENV] = url
        return
    try:
        os.environ[BACKEND_ENV] = check_url(url, on_command_line=True)
    except BackendError as exc:
        raise UsageError(str(exc)) from None


def _apply_reading_args(a: argparse.Namespace) -> None:
    """Reading choices reach every reader (and server sessions) through the environment."""
    from data.checks import Settings

    if not hasattr(a, "decimal"):
        return
    if a.mapping is not None and not a.mapping.is_file():
        raise UsageError(f"--mapping {a.mapping}: no such file")
    settings = Settings(
        decimal=a.decimal,
        dayfirst=a.dayfirst,
        mapping=str(a.mapping.resolve()) if a.mapping else None,
    )
    os.environ.update(settings.to_env())


def _model_classes() -> dict[str, type]:
    """Each domain's model class, whose ``FILTERS`` and ``SETTINGS`` name the flags."""
    from data.domains import REGISTRY

    return {name: d.model_class() for name, d in REGISTRY.items()}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _model_flags() -> tuple[dict[str, list[str]], dict[str, tuple[Any, list[str]]]]:
    """(filter flag -> its domains, setting -> (its parameter, its domains)), from the models."""
    filters: dict[str, list[str]] = {}
    settings: dict[str, tuple[Any, list[str]]] = {}
    for domain, cls in _model_classes().items():
        for flag in cls.FILTERS.values():
            filters.setdefault(flag, []).append(domain)
        for name in cls.SETTINGS:
            settings.setdefault(name, (cls.param[name], []))[1].append(domain)
    return filters, settings


def _add_model_args(p: argparse.ArgumentParser) -> None:
    """Period, filters (repeatable) and settings, shared by `kpis` and `export`: one flag per
    model filter and setting, named as in a link (``?segment=`` is ``--segment``)."""
    import param

    p.add_argument("--start", type=_date)
    p.add_argument("--end", type=_date)
    filters, settings = _model_flags()
    for flag, domains in sorted(filters.items()):
        p.add_argument(
            _flag(flag),
            dest=flag,
            action="append",
            default=[],
            metavar="VALUE",
            help=f"filter, repeatable ({', '.join(domains)})",
        )
    for name, (par, domains) in sorted(settings.items()):
        kw: dict[str, Any] = {}
        if isinstance(par, param.Selector):
            kw["choices"] = list(par.objects)
        elif isinstance(par, param.Integer):
            kw["type"] = int
        elif isinstance(par, param.Number):
            kw["type"] = float
        doc = (par.doc or "").rstrip(".").replace("%", "%%")
        p.add_argument(
            _flag(name),
            dest=name,
            default=None,
            help=f"{doc} ({', '.join(domains)}; default {par.default})",
            **kw,
        )


@contextlib.contextmanager
def _load_progress() -> Iterator[Callable[[str], None]]:
    """Stages of a first load on stderr (a tqdm bar of the running stage's percent), when
    stderr is a terminal; nothing when the cache is used or output is redirected."""
    if not sys.stderr.isatty():
        yield lambda _msg: None
        return
    from tqdm import tqdm

    bar = tqdm(total=100, file=sys.stderr, bar_format="{desc} {bar} {elapsed}", leave=False)

    def say(msg: str) -> None:
        stage, _, rest = msg.partition(": ")
        pct = re.match(r"(\d+)%", rest)
        bar.set_description_str(stage if pct else msg, refresh=False)
        bar.n = int(pct.group(1)) if pct else 0
        bar.refresh()

    try:
        yield say
    finally:
        bar.close()


def _progress_bar(total: int, quiet: bool):
    if quiet:
        return None, (lambda _n: None)
    from tqdm import tqdm

    bar = tqdm(total=total, unit="rows", unit_scale=True, desc="generating", file=sys.stderr)
    return bar, bar.update


def cmd_generate(a: argparse.Namespace) -> int:
    from data.generate import DEFAULT_END, DEFAULT_START, generate, total_units

    if a.rows < 1:
        raise UsageError(f"--rows must be at least 1, got {a.rows}")
    start, end = a.start or DEFAULT_START, a.end or DEFAULT_END
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    bar, tick = _progress_bar(total_units(a.rows), a.quiet)
    try:
        generate(a.out, rows=a.rows, seed=a.seed, start=start, end=end, fmt=a.format, progress=tick)
    finally:
        if bar is not None:
            bar.close()
    print(f"demo data written to {a.out}", file=sys.stderr)
    return EXIT_OK


def cmd_validate(a: argparse.Namespace) -> int:
    from data.engine import validate_root

    if not a.data.is_dir():
        raise UsageError(f"--data {a.data}: no such folder")
    results = validate_root(a.data, a.domain)
    bad = False
    for domain, data in results.items():
        if not data.present:
            print(f"{domain}: no folder {a.data / domain} (domain skipped)")
            continue
        for table, form in data.forms.items():
            print(f"{domain}/{table}: read as {form}")
        for note in data.notes:
            print(f"{domain}: {note}")
        print(f"{domain}: {data.report.text()}")
        bad |= not data.report.ok
    return EXIT_BAD_INPUT if bad else EXIT_OK


_MONEY = "\x00"


def dumps(value: Any, indent: int | None = 1) -> str:
    """JSON with exact money: Decimal cents print as numbers with two decimals (1060.10)."""
    text = json.dumps(_jsonable(value), indent=indent)
    return re.sub(r'"\\u0000(-?[0-9]+\.[0-9]+)\\u0000"', r"\1", text)


def _jsonable(value: Any) -> Any:
    import math
    from decimal import Decimal

    import pandas as pd

    if isinstance(value, Decimal):
        return f"{_MONEY}{value}{_MONEY}"  # printed as a bare number by `dumps`
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()[:10]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if value is pd.NA or value is None:
        return None
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


def _model_from_args(a: argparse.Namespace) -> Any:
    """The domain model with the period, filters and settings of the command line (flags of
    another domain are refused before any data is read)."""
    updates: dict[str, Any] = {}
    cls = _model_classes()[a.domain]
    filters, settings = _model_flags()
    for flag in filters:
        if getattr(a, flag) and flag not in cls.FILTERS.values():
            raise UsageError(f"{_flag(flag)} is not a filter of the {a.domain} domain")
    updates.update({p: getattr(a, flag) for p, flag in cls.FILTERS.items() if getattr(a, flag)})
    for name in settings:
        if getattr(a, name) is not None and name not in cls.SETTINGS:
            raise UsageError(f"{_flag(name)} does not apply to the {a.domain} domain")
    updates.update({s: getattr(a, s) for s in cls.SETTINGS if getattr(a, s) is not None})
    if a.start:
        updates["start"] = a.start
    if a.end:
        updates["end"] = a.end
    model = _open_model(a.domain, a.data)
    updates.update(_review_inputs(model))
    try:
        model.param.update(**updates)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return model


def _review_inputs(model: Any) -> dict[str, Any]:
    """What the review state adds to a model, as on the page: the matches people confirmed
    (reconciliation with order ids). Nothing when no review state was ever saved."""
    if model.domain != "reconciliation" or model.approximate:
        return {}
    from data.state import StateError, default_url, open_store
    from models.review import confirmed_pairs
    from models.review_session import scope_of

    url = default_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return {}
    try:
        pairs = confirmed_pairs(open_store(url).decisions(scope_of(model)))
    except StateError as exc:
        raise UsageError(str(exc)) from None
    return {"confirmed": pairs} if pairs else {}


def cmd_kpis(a: argparse.Namespace) -> int:
    model = _model_from_args(a)
    out = model.summary(tables=a.tables)
    if a.format == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["key", "value"])
        for key, value in out["kpis"].items():
            if isinstance(value, list):
                value = dumps(value, indent=None)
            w.writerow([key, "" if value is None else value])
    else:
        print(dumps(out))
    return EXIT_OK


def cmd_export(a: argparse.Namespace) -> int:
    from models.export import write_tables

    out = a.out.resolve()
    data = a.data.resolve() if a.data is not None else None
    if data is not None and (out == data or data in out.parents):
        raise UsageError(f"--out {a.out} is inside the data folder; choose another folder")
    model = _model_from_args(a)
    for path in write_tables(model, out, a.format):
        print(path)
    return EXIT_OK


def _open_model(domain: str, root: Path | None) -> Any:
    from data.engine import SOURCE_SCHEMA_ENV, open_source
    from models import make_model

    schema = os.environ.get(SOURCE_SCHEMA_ENV)
    if not schema and (root is None or not root.is_dir()):
        raise UsageError(f"--data {root}: no such folder")
    with _load_progress() as say:
        source = open_source(root or Path.cwd(), progress=say)
    status = source.status.get(domain)
    if status is None or not status.present:
        if schema:
            raise UsageError(f"schema {schema}: no table of the {domain} domain")
        raise UsageError(f"{root}: no {domain}/ folder")
    if not status.loaded:
        raise UsageError(f"{domain} data is invalid:\n{status.report.text()}")
    return make_model(domain, source)


def cmd_desktop(a: argparse.Namespace) -> int:
    from app.desktop import run

    return run(no_browser=a.no_browser, data=a.data, port=a.port)


def cmd_serve(a: argparse.Namespace) -> int:
    from app.server import serve

    serve(
        data=a.data,
        port=a.port,
        address=a.address,
        origins=a.origins,
        basic_auth=a.basic_auth,
        cookie_secret=a.cookie_secret,
        num_procs=a.num_procs,
        show=a.show,
        login_expiry_days=a.login_expiry_days,
        oauth_provider=a.oauth_provider,
        oauth_key=a.oauth_key,
        oauth_secret=a.oauth_secret,
        oauth_redirect_uri=a.oauth_redirect_uri,
        behind_proxy=a.behind_proxy,
    )
    return EXIT_OK


COMMANDS = {
    "generate": cmd_generate,
    "validate": cmd_validate,
    "kpis": cmd_kpis,
    "export": cmd_export,
    "serve": cmd_serve,
    "desktop": cmd_desktop,
    "recon": cmd_recon,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tieout` console script."""
    args = build_parser().parse_args(argv)
    try:
        _apply_reading_args(args)
        _apply_backend_arg(args)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"tieout: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_UNEXPECTED
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        engine = sys.modules.get("data.engine")  # a cache folder that cannot be used: exit 2
        pg = sys.modules.get("data.postgres")  # a server that cannot be reached or used: exit 2
        if (engine is not None and isinstance(exc, engine.CacheError)) or (
            pg is not None and isinstance(exc, pg.BackendError)
        ):
            print(f"tieout: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"tieout: unexpected error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return EXIT_UNEXPECTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
