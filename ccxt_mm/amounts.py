"""The config's sizes in the market's amount unit, converted once at the edge.

The config gives sizes in base units (``strategy.params.order_qty``, ``risk.max_position_base``,
``market.min_order_base``, ``book.impact_qty``); the engine counts every amount (book sizes,
orders, positions) in the market's own unit, as ccxt and the exchange do: base units for spot,
contracts for a swap. A linear contract is ``contract_size`` base units, so a base size is
``base / contract_size`` contracts. An inverse contract is worth ``contract_size`` in the quote
currency, so a base size is ``base × price / contract_size`` contracts at a price: the
reference price (the recording's first mid, or the exchange's at start), fixed for the run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ccxt_mm.config import AppConfig
from ccxt_mm.errors import ConfigError, DataError
from ccxt_mm.market.events import Recording
from ccxt_mm.market.grid_check import first_snapshot_mid
from ccxt_mm.quoting.strategy import MarketMakerParams

BUILT_IN: str = "market_maker"
"""The strategy whose ``order_qty`` is converted (a plugin's params are its own, given in the
market's amount unit)."""


@dataclass(frozen=True, slots=True)
class AmountUnits:
    """How the config's base sizes became the market's amounts."""

    unit: str
    """``base`` (spot) or ``contracts``."""
    contracts_per_base: float
    """Contracts one base unit is (1 for spot)."""
    reference_price: float | None
    """The quote price an inverse contract's sizes were converted at (None: not needed)."""
    converted: dict[str, tuple[float, float]]
    """Key → (base units given, amount used); ``paper.initial_quote`` → (quote, the base an
    inverse contract's collateral starts with)."""

    def as_summary(self) -> dict[str, object]:
        """The replay summary's ``amounts`` entry (none for spot: nothing was converted)."""
        if not self.converted:
            return {}
        out: dict[str, object] = {"unit": self.unit, "contracts_per_base": self.contracts_per_base}
        if self.reference_price is not None:
            out["reference_price"] = self.reference_price
        out["converted"] = {k: {"given": given, "used": used} for k, (given, used) in self.converted.items()}
        return {"amounts": out}


def in_amount_units(config: AppConfig, reference_price: float | None, source: str = "config") -> tuple[AppConfig, AmountUnits]:
    """``config`` with its base sizes in the market's amount unit, and what was converted.

    Spot and a linear contract of size 1 are returned unchanged. An inverse contract needs
    ``reference_price`` (quote); an order size under one lot after conversion is a ConfigError
    naming the key and the numbers (no quote could ever be placed)."""
    m = config.market
    contract = m.contract
    if not contract.margined:
        return config, AmountUnits("base", 1.0, None, {})
    if contract.inverse and (reference_price is None or not reference_price > 0.0):
        raise ConfigError(source, [f"market.symbol {m.symbol} is inverse: its base sizes need a reference price to become contracts"])
    per_base = reference_price / contract.size if contract.inverse and reference_price else 1.0 / contract.size
    params = dict(config.strategy.params)
    converted: dict[str, tuple[float, float]] = {}

    def to_contracts(key: str, base: float) -> float:
        converted[key] = (base, base * per_base)
        return base * per_base

    if config.strategy.name == BUILT_IN:
        params["order_qty"] = to_contracts("strategy.params.order_qty", float(params.get("order_qty", MarketMakerParams().order_qty)))
        if params["order_qty"] < m.lot_size:
            raise ConfigError(source, [_under_lot(config, converted["strategy.params.order_qty"][0], params["order_qty"], reference_price)])
    paper = config.paper
    if contract.inverse and paper.initial_base is None and reference_price:
        paper = dataclasses.replace(paper, initial_base=paper.initial_quote / reference_price)
        converted["paper.initial_quote"] = (paper.initial_quote, paper.initial_base)
    update = {
        "paper": paper,
        "market": dataclasses.replace(m, min_order_base=to_contracts("market.min_order_base", m.min_order_base)),
        "risk": dataclasses.replace(config.risk, max_position_base=to_contracts("risk.max_position_base", config.risk.max_position_base)),
        "book": config.book.model_copy(update={"impact_qty": to_contracts("book.impact_qty", config.book.impact_qty)}),
        "strategy": config.strategy.model_copy(update={"params": params}),
    }
    price = reference_price if contract.inverse else None
    return config.model_copy(update=update), AmountUnits("contracts", per_base, price, converted)


def _under_lot(config: AppConfig, base: float, contracts: float, reference_price: float | None) -> str:
    m = config.market
    worth = f"{m.contract.size:g} {m.quote}" if m.contract.inverse else f"{m.contract.size:g} {m.base}"
    at = f" at {reference_price:g} {m.quote}" if m.contract.inverse else ""
    return (
        f"strategy.params.order_qty: {base:g} {m.base} is {contracts:.4g} contracts of {m.symbol}{at} ({worth} a contract), "
        f"under the lot of {m.lot_size:g}: no quote could be placed"
    )


def for_recording(config: AppConfig, recording: Recording, source: str = "config") -> tuple[AppConfig, AmountUnits]:
    """:func:`in_amount_units` for a replay of ``recording``: an inverse contract's sizes at the
    mid of its first snapshot (quote)."""
    if not config.market.contract.inverse:
        return in_amount_units(config, None, source)
    first = next(recording.segments())
    price = first_snapshot_mid(first)
    if price is None:
        why = f"no snapshot with both sides in the first segment: {config.market.symbol}'s sizes need its mid to become contracts"
        raise DataError(first.sources[0], 0, why)
    return in_amount_units(config, price, source)
