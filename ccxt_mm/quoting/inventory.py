"""Position and PnL accounting for one symbol (average-cost method): spot, linear and inverse
contracts.

Spot: quantities in base units, prices and money in the quote currency. Contracts: quantities in
contracts of ``contract_size`` each (base units per contract for a linear one, quote currency
per contract for an inverse one), money in the settle currency: the quote for a linear contract
(PnL = contracts × size × (exit − entry)), the base for an inverse one (PnL = contracts × size ×
(1/entry − 1/exit), the entry being the contracts' harmonic average price). These are Binance's
formulas for USDⓈ-M and COIN-M futures ("How to calculate unrealized PNL": position size ×
direction × (mark − entry); position size × contract multiplier × direction × (1/entry −
1/mark)), and OKX's and Bybit's for their linear and inverse swaps.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccxt_mm.quoting.contract import Contract


@dataclass(slots=True)
class Inventory:
    position: float = 0.0
    """Net quantity traded since start (+ long): base units, or contracts."""
    avg_price: float = 0.0
    """Average entry price of the open position (inverse: the harmonic average)."""
    realized: float = 0.0
    """Realized PnL before fees (quote; an inverse contract's in base)."""
    fees: float = 0.0
    volume_base: float = 0.0
    volume_quote: float = 0.0
    fills: int = 0
    contract_size: float = 1.0
    """Base units per contract (spot and linear), or quote currency per contract (inverse)."""
    inverse: bool = False
    """Inverse contracts: money in the base currency."""
    funding: float = 0.0
    """Funding received (paid: negative), in the settle currency."""

    def on_fill(self, side: int, price: float, qty: float, fee: float) -> None:
        """``side`` +1 buy / -1 sell; ``fee`` settle currency (negative for a rebate)."""
        signed = side * qty
        pos = self.position
        if pos == 0.0 or (pos > 0.0) == (signed > 0.0):
            new = pos + signed
            if self.inverse:
                self.avg_price = abs(new) / ((abs(pos) / self.avg_price if pos != 0.0 else 0.0) + qty / price)
            else:
                self.avg_price = (self.avg_price * abs(pos) + price * qty) / abs(new)
            self.position = new
        else:
            closed = min(qty, abs(pos))
            self.realized += self.pnl_of(closed if pos > 0.0 else -closed, self.avg_price, price)
            new = pos + signed
            if abs(new) < 1e-12:
                self.position, self.avg_price = 0.0, 0.0
            elif (new > 0.0) != (pos > 0.0):
                self.position, self.avg_price = new, price
            else:
                self.position = new
        self.fees += fee
        if self.inverse:
            self.volume_base += qty * self.contract_size / price
            self.volume_quote += qty * self.contract_size
        else:
            self.volume_base += qty * self.contract_size
            self.volume_quote += qty * price * self.contract_size
        self.fills += 1

    def pnl_of(self, position: float, entry: float, exit: float) -> float:
        """PnL of ``position`` (signed) bought at ``entry`` and valued at ``exit`` (settle currency)."""
        if position == 0.0:
            return 0.0
        if self.inverse:
            return position * self.contract_size * (1.0 / entry - 1.0 / exit)
        return position * (exit - entry) * self.contract_size

    def on_funding(self, rate: float, mark: float) -> float:
        """Settle one funding payment at ``rate`` (positive: longs pay shorts) on the position
        valued at ``mark``; returns what was received (settle currency, negative: paid)."""
        received = Contract(self.contract_size, self.inverse, True).funding(self.position, rate, mark)
        self.funding += received
        return received

    def unrealized(self, mid: float) -> float:
        return self.pnl_of(self.position, self.avg_price, mid)

    def pnl(self, mid: float) -> float:
        """Market-making PnL: realized + unrealized − fees + funding."""
        return self.realized + self.unrealized(mid) - self.fees + self.funding
