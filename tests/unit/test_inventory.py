from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def test_a_linear_contract_follows_binance_usdm_pnl():
    """Binance USDⓈ-M ("How to calculate unrealized PNL and ROI%"): unrealized PNL = position
    size × order direction × (mark price − entry price), in USDT; ETHUSDT's contract is 1 ETH."""
    inv = Inventory(contract_size=1.0)
    inv.on_fill(1, 2000.0, 0.5, 0.2)
    inv.on_fill(1, 2100.0, 0.5, 0.21)
    assert inv.avg_price == pytest.approx(2050.0)
    inv.on_fill(-1, 2200.0, 0.4, 0.176)
    assert inv.realized == pytest.approx(0.4 * (2200.0 - 2050.0))
    assert inv.unrealized(2150.0) == pytest.approx(0.6 * 1 * (2150.0 - 2050.0))
    short = Inventory(contract_size=0.01)  # OKX ETH-USDT-SWAP: 0.01 ETH a contract
    short.on_fill(-1, 2000.0, 100.0, 0.0)
    assert short.unrealized(1900.0) == pytest.approx(100 * 0.01 * -1 * (1900.0 - 2000.0))
    assert (short.volume_base, short.volume_quote) == (pytest.approx(1.0), pytest.approx(2000.0))


def test_an_inverse_contract_follows_binance_coinm_pnl_in_the_base():
    """Binance COIN-M: unrealized PNL = position size × contract multiplier × direction × (1/entry
    − 1/mark), in the coin; ETHUSD_PERP's multiplier is 10 USD. Entries average by their coin
    value (the harmonic mean): 1,000 contracts at 5,000 and 2,000 at 6,000 enter at 5,625."""
    inv = Inventory(contract_size=10.0, inverse=True)
    inv.on_fill(1, 2000.0, 100.0, 0.0)
    assert inv.unrealized(2500.0) == pytest.approx(100 * 10 * (1 / 2000 - 1 / 2500))  # 0.1 ETH
    inv.on_fill(-1, 2500.0, 100.0, 0.0001)
    assert inv.realized == pytest.approx(0.1) and inv.position == 0.0
    assert inv.pnl(2500.0) == pytest.approx(0.1 - 0.0001)
    assert (inv.volume_quote, inv.volume_base) == (pytest.approx(2000.0), pytest.approx(1000 / 2000 + 1000 / 2500))
    pyramid = Inventory(contract_size=1.0, inverse=True)
    pyramid.on_fill(1, 5000.0, 1000.0, 0.0)
    pyramid.on_fill(1, 6000.0, 2000.0, 0.0)
    assert pyramid.avg_price == pytest.approx(5625.0)
    short = Inventory(contract_size=1.0, inverse=True)
    short.on_fill(-1, 5000.0, 1000.0, 0.0)
    assert short.unrealized(4500.0) == pytest.approx(1000 * (1 / 4500 - 1 / 5000))  # a short gains as the price falls


@pytest.mark.parametrize(("inverse", "paid"), [(False, 0.5 * 1.0 * 2000.0 * 0.0001), (True, 100 * 10.0 / 2000.0 * 0.0001)])
def test_funding_is_paid_by_longs_when_the_rate_is_positive(inverse, paid):
    """Funding = position value at the mark × rate (linear: in the quote; inverse: contracts ×
    size / mark, in the coin); a positive rate moves it from longs to shorts."""
    qty = 100.0 if inverse else 0.5
    long, short = (
        Inventory(contract_size=10.0 if inverse else 1.0, inverse=inverse),
        Inventory(contract_size=10.0 if inverse else 1.0, inverse=inverse),
    )
    long.on_fill(1, 2000.0, qty, 0.0)
    short.on_fill(-1, 2000.0, qty, 0.0)
    assert long.on_funding(0.0001, 2000.0) == pytest.approx(-paid) and short.on_funding(0.0001, 2000.0) == pytest.approx(paid)
    assert long.funding == pytest.approx(-paid) and long.pnl(2000.0) == pytest.approx(-paid)


@st.composite
def round_trips(draw):
    """Fills at random prices that end flat: buys and sells of whole lots in any order."""
    lots = draw(st.lists(st.integers(1, 50), min_size=1, max_size=12))
    sides = [1] * len(lots) + [-1] * len(lots)
    order = draw(st.permutations(list(range(2 * len(lots)))))
    prices = draw(st.lists(st.integers(1_000, 9_000), min_size=2 * len(lots), max_size=2 * len(lots)))
    return [(sides[i], float(prices[k]), float(lots[i % len(lots)])) for k, i in enumerate(order)]


@given(round_trips(), st.booleans(), st.sampled_from([1.0, 0.01, 10.0]))
def test_flat_again_the_realized_pnl_is_the_cash_that_changed_hands(fills, inverse, size):
    """Whatever the order of buys and sells, once flat the realized PnL is what the fills paid and
    got: quote for linear contracts (−Σ side × qty × size × price), coin for inverse ones
    (Σ side × qty × size / price)."""
    inv = Inventory(contract_size=size, inverse=inverse)
    for side, price, qty in fills:
        inv.on_fill(side, price, qty, 0.0)
    assert inv.position == 0.0
    cash = (
        sum(side * qty * size / price for side, price, qty in fills)
        if inverse
        else -sum(side * qty * size * price for side, price, qty in fills)
    )
    assert inv.realized == pytest.approx(cash, rel=1e-9, abs=1e-9)
