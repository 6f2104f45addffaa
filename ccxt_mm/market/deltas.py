"""Book deltas from successive whole books (pure): what a capture writes when the exchange (or
ccxt) hands over a full book each time rather than its diffs.

Levels are ``(price, qty)`` pairs, prices in quote currency, quantities in base units (or
contracts); a delta row of quantity 0 removes its price level.
"""

from __future__ import annotations

from collections.abc import Sequence

Level = tuple[float, float]


def side_delta(before: Sequence[Sequence[float]], after: Sequence[Sequence[float]]) -> list[Level]:
    """The rows that turn one side ``before`` into ``after`` (each a list of ``[price, qty, ...]``
    rows): every level whose quantity changed or that appeared, at its new quantity, and every
    level that went, at 0; in ``after``'s order, the removals last."""
    old = {float(row[0]): float(row[1]) for row in before}
    out: list[Level] = []
    seen = set()
    for row in after:
        price, qty = float(row[0]), float(row[1])
        seen.add(price)
        if old.get(price) != qty:
            out.append((price, qty))
    out.extend((price, 0.0) for price in old if price not in seen)
    return out
