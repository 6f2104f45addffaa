"""The example plugin (examples/plugin, installed by the test command) replayed end to end
through the real CLI on the bundled recording, chosen by its entry-point name."""

from __future__ import annotations

import csv
import json

import pytest

from ccxt_mm.cli import main
from ccxt_mm.config import load_config
from ccxt_mm.strategies import load_strategy
from tests.conftest import ROOT

CONFIG = ROOT / "examples/plugin/microprice.yaml"


def test_the_example_plugin_replays_end_to_end(tmp_path, capsys):
    assert type(load_strategy(load_config(CONFIG))).__name__ == "MicropriceSkew"
    assert main(["replay", "--config", str(CONFIG), "--json", "--no-progress", "--report-dir", str(tmp_path)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["strategy"] == "microprice_skew"
    limit, lot = 0.02, 0.00001
    assert s["fills"] > 100 and s["orders_left_open"] == 0
    assert s["max_abs_inventory"] <= limit + lot
    # a well-behaved strategy: the envelope had nothing to change
    assert s["envelope"] == {"clipped": {}, "dropped": {}, "strategy_errors": 0}
    with (tmp_path / "orders.csv").open() as fh:
        places = [row for row in csv.DictReader(fh) if row["action"] == "place"]
    assert places and {row["side"] for row in places} == {"buy", "sell"}
    assert all(float(row["qty"]) <= 0.002 for row in places)  # the plugin's order_qty
    # the plugin's quotes, not the built-in's (8 bps minimum spread): the first two, flat, are
    # 1 bp either side of the microprice, each rounded a tick away from it
    bid, ask = places[0], places[1]
    assert (bid["side"], ask["side"], bid["ts_ns"]) == ("buy", "sell", ask["ts_ns"])
    width_bps = (float(ask["price"]) - float(bid["price"])) / float(ask["price"]) * 1e4
    assert width_bps == pytest.approx(2.0, abs=0.01)
