"""ccxt-mm: market making on ccxt.

The names a strategy plugin or a library user needs, imported on first use (``import
ccxt_mm`` itself loads nothing else, and has no side effects): a replay in four lines::

    from ccxt_mm import ReplayEngine, load_capture, load_config, load_strategy

    config = load_config("config.yaml")
    log = load_capture(["capture.gz"], config.market.symbol)
    result = ReplayEngine(config, log, load_strategy(config), run_id="r1").run()

A strategy plugin's contract (:class:`Strategy`, :class:`MarketContext`, :class:`Quote`...)
is described in :mod:`ccxt_mm.strategies`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccxt_mm.book.features import BookFeatures
    from ccxt_mm.book.steps import ceil_to, floor_to
    from ccxt_mm.config import AppConfig, load_config
    from ccxt_mm.engine.replay import ReplayEngine, ReplayResult
    from ccxt_mm.errors import CcxtMmError, ConfigError, DataError
    from ccxt_mm.market.capture import load_capture
    from ccxt_mm.quoting.risk import RiskMode, RiskState
    from ccxt_mm.quoting.strategy import MarketContext, Strategy
    from ccxt_mm.quoting.types import BUY, SELL, Prediction, Quote
    from ccxt_mm.strategies import load_strategy

_HOMES = {
    "AppConfig": "ccxt_mm.config",
    "load_config": "ccxt_mm.config",
    "load_capture": "ccxt_mm.market.capture",
    "load_strategy": "ccxt_mm.strategies",
    "ReplayEngine": "ccxt_mm.engine.replay",
    "ReplayResult": "ccxt_mm.engine.replay",
    "Strategy": "ccxt_mm.quoting.strategy",
    "MarketContext": "ccxt_mm.quoting.strategy",
    "Quote": "ccxt_mm.quoting.types",
    "Prediction": "ccxt_mm.quoting.types",
    "BUY": "ccxt_mm.quoting.types",
    "SELL": "ccxt_mm.quoting.types",
    "BookFeatures": "ccxt_mm.book.features",
    "RiskMode": "ccxt_mm.quoting.risk",
    "RiskState": "ccxt_mm.quoting.risk",
    "ceil_to": "ccxt_mm.book.steps",
    "floor_to": "ccxt_mm.book.steps",
    "CcxtMmError": "ccxt_mm.errors",
    "ConfigError": "ccxt_mm.errors",
    "DataError": "ccxt_mm.errors",
}
"""Public name → the module that defines it."""

__all__ = [
    "BUY",
    "SELL",
    "AppConfig",
    "BookFeatures",
    "CcxtMmError",
    "ConfigError",
    "DataError",
    "MarketContext",
    "Prediction",
    "Quote",
    "ReplayEngine",
    "ReplayResult",
    "RiskMode",
    "RiskState",
    "Strategy",
    "ceil_to",
    "floor_to",
    "load_capture",
    "load_config",
    "load_strategy",
]


def __getattr__(name: str) -> object:
    """A public name, imported from its module the first time it is read."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ccxt_mm' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
