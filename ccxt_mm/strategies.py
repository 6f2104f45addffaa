"""Strategy plugins: the ``ccxt_mm.strategies`` entry-point group.

An entry point names a factory ``(params: dict, config: AppConfig) -> Strategy``; the
default ``market_maker`` is registered the same way in ``pyproject.toml``.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from ccxt_mm.config import AppConfig, MarketMakerConfig, validation_problems
from ccxt_mm.errors import ConfigError, StrategyNotFoundError
from ccxt_mm.quoting.spread import SpreadParams
from ccxt_mm.quoting.strategy import MarketMaker, MarketMakerParams, Strategy

ENTRY_POINT_GROUP = "ccxt_mm.strategies"


def load_strategy(config: AppConfig, source: str = "config") -> Strategy:
    """Build the configured strategy through its entry point."""
    name = config.strategy.name
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if name not in found:
        raise StrategyNotFoundError(f"strategy.name: no plugin {name!r} in group {ENTRY_POINT_GROUP} (installed: {sorted(found)})")
    factory = found[name].load()
    return factory(dict(config.strategy.params), config, source)


def spread_params(config: AppConfig) -> SpreadParams:
    return SpreadParams(**config.spread.model_dump())


def market_maker(params: dict[str, Any], config: AppConfig, source: str = "config") -> MarketMaker:
    """Factory of the default strategy; ``params`` are validated as :class:`MarketMakerConfig`."""
    try:
        mm = MarketMakerConfig.model_validate(params)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, "strategy.params.")) from exc
    fields = mm.model_dump()
    fields["calib_deltas_bps"] = tuple(mm.calib_deltas_bps)
    return MarketMaker(MarketMakerParams(**fields, spread=spread_params(config)))
