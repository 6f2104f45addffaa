"""`ccxt-mm demo`: paper trading offline in one command, the bundled recording replayed by a
loopback Binance emulator and quoted through ccxt."""

from __future__ import annotations

import json

from ccxt_mm.cli import main
from tests.conftest import ROOT


def test_the_demo_quotes_the_replayed_market_through_ccxt_and_leaves_nothing(tmp_path, capsys):
    """At 60x for 4 s (four minutes of the recording): the book moves as recorded (hundreds of
    updates over the websocket), the tight example quotes and is filled from the recorded
    trades, every order is cancelled at the end."""
    config = str(ROOT / "examples/binance_btcusdt_tight.yaml")
    assert main(["demo", "--speed", "60", "--duration", "4", "--config", config, "--report-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "demo: binance BTC/USDT replayed at 60x" in out
    summary = json.loads(out[out.index("{") :])["binance BTC/USDT"]
    assert summary["book_updates"] > 300 and summary["feed_latency_ms"]["book"]["count"] > 300
    assert summary["orders_created"] > 20 and summary["fills"] > 0
    assert summary["orders_left"] == 0 and summary["book_fallbacks_to_rest"] == 0
    # the run's report, as replay's: the market's files and the total, written at the end
    market = tmp_path / "r" / "binance-BTC-USDT"
    for name in ("summary.json", "fills.csv", "orders.csv", "plot.png", "report.html"):
        assert (market / name).is_file(), name
    total = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert total["reason"] == "exit"
    assert json.loads((market / "summary.json").read_text())["fills"] == summary["fills"]


def test_a_speed_that_is_not_positive_is_named(capsys):
    assert main(["demo", "--speed", "0"]) == 2
    assert "--speed: must be greater than 0 (got 0.0)" in capsys.readouterr().err
