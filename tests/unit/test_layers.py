"""The package's layers, read from the source: which folder may import what.

Only the exchange edge imports ccxt; the product imports nothing from the test kit and
vcrpy only where a recorded LLM cassette is replayed; the pure core (book, quoting) does
no I/O and imports no outer layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ccxt_mm"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports inside functions too)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def importers(prefix: str) -> set[str]:
    """The package's modules (paths from ``ccxt_mm/``) that import ``prefix`` or a submodule."""
    return {str(p.relative_to(PACKAGE)) for p in SOURCES if any(m == prefix or m.startswith(prefix + ".") for m in imported(p))}


def test_the_sources_are_found():
    assert len(SOURCES) > 40 and (PACKAGE / "exchange" / "venue.py") in SOURCES


def test_only_the_exchange_edge_imports_ccxt():
    outside = {p for p in importers("ccxt") if not p.startswith("exchange/")}
    assert importers("ccxt") and not outside


def test_the_product_imports_nothing_from_the_test_kit():
    assert not importers("ccxt_mm_testkit")


def test_vcrpy_only_where_an_llm_cassette_is_replayed():
    assert importers("vcr") == {"llm/cassette.py"}


@pytest.mark.parametrize("layer", ["book", "quoting"])
def test_the_pure_core_imports_no_outer_layer_and_no_io(layer):
    allowed = {"ccxt_mm.book", "ccxt_mm.quoting"}
    io = {"asyncio", "aiohttp", "socket", "ccxt", "logging", "os", "pathlib"}
    for path in (PACKAGE / layer).rglob("*.py"):
        for module in imported(path):
            if module.startswith("ccxt_mm"):
                assert any(module == a or module.startswith(a + ".") for a in allowed), (path.name, module)
            assert module.split(".")[0] not in io, (path.name, module)


@pytest.mark.parametrize("layer", ["book", "quoting", "execution", "engine/envelope.py"])
def test_the_pure_layers_declare_their_parameters_without_pydantic(layer):
    """Their parameter dataclasses are the config's sections; only the schema knows pydantic."""
    path, schema = PACKAGE / layer, {"pydantic", "pydantic_core", "ccxt_mm.config", "ccxt_mm.schema"}
    for source in [path] if path.is_file() else sorted(path.rglob("*.py")):
        outer = {m for m in imported(source) if m in schema or m.split(".")[0] in schema}
        assert not outer, (source.name, outer)


def test_the_package_has_no_import_time_side_effects():
    """``import ccxt_mm`` runs nothing: its ``__init__`` holds names, no calls."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    assert not calls


LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "retry", "compiled", "logs"),
    ("book",),
    ("quoting",),
    ("execution",),
    ("market",),
    ("schema", "config", "config_checks", "amounts"),
    ("llm",),
    ("strategies",),
    ("exchange",),
    ("shared",),
    ("engine",),
    ("report", "metrics"),
    ("sweep",),
    ("app", "cli", "__init__"),
)
"""The package's layers, lowest first: a module imports only from its own layer and those below."""


def layer_of(module: str) -> int:
    """The layer of ``ccxt_mm.<module>`` (the longest matching prefix decides)."""
    name = module.removeprefix("ccxt_mm.").removeprefix("ccxt_mm")
    best, found = -1, -1
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), level
    assert found >= 0, f"ccxt_mm.{name} is in no layer of LAYERS"
    return found


def test_imports_point_down_the_layers():
    upward = []
    for path in SOURCES:
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        module = ".".join(p for p in parts if p != "__init__") or "__init__"
        here = layer_of(module)
        for target in imported(path):
            if target.startswith("ccxt_mm.") and layer_of(target) > here:
                upward.append(f"{module} -> {target}")
    assert not upward


def test_the_layer_of_a_module_is_its_longest_prefix():
    assert layer_of("ccxt_mm.book.grid_book") < layer_of("ccxt_mm.quoting.risk") < layer_of("ccxt_mm.execution.paper")
    assert layer_of("ccxt_mm.config") < layer_of("ccxt_mm.exchange.dialects.bybit") == layer_of("ccxt_mm.exchange.venue")
    assert layer_of("ccxt_mm.engine.live") < layer_of("ccxt_mm.app.run")
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("ccxt_mm.nowhere")
