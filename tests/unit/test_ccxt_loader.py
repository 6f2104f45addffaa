"""The slim ccxt loader gives the same packages as ccxt's own ``__init__`` files, but imports
an exchange only when it is named. Each check runs in a fresh interpreter (ccxt can be
imported only one way per process)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib.metadata import version

import pytest

from ccxt_mm.exchange.loader import PACKAGES, _imports_one_exchange

# per package: version, exchange list, and each public name's module and qualified name
# (argv[1]: the packages; argv[2]: the real packages' names, as the slim ones list fewer in dir())
DESCRIBE = """
import importlib, json, sys
names = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
out = {}
for pkg in json.loads(sys.argv[1]):
    mod = importlib.import_module(pkg)
    public = names.get(pkg) or [n for n in dir(mod) if not n.startswith("_")]
    out[pkg] = {
        "version": mod.__version__,
        "exchanges": list(mod.exchanges),
        "names": {n: [getattr(v := getattr(mod, n), "__module__", None), getattr(v, "__qualname__", type(v).__name__)] for n in public},
    }
print(json.dumps(out))
"""


def _run(code: str, *args: str) -> dict:
    argv = [sys.executable, "-c", code, json.dumps(PACKAGES), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout)


def test_slim_packages_hold_what_ccxts_own_init_files_hold():
    real = _run(DESCRIBE)
    names = json.dumps({pkg: sorted(real[pkg]["names"]) for pkg in PACKAGES})
    slim = _run("import ccxt_mm.exchange\n" + DESCRIBE + "\nassert type(sys.modules['ccxt']).__name__ == 'SlimPackage'", names)
    assert slim == real
    assert real["ccxt"]["version"] == version("ccxt")
    assert {"binance", "okx", "bybit"} <= set(real["ccxt.pro"]["exchanges"])


def test_only_the_named_exchanges_are_imported():
    loaded = _run(
        """
import json, sys
import ccxt_mm.exchange
import ccxt.pro
from ccxt.async_support import okx
assert issubclass(ccxt.pro.binance, ccxt.async_support.binance)
assert ccxt.pro.bybit().id == "bybit"
ids = set(ccxt.exchanges)
print(json.dumps(sorted({m.split(".")[-1] for m in sys.modules if m.startswith("ccxt.") and m.split(".")[-1] in ids})))
"""
    )
    assert loaded == ["binance", "bybit", "okx"]


def test_a_name_that_is_no_exchange_is_an_attribute_error():
    out = _run(
        """
import json
import ccxt_mm.exchange, ccxt.pro
try:
    ccxt.pro.not_an_exchange
except AttributeError as exc:
    print(json.dumps(str(exc)))
"""
    )
    assert out == "module 'ccxt.pro' has no attribute 'not_an_exchange'"


@pytest.mark.parametrize(
    ("line", "package", "dropped"),
    [
        ("from ccxt.async_support.binance import binance", "ccxt.async_support", True),
        ("from ccxt.pro.okx import okx", "ccxt.pro", True),
        ("from ccxt.pro.okx import okx", "ccxt.async_support", False),
        ("from ccxt.async_support.base.exchange import Exchange", "ccxt.async_support", False),
        ("from ccxt.base import errors", "ccxt", False),
        ("from ccxt.base.precise import Precise", "ccxt", False),
        ("from ccxt.binance import binance as b", "ccxt", False),
        ("__version__ = '4.5.90'", "ccxt", False),
    ],
)
def test_only_per_exchange_import_lines_are_dropped(line, package, dropped):
    assert _imports_one_exchange(ast.parse(line).body[0], package) is dropped
