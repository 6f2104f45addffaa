"""ccxt without its hundred exchanges: each exchange class is imported when first named.

``import ccxt.pro`` runs three package ``__init__`` files that import every exchange ccxt
supports, sync, async and pro: 109 MiB of RSS and ~0.9 s here, where the three packages with
only binance, okx and bybit loaded take 55 MiB and ~0.4 s. :func:`install` puts an import hook
in front of those three packages (``ccxt``, ``ccxt.async_support``, ``ccxt.pro``) that runs
each ``__init__`` *minus* its ``from <package>.<id> import <id>`` lines (version, error
classes, ``Exchange``, the ``exchanges`` list and ``__all__`` stay as ccxt wrote them) and
imports an exchange's module the first time its name is read from the package:
``ccxt.pro.binance``, ``from ccxt.async_support import okx`` and ``getattr(ccxt.pro, name)``
work as before and give the same classes. Every other module of ccxt is imported untouched.

The hook only acts if ccxt is not imported yet; importing :mod:`ccxt_mm.exchange` installs it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import types
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

PACKAGES = ("ccxt", "ccxt.async_support", "ccxt.pro")
"""The packages whose ``__init__`` imports every exchange."""


class SlimPackage(types.ModuleType):
    """A ccxt package whose exchange classes are imported on first access."""

    def __getattr__(self, name: str) -> object:
        """Called only for names not set yet: the name of a submodule (an exchange id, or
        e.g. ``abstract``) imports it, as the full ``__init__`` would have."""
        if not name.startswith("__") and importlib.util.find_spec(f"{self.__name__}.{name}") is not None:
            importlib.import_module(f"{self.__name__}.{name}")
            return self.__dict__[name]
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value: object) -> None:
        """The import system binds a loaded submodule to its package's attribute; for an
        exchange module bind the exchange class instead, as ccxt's own ``__init__`` does."""
        is_module = isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}"
        if is_module and name in self.__dict__.get("exchanges", ()):
            value = getattr(value, name)
        super().__setattr__(name, value)


def _imports_one_exchange(node: ast.stmt, package: str) -> bool:
    """``from <package>.<id> import <id>``: the shape of each per-exchange line."""
    if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
        return False
    head, _, leaf = node.module.rpartition(".")
    return head == package and len(node.names) == 1 and node.names[0].name == leaf and node.names[0].asname is None


class _SlimLoader(Loader):
    def __init__(self, origin: str) -> None:
        self.origin = origin

    def create_module(self, spec: ModuleSpec) -> types.ModuleType:
        return SlimPackage(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        tree = ast.parse(Path(self.origin).read_bytes(), self.origin)
        tree.body = [node for node in tree.body if not _imports_one_exchange(node, module.__name__)]
        exec(compile(tree, self.origin, "exec"), module.__dict__)


class SlimCcxtFinder(MetaPathFinder):
    """Finds the three ccxt packages where they are installed and loads them slim."""

    def find_spec(self, fullname: str, path: object = None, target: types.ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in PACKAGES:
            return None
        spec = PathFinder.find_spec(fullname, path)  # type: ignore[arg-type]
        if spec is None or spec.origin is None:
            return None
        slim = ModuleSpec(fullname, _SlimLoader(spec.origin), origin=spec.origin, is_package=True)
        slim.submodule_search_locations = spec.submodule_search_locations
        slim.has_location = True
        return slim


def install() -> bool:
    """Put the hook first on ``sys.meta_path``; False (and nothing done) when ccxt was
    imported already, in whatever form."""
    if "ccxt" in sys.modules:
        return False
    if not any(isinstance(finder, SlimCcxtFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, SlimCcxtFinder())
    return True
