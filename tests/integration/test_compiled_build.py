"""The mypyc build: compiled where a compiler is, and the same decisions as pure Python.

The pure-Python run imports a copy of the package's ``.py`` files only, so both builds
replay the bundled real recording in the same checkout and their reports are compared
byte for byte (wall time aside).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ccxt_mm.compiled import COMPILED, build, is_compiled
from tests.conftest import ROOT


def test_the_quoting_path_is_compiled_where_a_c_compiler_is():
    if os.environ.get("CCXT_MM_PURE_PYTHON") == "1" or shutil.which("cc") is None:
        assert build() == "pure-python"
    else:
        assert build() == "compiled", [m for m in COMPILED if not is_compiled(m)]


def replay(tmp: Path, name: str, pythonpath: str | None) -> tuple[dict, bytes, bytes]:
    out = tmp / name
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    code = "import sys; from ccxt_mm.cli import main; from ccxt_mm.compiled import build; print(build(), file=sys.stderr); sys.exit(main())"
    # -P: the working directory (the checkout, compiled) does not come before PYTHONPATH
    args = [sys.executable, "-P", "-c", code, "replay", "--json", "--report-dir", str(out)]
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[0] == ("pure-python" if pythonpath else build())
    summary = json.loads(proc.stdout)
    summary.pop("wall_s")
    return summary, (out / "fills.csv").read_bytes(), (out / "orders.csv").read_bytes()


def test_compiled_and_pure_python_replays_agree_to_the_byte(tmp_path):
    if build() != "compiled":
        pytest.skip("this install runs pure Python: nothing to compare it with")
    pure = tmp_path / "pure"
    shutil.copytree(ROOT / "ccxt_mm", pure / "ccxt_mm", ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    compiled_run = replay(tmp_path, "compiled", None)
    pure_run = replay(tmp_path, "pure-report", str(pure))
    assert compiled_run[0] == pure_run[0]
    assert compiled_run[0]["orders_created"] > 0 and compiled_run[0]["fills"] > 0
    assert compiled_run[1] == pure_run[1] and compiled_run[2] == pure_run[2]
