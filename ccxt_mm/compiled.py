"""Which modules the build compiles with mypyc, and whether this install runs them compiled.

``setup.py`` reads :data:`COMPILED` from this file; the benchmarks and the tests ask
:func:`build` what is running, so a figure always says which build it measured.

The value types built on every book update (``Quote``, ``BookFeatures``, ``MarketContext``...)
are dataclasses with a hand-written ``__init__``: mypyc compiles that to native code (~30 ns a
build) where the ``__init__`` dataclasses generates, or a NamedTuple, costs 200–350 ns.

Code on the book-update path stays native: mypyc falls back to generic CPython calls for
``zip(strict=True)``, ``sum()``, ``functools`` caches, ``match``/``case`` class patterns,
non-``Final`` module constants, protocol-typed calls and the config model's attributes. Each
is cheap warm, but a live tick after an idle spell runs on cold caches, where every generic
call walks type dicts and string hashes from memory (the README's live-loop section measures
it). So the path uses index loops, ``isinstance`` chains, ``Final`` constants, plain dicts as
caches and values copied onto native attributes; ``build/mypyc/*.c`` shows what is left
(search it for ``PyObject_Vectorcall`` and ``CPyObject_GetAttr``). The rules that can be read
from the source are tests (``tests/unit/test_compiled_rules.py``), and so is mypy's check.
"""

from __future__ import annotations

import importlib
from pathlib import Path

COMPILED = (
    "ccxt_mm.book.features",
    "ccxt_mm.book.grid_book",
    "ccxt_mm.book.levels",
    "ccxt_mm.book.steps",
    "ccxt_mm.quoting.contract",
    "ccxt_mm.quoting.inventory",
    "ccxt_mm.quoting.models",
    "ccxt_mm.quoting.portfolio",
    "ccxt_mm.quoting.risk",
    "ccxt_mm.quoting.spread",
    "ccxt_mm.quoting.strategy",
    "ccxt_mm.quoting.types",
    "ccxt_mm.execution.market",
    "ccxt_mm.execution.orders",
    "ccxt_mm.execution.paper",
    "ccxt_mm.execution.types",
    "ccxt_mm.engine.core",
    "ccxt_mm.engine.envelope",
    "ccxt_mm.engine.exchange_side",
    "ccxt_mm.engine.replay",
    "ccxt_mm.engine.samples",
)
"""The synchronous code every book update runs, in replay and live alike."""


def is_compiled(module: str) -> bool:
    """True if ``module`` was imported from a C extension rather than its ``.py``."""
    return not str(importlib.import_module(module).__file__).endswith(".py")


def build() -> str:
    """``compiled`` (every module of :data:`COMPILED` is), ``pure-python`` (none is), or
    ``partly compiled`` (a broken install)."""
    flags = {is_compiled(m) for m in COMPILED}
    if flags == {True}:
        return "compiled"
    return "pure-python" if flags == {False} else "partly compiled"


def source_path(module: str) -> Path:
    """The ``.py`` of ``module``: its file, or the source the build compiled it from, beside the
    extension (both ship in the package)."""
    path = Path(str(importlib.import_module(module).__file__))
    return path if path.suffix == ".py" else path.with_name(module.rsplit(".", 1)[1] + ".py")


def stale() -> list[str]:
    """Compiled modules whose ``.py`` changed after the build: what runs is not what the
    source says until ``pip install -e .`` is run again."""
    out = []
    for name in COMPILED:
        path = Path(str(importlib.import_module(name).__file__))
        if path.suffix != ".py":
            source = source_path(name)
            if source.exists() and source.stat().st_mtime > path.stat().st_mtime:
                out.append(name)
    return out
