"""The market quoted: its symbol, price and size grids, the exchange's minimums, and the
recordings ``ccxt-mm replay`` reads for it (the ``market`` section of the config)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from annotated_types import Ge, Le, Lt

from ccxt_mm.quoting.constraints import Check, NonNegative, Positive
from ccxt_mm.quoting.contract import Contract

SMALLEST_STEP: Final = 1e-12
"""The finest tick or lot taken, quote currency or base units: no exchange's is finer, and a
price over it stays a whole number of steps a float holds exactly."""
SYMBOL_FORMAT: Final = "expected BASE/QUOTE or BASE/QUOTE:SETTLE in capital letters and digits, e.g. BTC/USDT or ETH/USDT:USDT"


def unified_symbol(value: str) -> str:
    """A unified symbol as the CLI, the replay and ccxt spell it: ``BASE/QUOTE`` (spot) or
    ``BASE/QUOTE:SETTLE`` (a perpetual swap; settled in the quote: linear, in the base: inverse)."""
    if not re.fullmatch(r"[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+)?", value):
        raise ValueError(SYMBOL_FORMAT)
    base, rest = value.split("/")
    quote, _, settle = rest.partition(":")
    if settle and settle not in (base, quote):
        raise ValueError(f"settle currency {settle} is neither the base {base} nor the quote {quote} (quanto contracts are not supported)")
    return value


def market_kind(symbol: str) -> str:
    """``spot``, ``linear`` or ``inverse``: what a unified symbol names (a swap settled in its
    quote is linear, in its base inverse)."""
    base, rest = symbol.split("/")
    quote, _, settle = rest.partition(":")
    if not settle:
        return "spot"
    return "inverse" if settle == base and settle != quote else "linear"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketParams:
    """The ``market`` section of the config; live runs replace the grids and minimums with the
    exchange's."""

    symbol: Annotated[str, Check(unified_symbol)] = "BTC/USDT"
    """Unified symbol: ``BASE/QUOTE`` (spot) or ``BASE/QUOTE:SETTLE`` (perpetual swap)."""
    tick_size: Annotated[float, Ge(SMALLEST_STEP)] = 0.01
    """Price increment, quote currency."""
    lot_size: Annotated[float, Ge(SMALLEST_STEP)] = 0.00001
    """Size increment in the market's amount unit, as ccxt's ``precision.amount``: base units
    (spot), contracts (swap)."""
    contract_size: Positive | None = None
    """A swap's contract: base units (linear) or quote currency (inverse) per contract, as ccxt's
    ``contractSize`` (required for a swap: 1 ETH on Binance USDⓈ-M ETHUSDT, 10 USD on COIN-M
    ETHUSD_PERP); spot leaves it out (a base unit)."""
    size_unit: Literal["base", "contracts", "quote"] = "base"
    """The unit the config's sizes are given in (``strategy.params.order_qty``,
    ``risk.max_position_base``, ``market.min_order_base``, ``book.impact_qty``): base units, as
    their names say; a swap's contracts; or quote currency, their value at a reference price
    (the recording's first mid, a swap's mark at a live start). Converted once, at the edge,
    into the market's amount unit (:mod:`ccxt_mm.amounts`)."""
    leverage: Annotated[float, Ge(1), Le(125)] = 1.0
    """A swap's leverage: the margin an order or position takes is its notional / leverage; 1
    for spot. ``ccxt-mm run`` applies it to every swap it quotes (``--live``: set on the
    account at start, whole numbers only, and checked)."""
    maintenance_margin_rate: Annotated[float, Ge(0), Lt(0.5)] = 0.005
    """A swap's maintenance margin, share of the notional, as the exchange's smallest tier has
    it (Binance: maintenance margin = notional × rate − a tier's maintenance amount, none at the
    smallest tier; 0.50 % is XRPUSDT's there): the margin ratio and the liquidation price use it."""
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

    def __post_init__(self) -> None:
        """What no single field's bound says, checked on every construction."""
        if ":" not in self.symbol and self.contract_size not in (None, 1.0):
            raise ValueError(f"contract_size: {self.symbol} is spot, it has none (a swap is BASE/QUOTE:SETTLE)")
        if ":" not in self.symbol and self.size_unit == "contracts":
            raise ValueError(f"size_unit: {self.symbol} is spot; its sizes are in base or quote (contracts are a swap's)")
        if ":" not in self.symbol and self.leverage != 1.0:
            raise ValueError(f"leverage: {self.symbol} is spot, its leverage is 1 (a swap is BASE/QUOTE:SETTLE)")
        if ":" in self.symbol and self.contract_size is None:
            raise ValueError(
                f"contract_size: {self.symbol} is a swap; give its contract size, ccxt's contractSize "
                "(base units a contract if linear, quote if inverse)"
            )

    @property
    def base(self) -> str:
        """The base asset of :attr:`symbol`."""
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        """The quote currency of :attr:`symbol`."""
        return self.symbol.split("/")[1].split(":")[0]

    @property
    def settle(self) -> str:
        """The currency money is counted in: the quote for spot and linear swaps, the base for
        inverse ones."""
        return self.symbol.partition(":")[2] or self.quote

    @property
    def contract(self) -> Contract:
        """What one unit of this market's amount is worth."""
        margined = ":" in self.symbol
        maintenance = self.maintenance_margin_rate if margined else 0.0
        return Contract(self.contract_size or 1.0, margined and self.settle == self.base, margined, maintenance)
