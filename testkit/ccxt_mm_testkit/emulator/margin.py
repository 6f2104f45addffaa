"""Positions on margin for the emulator's perpetual swaps: one position per market in
contracts (either sign), its average entry, and the settle-currency money of linear and
inverse contracts as the exchanges state it.

Binance USDⓈ-M (linear): a contract is ``contract_size`` of the base, its value
``contracts × size × price`` in the quote, which is the settle currency; the PnL of a close
is ``contracts × size × (exit − entry)``. Binance COIN-M (inverse): a contract is
``contract_size`` of the quote (10 USD for ETHUSD_PERP), its value ``contracts × size /
price`` in the base, which is the settle currency; the PnL of a long closed is
``contracts × size × (1/entry − 1/exit)``. A fee is the taker or maker rate of that value,
in the settle currency. Independent of the engine's own formulas (``ccxt_mm.quoting.contract``),
so the two check each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccxt_mm_testkit.emulator.core import EmuMarket


def value(m: EmuMarket, contracts: Decimal, price: Decimal) -> Decimal:
    """Settle-currency value of ``contracts`` (> 0) at ``price``."""
    return contracts * m.contract_size / price if m.inverse else contracts * m.contract_size * price


def close_pnl(m: EmuMarket, signed_contracts: Decimal, entry: Decimal, exit_price: Decimal) -> Decimal:
    """Settle-currency PnL of closing ``signed_contracts`` (> 0 a long) opened at ``entry``."""
    if m.inverse:
        return signed_contracts * m.contract_size * (1 / entry - 1 / exit_price)
    return signed_contracts * m.contract_size * (exit_price - entry)


@dataclass
class EmuPosition:
    """One market's position: ``contracts`` > 0 long, < 0 short; ``entry`` its average entry
    price (inverse: the harmonic mean, as the exchange computes it)."""

    contracts: Decimal = Decimal(0)
    entry: Decimal = Decimal(0)

    def apply(self, m: EmuMarket, signed_qty: Decimal, price: Decimal) -> Decimal:
        """A fill of ``signed_qty`` contracts (> 0 bought) at ``price``; returns the PnL it
        realized (the part that closed), settle currency."""
        old = self.contracts
        closing = min(abs(signed_qty), abs(old)) if old * signed_qty < 0 else Decimal(0)
        realized = close_pnl(m, closing if old > 0 else -closing, self.entry, price) if closing else Decimal(0)
        new = old + signed_qty
        if new == 0:
            self.entry = Decimal(0)
        elif old == 0 or old * new < 0:  # opened, or flipped: the rest opens at this price
            self.entry = price
        elif abs(new) > abs(old):  # added to: the average of the contracts' entries
            if m.inverse:
                self.entry = abs(new) / (abs(old) / self.entry + abs(signed_qty) / price)
            else:
                self.entry = (abs(old) * self.entry + abs(signed_qty) * price) / abs(new)
        self.contracts = new
        return realized

    def unrealized(self, m: EmuMarket, mark: Decimal) -> Decimal:
        """Settle-currency PnL of closing the whole position at ``mark``."""
        return close_pnl(m, self.contracts, self.entry, mark) if self.contracts else Decimal(0)
