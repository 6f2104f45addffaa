"""Position and PnL accounting for one symbol (average-cost method).

Quantities base units, prices and money quote currency.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Inventory:
    position: float = 0.0
    """Net base quantity traded since start (+ long)."""
    avg_price: float = 0.0
    """Average entry price of the open position."""
    realized: float = 0.0
    """Realized PnL before fees."""
    fees: float = 0.0
    volume_base: float = 0.0
    volume_quote: float = 0.0
    fills: int = 0

    def on_fill(self, side: int, price: float, qty: float, fee: float) -> None:
        """``side`` +1 buy / -1 sell; ``fee`` quote currency (negative for a rebate)."""
        signed = side * qty
        pos = self.position
        if pos == 0.0 or (pos > 0.0) == (signed > 0.0):
            new = pos + signed
            self.avg_price = (self.avg_price * abs(pos) + price * qty) / abs(new)
            self.position = new
        else:
            closed = min(qty, abs(pos))
            self.realized += closed * (price - self.avg_price) * (1.0 if pos > 0.0 else -1.0)
            new = pos + signed
            if abs(new) < 1e-12:
                self.position, self.avg_price = 0.0, 0.0
            elif (new > 0.0) != (pos > 0.0):
                self.position, self.avg_price = new, price
            else:
                self.position = new
        self.fees += fee
        self.volume_base += qty
        self.volume_quote += qty * price
        self.fills += 1

    def unrealized(self, mid: float) -> float:
        return self.position * (mid - self.avg_price)

    def pnl(self, mid: float) -> float:
        """Market-making PnL: realized + unrealized − fees."""
        return self.realized + self.unrealized(mid) - self.fees
