"""Param models of the domains (no Panel imports). Which model serves which domain is declared
once, in the registry (`data.domains`)."""

from __future__ import annotations

from typing import Any


def model_class(domain: str) -> type:
    """The model class of a domain."""
    from data.domains import get

    return get(domain).model_class()


def make_model(domain: str, source: Any, **params: Any) -> Any:
    """A fresh model of ``domain`` over ``source``."""
    return model_class(domain)(source, **params)
