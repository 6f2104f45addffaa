"""Strategies are found through the ``ccxt_mm.strategies`` entry-point group, and a plugin that
does not fit the contract (``factory(params, config)`` returning an object with ``on_book``,
``on_trade`` and ``on_timer``) is refused at start with a message naming its entry point."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import pytest

from ccxt_mm.cli import main
from ccxt_mm.config import AppConfig
from ccxt_mm.errors import ConfigError, StrategyNotFoundError, StrategyPluginError
from ccxt_mm.quoting.strategy import MarketMaker
from ccxt_mm.strategies import ENTRY_POINT_GROUP, load_strategy

QUIET = """
class Quiet:
    def __init__(self, params):
        self.params = params
    def on_trade(self, ts_ns, side, price, qty, mid):
        pass
    def on_book(self, ctx):
        return []
    def on_timer(self, ts_ns):
        pass
"""


def install(tmp_path, monkeypatch, name: str, module: str, value: str) -> AppConfig:
    """An installed distribution (dist-info with entry_points.txt) registering ``value`` as
    the strategy ``name``; ``module`` is the source of ``plug_<name>.py``."""
    (tmp_path / f"plug_{name}.py").write_text(module)
    info = tmp_path / f"plug_{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: plug-{name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = plug_{name}:{value}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return AppConfig.model_validate({"strategy": {"name": name, "params": {"x": 1}}})


def test_default_market_maker_is_registered_as_a_plugin():
    (ep,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "market_maker"]
    assert ep.value == "ccxt_mm.strategies:market_maker"
    assert isinstance(load_strategy(AppConfig()), MarketMaker)


def test_a_third_party_plugin_is_loaded_by_name(tmp_path, monkeypatch):
    config = install(tmp_path, monkeypatch, "quiet", QUIET + "def build(params, config):\n    return Quiet(params)\n", "build")
    strategy = load_strategy(config)
    assert type(strategy).__name__ == "Quiet" and strategy.params == {"x": 1}
    assert "plug_quiet" in sys.modules


HALF = "class Half:\n    def on_trade(self, *a): pass\n    def on_timer(self, t): pass\ndef build(p, c):\n    return Half()\n"
ARITY = QUIET.replace("def on_book(self, ctx)", "def on_book(self, ctx, extra)") + "def build(p, c):\n    return Quiet(p)\n"


@pytest.mark.parametrize(
    ("name", "module", "message"),
    [
        ("sig", QUIET + "def build(params):\n    return Quiet(params)\n", r"the factory must accept \(params, config\); its signature is"),
        ("notcallable", QUIET + "build = 42\n", r"names a int, not a factory"),
        ("noimport", "import not_a_module_anywhere\n", r"cannot be imported: ModuleNotFoundError"),
        ("half", HALF, r"the factory returned a Half that is not a Strategy: no method on_book\(ctx\)"),
        ("keyerror", QUIET + "def build(params, config):\n    return Quiet(params['nope'])\n", r"the factory raised KeyError: 'nope'"),
        ("arity", ARITY, r"the factory returned a Quiet that is not a Strategy: on_book\(ctx, extra\) cannot be called as on_book\(ctx\)"),
    ],
    ids=["wrong_signature", "not_callable", "import_fails", "no_on_book", "factory_raises", "on_book_arity"],
)
def test_a_plugin_that_does_not_fit_is_refused_naming_its_entry_point(tmp_path, monkeypatch, name, module, message):
    config = install(tmp_path, monkeypatch, name, module, "build")
    with pytest.raises(StrategyPluginError, match=rf"strategy plugin '{name}' \(entry point {name} = plug_{name}:build\): " + message):
        load_strategy(config)


def test_a_plugin_refusing_its_params_is_a_config_error_and_check_config_exits_non_zero(tmp_path, monkeypatch, capsys):
    refuse = "    if 'x' in params:\n        raise ValueError('x is not a parameter of quiet')\n"
    module = QUIET + "def build(params, config):\n" + refuse + "    return Quiet(params)\n"
    config = install(tmp_path, monkeypatch, "picky", module, "build")
    with pytest.raises(ConfigError, match=r"strategy\.params: x is not a parameter of quiet"):
        load_strategy(config, "picky.yaml")
    path = tmp_path / "picky.yaml"
    path.write_text("strategy: {name: picky, params: {x: 1}}\n")
    assert main(["check-config", "--config", str(path)]) == 2
    assert "strategy.params: x is not a parameter of quiet" in capsys.readouterr().err


def test_check_config_names_the_entry_point_of_a_plugin_that_does_not_fit(tmp_path, monkeypatch, capsys):
    install(tmp_path, monkeypatch, "old", QUIET + "def build(params, config, source):\n    return Quiet(params)\n", "build")
    path = tmp_path / "old.yaml"
    path.write_text("strategy: {name: old}\n")
    assert main(["check-config", "--config", str(path)]) == 1
    assert "entry point old = plug_old:build" in capsys.readouterr().err


def test_unknown_strategy_and_bad_params_name_the_key():
    with pytest.raises(StrategyNotFoundError, match=r"strategy\.name: no plugin 'nope'.*market_maker"):
        load_strategy(AppConfig.model_validate({"strategy": {"name": "nope"}}))
    with pytest.raises(ConfigError) as err:
        load_strategy(AppConfig.model_validate({"strategy": {"params": {"levels": 0, "gama": 1}}}))
    assert any(p.startswith("strategy.params.levels") for p in err.value.problems)
    assert any(p.startswith("strategy.params.gama") for p in err.value.problems)
