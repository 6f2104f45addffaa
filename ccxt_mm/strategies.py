"""Strategy plugins: the contract a strategy is written to, and the loader.

A plugin is an installed distribution that registers a **factory** in the ``ccxt_mm.strategies``
entry-point group (``pyproject.toml``: ``[project.entry-points."ccxt_mm.strategies"]``,
``my_quoter = "my_package:build"``); ``strategy.name: my_quoter`` in the config picks it. The
built-in ``market_maker`` is registered the same way.

The factory is called once per market as ``factory(params, config)``:

* ``params``: ``strategy.params`` of the config, a plain dict (the plugin validates it: raise
  ``ValueError`` or a pydantic ``ValidationError`` and the error is reported as
  ``strategy.params: ...`` naming the config file, before any data is read or exchange called);
* ``config``: the whole :class:`AppConfig` (``config.market.tick_size``...).

Any other exception the factory raises is reported as the plugin's failure, naming its entry
point.

It returns an object with the three methods of :class:`Strategy`; the loader checks that at
start and names the entry point when something does not fit. Everything a strategy gets and
returns is in this module's ``__all__``; units: prices quote currency, sizes base units,
times nanoseconds, distances bps of mid.

A strategy only *asks*. What it returns passes through the engine's envelope
(:mod:`ccxt_mm.engine.envelope`) before any order is sent: sizes clipped to the room the
position limit, exposure and balances leave and rounded down to the lot, prices rounded away
from the touch onto the tick grid, crossing post-only prices moved to the passive side (or
dropped), only the reducing side in reduce-only mode and nothing while paused or stopped,
malformed quotes dropped, a strategy that raises has its quotes pulled. Every clip and drop is
counted by reason in the run's summary.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import ValidationError

from ccxt_mm.book.features import BookFeatures
from ccxt_mm.book.steps import ceil_to, floor_to
from ccxt_mm.config import AppConfig, validation_problems
from ccxt_mm.errors import ConfigError, StrategyNotFoundError, StrategyPluginError
from ccxt_mm.quoting.risk import RiskMode, RiskState
from ccxt_mm.quoting.strategy import MarketContext, MarketMaker, MarketMakerParams, Strategy
from ccxt_mm.quoting.types import BUY, SELL, Prediction, Quote
from ccxt_mm.schema import parse_section

__all__ = [
    "BUY",
    "SELL",
    "AppConfig",
    "BookFeatures",
    "MarketContext",
    "Prediction",
    "Quote",
    "RiskMode",
    "RiskState",
    "Strategy",
    "StrategyFactory",
    "ceil_to",
    "floor_to",
    "load_strategy",
]

ENTRY_POINT_GROUP = "ccxt_mm.strategies"

StrategyFactory = Callable[[dict[str, Any], AppConfig], Strategy]
"""``factory(params, config) -> Strategy``: what an entry point of the group names."""

_METHODS = {"on_book": ("ctx",), "on_trade": ("ts_ns", "side", "price", "qty", "mid"), "on_timer": ("ts_ns",)}
"""The :class:`Strategy` methods and the positional arguments the engine passes each."""


def load_strategy(config: AppConfig, source: str = "config") -> Strategy:
    """Build the configured strategy through its entry point, checked against the contract.

    Raises :class:`StrategyNotFoundError` (no such name), :class:`ConfigError` (the plugin
    refused ``strategy.params``) or :class:`StrategyPluginError` (the plugin does not fit)."""
    name = config.strategy.name
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if name not in found:
        raise StrategyNotFoundError(f"strategy.name: no plugin {name!r} in group {ENTRY_POINT_GROUP} (installed: {sorted(found)})")
    ep = found[name]
    factory = _factory(ep)
    params = dict(config.strategy.params)
    try:
        strategy = factory(params, config)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, "strategy.params.")) from exc
    except ValueError as exc:
        raise ConfigError(source, [f"strategy.params: {exc}"]) from exc
    except Exception as exc:  # a plugin's own failure (a KeyError on params...): named, never a bare traceback
        raise StrategyPluginError(f"{_where(ep)}: the factory raised {type(exc).__name__}: {exc}") from exc
    _check_strategy(ep, strategy)
    return strategy


def _where(ep: EntryPoint) -> str:
    return f"strategy plugin {ep.name!r} (entry point {ep.name} = {ep.value})"


def _factory(ep: EntryPoint) -> StrategyFactory:
    """The entry point's object, checked to be callable as ``factory(params, config)``."""
    try:
        factory = ep.load()
    except Exception as exc:  # any import-time failure of third-party code is reported, not raised raw
        raise StrategyPluginError(f"{_where(ep)}: cannot be imported: {type(exc).__name__}: {exc}") from exc
    if not callable(factory):
        raise StrategyPluginError(f"{_where(ep)}: names a {type(factory).__name__}, not a factory callable as factory(params, config)")
    try:
        inspect.signature(factory).bind({}, None)
    except TypeError as exc:
        raise StrategyPluginError(
            f"{_where(ep)}: the factory must accept (params, config); its signature is {inspect.signature(factory)}"
        ) from exc
    except ValueError:  # a builtin without a signature: nothing to check
        pass
    return factory


def _check_strategy(ep: EntryPoint, strategy: object) -> None:
    """The factory's product has every :class:`Strategy` method, callable with the arguments
    the engine passes."""
    problems = []
    for method, args in _METHODS.items():
        fn = getattr(strategy, method, None)
        if not callable(fn):
            problems.append(f"no method {method}({', '.join(args)})")
            continue
        try:
            inspect.signature(fn).bind(*args)
        except TypeError:
            problems.append(f"{method}{inspect.signature(fn)} cannot be called as {method}({', '.join(args)})")
        except ValueError:
            pass
    if problems:
        kind = type(strategy).__name__
        raise StrategyPluginError(f"{_where(ep)}: the factory returned a {kind} that is not a Strategy: {'; '.join(problems)}")


def market_maker(params: dict[str, Any], config: AppConfig) -> MarketMaker:
    """Factory of the built-in strategy; ``params`` are validated as :class:`MarketMakerParams`."""
    mm = parse_section(MarketMakerParams, params)
    if mm.levels > config.orders.max_levels:
        raise ValueError(f"levels {mm.levels} is more than orders.max_levels {config.orders.max_levels} (deeper levels would be dropped)")
    return MarketMaker(mm, config.spread)
