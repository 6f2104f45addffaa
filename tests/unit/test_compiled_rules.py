"""The rules that keep the modules mypyc compiles (:data:`ccxt_mm.compiled.COMPILED`)
compilable and native, read from their source (see the docstring of :mod:`ccxt_mm.compiled`
for why each construct falls back to generic CPython calls)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ccxt_mm.compiled import COMPILED

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {name: ROOT / (name.replace(".", "/") + ".py") for name in COMPILED}

OFF_THE_BOOK_PATH = {"ccxt_mm.quoting.models:IntensityCalibrator.refit"}
"""Functions that may use ``sum()`` and ``zip(strict=True)``: the fill-intensity fit runs on
the timer (about once a second), never per book update."""


def nodes(module: str) -> list[tuple[str, ast.AST]]:
    """(``module:qualified.function`` holding it, or ``module:`` at module level; node) of every
    node of ``module``'s source."""
    out: list[tuple[str, ast.AST]] = []

    def visit(node: ast.AST, scope: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            out.append((scope, child))
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                visit(child, f"{module}:{name}" if not isinstance(child, ast.ClassDef) else scope, name + ".")
            else:
                visit(child, scope, prefix)

    visit(ast.parse(SOURCES[module].read_text()), f"{module}:", "")
    return out


def calls_to(module: str, function: str) -> list[tuple[str, ast.Call]]:
    """Calls of the builtin ``function`` by name in ``module``, outside :data:`OFF_THE_BOOK_PATH`."""
    return [
        (scope, n)
        for scope, n in nodes(module)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == function and scope not in OFF_THE_BOOK_PATH
    ]


def test_every_compiled_module_has_its_source():
    assert len(SOURCES) == len(COMPILED) > 10 and all(p.is_file() for p in SOURCES.values())


@pytest.mark.parametrize("module", COMPILED)
def test_no_functools(module):
    """Its caches hash every call's arguments through generic calls; a plain dict is native."""
    imports = [n for _, n in nodes(module) if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [a.name for n in imports if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in imports if isinstance(n, ast.ImportFrom)]
    assert not [m for m in names if m.split(".")[0] == "functools"]


@pytest.mark.parametrize("module", COMPILED)
def test_no_match_class_patterns(module):
    """``case Cls():`` goes through ``__match_args__`` and generic checks; an ``isinstance`` chain is native."""
    assert not [(s, n.lineno) for s, n in nodes(module) if isinstance(n, ast.MatchClass)]


@pytest.mark.parametrize("module", COMPILED)
def test_no_sum(module):
    """``sum()`` is a generic call over a generator object; an index loop is native arithmetic."""
    assert not [(s, n.lineno) for s, n in calls_to(module, "sum")]


@pytest.mark.parametrize("module", COMPILED)
def test_no_strict_zip(module):
    """``zip(strict=...)`` is a generic call with a keyword; an index loop is native."""
    assert not [(s, n.lineno) for s, n in calls_to(module, "zip") if any(k.arg == "strict" for k in n.keywords)]


@pytest.mark.parametrize("module", COMPILED)
def test_module_constants_are_final(module):
    """A module-level name that is not ``Final`` is read from the module's dict at each use,
    a ``Final`` one is a C static (type aliases are ``TypeAlias``: a ``Final`` would stop
    them being aliases)."""
    body = ast.parse(SOURCES[module].read_text()).body
    loose = [
        (n.lineno, ast.unparse(n)[:60])
        for n in body
        if isinstance(n, ast.Assign) or (isinstance(n, ast.AnnAssign) and not ast.unparse(n.annotation).startswith(("Final", "TypeAlias")))
    ]
    assert not loose


def test_the_compiled_modules_type_check(tmp_path):
    """mypyc compiles only what mypy (the build's, with ``[tool.mypy]``) accepts; a type error
    makes the build fall back to pure Python, slower, with no error."""
    files = [str(p.relative_to(ROOT)) for p in SOURCES.values()]
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), *files], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
