"""A non-editable ``pip install .`` (no test extra, no checkout beside it) replays the bundled
recording: the recordings ship in the package, the test kit does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CLI = "import sys, ccxt_mm; print(ccxt_mm.__file__, file=sys.stderr); from ccxt_mm.cli import main; sys.exit(main())"


def replay(cwd: Path, report: Path, pythonpath: str | None) -> tuple[str, dict]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    args = [sys.executable, "-P", "-c", CLI, "replay", "--json", "--no-progress", "--report-dir", str(report)]
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    summary.pop("wall_s")
    return proc.stderr.splitlines()[0], summary


def test_a_non_editable_install_replays_the_bundled_recording(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "CCXT_MM_PURE_PYTHON": "1"}  # the compiled build is tested apart
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(ROOT)]
    proc = subprocess.run(pip, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (site / "ccxt_mm/recordings/binance_spot").iterdir()) == [
        "spot_btcusdt_20240808.gz",
        "spot_btcusdt_20240809.gz",
    ]
    assert not (site / "ccxt_mm_testkit").exists() and (site / "ccxt_mm/py.typed").is_file()
    elsewhere = tmp_path / "elsewhere"  # no config.yaml, no recordings: only the install
    elsewhere.mkdir()
    installed_from, installed = replay(elsewhere, tmp_path / "installed", str(site))
    assert installed_from == str(site / "ccxt_mm/__init__.py")
    _, checkout = replay(elsewhere, tmp_path / "checkout", None)
    assert installed["book_rows"] == 319_998 and installed["data"] == ["spot_btcusdt_20240808.gz", "spot_btcusdt_20240809.gz"]
    assert installed == checkout
