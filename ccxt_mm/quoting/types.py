"""Value types shared by the quoting and execution layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ccxt_mm.quoting.spread import VolRegime

BUY: Final = 1
SELL: Final = -1


@dataclass(init=False, slots=True)
class Quote:
    """One desired resting order: ``side`` +1 bid / -1 ask, ``level`` 0 = closest to mid,
    ``price`` quote currency (on the tick grid), ``qty`` base units (on the lot grid)."""

    side: int
    level: int
    price: float
    qty: float

    def __init__(self, side: int, level: int, price: float, qty: float) -> None:
        self.side = side
        self.level = level
        self.price = price
        self.qty = qty


@dataclass(frozen=True, slots=True)
class Prediction:
    """A short-term view of one market, made off the quoting path (LLM or local)."""

    direction: float
    """Expected price direction in [-1, 1] (+1: up)."""
    confidence: float
    """How much to trust it, in [0, 1]."""
    volatility: VolRegime
    ts_ns: int
    """When the prediction became usable, on the quoting clock (ns)."""
    source: str
    """Who made it: ``llm:<model>`` or ``imbalance``."""
