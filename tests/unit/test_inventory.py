from __future__ import annotations

import pytest

from ccxt_mm.quoting.inventory import Inventory


def test_average_cost_realized_and_flip():
    inv = Inventory()
    inv.on_fill(1, 100.0, 2.0, 0.02)
    inv.on_fill(1, 103.0, 1.0, 0.01)
    assert inv.avg_price == pytest.approx(101.0)
    inv.on_fill(-1, 104.0, 1.5, 0.015)  # closes 1.5 at +3
    assert inv.realized == pytest.approx(4.5)
    assert inv.position == pytest.approx(1.5)
    inv.on_fill(-1, 99.0, 2.5, 0.025)  # closes 1.5 at −2, flips short 1 at 99
    assert inv.realized == pytest.approx(1.5)
    assert (inv.position, inv.avg_price) == (pytest.approx(-1.0), 99.0)
    assert inv.unrealized(98.0) == pytest.approx(1.0)
    assert inv.pnl(98.0) == pytest.approx(1.5 + 1.0 - 0.07)
    assert inv.fills == 4 and inv.volume_base == pytest.approx(7.0)
