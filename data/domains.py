"""The domain registry: one declaration per domain, the one place that lists them.

A domain is a folder of input tables (declared in `data.schemas` with ``domain=<name>``), the
rules across its tables (`data.checks`), the marts built from them at ingest (`data.marts`), a
Param model (``models``), a Panel view (``views``) and a demo generator (`data.generate`).
Everything that iterates over domains (the ingest, validation, the generator, the app's pages,
the URL state, the CLI, the exports and the tests) iterates over `REGISTRY`.

Code is named here as ``"module:attribute"`` and imported only when asked for, so this module
depends on nothing above the data layer: the CLI reads the registry without importing Panel,
and the data layer without importing the models. Adding a domain is described in
docs/architecture.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from data import schemas


def resolve(ref: str) -> Any:
    """The object a ``"module:attribute"`` reference names."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Domain:
    """One analytics domain: its name (the data folder and the URL's ``page``), the label people
    see, and where its parts live."""

    name: str
    label: str
    model: str  #: the Param model class (``DomainModel`` subclass)
    view: str  #: the Panel view class (takes ``model=``; has ``.filters``)
    marts: str  #: ``builder(ibis_backend) -> {mart_name: expression}``
    rules: str  #: ``rules(tables, backend) -> [(table, Check)]``, beyond the column rules
    generator: str  #: ``generator(out, n, rng, start, end, fmt, tick)`` writes the demo folder
    demo_units: Callable[[int], int]  #: generator units for ``tieout generate --rows N``
    seed_stream: int  #: which spawned random stream the generator uses (fixed: same bytes)

    @property
    def tables(self) -> tuple[schemas.Table, ...]:
        """The declared input tables of the domain."""
        return schemas.tables_of(self.name)

    def model_class(self) -> type:
        """The domain's Param model class."""
        return resolve(self.model)

    def view_class(self) -> type:
        """The domain's Panel view class (imports Panel)."""
        return resolve(self.view)


REGISTRY: dict[str, Domain] = {
    d.name: d
    for d in (
        Domain(
            name="influencer",
            label="Influencer ROI",
            model="models.influencer:InfluencerModel",
            view="views.influencer:InfluencerView",
            marts="data.marts:influencer_marts",
            rules="data.checks:influencer_rules",
            generator="data.generate:generate_influencer",
            demo_units=lambda rows: max(rows // 5, 2000),
            seed_stream=1,
        ),
        Domain(
            name="payments",
            label="Payments",
            model="models.payments:PaymentsModel",
            view="views.payments:PaymentsView",
            marts="data.marts:payments_marts",
            rules="data.checks:payments_rules",
            generator="data.generate:generate_payments",
            demo_units=lambda rows: rows,
            seed_stream=0,
        ),
        Domain(
            name="reconciliation",
            label="Reconciliation",
            model="models.reconciliation:ReconciliationModel",
            view="views.reconciliation:ReconciliationView",
            marts="data.marts:reconciliation_marts",
            rules="data.checks:reconciliation_rules",
            generator="data.generate:generate_reconciliation",
            demo_units=lambda rows: max(rows // 5, 1000),
            seed_stream=2,
        ),
    )
}

#: The domains' names, in the order pages and reports list them.
NAMES: tuple[str, ...] = tuple(REGISTRY)


def get(name: str) -> Domain:
    """The declaration of domain ``name``; a clear error for an unknown one."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown domain {name!r}; expected one of {', '.join(NAMES)}") from None
