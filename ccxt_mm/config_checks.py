"""What a valid config may still get wrong: limits switched off, and values that are allowed but
unwise. Each finding is one warning's text, with the numbers; ``check-config`` and the start of
every run (``replay``, ``run``, ``sweep``) print them. Nothing here refuses a config: the schema
does that (:mod:`ccxt_mm.config`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from ccxt_mm.amounts import BUILT_IN
from ccxt_mm.config import AppConfig
from ccxt_mm.execution.venue import MarketFacts
from ccxt_mm.market.events import Recording
from ccxt_mm.market.grid_check import decimal_text, first_snapshot_mid, off_grid, position_warning, step_warning
from ccxt_mm.quoting.constraints import Off
from ccxt_mm.quoting.strategy import MarketMakerParams
from ccxt_mm.schema import parse_section, section_model


@dataclass(frozen=True, slots=True)
class KnownMarket:
    """The market as a recording or the exchange describes it."""

    source: str
    """Where it was read: ``the store's manifest``, ``binance``, ``the recording``."""
    facts: MarketFacts | None = None
    """Its steps and minimums (None: unknown)."""
    mid: float | None = None
    """A price of the market, quote currency (None: unknown) ..."""
    mid_from: str = ""
    """... and what it is: ``the recording's first mid``, ``okx's mark price``."""
    in_amounts: bool = False
    """The config's sizes are in the market's amount unit (converted, or given in it), so they
    compare with the minimum order of ``facts``."""


def _section_model(section: str) -> type[BaseModel] | None:
    """The model a section of the config is checked with (None: a mapping of sections)."""
    info = AppConfig.model_fields[section]
    tp = info.annotation
    if dataclasses.is_dataclass(tp):
        return section_model(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def limits_off(config: AppConfig, markets: int) -> list[str]:
    """One warning per limit switched off (a field marked :class:`Off` whose value is None),
    saying what nothing guards; the portfolio's limits across markets in one warning, only when
    ``markets`` (the markets this process quotes) is more than one or the book is shared with
    other processes through Redis."""
    out, across = [], []
    shared = config.portfolio.store == "redis"
    for section in AppConfig.model_fields:
        model = _section_model(section)
        for name, info in model.model_fields.items() if model else ():
            off = next((m for m in info.metadata if isinstance(m, Off)), None)
            if off is None or getattr(getattr(config, section), name) is not None:
                continue
            if not off.several_markets:
                out.append(f"limit off: {section}.{name}: {off.unguarded}")
            elif markets > 1 or shared:
                across.append(f"{section}.{name}")
    if across:
        together = f"every market of the Redis book {config.portfolio.redis_book!r}" if shared else f"the {markets} markets of a run"
        out.append(f"limits off across {together} together: {', '.join(across)} (each market's own limits hold)")
    return out


def _built_in_params(config: AppConfig) -> MarketMakerParams | None:
    """The built-in strategy's parameters (None: a plugin's, whose sizes are its own)."""
    if config.strategy.name != BUILT_IN:
        return None
    return parse_section(MarketMakerParams, dict(config.strategy.params))


def unwise(config: AppConfig) -> list[str]:
    """Warnings about values of ``config`` that are valid but unwise, each with its numbers."""
    out = [*_spread_and_fees(config), *_kill_switch(config), *_past_capital(config)]
    params = _built_in_params(config)
    if params is not None:
        out += _order_size(config, params)
    return out


def unfit(config: AppConfig, market: KnownMarket) -> list[str]:
    """Warnings about values of ``config`` that do not fit ``market`` as a recording or the
    exchange describes it: the order size under its minimums, the tick and lot off its steps."""
    out: list[str] = []
    params = _built_in_params(config)
    if params is not None and market.in_amounts:
        out += _under_minimums(config, params.order_qty, market)
    if market.facts is not None:
        m, facts = config.market, market.facts
        steps = (
            _off_step(m.tick_size, facts.tick_size, "tick_size", market.source),
            _off_step(m.lot_size, facts.lot_size, "lot_size", market.source),
        )
        out += [w for w in steps if w]
    return out


def _spread_and_fees(config: AppConfig) -> list[str]:
    """The narrowest spread earns less than a round trip's maker fees."""
    fee, floor = config.paper.maker_fee_bps, config.spread.min_spread_bps
    if fee <= 0.0 or floor >= 2.0 * fee:
        return []
    return [
        f"spread.min_spread_bps {decimal_text(floor)} is under twice paper.maker_fee_bps {decimal_text(fee)} "
        f"({decimal_text(2.0 * fee)} bps): a round trip at the narrowest spread pays more in fees than it earns"
    ]


def _past_capital(config: AppConfig) -> list[str]:
    """A loss limit larger than the capital it guards: on in name, off in effect (a huge number
    is not how a limit is switched off)."""
    capital, name = config.portfolio.capital_quote, "portfolio.capital_quote"
    if capital is None:
        capital, name = config.paper.initial_quote, "paper.initial_quote (the paper account)"
    limits = (
        ("risk.daily_loss_limit_quote", config.risk.daily_loss_limit_quote),
        ("risk.max_drawdown_quote", config.risk.max_drawdown_quote),
        ("portfolio.total_daily_loss_quote", config.portfolio.total_daily_loss_quote),
        ("portfolio.total_drawdown_quote", config.portfolio.total_drawdown_quote),
    )
    return [
        f"{key} {decimal_text(limit)} is more than the capital, {name} {decimal_text(capital)}: it cannot act before the "
        "capital is gone (a limit is switched off with `off`, which is warned about as such)"
        for key, limit in limits
        if limit is not None and capital > 0.0 and limit > capital
    ]


def _kill_switch(config: AppConfig) -> list[str]:
    """A kill switch at or inside the daily loss limit: the pause never comes first."""
    out = []
    pairs = (
        ("risk.max_drawdown_quote", config.risk.max_drawdown_quote, "risk.daily_loss_limit_quote", config.risk.daily_loss_limit_quote),
        (
            "portfolio.total_drawdown_quote",
            config.portfolio.total_drawdown_quote,
            "portfolio.total_daily_loss_quote",
            config.portfolio.total_daily_loss_quote,
        ),
    )
    for kill_key, kill, daily_key, daily in pairs:
        if kill is not None and daily is not None and kill <= daily:
            out.append(
                f"{kill_key} {decimal_text(kill)} (the kill switch) is not above {daily_key} {decimal_text(daily)}: a loss of a day "
                "is a drawdown at least as deep, so the run stops before the daily loss limit can pause it"
            )
    return out


def _order_size(config: AppConfig, params: MarketMakerParams) -> list[str]:
    """The built-in strategy's order size against the position limit and the configured minimum."""
    qty, unit, out = params.order_qty, config.market.size_unit, []
    limit, minimum = config.risk.max_position_base, config.market.min_order_base
    if qty > limit:
        out.append(
            f"strategy.params.order_qty {decimal_text(qty)} is above risk.max_position_base {decimal_text(limit)} ({unit}): "
            "no order can be that big; each is cut to the room the limit leaves"
        )
    if qty < minimum:
        out.append(
            f"strategy.params.order_qty {decimal_text(qty)} is under market.min_order_base {decimal_text(minimum)} ({unit}): "
            "every quote is dropped as below the minimum"
        )
    return out


def _under_minimums(config: AppConfig, qty: float, market: KnownMarket) -> list[str]:
    """An order of ``qty`` (the market's amount unit) under the market's minimum size, or worth
    less than its minimum value at its mid."""
    out = []
    if market.facts is not None and qty < market.facts.min_order_base:
        out.append(
            f"strategy.params.order_qty {decimal_text(qty)} is under the minimum order of {market.source}, "
            f"{decimal_text(market.facts.min_order_base)}: every quote is dropped as below the minimum"
        )
    minimum = max(config.market.min_notional_quote, market.facts.min_notional_quote if market.facts else 0.0)
    if market.mid is None or minimum <= 0.0:
        return out
    value = config.market.contract.quote_notional(qty, market.mid)
    if value < minimum:
        out.append(
            f"strategy.params.order_qty {decimal_text(qty)} is worth {value:.4g} {config.market.quote} at {market.mid_from} "
            f"{decimal_text(market.mid)}, under the minimum order value {decimal_text(minimum)}: "
            "every quote is dropped as below the minimum"
        )
    return out


def _off_step(step: float, market_step: float, key: str, known_from: str) -> str | None:
    """A configured tick or lot that is not a whole number of the market's."""
    if market_step <= 0.0 or (step >= market_step and off_grid(np.array([step]), market_step) == 0):
        return None
    return (
        f"market.{key} {decimal_text(step)} is not a multiple of the market's {decimal_text(market_step)} ({known_from}): "
        "orders on it would be off the exchange's grid"
    )


def facts_of(manifest_facts: dict[str, Any], symbol: str) -> MarketFacts:
    """A store manifest's facts of ``symbol`` (see ``ccxt-mm capture``) as :class:`MarketFacts`."""
    base, quote = symbol.split(":")[0].split("/")
    return MarketFacts(
        tick_size=float(manifest_facts["tick_size"]),
        lot_size=float(manifest_facts["lot_size"]),
        min_order_base=float(manifest_facts.get("min_order_base") or 0.0),
        min_notional_quote=float(manifest_facts.get("min_notional_quote") or 0.0),
        base=base,
        quote=quote,
    )


def start_warnings(
    given: AppConfig, config: AppConfig, recording: Recording, facts: MarketFacts | None, names: dict[str, str], markets: int = 1
) -> list[str]:
    """What a replay of ``recording`` warns about at its start, and ``check-config`` with it:
    limits off (``markets``: quoted together), unwise values (of ``given``, the config as
    written), and what does not fit the recording (of ``config``, its sizes in the market's
    amount unit). ``facts``: the market as the recording's store has it (None: a capture, which
    tells only its grids); ``names``: a key set by a flag → the flag."""
    segment = next(recording.segments())
    mid = first_snapshot_mid(segment)
    known = KnownMarket("the store's manifest", facts, mid, "the recording's first mid", in_amounts=True)
    m = config.market
    found = []
    if facts is None:  # a capture tells its grids only by its prices and sizes
        found += [
            step_warning(recording.prices, m.tick_size, names.get("tick_size", "market.tick_size"), "prices"),
            step_warning(recording.sizes, m.lot_size, names.get("lot_size", "market.lot_size"), "sizes"),
        ]
    found.append(position_warning(segment, config.risk.max_position_base, "contracts" if m.contract.margined else m.base, m.quote))
    fit = [w for w in found if w is not None]
    return [*limits_off(given, markets), *unwise(given), *unfit(config, known), *fit]
