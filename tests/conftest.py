"""Shared fixtures: paths of the real recordings bundled in ccxt_mm/recordings/."""

from __future__ import annotations

from pathlib import Path

import pytest

import ccxt_mm.exchange  # noqa: F401  (first, as in the product: later ccxt imports load only the exchanges used)

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
RECORDINGS = ROOT / "ccxt_mm" / "recordings"
BINANCE_FILES = [
    str(RECORDINGS / "binance_spot/spot_btcusdt_20240808.gz"),
    str(RECORDINGS / "binance_spot/spot_btcusdt_20240809.gz"),
]
COINM_FILE = str(RECORDINGS / "binance_futures/cm_ethusd_perp_20240808.gz")
"""Binance COIN-M ETHUSD_PERP, 2024-08-08 23:54 to 23:59:59 UTC (its first file)."""
OKX_FILE = str(RECORDINGS / "cryptofeed/OKX.ws.1.0.ndjson.gz")
BYBIT_FILE = str(RECORDINGS / "cryptofeed/BYBIT.ws.25.0.ndjson.gz")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test a compiled module older than its source: the tests would run old code."""
    from ccxt_mm.compiled import stale

    old = stale()
    if old:
        pytest.exit(f"compiled modules older than their .py: {', '.join(old)}; run `pip install -e .` again", returncode=3)


@pytest.fixture(scope="session")
def coinm_log():
    from ccxt_mm.market.binance_capture import read_binance_capture

    return read_binance_capture([COINM_FILE], "ETH/USD:ETH")


@pytest.fixture(scope="session")
def btc_log():
    from ccxt_mm.market.binance_capture import read_binance_capture

    return read_binance_capture(BINANCE_FILES, "BTC/USDT")


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server on a free loopback port, stopped after the test. Where it is not
    installed the test is skipped, but never in CI (``.ci/run`` installs it)."""
    import os
    import shutil

    from ccxt_mm_testkit.redis_server import RedisServer

    if shutil.which("redis-server") is None and not os.environ.get("CI"):
        pytest.skip("redis-server is not installed (Debian's package redis-server)")
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()
