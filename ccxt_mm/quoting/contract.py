"""What one unit of a market's amount is worth: a base unit (spot), or a contract of a linear
or inverse swap.

A market's amounts (book sizes, order sizes, positions) are in its exchange's unit, as ccxt
gives them: base units for spot, contracts for a swap or future. Money is in the settle
currency: the quote for spot and linear contracts (a contract is ``size`` base units), the base
for inverse contracts (a contract is worth ``size`` quote currency). The formulas are Binance's
for USDⓈ-M and COIN-M futures, OKX's and Bybit's for their linear and inverse swaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Contract:
    size: float = 1.0
    """Base units per contract (spot: 1, linear), or quote currency per contract (inverse)."""
    inverse: bool = False
    """Money (PnL, fees, margin, funding) is in the base currency."""
    margined: bool = False
    """A derivative: positions of either sign on margin, not balances of two assets."""
    maintenance_rate: float = 0.0
    """Maintenance margin as a share of the notional (a swap's; 0 for spot)."""

    def cost(self, side: int, qty: float, price: float) -> float:
        """Settle currency paid for ``qty`` bought (``side`` +1) or sold (-1) at ``price``:
        spot and linear ``side × qty × size × price`` (received if negative); inverse
        ``-side × qty × size / price``, so that cash + :meth:`position_value` is the equity."""
        if self.inverse:
            return -side * qty * self.size / price
        return side * qty * self.size * price

    def position_value(self, position: float, price: float) -> float:
        """Settle currency the signed ``position`` adds to the cash at ``price``: cash plus this
        is the equity. It is what buying ``position`` costs now (an inverse position counts
        ``-position × size / price``), so a position bought and valued at one price adds nothing."""
        return self.cost(1, position, price)

    def notional(self, qty: float, price: float) -> float:
        """Value of ``qty`` (≥ 0) at ``price``, settle currency: what fees and margin apply to."""
        return qty * self.size / price if self.inverse else qty * self.size * price

    def quote_notional(self, qty: float, price: float) -> float:
        """Value of ``qty`` (≥ 0) at ``price``, quote currency (inverse: ``qty × size``)."""
        return qty * self.size if self.inverse else qty * self.size * price

    def base_units(self, qty: float, price: float) -> float:
        """Base units ``qty`` of the market's amount stands for at ``price``: ``qty × size``
        (spot, linear), an inverse contract's quote value in base at ``price``."""
        return qty * self.size / price if self.inverse else qty * self.size

    def to_quote(self, amount: float, price: float) -> float:
        """A settle-currency ``amount`` in the quote currency at ``price``."""
        return amount * price if self.inverse else amount

    def margin_ratio(self, position: float, cash: float, mark: float) -> float:
        """Maintenance margin / equity at ``mark`` (cash + the position's value, settle
        currency); inf when the equity is gone. The exchange liquidates at 1."""
        equity = cash + self.position_value(position, mark)
        maintenance = self.notional(abs(position), mark) * self.maintenance_rate
        return maintenance / equity if equity > 0.0 else math.inf

    def liquidation_price(self, position: float, cash: float) -> float | None:
        """The price (quote) at which the equity, all of it backing ``position`` (cross margin),
        falls to the maintenance margin: linear cash + pos × size × P = |pos| × size × P × mmr,
        inverse cash − pos × size / P = |pos| × size × mmr / P. None when no positive price
        liquidates it (flat, or a short inverse position its coin collateral covers)."""
        if position == 0.0:
            return None
        mmr = self.maintenance_rate
        if self.inverse:
            price = self.size * (position + abs(position) * mmr) / cash if cash != 0.0 else 0.0
        else:
            denominator = self.size * (abs(position) * mmr - position)
            price = cash / denominator if denominator != 0.0 else 0.0
        return price if price > 0.0 else None

    def funding(self, position: float, rate: float, mark: float) -> float:
        """One funding payment at ``rate`` (positive: longs pay shorts) on the signed
        ``position`` valued at ``mark``: received, settle currency (negative: paid). Binance:
        position value × funding rate, the position value being size × contracts × mark
        (USDⓈ-M) or size × contracts / mark (COIN-M)."""
        return -position * self.notional(1.0, mark) * rate


SPOT: Final = Contract()
"""Spot: an amount is a base unit, money the quote currency."""
