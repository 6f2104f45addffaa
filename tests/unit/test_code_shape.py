"""Functions stay small: none in ``ccxt_mm/`` is longer than :data:`MAX_LINES`, read from
the source (``def`` line to last line, docstring and comments included, decorators not;
a nested function counts in its own right and inside the one that holds it)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ccxt_mm"
MAX_LINES = 50
"""Longest a function may be, in source lines."""


def function_lengths() -> dict[str, int]:
    """``path:qualified.name`` → lines, of every function and method in the package."""
    out: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str, path: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    out[f"{path}:{name}"] = child.end_lineno - child.lineno + 1
                visit(child, name + ".", path)
            else:
                visit(child, prefix, path)

    for path in sorted(PACKAGE.rglob("*.py")):
        visit(ast.parse(path.read_text()), "", str(path.relative_to(PACKAGE)))
    return out


def test_the_functions_are_found():
    lengths = function_lengths()
    assert len(lengths) > 300 and "engine/replay.py:ReplayEngine.run" in lengths and "cli.py:main" in lengths


def test_no_function_is_longer_than_the_limit():
    too_long = {name: n for name, n in function_lengths().items() if n > MAX_LINES}
    assert not too_long, f"split these (at most {MAX_LINES} lines each): {too_long}"
