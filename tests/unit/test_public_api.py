"""``ccxt_mm``'s public face: the names of ``__all__``, loaded on first use, no side effects."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import ccxt_mm
from tests.conftest import BINANCE_FILES, ROOT


@pytest.mark.parametrize("name", ccxt_mm.__all__)
def test_each_public_name_is_the_object_of_its_home_module(name):
    home = importlib.import_module(ccxt_mm._HOMES[name])
    assert getattr(ccxt_mm, name) is getattr(home, name)
    assert name in dir(ccxt_mm)


def test_all_lists_exactly_the_names_with_a_home():
    assert sorted(ccxt_mm.__all__) == sorted(ccxt_mm._HOMES)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'ccxt_mm' has no attribute 'Engine'"):
        ccxt_mm.Engine  # noqa: B018


def test_reading_a_config_leaves_ccxt_alone():
    """The config names the exchanges without importing the edge, whose import puts the lazy
    ccxt loader in front of ``import ccxt``."""
    code = "import json, sys; from ccxt_mm import load_config; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert not [m for m in loaded if m.startswith(("ccxt.", "ccxt_mm.exchange")) or m == "ccxt"]


def test_importing_the_package_loads_nothing_else():
    code = "import json, sys; import ccxt_mm; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert [m for m in loaded if m.startswith(("ccxt", "numpy", "pydantic", "yaml"))] == ["ccxt_mm"]


def test_the_docstrings_replay_runs_as_written():
    from ccxt_mm import ReplayEngine, load_capture, load_config, load_strategy

    config = load_config(ROOT / "config.yaml")
    log = load_capture(BINANCE_FILES, config.market.symbol)
    result = ReplayEngine(config, log, load_strategy(config), run_id="r1").run()
    assert result.book_ts_ns.size > 6000 and len(result.fills) >= 1


def test_the_cli_builds_its_parser_without_ccxt_or_vcrpy():
    """Every command builds the parser, the test kit's ``record`` included: none of them pays
    for ccxt or vcrpy before it runs."""
    code = "import json, sys; from ccxt_mm.cli import build_parser; build_parser(); print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert "ccxt_mm_testkit.commands" in loaded  # the kit's command is there (installed with the tests)
    assert not [m for m in loaded if m == "ccxt" or m.startswith(("ccxt.", "vcr"))]
