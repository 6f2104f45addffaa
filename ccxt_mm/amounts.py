"""The config's sizes in the market's amount unit, converted once at the edge.

The config gives its sizes (``strategy.params.order_qty``, ``risk.max_position_base``,
``market.min_order_base``, ``book.impact_qty``) in ``market.size_unit``: base units as their
names say (the default), a swap's contracts, or quote currency. The engine counts every amount
(book sizes, orders, positions) in the market's own unit, as ccxt and the exchange do: base
units for spot, contracts for a swap. A linear contract is ``contract_size`` base units, so a
base size is ``base / contract_size`` contracts and a quote size ``quote / (price ×
contract_size)``. An inverse contract is worth ``contract_size`` in the quote currency, so a
base size is ``base × price / contract_size`` contracts and a quote size ``quote /
contract_size``. A spot quote size is ``quote / price`` base units. The price is the
reference price (the recording's first mid, or a swap's mark at a live start), fixed for the run.
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
    """How the config's sizes became the market's amounts."""

    unit: str
    """The market's: ``base`` (spot) or ``contracts``."""
    per_given: float
    """The market's amount one unit of the sizes given (``market.size_unit``) is."""
    reference_price: float | None
    """The quote price the sizes were converted at (None: not needed)."""
    converted: dict[str, tuple[float, float]]
    """Key → (size given, amount used); ``paper.initial_quote`` → (quote, the base an inverse
    contract's collateral starts with)."""
    given: str = "base"
    """``market.size_unit``: the unit the sizes were given in."""

    def as_summary(self) -> dict[str, object]:
        """The replay summary's ``amounts`` entry (none for spot: nothing was converted)."""
        if not self.converted:
            return {}
        out: dict[str, object] = {"unit": self.unit, "given_in": self.given, "per_given": self.per_given}
        if self.reference_price is not None:
            out["reference_price"] = self.reference_price
        out["converted"] = {k: {"given": given, "used": used} for k, (given, used) in self.converted.items()}
        return {"amounts": out}


def needs_reference_price(config: AppConfig) -> bool:
    """Whether the config's sizes need a price to become the market's amounts."""
    m = config.market
    return (m.size_unit == "quote" and not m.contract.inverse) or (m.size_unit == "base" and m.contract.inverse)


def per_given_unit(config: AppConfig, reference_price: float | None, source: str = "config") -> float:
    """The market's amount (base units, or contracts) one unit of ``market.size_unit`` is;
    a ConfigError where the conversion needs a price and none is given."""
    m = config.market
    contract, unit = m.contract, m.size_unit
    if unit == "contracts" or (unit == "base" and not contract.margined):
        return 1.0
    if needs_reference_price(config) and (reference_price is None or not reference_price > 0.0):
        why = "a replay's is the recording's first mid, a live swap's its mark at start; a live spot run has none: give base sizes"
        raise ConfigError(source, [f"market.size_unit {unit}: {m.symbol}'s sizes need a reference price to become its amounts ({why})"])
    if unit == "base":
        return reference_price / contract.size if contract.inverse and reference_price else 1.0 / contract.size
    if contract.inverse:  # quote: a contract is worth its size in quote
        return 1.0 / contract.size
    assert reference_price is not None
    return 1.0 / (reference_price * contract.size)


def in_amount_units(config: AppConfig, reference_price: float | None, source: str = "config") -> tuple[AppConfig, AmountUnits]:
    """``config`` with its sizes (given in ``market.size_unit``) in the market's amount unit,
    and what was converted.

    Sizes already in the market's unit (spot base units, a swap's contracts) are returned
    unchanged; a conversion that needs a price (an inverse contract's base sizes, any market's
    quote sizes but an inverse one's) needs ``reference_price`` (quote); an order size under one
    lot after conversion is a ConfigError naming the key and the numbers (no quote could ever be
    placed)."""
    m = config.market
    contract = m.contract
    amount_unit = "contracts" if contract.margined else "base"
    if m.size_unit == amount_unit:
        return config, AmountUnits(amount_unit, 1.0, None, {}, m.size_unit)
    per_base = per_given_unit(config, reference_price, source)
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
    price = reference_price if contract.inverse or m.size_unit == "quote" else None
    return config.model_copy(update=update), AmountUnits(amount_unit, per_base, price, converted, m.size_unit)


def _under_lot(config: AppConfig, given: float, amount: float, reference_price: float | None) -> str:
    m = config.market
    unit = {"base": m.base, "quote": m.quote, "contracts": "contracts"}[m.size_unit]
    at = f" at {reference_price:g} {m.quote}" if reference_price is not None and needs_reference_price(config) else ""
    under = f"under the lot of {m.lot_size:g}: no quote could be placed"
    if not m.contract.margined:
        return f"strategy.params.order_qty: {given:g} {unit} is {amount:.4g} {m.base}{at}, {under}"
    worth = f"{m.contract.size:g} {m.quote}" if m.contract.inverse else f"{m.contract.size:g} {m.base}"
    return f"strategy.params.order_qty: {given:g} {unit} is {amount:.4g} contracts of {m.symbol}{at} ({worth} a contract), {under}"


def for_recording(config: AppConfig, recording: Recording, source: str = "config") -> tuple[AppConfig, AmountUnits]:
    """:func:`in_amount_units` for a replay of ``recording``: sizes that need a price (an
    inverse contract's base sizes, quote sizes) at the mid of its first snapshot (quote)."""
    if not needs_reference_price(config):
        return in_amount_units(config, None, source)
    first = next(recording.segments())
    price = first_snapshot_mid(first)
    if price is None:
        why = f"no snapshot with both sides in the first segment: {config.market.symbol}'s sizes need its mid to become contracts"
        raise DataError(first.sources[0], 0, why)
    return in_amount_units(config, price, source)
