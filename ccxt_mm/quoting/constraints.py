"""Constraints of parameter fields, written beside each field as ``typing.Annotated`` metadata.

The pure layers declare their parameters once, as frozen dataclasses (``SpreadParams``,
``RiskParams``...); :mod:`ccxt_mm.schema` makes the config's YAML sections from them and the
constraints are checked when a config is loaded (a dataclass built in code is not checked).
Bounds are ``annotated_types``' (pydantic reads them as they are); :class:`Pattern` and
:class:`Check` are this package's, translated by the schema. Nothing here imports pydantic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le

Positive = Annotated[float, Gt(0)]
NonNegative = Annotated[float, Ge(0)]
Fraction = Annotated[float, Ge(0), Le(1)]
Multiplier = Annotated[float, Ge(1)]
"""A factor that may only widen (scale up)."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """Text that must match ``regex`` (``must match the pattern <regex>``)."""

    regex: str


@dataclass(frozen=True, slots=True)
class Check:
    """A value ``check`` accepts: it returns the value, or raises ``ValueError`` saying what is wrong."""

    check: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Off:
    """A limit that may be switched off, explicitly: ``null`` or ``off`` in the config (never
    by a huge number). Each run, and ``check-config``, warns about each limit that is off and
    says what is then unguarded."""

    unguarded: str
    """What nothing limits while the limit is off, e.g. ``no drawdown stops the run``."""
    several_markets: bool = False
    """Only a run of several markets needs the limit (one market's own limits cover it)."""
