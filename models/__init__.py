"""Param models of the three domains (no Panel imports)."""

from __future__ import annotations

from typing import Any

#: Domains whose model is built. The others (issues 3 and 5) show a placeholder.
AVAILABLE = ("influencer", "payments", "reconciliation")


def model_class(domain: str) -> type:
    """The model class of a domain."""
    if domain not in AVAILABLE:
        raise NotImplementedError(f"the {domain} domain is not built yet")
    if domain == "influencer":
        from models.influencer import InfluencerModel

        return InfluencerModel
    if domain == "payments":
        from models.payments import PaymentsModel

        return PaymentsModel
    if domain == "reconciliation":
        from models.reconciliation import ReconciliationModel

        return ReconciliationModel
    raise KeyError(domain)


def make_model(domain: str, source: Any, **params: Any) -> Any:
    """A fresh model of ``domain`` over ``source``."""
    return model_class(domain)(source, **params)
