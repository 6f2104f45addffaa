"""Strategies are found through the ``ccxt_mm.strategies`` entry-point group."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import pytest

from ccxt_mm.config import AppConfig
from ccxt_mm.errors import ConfigError, StrategyNotFoundError
from ccxt_mm.quoting.strategy import MarketMaker
from ccxt_mm.strategies import ENTRY_POINT_GROUP, load_strategy


def test_default_market_maker_is_registered_as_a_plugin():
    (ep,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "market_maker"]
    assert ep.value == "ccxt_mm.strategies:market_maker"
    assert isinstance(load_strategy(AppConfig()), MarketMaker)


def test_a_third_party_plugin_is_loaded_by_name(tmp_path, monkeypatch):
    """An installed distribution (dist-info with entry_points.txt) adds a strategy."""
    (tmp_path / "quiet_mm.py").write_text(
        "class Quiet:\n"
        "    def __init__(self, params):\n"
        "        self.params = params\n"
        "    def on_trade(self, ts_ns, side, price, qty, mid):\n"
        "        pass\n"
        "    def on_book(self, ctx):\n"
        "        return []\n"
        "    def on_timer(self, ts_ns):\n"
        "        pass\n"
        "def build(params, config, source):\n"
        "    return Quiet(params)\n"
    )
    info = tmp_path / "quiet_mm-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: quiet-mm\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nquiet = quiet_mm:build\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = AppConfig.model_validate({"strategy": {"name": "quiet", "params": {"x": 1}}})
    strategy = load_strategy(config)
    assert type(strategy).__name__ == "Quiet" and strategy.params == {"x": 1}
    assert "quiet_mm" in sys.modules


def test_unknown_strategy_and_bad_params_name_the_key():
    with pytest.raises(StrategyNotFoundError, match=r"strategy\.name: no plugin 'nope'.*market_maker"):
        load_strategy(AppConfig.model_validate({"strategy": {"name": "nope"}}))
    with pytest.raises(ConfigError) as err:
        load_strategy(AppConfig.model_validate({"strategy": {"params": {"levels": 0, "gama": 1}}}))
    assert any(p.startswith("strategy.params.levels") for p in err.value.problems)
    assert any(p.startswith("strategy.params.gama") for p in err.value.problems)
