"""Value types shared by the quoting and execution layers."""

from __future__ import annotations

from typing import NamedTuple

BUY = 1
SELL = -1


class Quote(NamedTuple):
    """One desired resting order: ``side`` +1 bid / -1 ask, ``level`` 0 = closest to mid,
    ``price`` quote currency (on the tick grid), ``qty`` base units (on the lot grid)."""

    side: int
    level: int
    price: float
    qty: float
