"""The market quoted: its symbol, price and size grids, the exchange's minimums, and the
recordings ``ccxt-mm replay`` reads for it (the ``market`` section of the config)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from ccxt_mm.quoting.constraints import Check, NonNegative, Positive


def unified_symbol(value: str) -> str:
    """A unified symbol as the CLI, the replay and ccxt spell it: ``BASE/QUOTE``."""
    if not re.fullmatch(r"[A-Z0-9]+/[A-Z0-9]+", value):
        raise ValueError("expected BASE/QUOTE in capital letters and digits, e.g. BTC/USDT")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketParams:
    """The ``market`` section of the config; live runs replace the grids and minimums with the
    exchange's."""

    symbol: Annotated[str, Check(unified_symbol)] = "BTC/USDT"
    """Unified ``BASE/QUOTE`` symbol."""
    tick_size: Positive = 0.01
    """Price increment, quote currency."""
    lot_size: Positive = 0.00001
    """Size increment, base units."""
    min_order_base: NonNegative = 0.0
    """The exchange's minimum order size, base units (0: one lot); live runs read the exchange's."""
    min_notional_quote: NonNegative = 0.0
    """The exchange's minimum order value, quote currency (0: none); live runs read the exchange's."""
    data: tuple[str, ...] = (
        "recordings/binance_spot/spot_btcusdt_20240808.gz",
        "recordings/binance_spot/spot_btcusdt_20240809.gz",
    )
    """Recordings replayed, in order (a relative path is read beside the config, else from the
    bundled ones)."""

    @property
    def base(self) -> str:
        """The base asset of :attr:`symbol`."""
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        """The quote currency of :attr:`symbol`."""
        return self.symbol.split("/")[1]
